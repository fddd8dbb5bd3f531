"""The options market: quotes priced from the live underlying, seeded trades, bars, expiry.

Model
-----
* **Quotes** are not stored: a contract's quote at any moment is the Black-Scholes value of the
  underlying's quote mid at that moment (``chains.Smile`` gives sigma, ``rate`` the interest rate,
  no dividends), spread around it on the penny grid. The half spread, ``0.005 + (0.004 + 0.004 *
  min(|z|, 4)) * mid**0.75``, widens away from the money. A quote is stamped with the underlying
  quote it comes from, so it changes exactly when the underlying's does; a pinned underlying
  (``Simulator.set_price``) pins its options. Sizes and exchanges are a hash of symbol and time.
* **Trades** are generated per underlying and day, for the whole chain at once (one seeded
  stream), in the regular session only (every minute on a day ``hours="always"`` keeps live): a
  Poisson count per contract that falls off away from the money, priced within the spread at the
  moment of the trade. Minute bars aggregate them.
* **Expiry**: a contract trades until its expiration day's close; after it, or once
  ``expire_through`` reaches its date (a test hook), it is inactive and not tradable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import calendar as cal
from . import blackscholes as bs
from .chains import MIN_T, YEAR_NS, Chain, build_chain, moneyness
from .common import F64, I64, Bars, ByteLRU
from .occ import ContractInfo, parse_occ
from .stocks import Market

HISTORY_START = dt.date(2024, 2, 1)  # Alpaca's option data starts in February 2024
TRADES_PER_MINUTE = 0.05  # at the money; exp(-|z|) of that away from it
EXCHANGES = {
    "A": "NYSE American Options", "B": "BOX Options Exchange", "C": "Cboe Options Exchange",
    "D": "MIAX Emerald", "E": "Cboe EDGX Options", "H": "Nasdaq GEMX", "I": "Nasdaq ISE",
    "J": "Nasdaq MRX", "M": "MIAX Options", "N": "NYSE Arca Options", "O": "OPRA",
    "P": "MIAX Pearl", "Q": "Nasdaq Options", "S": "MIAX Sapphire", "T": "Nasdaq BX Options",
    "U": "MEMX Options", "W": "Cboe C2 Options", "X": "Nasdaq PHLX", "Z": "Cboe BZX Options",
}  # fmt: skip
_CODES = np.array([c for c in EXCHANGES if c != "O"])
_CONDITIONS = np.array(["I", "I", "I", "I", "S", "J", "a", "f"])
_KEY_BITS = 47  # (contract index << 47) | ns since midnight: one sortable int64 per trade


@dataclass(slots=True)
class ChainQuotes:
    """Quotes, implied volatilities and greeks of some contracts of one chain at one moment."""

    index: I64
    ns: int
    spot: float
    t: F64
    bid: F64
    ask: F64
    bid_size: I64
    ask_size: I64
    bid_exchange: npt.NDArray[np.str_]
    ask_exchange: npt.NDArray[np.str_]
    iv: F64
    greeks: bs.Greeks


@dataclass(slots=True)
class DayTrades:
    """An underlying's option trades of one day, sorted by contract then time."""

    index: I64
    ns: I64
    price: F64
    size: I64
    exchange: npt.NDArray[np.str_]
    condition: npt.NDArray[np.str_]
    keys: I64
    start: int

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in ("index", "ns", "price", "size", "exchange", "keys"))


@dataclass(slots=True)
class LatestTrades:
    """The latest trade of each of some contracts, as columns (``found`` False: no trade)."""

    found: npt.NDArray[np.bool_]
    ns: I64
    price: F64
    size: I64
    exchange: npt.NDArray[np.str_]
    condition: npt.NDArray[np.str_]


def half_spread(mid: F64, z: F64) -> F64:
    return np.asarray(0.005 + (0.004 + 0.004 * np.minimum(np.abs(z), 4.0)) * np.maximum(mid, 0.0) ** 0.75)


