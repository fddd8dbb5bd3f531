"""Crypto's wire shapes (ALPACA_WIRE_MORE A1-A2): REST items and stream messages.

Crypto drops the stock fields it has no use for: quotes are only ``t bp bs ap as``, trades
``t p s i tks``; sizes and bar volumes are fractional (doubles); order books are ``{p, s}`` levels,
with ``r: true`` only on a stream's first (whole-book) message, and both ``b`` and ``a`` always.
"""

from __future__ import annotations

from typing import Any

from .market.common import Bars
from .market.crypto import CryptoQuotes, CryptoTrades
from .market.orderbook import Level
from .wire import iso_nanos, iso_one, stream_timestamp


def quote_dicts(q: CryptoQuotes, sl: slice) -> list[dict[str, Any]]:
    return [
        {"t": t, "bp": bp, "bs": bs, "ap": ap, "as": as_}
        for t, bp, bs, ap, as_ in zip(
            iso_nanos(q.ns[sl]),
            q.bid[sl].tolist(),
            q.bid_size[sl].tolist(),
            q.ask[sl].tolist(),
            q.ask_size[sl].tolist(),
            strict=True,
        )
    ]


def trade_dicts(tr: CryptoTrades, sl: slice) -> list[dict[str, Any]]:
    start = sl.start or 0
    ids = range(tr.first_id + start + 1, tr.first_id + start + 1 + len(tr.ns[sl]))
    return [
        {"t": t, "p": p, "s": s, "i": i, "tks": "B" if buyer else "S"}
        for t, p, s, i, buyer in zip(
            iso_nanos(tr.ns[sl]),
            tr.price[sl].tolist(),
            tr.size[sl].tolist(),
            ids,
            tr.buyer_taker[sl].tolist(),
            strict=True,
        )
    ]


def levels_json(levels: list[Level]) -> list[dict[str, float]]:
    return [{"p": p, "s": s} for p, s in levels]


def book_json(ns: int, bids: list[Level], asks: list[Level]) -> dict[str, Any]:
    """A REST order book (no ``r``)."""
    return {"t": iso_one(ns), "b": levels_json(bids), "a": levels_json(asks)}


# ----- stream messages ("T" first, as the Go SDK insists) -------------------------------------
def quote_message(symbol: str, q: CryptoQuotes, i: int, binary: bool) -> dict[str, Any]:
    return {
        "T": "q",
        "S": symbol,
        "bp": float(q.bid[i]),
        "bs": float(q.bid_size[i]),
        "ap": float(q.ask[i]),
        "as": float(q.ask_size[i]),
        "t": stream_timestamp(int(q.ns[i]), binary),
    }


def trade_message(symbol: str, tr: CryptoTrades, i: int, binary: bool) -> dict[str, Any]:
    return {
        "T": "t",
        "S": symbol,
        "p": float(tr.price[i]),
        "s": float(tr.size[i]),
        "t": stream_timestamp(int(tr.ns[i]), binary),
        "i": tr.first_id + i + 1,
        "tks": "B" if tr.buyer_taker[i] else "S",
    }


def bar_message(kind: str, symbol: str, bars: Bars, i: int, binary: bool) -> dict[str, Any]:
    """``b`` / ``d`` / ``u``: fractional ``v``, and ``n`` and ``vw`` as on every bar."""
    return {
        "T": kind,
        "S": symbol,
        "o": float(bars.open[i]),
        "h": float(bars.high[i]),
        "l": float(bars.low[i]),
        "c": float(bars.close[i]),
        "v": float(bars.volume[i]),
        "t": stream_timestamp(int(bars.ns[i]), binary),
        "n": int(bars.count[i]),
        "vw": float(bars.vwap[i]),
    }


def book_message(
    symbol: str, ns: int, bids: list[Level], asks: list[Level], binary: bool, *, reset: bool = False
) -> dict[str, Any]:
    """``o``: the whole book with ``r: true``, or increments (size 0 deletes a level) without ``r``."""
    msg: dict[str, Any] = {
        "T": "o",
        "S": symbol,
        "t": stream_timestamp(ns, binary),
        "b": levels_json(bids),
        "a": levels_json(asks),
    }
    if reset:
        msg["r"] = True
    return msg
