"""Pieces every simulated market shares: bar arrays, price pins, the byte-bounded day cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(slots=True)
class Bars:
    """OHLCV arrays; ``pv`` is the unrounded sum of price*size (for exact vwap aggregation)."""

    ns: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: I64 | F64  # shares (int) or coins (float)
    count: I64
    pv: F64

    @property
    def vwap(self) -> F64:
        # A bar without volume (crypto minutes priced from the quote mid) has its close as vwap.
        traded = self.volume > 0
        vwap = np.where(traded, self.pv / np.where(traded, self.volume, 1), self.close)
        return np.asarray(np.round(vwap, 6), dtype=np.float64)

    def __len__(self) -> int:
        return len(self.ns)

    def take(self, sl: slice | npt.NDArray[np.bool_] | I64) -> Bars:
        return Bars(*(getattr(self, f)[sl] for f in _BAR_FIELDS))

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in _BAR_FIELDS)

    @staticmethod
    def empty() -> Bars:
        f, i = np.empty(0, np.float64), np.empty(0, np.int64)
        return Bars(i, f, f, f, f, i, i, f)

    def aggregate(self, keys: I64, stamps: I64 | None = None) -> Bars:
        """Group consecutive bars with equal ``keys``; each group is stamped with its key (or ``stamps``)."""
        if len(self) == 0:
            return Bars.empty()
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        ends = np.r_[starts[1:], len(keys)] - 1
        return Bars(
            keys[starts] if stamps is None else stamps,
            self.open[starts],
            np.maximum.reduceat(self.high, starts),
            np.minimum.reduceat(self.low, starts),
            self.close[ends],
            _sum_volume(self.volume, starts),
            np.add.reduceat(self.count, starts),
            np.add.reduceat(self.pv, starts),
        )


def _sum_volume(volume: I64 | F64, starts: I64) -> I64 | F64:
    """Summed volumes; fractional (crypto) ones rounded to 9 places so sums carry no float noise."""
    total = np.add.reduceat(volume, starts)
    return np.asarray(np.round(total, 9), dtype=np.float64) if total.dtype.kind == "f" else total


_BAR_FIELDS = ("ns", "open", "high", "low", "close", "volume", "count", "pv")


@dataclass(slots=True)
class Pin:
    """A fixed quote for one symbol (a test hook: fills and valuations become hand-computable)."""

    price: float
    spread: float
    size: int
    since: int = 0  # ns from which it holds: history before it keeps the prices it had


class ByteLRU:
    """A thread-safe LRU bounded by the summed ``nbytes`` of its values."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[object, tuple[object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get_or_make(self, key: object, make: Callable[[], object], size: Callable[[object], int]) -> object:
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
                return hit[0]
        value = make()
        nbytes = size(value)
        with self._lock:
            if key not in self._data:
                self._data[key] = (value, nbytes)
                self._bytes += nbytes
            while self._bytes > self.max_bytes and len(self._data) > 1:
                _, (_, old) = self._data.popitem(last=False)
                self._bytes -= old
        return value

    @property
    def nbytes(self) -> int:
        return self._bytes


def cut_complete(bars: Bars, now: int, width: int) -> Bars:
    """The bars complete at ``now`` (their interval ended)."""
    k = int(np.searchsorted(bars.ns, now - width, side="right"))
    return bars.take(slice(0, k))