def _grid(mid: F64, half: F64) -> tuple[F64, F64]:
    bid = np.maximum(np.floor((mid - half) * 100 + 1e-9), 0.0)
    ask = np.maximum(np.ceil((mid + half) * 100 - 1e-9), bid + 1)
    return bid / 100, ask / 100


class OptionsMarket:
    """Contracts of the stock market's underlyings, priced from its quotes (see the module docstring)."""

    def __init__(self, stocks: Market, seed: int = 0, *, rate: float = 0.0, cache_bytes: int = 64 * 2**20):
        self.stocks = stocks
        self.seed = seed
        self.rate = rate
        self.listed_on = stocks.live_from
        self.expire_through: dt.date | None = None
        self._chains: dict[str, Chain] = {}
        self._ids: dict[str, ContractInfo] = {}
        self._days = ByteLRU(cache_bytes)

    def now(self) -> int:
        return self.stocks.now()

    # ----- contracts ----------------------------------------------------------------------------
    @property
    def underlyings(self) -> list[str]:
        return sorted(self.stocks.universe)

    def chain(self, underlying: str) -> Chain | None:
        found = self._chains.get(underlying)
        if found is None:
            info = self.stocks.universe.get(underlying)
            if info is None:
                return None
            spot = self.stocks.level(underlying, self.listed_on)
            found = self._chains[underlying] = build_chain(info, spot, self.listed_on, self.seed)
            self._ids.update((c.asset_id, c) for c in found.contracts)
        return found

    def info(self, symbol: str) -> ContractInfo | None:
        parsed = parse_occ(symbol)
        chain = self.chain(parsed[0]) if parsed is not None else None
        return chain.by_symbol.get(symbol) if chain is not None else None

    def by_id(self, asset_id: str) -> ContractInfo | None:
        if asset_id not in self._ids:
            for underlying in self.underlyings:
                self.chain(underlying)
        return self._ids.get(asset_id)

    def expiry_ns(self, info: ContractInfo) -> int:
        """When ``info`` stops trading: its expiration day's close."""
        return int(self._chain_of(info).expires[info.index])

    def expired(self, info: ContractInfo, now: int | None = None) -> bool:
        now = self.now() if now is None else now
        forced = self.expire_through is not None and info.expiration <= self.expire_through
        return forced or now >= self.expiry_ns(info)

    def expired_mask(self, chain: Chain, now: int) -> npt.NDArray[np.bool_]:
        """``expired`` for every contract of ``chain`` at once."""
        mask = now >= chain.expires
        if self.expire_through is not None:
            mask |= chain.day <= self.expire_through.toordinal()
        return mask

    def _chain_of(self, info: ContractInfo) -> Chain:
        chain = self.chain(info.underlying)
        assert chain is not None
        return chain

    def is_open(self, symbol: str, now: int, extended: bool = False) -> bool:
        """Options trade in the underlying's regular session only, until they expire."""
        info = self.info(symbol)
        return info is not None and not self.expired(info, now) and self.stocks.is_open(info.underlying, now)

    # ----- quotes -------------------------------------------------------------------------------
    def spot(self, underlying: str, now: int) -> tuple[float, int] | None:
        quote = self.stocks.quote_at(underlying, now)
        return None if quote is None else ((quote[0] + quote[1]) / 2, quote[4])

    def quotes(self, chain: Chain, index: I64, now: int, spot: float | None = None) -> ChainQuotes | None:
        """The quotes of ``chain.contracts[index]`` at ``now`` (from the underlying's quote then)."""
        found = self.spot(chain.underlying, now) if spot is None else (spot, now)
        if found is None:
            return None
        s, ns = found
        k, call = chain.strike[index], chain.call[index]
        t = np.maximum((chain.expires[index] - now) / YEAR_NS, MIN_T)
        spot_arr = np.full(len(index), s)
        sigma = chain.smile.sigma(k, spot_arr, t)
        mid, greeks = bs.price_and_greeks(call, spot_arr, k, t, self.rate, sigma)
        assert greeks is not None
        bid, ask = _grid(mid, half_spread(mid, moneyness(k, spot_arr, t)))
        h = chain.keys[index] * np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(ns // 1000)
        return ChainQuotes(
            index, ns, s, t, bid, ask,
            (1 + (h >> np.uint64(7)) % np.uint64(400)).astype(np.int64),
            (1 + (h >> np.uint64(17)) % np.uint64(400)).astype(np.int64),
            _CODES[((h >> np.uint64(29)) % np.uint64(len(_CODES))).astype(np.int64)],
            _CODES[((h >> np.uint64(37)) % np.uint64(len(_CODES))).astype(np.int64)],
            sigma, greeks,
        )  # fmt: skip

    def _one(self, symbol: str, now: int) -> ChainQuotes | None:
        info = self.info(symbol)
        if info is None:
            return None
        return self.quotes(self._chain_of(info), np.array([info.index]), now)

    def quote_at(self, symbol: str, now: int | None = None) -> tuple[float, float, int, int, int] | None:
        """(bid, ask, bid_size, ask_size, ns) of the quote in force at ``now``."""
        q = self._one(symbol, self.now() if now is None else now)
        if q is None:
            return None
        return float(q.bid[0]), float(q.ask[0]), int(q.bid_size[0]), int(q.ask_size[0]), q.ns

    def mark(self, symbol: str, now: int) -> float | None:
        """The quote's mid: positions in options are valued at it."""
        quote = self.quote_at(symbol, now)
        return None if quote is None else round((quote[0] + quote[1]) / 2, 4)

    def previous_close(self, symbol: str, now: int | None = None) -> float | None:
        """The model's mid at the previous session's close, from the underlying's close then."""
        now = self.now() if now is None else now
        info = self.info(symbol)
        close = self.stocks.previous_close(info.underlying, now) if info is not None else None
        if info is None or close is None:
            return None
        day = cal.et_day_of(now) - dt.timedelta(days=1)
        while cal.session(day) is None:
            day -= dt.timedelta(days=1)
        sess = cal.session(day)
        assert sess is not None
        then = cal.et_minute_ns(day, sess.close_minute)
        q = self.quotes(self._chain_of(info), np.array([info.index]), then, spot=close)
        return None if q is None else round(float(q.bid[0] + q.ask[0]) / 2, 4)

    # ----- trades and bars ----------------------------------------------------------------------
    def day_trades(self, underlying: str, day: dt.date) -> DayTrades:
        chain = self.chain(underlying)
        assert chain is not None
        value = self._days.get_or_make(
            (underlying, day),
            lambda: self._generate(chain, day),
            lambda d: d.nbytes,  # type: ignore[attr-defined]
        )
        assert isinstance(value, DayTrades)
        return value

    def _minutes(self, underlying: str, day: dt.date) -> tuple[int, int]:
        info = self.stocks.universe[underlying]
        if self.stocks.is_live_day(info, day):
            return 0, 1440
        sess = cal.session(day)
        if sess is None or day < HISTORY_START:
            return 0, 0
        return sess.open_minute, sess.close_minute

    def _generate(self, chain: Chain, day: dt.date) -> DayTrades:
        start = cal.et_midnight_ns(day)
        lo, hi = self._minutes(chain.underlying, day)
        live = (chain.first_day <= day.toordinal()) & (chain.expires >= start + hi * cal.MINUTE_NS)
        spot = self.stocks.level(chain.underlying, day)
        z = moneyness(chain.strike, np.full(len(chain.strike), spot), (chain.expires - start) / YEAR_NS)
        key = self.stocks.universe[chain.underlying].key
        rng = np.random.default_rng([self.seed, key, day.toordinal(), 31])
        counts = rng.poisson(TRADES_PER_MINUTE * np.exp(-np.abs(z)) * (hi - lo) * live)
        index = np.repeat(np.arange(len(counts)), counts)
        when = lo + rng.random(len(index)) * (hi - lo)
        order = np.lexsort((when, index))
        index, when = index[order], when[order]
        ns = start + np.round(when * cal.MINUTE_NS).astype(np.int64)
        quotes = self.stocks.quotes(chain.underlying, day)
        at = np.clip(np.searchsorted(quotes.ns, ns, side="right") - 1, 0, max(len(quotes.ns) - 1, 0))
        s = (quotes.bid[at] + quotes.ask[at]) / 2 if len(quotes.ns) else np.full(len(ns), spot)
        k, t = chain.strike[index], np.maximum((chain.expires[index] - ns) / YEAR_NS, MIN_T)
        sigma = chain.smile.sigma(k, s, t)
        mid = bs.price(chain.call[index], s, k, t, self.rate, sigma)
        half = half_spread(mid, moneyness(k, s, t))
        price = np.maximum(np.round(mid + rng.uniform(-1, 1, len(mid)) * half, 2), 0.01)
        return DayTrades(
            index, ns, price, rng.geometric(0.3, len(ns)).astype(np.int64),
            _CODES[rng.integers(0, len(_CODES), len(ns))],
            _CONDITIONS[rng.integers(0, len(_CONDITIONS), len(ns))],
            (index.astype(np.int64) << _KEY_BITS) | (ns - start), start,
        )  # fmt: skip

    def contract_trades(self, info: ContractInfo, day: dt.date) -> tuple[DayTrades, int, int]:
        """The day's trades of one contract: (the underlying's day, first row, end row)."""
        d = self.day_trades(info.underlying, day)
        i, j = np.searchsorted(d.index, [info.index, info.index + 1])
        return d, int(i), int(j)

    def latest_trades(self, chain: Chain, index: I64, now: int) -> LatestTrades:
        """The latest trade at ``now`` of each contract of ``index`` (``found`` False: none in the last
        eight days), as columns."""
        n = len(index)
        out = LatestTrades(np.zeros(n, bool), np.zeros(n, np.int64), np.zeros(n), np.zeros(n, np.int64),
                           np.full(n, "", _CODES.dtype), np.full(n, "", _CONDITIONS.dtype))  # fmt: skip
        day, missing = cal.et_day_of(now), np.arange(n)
        for _ in range(8):
            if len(missing) == 0 or day < HISTORY_START:
                break
            d = self.day_trades(chain.underlying, day)
            day -= dt.timedelta(days=1)
            if len(d.ns) == 0:
                continue
            cut = min(now - d.start, (1 << _KEY_BITS) - 1)
            want = (index[missing].astype(np.int64) << _KEY_BITS) | cut
            pos = np.searchsorted(d.keys, want, side="right") - 1
            ok = (pos >= 0) & (d.index[np.maximum(pos, 0)] == index[missing])
            at, rows = missing[ok], pos[ok]
            out.found[at], out.ns[at], out.price[at], out.size[at] = (
                True,
                d.ns[rows],
                d.price[rows],
                d.size[rows],
            )
            out.exchange[at], out.condition[at] = d.exchange[rows], d.condition[rows]
            missing = missing[~ok]
        return out

    def last_trade(self, symbol: str, now: int | None = None) -> tuple[float, int, int] | None:
        now = self.now() if now is None else now
        info = self.info(symbol)
        if info is None:
            return None
        t = self.latest_trades(self._chain_of(info), np.array([info.index]), now)
        return (float(t.price[0]), int(t.size[0]), int(t.ns[0])) if t.found[0] else None

    def minute_bars(self, info: ContractInfo, day: dt.date) -> Bars:
        d, i, j = self.contract_trades(info, day)
        if i == j:
            return Bars.empty()
        p, s, ns = d.price[i:j], d.size[i:j], d.ns[i:j]
        ticks = Bars(ns, p, p, p, p, s, np.ones(j - i, np.int64), p * s)
        return ticks.aggregate(d.start + (ns - d.start) // cal.MINUTE_NS * cal.MINUTE_NS)
