"""The crypto market: USD pairs trading 24/7, seeded and deterministic like the stock market.

A crypto day is a UTC day (Alpaca stamps crypto daily bars at 00:00 UTC) and every minute of it
trades, whatever the simulator's ``hours``. Each pair-day is generated on demand from its own seeded
stream, so any past range is reachable without the days before it.

Model
-----
* A daily anchor per pair: a mean-reverting log walk around the pair's level (prices stay plausible
  for any date); inside the day a Brownian bridge joins one anchor to the next.
* Quotes arrive as a Poisson stream; bid and ask sit on the pair's price increment a few basis points
  apart; sizes are fractional coins on the pair's quantity increment.
* Trades arrive as another Poisson stream and take the quote in force: a buyer taker (``tks`` ``B``)
  pays the ask, a seller (``S``) hits the bid.
* Minute bars cover every minute: a minute with trades aggregates them exactly; a minute without is
  priced from the last quote's mid with ``v`` 0 and ``n`` 0, as Alpaca's crypto bars are.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .common import F64, I64, Bars, ByteLRU, Pin, cut_complete
from .pairs import PairInfo, make_pairs

NS = 1_000_000_000
MINUTE_NS = 60 * NS
DAY_NS = 86_400 * NS
DAY_MINUTES = 1440
HISTORY_START = dt.date(2021, 1, 1)  # Alpaca's v1beta3 crypto history starts in 2021
_EPOCH = dt.date(1970, 1, 1)
_WALK_START = dt.date(2020, 12, 1)
_WALK_DAYS = 365 * 40
DAILY_VOL = 0.03
REVERSION = 0.02  # per day: the walk's stationary spread is about ±15% around the level
PATH_STEPS = 6
TRADES_PER_MINUTE, QUOTES_PER_MINUTE = 8.0, 40.0
SPREAD_BPS = 1.5


@dataclass(slots=True)
class CryptoTrades:
    ns: I64
    price: F64
    size: F64
    buyer_taker: npt.NDArray[np.bool_]
    first_id: int


@dataclass(slots=True)
class CryptoQuotes:
    ns: I64
    bid: F64
    ask: F64
    bid_size: F64
    ask_size: F64


@dataclass(slots=True)
class _Day:
    quotes: CryptoQuotes
    trades: CryptoTrades
    bars: Bars
    nbytes: int = 0


def utc_day_of(ns: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=ns // DAY_NS)


def utc_midnight_ns(day: dt.date) -> int:
    return (day - _EPOCH).days * DAY_NS


def _on_grid(values: F64, step: F64 | float, decimals: int) -> F64:
    return np.asarray(np.round(values * step, decimals), dtype=np.float64)


class CryptoMarket:
    """Seeded, deterministic quotes, trades and bars for crypto pairs, around the clock.

    Parameters
    ----------
    seed:
        Same seed, same history (independent of the stock universe).
    symbols:
        The pairs (default: BTC/USD, ETH/USD, SOL/USD, LTC/USD, DOGE/USD, AVAX/USD, LINK/USD).
    """

    def __init__(
        self,
        seed: int = 0,
        symbols: list[str] | tuple[str, ...] | None = None,
        *,
        cache_bytes: int = 128 * 2**20,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.seed = seed
        self.universe = make_pairs(symbols)
        self.clock = clock
        self.days = ByteLRU(cache_bytes)
        self.pins: dict[str, Pin] = {}
        self._pin_log: dict[str, list[tuple[int, Pin | None]]] = {}
        self._walks: dict[str, F64] = {}
        self._daily: dict[tuple[str, dt.date], Bars] = {}

    def info(self, symbol: str) -> PairInfo | None:
        return self.universe.get(symbol)

    def now(self) -> int:
        return self.clock()

    def is_open(self, symbol: str, now: int, extended: bool = False) -> bool:
        """Crypto trades 24/7."""
        return symbol in self.universe

    # ----- the price model -------------------------------------------------------------------
    def _walk(self, info: PairInfo) -> F64:
        walk = self._walks.get(info.symbol)
        if walk is None:
            rng = np.random.default_rng([self.seed, info.key, 10])
            shocks = rng.standard_normal(_WALK_DAYS) * DAILY_VOL * info.volatility
            walk = np.empty(_WALK_DAYS)
            x = 0.0
            for i, shock in enumerate(shocks.tolist()):  # Ornstein-Uhlenbeck, once per pair
                x = x * (1 - REVERSION) + shock
                walk[i] = x
            self._walks[info.symbol] = walk = walk + np.log(info.price)
        return walk

    def _path(self, info: PairInfo, day: dt.date) -> F64:
        """Log mid every PATH_STEPS-th of a minute through the UTC ``day`` (a Brownian bridge)."""
        walk = self._walk(info)
        i = (day - _WALK_START).days
        a0, a1 = walk[i], walk[i + 1]
        rng = np.random.default_rng([self.seed, info.key, day.toordinal(), 11])
        steps = DAY_MINUTES * PATH_STEPS
        sigma = DAILY_VOL * info.volatility / np.sqrt(steps)
        w = np.r_[0.0, np.cumsum(rng.standard_normal(steps) * sigma)]
        k = np.arange(steps + 1) / steps
        return np.asarray(a0 + (a1 - a0) * k + w - k * w[-1], dtype=np.float64)

    def _arrivals(self, rng: np.random.Generator, rate: float) -> tuple[I64, F64]:
        """Poisson arrivals through the day: (minute of each, time in minutes since midnight)."""
        counts = rng.poisson(rate, DAY_MINUTES)
        minute = np.repeat(np.arange(DAY_MINUTES), counts)
        return minute, np.sort(minute + rng.random(len(minute)))

    def _sizes(self, rng: np.random.Generator, info: PairInfo, mid: F64, dollars: float) -> F64:
        step = float(info.qty_step)
        coins = np.exp(rng.normal(np.log(dollars), 1.0, len(mid))) / mid
        units = np.maximum(np.floor(coins / step), 1.0)
        return np.asarray(np.round(units * step, info.qty_decimals), dtype=np.float64)

    def _generate_day(self, info: PairInfo, day: dt.date) -> _Day:
        start = utc_midnight_ns(day)
        if day < HISTORY_START:
            f, i = np.empty(0), np.empty(0, np.int64)
            empty_q = CryptoQuotes(i, f, f, f, f)
            return _Day(empty_q, CryptoTrades(i, f, f, np.empty(0, bool), 0), Bars.empty())
        path, x = self._path(info, day), np.arange(DAY_MINUTES * PATH_STEPS + 1) / PATH_STEPS
        tick, dec = info.tick, info.price_decimals
        # quotes
        rng = np.random.default_rng([self.seed, info.key, day.toordinal(), 12])
        _, q_when = self._arrivals(rng, QUOTES_PER_MINUTE * info.activity)
        q_when[0:1] = 0.0  # a quote stands from midnight on: trades always have one to take
        mid_ticks = np.exp(np.interp(q_when, x, path)) / tick
        spread = (
            np.maximum(1.0, np.round(mid_ticks * SPREAD_BPS * 1e-4)) + rng.geometric(0.6, len(q_when)) - 1
        )
        bid_ticks = np.floor(mid_ticks - spread / 2)
        q_mid = mid_ticks * tick
        quotes = CryptoQuotes(
            start + np.round(q_when * MINUTE_NS).astype(np.int64),
            _on_grid(bid_ticks, tick, dec),
            _on_grid(bid_ticks + spread, tick, dec),
            self._sizes(rng, info, q_mid, 20_000.0),
            self._sizes(rng, info, q_mid, 20_000.0),
        )
        # trades take the quote in force
        rng = np.random.default_rng([self.seed, info.key, day.toordinal(), 13])
        minute, t_when = self._arrivals(rng, TRADES_PER_MINUTE * info.activity)
        t_ns = start + np.round(t_when * MINUTE_NS).astype(np.int64)
        at = np.maximum(np.searchsorted(quotes.ns, t_ns, side="right") - 1, 0)
        buyer = rng.random(len(t_ns)) < 0.5
        price = np.where(buyer, quotes.ask[at], quotes.bid[at])
        trades = CryptoTrades(
            t_ns, price, self._sizes(rng, info, price, 400.0), buyer, day.toordinal() * 10**7
        )
        bars = self._minute_bars(trades, minute, quotes, start, dec)
        arrays = (*(getattr(quotes, f) for f in CryptoQuotes.__slots__), trades.ns, price, trades.size)
        return _Day(quotes, trades, bars, sum(a.nbytes for a in arrays) + bars.nbytes)

    @staticmethod
    def _minute_bars(trades: CryptoTrades, minute: I64, quotes: CryptoQuotes, start: int, dec: int) -> Bars:
        """Every minute of the day: trades aggregated, or the last quote's mid without volume."""
        stamps = start + np.arange(DAY_MINUTES, dtype=np.int64) * MINUTE_NS
        last_q = np.maximum(np.searchsorted(quotes.ns, stamps + MINUTE_NS, side="left") - 1, 0)
        mid = np.round((quotes.bid[last_q] + quotes.ask[last_q]) / 2, dec + 1)
        o, h, lo, c = mid.copy(), mid.copy(), mid.copy(), mid.copy()
        volume, count, pv = np.zeros(DAY_MINUTES), np.zeros(DAY_MINUTES, np.int64), np.zeros(DAY_MINUTES)
        counts = np.bincount(minute, minlength=DAY_MINUTES)
        busy = np.flatnonzero(counts)
        if len(busy):
            firsts = np.r_[0, np.cumsum(counts[busy])[:-1]]
            p, s = trades.price, trades.size
            o[busy], c[busy] = p[firsts], p[firsts + counts[busy] - 1]
            h[busy], lo[busy] = np.maximum.reduceat(p, firsts), np.minimum.reduceat(p, firsts)
            volume[busy] = np.round(np.add.reduceat(s, firsts), 9)
            count[busy] = counts[busy]
            pv[busy] = np.add.reduceat(p * s, firsts)
        return Bars(stamps, o, h, lo, c, volume, count, pv)

    def _day(self, symbol: str, day: dt.date) -> _Day:
        info = self.info(symbol)
        if info is None:
            raise KeyError(symbol)
        value = self.days.get_or_make(
            (symbol, day),
            lambda: self._generate_day(info, day),
            lambda d: d.nbytes,  # type: ignore[attr-defined]
        )
        assert isinstance(value, _Day)
        return value

    def quotes(self, symbol: str, day: dt.date) -> CryptoQuotes:
        """All quotes of ``symbol`` on the UTC ``day`` (future ones too: callers cut at now)."""
        return self._day(symbol, day).quotes

    def trades(self, symbol: str, day: dt.date) -> CryptoTrades:
        return self._day(symbol, day).trades

    def minute_bars(self, symbol: str, day: dt.date) -> Bars:
        return self._day(symbol, day).bars

    def daily_bar(self, symbol: str, day: dt.date, now: int | None = None) -> Bars:
        """The daily bar of the UTC ``day`` (stamped 00:00 UTC) from the minutes complete at ``now``."""
        now = self.now() if now is None else now
        cached = self._daily.get((symbol, day))
        if cached is not None:
            return cached
        start, end = utc_midnight_ns(day), utc_midnight_ns(day) + DAY_NS
        bars = self.minute_bars(symbol, day)
        if end > now:
            bars = cut_complete(bars, now, MINUTE_NS)
        daily = bars.aggregate(np.full(len(bars), start, np.int64))
        if end <= now:
            self._daily[(symbol, day)] = daily
        return daily

    # ----- the present ----------------------------------------------------------------------
    def pin(self, symbol: str, pin: Pin | None) -> None:
        """Pin ``symbol``'s quote from ``pin.since`` on (None: unpin from now on)."""
        if pin is None:
            self.pins.pop(symbol, None)
            self._pin_log.setdefault(symbol, []).append((self.now(), None))
        else:
            self.pins[symbol] = pin
            self._pin_log.setdefault(symbol, []).append((pin.since, pin))

    def pin_at(self, symbol: str, at: int) -> Pin | None:
        found: Pin | None = None
        for since, entry in self._pin_log.get(symbol, ()):
            if since > at:
                break
            found = entry
        return found

    def quote_at(self, symbol: str, now: int | None = None) -> tuple[float, float, float, float, int] | None:
        """(bid, ask, bid_size, ask_size, ns) of the quote in force at ``now`` (pins win)."""
        now = self.now() if now is None else now
        pin = self.pin_at(symbol, now)
        if pin is not None:
            bid = round(pin.price - pin.spread / 2, 9)
            return bid, round(bid + pin.spread, 9), float(pin.size), float(pin.size), now
        q = self.quotes(symbol, utc_day_of(now))
        i = int(np.searchsorted(q.ns, now, side="right")) - 1
        if i < 0:
            return None
        return float(q.bid[i]), float(q.ask[i]), float(q.bid_size[i]), float(q.ask_size[i]), int(q.ns[i])

    def last_trade(self, symbol: str, now: int | None = None) -> tuple[float, float, int] | None:
        """(price, size, ns) of the latest trade at ``now`` (a pin's price if pinned)."""
        now = self.now() if now is None else now
        pin = self.pin_at(symbol, now)
        if pin is not None:
            return pin.price, 1.0, now
        day = utc_day_of(now)
        for _ in range(3):
            t = self.trades(symbol, day)
            i = int(np.searchsorted(t.ns, now, side="right")) - 1
            if i >= 0:
                return float(t.price[i]), float(t.size[i]), int(t.ns[i])
            day -= dt.timedelta(days=1)
        return None

    def previous_close(self, symbol: str, now: int | None = None) -> float | None:
        """Close of the previous UTC day."""
        now = self.now() if now is None else now
        bar = self.daily_bar(symbol, utc_day_of(now) - dt.timedelta(days=1), now)
        return float(bar.close[0]) if len(bar) else None
