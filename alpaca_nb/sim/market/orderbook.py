"""Crypto order books: a deterministic book per pair and book tick, and the increments between two.

The book is a pure function of (seed, pair, tick ``k``), where tick ``k`` starts at ``k * interval``
nanoseconds since the epoch. So a REST snapshot, a stream's ``r: true`` snapshot and a client that
applied every increment since all agree on the book of the tick they name (its ``t``).

* The best bid and ask are the quote in force at the tick (the book is never crossed, and agrees
  with ``latest/quotes``); the other levels step away from them by the pair's ``book_step``.
* Each level's size lives for a few ticks (a per-level lifetime of 3-40 ticks, hashed from its
  price), then changes; some levels are empty for a while. So depth moves a little every tick and
  the increments are a handful of levels, as on a real venue. Exactly ``levels`` levels per side.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .crypto import CryptoMarket
from .pairs import PairInfo

U64 = npt.NDArray[np.uint64]
Level = tuple[float, float]  # (price, size)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, slots=True)
class Book:
    """One side per list, best first; ``ns`` is the tick's start."""

    ns: int
    bids: list[Level]
    asks: list[Level]

    def as_maps(self) -> tuple[dict[float, float], dict[float, float]]:
        return dict(self.bids), dict(self.asks)


def _mix(x: U64) -> U64:
    """splitmix64's finalizer, on arrays (uint64 arithmetic wraps, as it should here)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _unit(*parts: U64) -> npt.NDArray[np.float64]:
    """A uniform [0, 1) number per element, hashed from the parts."""
    h = np.zeros(len(parts[0]), np.uint64)
    for part in parts:
        h = _mix(h ^ (part + _GOLDEN))
    return np.asarray((h >> np.uint64(11)).astype(np.float64) * 2.0**-53, dtype=np.float64)


class OrderBooks:
    """Books of a crypto market: ``levels`` per side, a new tick every ``interval`` seconds."""

    def __init__(self, market: CryptoMarket, *, levels: int = 50, interval: float = 0.1) -> None:
        if levels < 1 or not interval > 0:
            raise ValueError("orderbook levels must be >= 1 and the interval > 0 seconds")
        self.market = market
        self.levels = levels
        self.interval_ns = int(interval * 1e9)
        self._cache: OrderedDict[tuple[str, int], Book] = OrderedDict()

    def tick_of(self, ns: int) -> int:
        return ns // self.interval_ns

    def at(self, symbol: str, ns: int | None = None) -> Book | None:
        """The book in force at ``ns`` (default now); None for a pair without a quote yet."""
        return self.book(symbol, self.tick_of(self.market.now() if ns is None else ns))

    def book(self, symbol: str, k: int) -> Book | None:
        hit = self._cache.get((symbol, k))
        if hit is not None:
            return hit
        info = self.market.info(symbol)
        quote = self.market.quote_at(symbol, k * self.interval_ns) if info is not None else None
        if info is None or quote is None:
            return None
        bid, ask, bid_size, ask_size, _ = quote
        tick = info.tick
        best_bid = int(np.floor(bid / tick + 1e-9))
        best_ask = max(int(np.ceil(ask / tick - 1e-9)), best_bid + 1)
        book = Book(
            k * self.interval_ns,
            self._side(info, k, best_bid, -1, bid_size),
            self._side(info, k, best_ask, +1, ask_size),
        )
        self._cache[(symbol, k)] = book
        while len(self._cache) > 4096:
            self._cache.popitem(last=False)
        return book

    def _side(self, info: PairInfo, k: int, best: int, direction: int, best_size: float) -> list[Level]:
        step = info.book_step
        n = self.levels + self.levels // 2 + 4  # candidates: some are empty
        offsets = np.arange(n, dtype=np.int64)
        # Below the best level the book sits on a fixed grid, so a move of the best price changes
        # a few levels, not all of them.
        first = (best - 1) // step * step if direction < 0 else -((-best - 1) // step) * step
        ticks = first + direction * (offsets - 1) * step
        ticks[0] = best
        level = ticks.astype(np.uint64)
        salt = np.full(n, (self.market.seed * 1_000_003 + info.key) & 0xFFFFFFFF, np.uint64)
        side = np.full(n, 1 if direction > 0 else 2, np.uint64)
        life = 3 + (_unit(level, salt, side) * 38).astype(np.int64)
        phase = (_unit(level, side, salt) * life).astype(np.int64)
        epoch = ((k + phase) // life).astype(np.uint64)
        draw = _unit(level, epoch, salt, side)
        present = (draw >= 0.08) | (offsets == 0)
        qty_step = float(info.qty_step)
        dollars = 2_000.0 * (1 + offsets * 0.15) * (0.2 + 3 * draw**2)
        units = np.maximum(np.floor(dollars / (ticks * info.tick) / qty_step), 1.0)
        sizes = np.round(units * qty_step, info.qty_decimals)
        sizes[0] = best_size
        keep = np.flatnonzero(present)[: self.levels]
        prices = np.round(ticks[keep] * info.tick, info.price_decimals)
        return list(zip(prices.tolist(), sizes[keep].tolist(), strict=True))


def increments(old: Book, new: Book) -> tuple[list[Level], list[Level]]:
    """The (bids, asks) that turn ``old`` into ``new``: changed or new levels, and size 0 for gone ones."""

    def side(before: list[Level], after: list[Level], descending: bool) -> list[Level]:
        was = dict(before)
        now = dict(after)
        out = [(p, s) for p, s in after if was.get(p) != s]
        out += [(p, 0.0) for p in was if p not in now]
        return sorted(out, key=lambda lv: -lv[0] if descending else lv[0])

    return side(old.bids, new.bids, True), side(old.asks, new.asks, False)
