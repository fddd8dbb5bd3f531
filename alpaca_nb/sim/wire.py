"""Alpaca's wire shapes: RFC-3339 timestamps, bar/quote/trade objects, stream messages, error bodies.

Bars' one-letter keys (``t o h l c v n vw``), quotes' and trades' are produced here and only here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
import numpy.typing as npt
import orjson

from .calendar import ET, NS
from .market import Bars, Quotes, Trades

I64 = npt.NDArray[np.int64]


def iso_seconds(ns: I64) -> list[str]:
    """``2024-10-14T13:30:00Z`` for each timestamp (bar stamps)."""
    text = np.datetime_as_string(ns.astype("datetime64[ns]"), unit="s")
    return [t + "Z" for t in text.tolist()]


def iso_nanos(ns: I64) -> list[str]:
    """``2024-10-14T13:30:00.123456789Z`` for each timestamp (quotes, trades, orders)."""
    text = np.datetime_as_string(ns.astype("datetime64[ns]"), unit="ns")
    return [t + "Z" for t in text.tolist()]


def iso_one(ns: int) -> str:
    return iso_nanos(np.array([ns], dtype=np.int64))[0]


def iso_et(ns: int) -> str:
    """RFC-3339 in New York time with its offset, as /v2/clock answers."""
    stamp = dt.datetime.fromtimestamp(ns // NS, ET).replace(microsecond=(ns % NS) // 1000)
    return stamp.isoformat()


def bar_dicts(bars: Bars) -> list[dict[str, Any]]:
    return [
        {"t": t, "o": o, "h": h, "l": lo, "c": c, "v": v, "n": n, "vw": vw}
        for t, o, h, lo, c, v, n, vw in zip(
            iso_seconds(bars.ns),
            bars.open.tolist(),
            bars.high.tolist(),
            bars.low.tolist(),
            bars.close.tolist(),
            bars.volume.tolist(),
            bars.count.tolist(),
            bars.vwap.tolist(),
            strict=True,
        )
    ]


def trade_dicts(trades: Trades, sl: slice, tape: str) -> list[dict[str, Any]]:
    ids = range(trades.first_id + (sl.start or 0) + 1, trades.first_id + sl.stop + 1)
    return [
        {"t": t, "x": x, "p": p, "s": s, "c": ["@", "T"] if ext else ["@"], "i": i, "z": tape}
        for t, x, p, s, ext, i in zip(
            iso_nanos(trades.ns[sl]),
            trades.exchange[sl].tolist(),
            trades.price[sl].tolist(),
            trades.size[sl].tolist(),
            trades.extended[sl].tolist(),
            ids,
            strict=True,
        )
    ]


def quote_dicts(quotes: Quotes, sl: slice, tape: str) -> list[dict[str, Any]]:
    return [
        {"t": t, "bx": bx, "bp": bp, "bs": bs, "ax": ax, "ap": ap, "as": as_, "c": ["R"], "z": tape}
        for t, bx, bp, bs, ax, ap, as_ in zip(
            iso_nanos(quotes.ns[sl]),
            quotes.bid_exchange[sl].tolist(),
            quotes.bid[sl].tolist(),
            quotes.bid_size[sl].tolist(),
            quotes.ask_exchange[sl].tolist(),
            quotes.ask[sl].tolist(),
            quotes.ask_size[sl].tolist(),
            strict=True,
        )
    ]


@dataclass(slots=True)
class EncodedBars:
    """Bars encoded once as one comma-separated JSON blob; any contiguous run is one slice."""

    ns: I64
    blob: bytes
    offsets: I64  # bar i is blob[offsets[i] : offsets[i + 1] - 1]

    @staticmethod
    def of(bars: Bars) -> EncodedBars:
        parts = [orjson.dumps(d) for d in bar_dicts(bars)]
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(p) + 1 for p in parts], out=offsets[1:])
        return EncodedBars(bars.ns, b",".join(parts), offsets)

    def run(self, i: int, j: int) -> bytes:
        """Bars ``i`` to ``j - 1``, ascending, as ``{..},{..}``."""
        return self.blob[self.offsets[i] : self.offsets[j] - 1]

    def run_desc(self, i: int, j: int) -> bytes:
        """Bars ``j - 1`` down to ``i`` as ``{..},{..}``."""
        off, blob = self.offsets, self.blob
        return b",".join([blob[off[k] : off[k + 1] - 1] for k in range(j - 1, i - 1, -1)])

    @property
    def nbytes(self) -> int:
        return len(self.blob) + self.ns.nbytes + self.offsets.nbytes


# ----- errors ---------------------------------------------------------------------------------
def error_body(code: int, message: str, **extra: Any) -> bytes:
    return orjson.dumps({"code": code, "message": message, **extra})


# ----- market-data stream ---------------------------------------------------------------------
def stream_timestamp(ns: int, binary: bool) -> Any:
    return msgpack.Timestamp.from_unix_nano(ns) if binary else iso_one(ns)


def stream_frame(messages: list[dict[str, Any]], binary: bool) -> bytes | str:
    """One frame: msgpack (``t`` as msgpack Timestamps already) or JSON text."""
    if binary:
        return msgpack.packb(messages)
    return orjson.dumps(messages).decode()


def quote_message(symbol: str, q: Quotes, i: int, tape: str, binary: bool) -> dict[str, Any]:
    # "T" must be the first key (the Go SDK insists; alpaca-py doesn't care).
    return {
        "T": "q",
        "S": symbol,
        "bx": str(q.bid_exchange[i]),
        "bp": float(q.bid[i]),
        "bs": int(q.bid_size[i]),
        "ax": str(q.ask_exchange[i]),
        "ap": float(q.ask[i]),
        "as": int(q.ask_size[i]),
        "c": ["R"],
        "z": tape,
        "t": stream_timestamp(int(q.ns[i]), binary),
    }


def trade_message(symbol: str, tr: Trades, i: int, tape: str, binary: bool) -> dict[str, Any]:
    return {
        "T": "t",
        "S": symbol,
        "i": tr.first_id + i + 1,
        "x": str(tr.exchange[i]),
        "p": float(tr.price[i]),
        "s": int(tr.size[i]),
        "c": ["@", "T"] if tr.extended[i] else ["@"],
        "z": tape,
        "t": stream_timestamp(int(tr.ns[i]), binary),
    }


def bar_message(kind: str, symbol: str, bars: Bars, i: int, binary: bool) -> dict[str, Any]:
    return {
        "T": kind,
        "S": symbol,
        "o": float(bars.open[i]),
        "h": float(bars.high[i]),
        "l": float(bars.low[i]),
        "c": float(bars.close[i]),
        "v": int(bars.volume[i]),
        "t": stream_timestamp(int(bars.ns[i]), binary),
        "n": int(bars.count[i]),
        "vw": float(bars.vwap[i]),
    }


class ApiError(Exception):
    """An Alpaca-shaped error answer: HTTP ``status`` with body ``{"code", "message", **extra}``."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> bytes:
        return error_body(self.code, self.message, **self.extra)
