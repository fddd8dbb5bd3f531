"""Order books rebuilt from Alpaca's ``orderbooks`` channel (crypto): a snapshot, then increments.

The first message after subscribing carries ``"r": true`` and the whole book; later ones carry only the
levels that changed, and a size of 0 removes a level (ALPACA_WIRE_MORE A2). Both sides' keys are in
every message, possibly empty. A reconnect's first message has ``r`` again and replaces the book.
"""

from __future__ import annotations

import threading

from .._wire import BookUpdate


class Book:
    """One symbol's book: price → size on each side, changed only on the engine thread; read under a
    lock by whoever draws it (``levels``)."""

    __slots__ = ("_lock", "asks", "bids", "t_ns", "updates", "version")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.t_ns = 0
        self.updates = 0
        self.version = 0  # bumped per applied message: a widget sends a frame only when it moved
        self._lock = threading.Lock()

    def apply(self, update: BookUpdate) -> None:
        with self._lock:
            if update.reset:
                self.bids.clear()
                self.asks.clear()
            for side, levels in ((self.bids, update.bids), (self.asks, update.asks)):
                for price, size in levels:
                    if size > 0:
                        side[price] = size
                    else:
                        side.pop(price, None)
            self.t_ns = max(self.t_ns, update.t_ns)
            self.updates += 1
            self.version += 1

    def levels(
        self, depth: int | None = None
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]], int]:
        """(bids best first, asks best first, timestamp in ns), at most ``depth`` a side."""
        with self._lock:
            bids = sorted(self.bids.items(), key=lambda lv: -lv[0])
            asks = sorted(self.asks.items())
            t_ns = self.t_ns
        if depth is not None:
            bids, asks = bids[:depth], asks[:depth]
        return bids, asks, t_ns

    def crossed(self) -> bool:
        with self._lock:
            return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))

    def __repr__(self) -> str:
        return f"<Book {len(self.bids)} bids, {len(self.asks)} asks>"
