"""The synthetic market: seeded random walks turned into trades, quotes and minute bars, day by day.

Every symbol-day is generated on demand from its own seeded random stream, so any past range can be
read without generating the days before it, and the same seed always yields the same history. Days
are cached in a byte-bounded LRU; nothing grows with the range a client asks for.

Model
-----
* A daily anchor walk per symbol (log-normal, ~1.8% daily vol scaled per symbol) fixes each day's
  opening level; inside the day a Brownian bridge joins it to the next day's anchor.
* Trades arrive per minute with a Poisson count whose intensity follows the session (pre-market,
  regular, after-hours); their prices scatter within the spread around the path.
* Minute bars are aggregated from those trades (so they agree exactly); larger bars from minute bars.
* Quotes are generated independently around the same path (bid/ask, sizes in shares).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from .. import calendar as cal
from ..universe import FAKEPACA, SymbolInfo, make_universe
from .common import F64, I64, Bars, ByteLRU, Pin, cut_complete

Hours = Literal["calendar", "always"]

HISTORY_START = dt.date(2016, 1, 1)  # Alpaca's v2 history starts in 2016
_WALK_START = dt.date(2015, 12, 1)
_WALK_DAYS = 365 * 40
ANCHOR_DATE = dt.date(2024, 10, 1)
DAILY_VOL = 0.018
PATH_STEPS = 6  # path points per minute: prices wander within the minute, not in straight lines

# Per-minute intensities (scaled by SymbolInfo.activity).
TRADES_REGULAR, TRADES_EXTENDED = 6.0, 0.5
QUOTES_REGULAR, QUOTES_EXTENDED = 90.0, 10.0
EXCHANGES = np.array(list("VQNPKZXD"))


@dataclass(slots=True)
class Trades:
    ns: I64
    price: F64
    size: I64
    exchange: npt.NDArray[np.str_]
    extended: npt.NDArray[np.bool_]
    first_id: int


@dataclass(slots=True)
class Quotes:
    ns: I64
    bid: F64
    ask: F64
    bid_size: I64
    ask_size: I64
    bid_exchange: npt.NDArray[np.str_]
    ask_exchange: npt.NDArray[np.str_]


@dataclass(slots=True)
class _Day:
    trades: Trades
    bars: Bars
    nbytes: int = 0


class Market:
    """Seeded, deterministic market data for a universe of symbols.

    Parameters
    ----------
    seed:
        Same seed, same history.
    symbols:
        The universe (default: a set of large US stocks and ETFs).
    hours:
        ``"calendar"``: trades only in exchange sessions (04:00-20:00 ET on trading days).
        ``"always"``: as calendar for past days, but from the day the market was created on, every
        minute trades at regular-session intensity, so live demos move at any hour.
    """

    def __init__(
        self,
        seed: int = 0,
        symbols: list[str] | tuple[str, ...] | None = None,
        *,
        hours: Hours = "calendar",
        cache_bytes: int = 256 * 2**20,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if hours not in ("calendar", "always"):
            raise ValueError(f"hours must be 'calendar' or 'always', not {hours!r}")
        self.seed = seed
        self.universe = make_universe(symbols)
        self.hours: Hours = hours
        self.clock = clock
        self.live_from = cal.et_day_of(clock())
        self.days = ByteLRU(cache_bytes)
        self.quotes_cache = ByteLRU(cache_bytes // 4)
        self.pins: dict[str, Pin] = {}  # the pins that hold now
        self._pin_log: dict[str, list[tuple[int, Pin | None]]] = {}  # (since, pin or unpin), oldest first
        self._walks: dict[str, F64] = {}
        self._daily: dict[tuple[str, dt.date], Bars] = {}

    # ----- symbols ---------------------------------------------------------------------------
    def info(self, symbol: str) -> SymbolInfo | None:
        if symbol == FAKEPACA.symbol:
            return FAKEPACA
        return self.universe.get(symbol)

    def now(self) -> int:
        return self.clock()

    # ----- the price model -------------------------------------------------------------------
    def _walk(self, info: SymbolInfo) -> F64:
        walk = self._walks.get(info.symbol)
        if walk is None:
            rng = np.random.default_rng([self.seed, info.key, 0])
            steps = rng.standard_normal(_WALK_DAYS) * DAILY_VOL * info.volatility
            steps[0] = 0.0
            walk = np.cumsum(steps)
            anchor = (ANCHOR_DATE - _WALK_START).days
            walk += np.log(info.price) - walk[anchor]
            self._walks[info.symbol] = walk
        return walk

    def level(self, symbol: str, day: dt.date) -> float:
        """The daily anchor of ``symbol`` on ``day`` (where its price opens, near enough)."""
        info = self.info(symbol)
        if info is None:
            raise KeyError(symbol)
        return float(np.exp(self._walk(info)[(day - _WALK_START).days]))

    def _minute_intensity(self, info: SymbolInfo, day: dt.date, n_minutes: int) -> tuple[F64, F64]:
        """Per-minute (trade, quote) intensities for one ET day; zeros when nothing trades."""
        trades, quotes = np.zeros(n_minutes), np.zeros(n_minutes)
        if self.is_live_day(info, day):
            trades[:] = TRADES_REGULAR
            quotes[:] = QUOTES_REGULAR
        else:
            sess = cal.session(day)
            if sess is None or day < HISTORY_START:
                return trades, quotes
            trades[cal.PRE_OPEN : cal.POST_CLOSE] = TRADES_EXTENDED
            quotes[cal.PRE_OPEN : cal.POST_CLOSE] = QUOTES_EXTENDED
            trades[sess.open_minute : sess.close_minute] = TRADES_REGULAR
            quotes[sess.open_minute : sess.close_minute] = QUOTES_REGULAR
        return trades * info.activity, quotes * info.activity

    def _path(self, info: SymbolInfo, day: dt.date, n_minutes: int) -> F64:
        """Log mid price every PATH_STEPS-th of a minute through ``day`` (a Brownian bridge)."""
        walk = self._walk(info)
        i = (day - _WALK_START).days
        a0, a1 = walk[i], walk[i + 1]
        rng = np.random.default_rng([self.seed, info.key, day.toordinal(), 1])
        steps = n_minutes * PATH_STEPS
        sigma = DAILY_VOL * info.volatility / np.sqrt(steps)
        w = np.r_[0.0, np.cumsum(rng.standard_normal(steps) * sigma)]
        k = np.arange(steps + 1) / steps
        return np.asarray(a0 + (a1 - a0) * k + w - k * w[-1], dtype=np.float64)

    @staticmethod
    def _path_x(n_minutes: int) -> F64:
        """The path's abscissae, in minutes since midnight."""
        return np.arange(n_minutes * PATH_STEPS + 1) / PATH_STEPS

    def _day_span(self, day: dt.date) -> tuple[int, int]:
        start = cal.et_midnight_ns(day)
        end = cal.et_midnight_ns(day + dt.timedelta(days=1))
        return start, (end - start) // cal.MINUTE_NS

    # ----- trades and minute bars ------------------------------------------------------------
    def _generate_day(self, info: SymbolInfo, day: dt.date) -> _Day:
        start, n_min = self._day_span(day)
        lam, _ = self._minute_intensity(info, day, n_min)
        if not lam.any():
            f, i = np.empty(0), np.empty(0, np.int64)
            return _Day(Trades(i, f, i, np.empty(0, "<U1"), np.empty(0, bool), 0), Bars.empty())
        rng = np.random.default_rng([self.seed, info.key, day.toordinal(), 2])
        counts = rng.poisson(lam)
        total = int(counts.sum())
        minute = np.repeat(np.arange(n_min), counts)
        when = np.sort(minute + rng.random(total))  # minute stays aligned: each frac < 1
        log_mid = np.interp(when, self._path_x(n_min), self._path(info, day, n_min))
        mid = np.exp(log_mid)
        half_spread = _spread_ticks(mid) * 0.005
        price = np.round(mid + rng.uniform(-1.0, 1.0, total) * half_spread, 2)
        odd = rng.random(total) < 0.35
        size = np.where(odd, rng.integers(1, 100, total), 100 * rng.geometric(0.5, total))
        exchange = EXCHANGES[rng.integers(0, len(EXCHANGES), total)]
        ns = start + np.round(when * cal.MINUTE_NS).astype(np.int64)
        regular = lam[minute] >= TRADES_REGULAR * info.activity
        trades = Trades(ns, price, size.astype(np.int64), exchange, ~regular, day.toordinal() * 10**7)
        bars = _minute_bars(trades, minute, counts, start)
        nbytes = sum(a.nbytes for a in (ns, price, size, exchange, regular)) + bars.nbytes
        return _Day(trades, bars, nbytes)

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

    def trades(self, symbol: str, day: dt.date) -> Trades:
        """All trades of ``symbol`` on ET ``day`` (including any not yet reached by the clock)."""
        return self._day(symbol, day).trades

    def minute_bars(self, symbol: str, day: dt.date) -> Bars:
        """Minute bars of ``symbol`` on ET ``day`` (including future ones; callers cut at now)."""
        return self._day(symbol, day).bars

    # ----- quotes ----------------------------------------------------------------------------
    def _generate_quotes(self, info: SymbolInfo, day: dt.date) -> Quotes:
        start, n_min = self._day_span(day)
        _, lam = self._minute_intensity(info, day, n_min)
        rng = np.random.default_rng([self.seed, info.key, day.toordinal(), 3])
        counts = rng.poisson(lam)
        total = int(counts.sum())
        when = np.sort(np.repeat(np.arange(n_min), counts) + rng.random(total))
        mid = np.exp(np.interp(when, self._path_x(n_min), self._path(info, day, n_min)))
        ticks = _spread_ticks(mid) + rng.geometric(0.7, total) - 1
        bid = np.round(np.floor(mid * 100 - ticks / 2) / 100, 2)
        ask = np.round(bid + ticks / 100, 2)
        return Quotes(
            start + np.round(when * cal.MINUTE_NS).astype(np.int64),
            bid,
            ask,
            100 * rng.integers(1, 11, total),
            100 * rng.integers(1, 11, total),
            EXCHANGES[rng.integers(0, len(EXCHANGES), total)],
            EXCHANGES[rng.integers(0, len(EXCHANGES), total)],
        )

    def quotes(self, symbol: str, day: dt.date) -> Quotes:
        info = self.info(symbol)
        if info is None:
            raise KeyError(symbol)
        value = self.quotes_cache.get_or_make(
            (symbol, day),
            lambda: self._generate_quotes(info, day),
            lambda q: sum(getattr(q, f).nbytes for f in Quotes.__slots__),
        )
        assert isinstance(value, Quotes)
        return value

    # ----- aggregates ------------------------------------------------------------------------
    def daily_bar(self, symbol: str, day: dt.date, now: int | None = None) -> Bars:
        """The one daily bar of ``day`` (stamped at ET midnight) from bars completed by ``now``."""
        now = self.now() if now is None else now
        start, _ = self._day_span(day)
        end = cal.et_midnight_ns(day + dt.timedelta(days=1))
        cached = self._daily.get((symbol, day))
        if cached is not None:
            return cached
        bars = self.minute_bars(symbol, day)
        if end > now:  # today (or later): cut at the clock and don't cache
            bars = cut_complete(bars, now, cal.MINUTE_NS)
        daily = bars.aggregate(np.full(len(bars), start, np.int64))
        if end <= now:
            self._daily[(symbol, day)] = daily
        return daily

    # ----- the present ----------------------------------------------------------------------
    def is_live_day(self, info: SymbolInfo, day: dt.date) -> bool:
        return info.always_on or (self.hours == "always" and day >= self.live_from)

    def is_open(self, symbol: str, now: int, extended: bool = False) -> bool:
        """Whether orders in ``symbol`` can execute at ``now`` (regular session, or extended)."""
        info = self.info(symbol)
        day = cal.et_day_of(now)
        if info is not None and self.is_live_day(info, day):
            return True
        sess = cal.session(day)
        if sess is None:
            return False
        minute = (now - cal.et_midnight_ns(day)) // cal.MINUTE_NS
        lo, hi = (cal.PRE_OPEN, cal.POST_CLOSE) if extended else (sess.open_minute, sess.close_minute)
        return bool(lo <= minute < hi)

    def pin(self, symbol: str, pin: Pin | None) -> None:
        """Pin ``symbol`` from ``pin.since`` on (None: unpin it from now on)."""
        if pin is None:
            self.pins.pop(symbol, None)
            self._pin_log.setdefault(symbol, []).append((self.now(), None))
        else:
            self.pins[symbol] = pin
            self._pin_log.setdefault(symbol, []).append((pin.since, pin))

    def pin_at(self, symbol: str, at: int) -> Pin | None:
        """The pin that held at ``at`` (None when none did): a pin does not rewrite the past."""
        found: Pin | None = None
        for since, entry in self._pin_log.get(symbol, ()):
            if since > at:
                break
            found = entry
        return found

    def quote_at(self, symbol: str, now: int | None = None) -> tuple[float, float, int, int, int] | None:
        """(bid, ask, bid_size, ask_size, ns) of the latest quote at ``now`` (pins win)."""
        now = self.now() if now is None else now
        pin = self.pin_at(symbol, now)
        if pin is not None:
            bid = round(pin.price - pin.spread / 2, 2)
            return bid, round(bid + pin.spread, 2), pin.size, pin.size, now
        day = cal.et_day_of(now)
        for _ in range(15):
            q = self.quotes(symbol, day)
            i = int(np.searchsorted(q.ns, now, side="right")) - 1
            if i >= 0:
                return (
                    float(q.bid[i]),
                    float(q.ask[i]),
                    int(q.bid_size[i]),
                    int(q.ask_size[i]),
                    int(q.ns[i]),
                )
            day -= dt.timedelta(days=1)
        return None

    def last_trade(self, symbol: str, now: int | None = None) -> tuple[float, int, int] | None:
        """(price, size, ns) of the latest trade at ``now`` (a pin's price if pinned)."""
        now = self.now() if now is None else now
        pin = self.pin_at(symbol, now)
        if pin is not None:
            return pin.price, 100, now
        day = cal.et_day_of(now)
        for _ in range(15):
            t = self.trades(symbol, day)
            i = int(np.searchsorted(t.ns, now, side="right")) - 1
            if i >= 0:
                return float(t.price[i]), int(t.size[i]), int(t.ns[i])
            day -= dt.timedelta(days=1)
        return None

    def previous_close(self, symbol: str, now: int | None = None) -> float | None:
        """Close of the last ET day before today that traded."""
        now = self.now() if now is None else now
        day = cal.et_day_of(now) - dt.timedelta(days=1)
        for _ in range(15):
            bar = self.daily_bar(symbol, day, now)
            if len(bar):
                return float(bar.close[0])
            day -= dt.timedelta(days=1)
        return None


def _spread_ticks(mid: F64) -> F64:
    return np.maximum(1.0, np.round(mid * 0.00004 * 100))


def _minute_bars(trades: Trades, minute: I64, counts: I64, start_ns: int) -> Bars:
    busy = np.flatnonzero(counts)
    if len(busy) == 0:
        return Bars.empty()
    n = counts[busy].astype(np.int64)
    starts = np.r_[0, np.cumsum(n)[:-1]]
    p, s = trades.price, trades.size
    return Bars(
        start_ns + busy.astype(np.int64) * cal.MINUTE_NS,
        p[starts],
        np.maximum.reduceat(p, starts),
        np.minimum.reduceat(p, starts),
        p[starts + n - 1],
        np.add.reduceat(s, starts),
        n,
        np.add.reduceat(p * s, starts),
    )
