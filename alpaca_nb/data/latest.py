"""The latest quotes and trades, snapshots and (crypto) order books, one row per symbol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .._wire import QUOTE_KEYS, TRADE_KEYS
from ..errors import InvalidResponseError, ValidationError
from .bars import check_known, symbols_for
from .params import check_feed

QUOTE_FIELDS, TRADE_FIELDS = QUOTE_KEYS, TRADE_KEYS


def _by_symbol(rows: dict[str, dict[str, Any]], fields: dict[str, str], symbols: list[str]) -> pd.DataFrame:
    records = {s: {name: rows[s].get(key) for key, name in fields.items()} for s in symbols if s in rows}
    frame = pd.DataFrame.from_dict(records, orient="index", columns=list(fields.values()))
    frame.index.name = "symbol"
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
    return frame


def _query(client: Any, symbols: str | Sequence[str], feed: str | None, extra: tuple[str, ...] = ()) -> Any:
    syms, _ = symbols_for(client, symbols)
    params: dict[str, Any] = {"symbols": ",".join(syms)}
    if feed is not None:
        check_feed(feed, client.asset, extra=extra)
        params["feed"] = feed
    return syms, params


def fetch_latest(client: Any, kind: str, symbols: str | Sequence[str], feed: str | None) -> pd.DataFrame:
    """Latest quotes or trades, one row per symbol (unknown symbols raise SymbolNotFoundError)."""
    syms, params = _query(client, symbols, feed, ("overnight",))
    key = "quotes" if kind == "quotes" else "trades"
    payload = client.get_json(client.asset.data_path(f"latest/{key}"), params)
    rows = payload.get(key) or {}
    missing = [s for s in syms if s not in rows]
    if missing:
        check_known(client, missing)
    fields = QUOTE_FIELDS if kind == "quotes" else TRADE_FIELDS
    if client.asset.key == "crypto":  # crypto quotes/trades have no exchange, conditions or tape
        fields = {k: v for k, v in fields.items() if k not in ("bx", "ax", "x", "c", "z")}
        if kind != "quotes":
            fields = dict(fields, tks="taker_side")
    return _by_symbol(rows, fields, syms)


def latest_quote_records(client: Any, symbols: Sequence[str]) -> dict[str, Any]:
    """Each symbol's latest quote as a ``_wire.Quote`` stamped with its own time (ns): what a chart's
    seed of options (Alpaca keeps no option quote history) and the keyless poll need."""
    from .._wire import Quote
    from .frames import parse_timestamps

    rows = client.get_json(client.asset.data_path("latest/quotes"), {"symbols": ",".join(symbols)}) or {}
    rows = rows.get("quotes") or {}
    stamps = parse_timestamps([row["t"] for row in rows.values()]).tolist()
    return {sym: Quote(t, row["bp"], row["bs"], row["ap"], row["as"])
            for (sym, row), t in zip(rows.items(), stamps, strict=True)}  # fmt: skip


def fetch_snapshots(client: Any, symbols: str | Sequence[str], feed: str | None) -> pd.DataFrame:
    """One row per symbol: last trade, bid/ask, the minute bar, today's and the previous daily bar."""
    syms, params = _query(client, symbols, feed)
    payload = client.get_json(client.asset.data_path("snapshots"), params)
    if client.asset.snapshots_key is not None:  # crypto: {"snapshots": {...}}
        payload = payload.get(client.asset.snapshots_key) or {}
    missing = [s for s in syms if s not in payload]
    if missing:
        check_known(client, missing)
    records = {}
    for sym in syms:
        snap = payload.get(sym) or {}
        trade, quote = snap.get("latestTrade") or {}, snap.get("latestQuote") or {}
        minute, daily, prev = (
            snap.get("minuteBar") or {},
            snap.get("dailyBar") or {},
            snap.get("prevDailyBar") or {},
        )
        price, prev_close = trade.get("p"), prev.get("c")
        records[sym] = {
            "price": price, "timestamp": trade.get("t"),
            "bid_price": quote.get("bp"), "ask_price": quote.get("ap"), "minute_close": minute.get("c"),
            "open": daily.get("o"), "high": daily.get("h"), "low": daily.get("l"), "close": daily.get("c"),
            "volume": daily.get("v"), "prev_close": prev_close,
            "change": None if price is None or prev_close is None else price - prev_close,
            "change_pct": None if price is None or not prev_close else (price / prev_close - 1) * 100,
        }  # fmt: skip
    frame = pd.DataFrame.from_dict(records, orient="index")
    frame.index.name = "symbol"
    if len(frame):
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
    return frame


BOOK_COLUMNS = ("side", "price", "size")


def book_levels(book: Any, what: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(bids best first, asks best first) of one ``{"b": [{p, s}], "a": [{p, s}]}`` object; levels of
    size 0 dropped. Another shape is an ``InvalidResponseError``."""
    try:
        bids = [(float(x["p"]), float(x["s"])) for x in book["b"] if float(x["s"]) > 0]
        asks = [(float(x["p"]), float(x["s"])) for x in book["a"] if float(x["s"]) > 0]
    except (KeyError, TypeError, ValueError):
        raise InvalidResponseError(
            f"{what}: the answer's order book is not of the shape Alpaca sends"
        ) from None
    bids.sort(key=lambda lv: -lv[0])
    asks.sort(key=lambda lv: lv[0])
    return bids, asks


def fetch_orderbook(client: Any, symbol: str, depth: int | None = None) -> pd.DataFrame:
    """The latest order book of a crypto pair: rows ``side`` (bid/ask), ``price``, ``size``, best first
    on each side (bids then asks), with the book's ``timestamp`` in ``frame.attrs``."""
    syms, single = symbols_for(client, symbol)
    if not single or client.asset.key != "crypto":
        raise ValidationError("orderbook takes one crypto pair, e.g. 'BTC/USD'")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValidationError(f"depth must be a positive integer, not {depth!r}")
    path = client.asset.data_path("latest/orderbooks")
    payload = client.get_json(path, {"symbols": syms[0]})
    book = (payload.get("orderbooks") or {}).get(syms[0])
    if book is None:
        check_known(client, syms)
        book = {"b": [], "a": [], "t": None}
    bids, asks = book_levels(book, f"GET /{client.asset.data_version}{path}")
    if depth is not None:
        bids, asks = bids[:depth], asks[:depth]
    rows = [("bid", p, s) for p, s in bids] + [("ask", p, s) for p, s in asks]
    frame = pd.DataFrame(rows, columns=list(BOOK_COLUMNS)).astype({"price": "float64", "size": "float64"})
    stamp = book.get("t")
    frame["timestamp"] = pd.to_datetime(str(stamp), format="ISO8601", utc=True) if stamp else pd.NaT
    frame.attrs["symbol"] = syms[0]
    return frame
