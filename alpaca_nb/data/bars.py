"""Bars and records for any asset class: the client's class picks the routes, the frame's dtypes."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from typing import Any

import pandas as pd

from .._wire import AssetClass, normalize_symbols, one_class
from ..errors import InvalidResponseError, SymbolNotFoundError, ValidationError
from ..rest import decode_json
from .frames import BarsBuilder, parse_timestamps, rfc3339, symbol_rows, wire_shape
from .pages import PAGE_LIMIT, count_items, fetch_pages, next_token
from .params import bar_params


def symbols_for(client: Any, symbols: str | Sequence[str]) -> tuple[list[str], bool]:
    """Normalised symbols, all of the client's asset class (a mix is refused in one line)."""
    syms, single = normalize_symbols(symbols)
    asset = one_class(syms)
    if asset is not client.asset:
        raise ValidationError(
            f"{', '.join(syms)}: {asset.label}s, asked of the {client.asset.key} data client"
        )
    return syms, single


def fetch_bars(
    client: Any,
    symbols: str | Sequence[str],
    timeframe: Any = "1Day",
    start: Any = None,
    end: Any = None,
    *,
    limit: int | None = None,
    feed: str | None = None,
    adjustment: str | None = None,
    sort: str = "asc",
    tz: str | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Bars as a DataFrame with a fixed schema (see ``Session.bars``)."""
    syms, single = symbols_for(client, symbols)
    asset: AssetClass = client.asset
    params = bar_params(
        syms, timeframe, start, end, limit=limit, feed=feed, adjustment=adjustment, sort=sort, tz=tz,
        asset=asset,
    )  # fmt: skip
    builder = BarsBuilder(asset)
    bar = None
    path = asset.data_path("bars")
    pages = fetch_pages(client, path, params, limit, count_items)
    try:  # closing the pages closes their connections, also when a page fails to parse
        for _, body in pages:
            builder.add_page(body)
            big = builder.count > PAGE_LIMIT or next_token(body)  # more than one page's worth of bars
            if bar is None and progress is not False and big:
                bar = progress_bar(f"{','.join(syms)} {params['timeframe']}")
            if bar is not None:
                bar.update(builder.count - bar.n)
    finally:
        pages.close()
        if bar is not None:
            bar.close()
    unasked = sorted(set(builder.parts) - set(syms))
    if unasked:
        raise InvalidResponseError(
            f"GET /{asset.data_version}{path}: the answer has bars of {', '.join(unasked)}, not asked for"
        )
    missing = [s for s in syms if s not in builder.parts]
    if missing:
        check_known(client, missing)
    return builder.frame(single=syms[0] if single else None, tz=tz)


def fetch_records(
    client: Any, channel: str, since_ns: dict[str, int], *, timeframe: str = "1Min"
) -> dict[str, list[Any]]:
    """Every quote (or minute bar) after ``since_ns[symbol]``, all pages read, oldest first, as
    ``_wire`` records: what a chart's seed and its gap backfill need.

    Each symbol may have its own start; one request covers them all from the earliest, and what lies
    before a symbol's own start is dropped."""
    from .._wire import Bar, Quote

    if channel not in ("quotes", "bars"):
        raise ValidationError(f"channel must be 'quotes' or 'bars', not {channel!r}")
    if not since_ns:
        return {}
    symbols_for(client, list(since_ns))
    start = pd.Timestamp(min(since_ns.values()) + 1, unit="ns", tz="UTC")
    params: dict[str, Any] = {"symbols": ",".join(since_ns), "start": rfc3339(start)}
    if channel == "bars":
        params["timeframe"] = timeframe
    out: dict[str, list[Any]] = {symbol: [] for symbol in since_ns}
    path = client.asset.data_path(channel)
    what = f"GET /{client.asset.data_version}{path}"
    with closing(fetch_pages(client, path, params, None, count_items)) as pages:
        for _, body in pages:
            with wire_shape(what, channel):
                payload = decode_json(body, what, "GET", path)
                for symbol, rows in symbol_rows(payload, channel):
                    stamps = parse_timestamps([r["t"] for r in rows]).tolist()
                    floor = since_ns.get(symbol, 0)
                    made: list[Any]
                    if channel == "quotes":
                        made = [Quote(t, r["bp"], r["bs"], r["ap"], r["as"])
                                for t, r in zip(stamps, rows, strict=True)]  # fmt: skip
                    else:
                        made = [Bar(t, r["o"], r["h"], r["l"], r["c"], r["v"], r["n"], r["vw"])
                                for t, r in zip(stamps, rows, strict=True)]  # fmt: skip
                    out.setdefault(symbol, []).extend(m for m in made if m[0] > floor)
    return out


def progress_bar(desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(desc=desc, unit=" bars", unit_scale=True, leave=False)


def check_known(client: Any, symbols: list[str]) -> None:
    """An empty result for a symbol Alpaca doesn't list is an error, not an empty frame; so is a crypto
    pair written without its slash (``BTCUSD``: Alpaca's assets know it, its stock data does not)."""
    from ..errors import NotFoundError

    trading = client.trading
    if trading is None:  # keyless: no /v2/assets to ask; Alpaca leaves unknown pairs out of the map
        raise SymbolNotFoundError(404, 40410000, f"no data for {', '.join(symbols)} (unknown pair?)",
                                  method="GET", path=client.asset.data_path("…"))  # fmt: skip
    unknown = []
    for symbol in symbols:
        try:
            found = trading.get_asset(symbol)
        except NotFoundError:
            unknown.append(symbol)
            continue
        real = str(getattr(found, "symbol", symbol))
        if real != symbol and "/" in real:
            raise ValidationError(f"{symbol} is the crypto pair {real}: write it with the slash")
    if unknown:
        raise SymbolNotFoundError(
            404,
            40410000,
            f"unknown symbol{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            method="GET",
            path="/v2/assets",
        )
