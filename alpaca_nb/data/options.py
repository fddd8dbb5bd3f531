"""Option contracts and chains into pandas, fast: every page of Alpaca's JSON parsed once, no pydantic.

A chain is ``/v1beta1/options/snapshots/{underlying}`` (quotes, last trade, greeks, implied volatility;
up to 1,000 a page) joined with ``/v2/options/contracts`` (open interest; up to 10,000 a page), indexed
by (expiration, strike, type). Where a snapshot carries no greeks, ours (``blackscholes``, Black-Scholes
from the mid price and the underlying's price) fill them and the row is marked ``computed``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from .. import blackscholes as bs
from .._wire import OPTION, normalize_symbol, parse_occ
from ..errors import ValidationError
from ..rest import decode_json
from .pages import fetch_pages

CONTRACT_COLUMNS = {
    "underlying": "object", "expiration": "datetime64[ns]", "type": "object", "strike": "float64",
    "style": "object", "status": "object", "tradable": "bool", "open_interest": "float64",
    "close_price": "float64", "multiplier": "float64", "name": "object", "id": "object",
}  # fmt: skip
CHAIN_COLUMNS = ("symbol", "bid", "ask", "last", "iv", "delta", "gamma", "theta", "vega", "rho",
                 "open_interest", "computed")  # fmt: skip
TYPES = ("call", "put")


def _date(value: Any, name: str) -> str | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value).date().isoformat()
    except (ValueError, TypeError):
        raise ValidationError(f"{name}: cannot read {value!r} as a date (try '2026-12-18')") from None


def _strike(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValidationError(f"{name} must be a number, not {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise ValidationError(f"{name} must be a positive number, not {value!r}")
    return number


def contract_params(
    underlying: str,
    *,
    expiration: Any = None,
    expiration_gte: Any = None,
    expiration_lte: Any = None,
    type: str | None = None,
    strike_gte: Any = None,
    strike_lte: Any = None,
) -> dict[str, Any]:
    """The filters of a contracts or chain request, checked (one-line ``ValidationError``)."""
    symbol = normalize_symbol(underlying)
    if OPTION.symbol.match(symbol) or "/" in symbol:
        raise ValidationError(f"give the underlying stock (e.g. 'AAPL'), not {symbol}")
    if type is not None and type not in TYPES:
        raise ValidationError(f"type must be 'call' or 'put', not {type!r}")
    params: dict[str, Any] = {
        "expiration_date": _date(expiration, "expiration"),
        "expiration_date_gte": _date(expiration_gte, "expiration_gte"),
        "expiration_date_lte": _date(expiration_lte, "expiration_lte"),
        "type": type,
        "strike_price_gte": _strike(strike_gte, "strike_gte"),
        "strike_price_lte": _strike(strike_lte, "strike_lte"),
    }
    lo, hi = params["strike_price_gte"], params["strike_price_lte"]
    if lo is not None and hi is not None and lo > hi:
        raise ValidationError(f"strike_gte ({lo:g}) is above strike_lte ({hi:g})")
    return {"underlying": symbol, **{k: v for k, v in params.items() if v is not None}}


def fetch_contracts(trading: Any, underlying: str, *, status: str = "active", **filters: Any) -> pd.DataFrame:
    """Option contracts of ``underlying`` (every page), indexed by symbol."""
    params = contract_params(underlying, **filters)
    query: dict[str, Any] = {
        "underlying_symbols": params.pop("underlying"),
        "status": status,
        "limit": 10_000,
    }
    if "expiration_date" not in params and "expiration_date_lte" not in params:
        # Alpaca's default window ends next weekend; a chain means every expiration
        params["expiration_date_lte"] = (dt.date.today() + dt.timedelta(days=3 * 366)).isoformat()
    query.update(params)
    rows: list[dict[str, Any]] = []
    while True:
        payload = trading.get_json("/options/contracts", query)
        rows += payload.get("option_contracts") or []
        token = payload.get("next_page_token")
        if not token:
            break
        query["page_token"] = token
    frame = pd.DataFrame(
        {
            "underlying": [r.get("underlying_symbol") for r in rows],
            "expiration": pd.to_datetime([str(r.get("expiration_date")) for r in rows]),
            "type": [r.get("type") for r in rows],
            "strike": [float(r.get("strike_price") or "nan") for r in rows],
            "style": [r.get("style") for r in rows],
            "status": [r.get("status") for r in rows],
            "tradable": [bool(r.get("tradable")) for r in rows],
            "open_interest": [float(r["open_interest"]) if r.get("open_interest") else np.nan for r in rows],
            "close_price": [float(r["close_price"]) if r.get("close_price") else np.nan for r in rows],
            "multiplier": [float(r.get("multiplier") or 100) for r in rows],
            "name": [r.get("name") for r in rows],
            "id": [r.get("id") for r in rows],
        },
        index=pd.Index([r.get("symbol") for r in rows], name="symbol", dtype=object),
    )
    return frame.astype(CONTRACT_COLUMNS)


def fetch_chain(
    data: Any,
    trading: Any,
    underlying: str,
    *,
    spot: float | None = None,
    feed: str | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """The chain of ``underlying`` (see the module docstring). ``spot``: the underlying's price, for
    greeks the snapshots lack (rows marked ``computed``)."""
    params = contract_params(underlying, **filters)
    symbol = params.pop("underlying")
    if feed is not None and feed not in OPTION.feeds:
        raise ValidationError(f"feed must be one of {', '.join(OPTION.feeds)}, not {feed!r}")
    query: dict[str, Any] = {**params, **({"feed": feed} if feed else {})}
    path = f"{OPTION.data_prefix}/snapshots/{symbol}"
    what = f"GET /{OPTION.data_version}{path}"
    snaps: dict[str, Any] = {}
    # The contracts (open interest) come from the trading API while the snapshots page in: the two wait
    # on different servers, so they overlap (benchmarks/options.py).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="alpaca-nb-contracts") as pool:
        contracts_soon = pool.submit(fetch_contracts, trading, symbol, **filters)
        pages = fetch_pages(data, path, query, None, lambda _: 0, page_limit=1000)
        try:
            for _, body in pages:
                snaps.update((decode_json(body, what, "GET", path) or {}).get("snapshots") or {})
        finally:
            pages.close()
        contracts = contracts_soon.result()
    return chain_frame(snaps, contracts if snaps else None, spot)


def chain_frame(snaps: dict[str, Any], contracts: pd.DataFrame | None, spot: float | None) -> pd.DataFrame:
    """Snapshots (+ contracts for open interest) → the chain frame; greeks filled where missing."""
    symbols = sorted(snaps)
    parts = [parse_occ(s) for s in symbols]
    quote = [snaps[s].get("latestQuote") or {} for s in symbols]
    trade = [snaps[s].get("latestTrade") or {} for s in symbols]
    given = [snaps[s].get("greeks") or {} for s in symbols]
    n = len(symbols)

    def col(rows: list[dict[str, Any]], key: str) -> Any:
        return np.fromiter((np.nan if r.get(key) is None else r[key] for r in rows), float, n)

    frame = pd.DataFrame(
        {
            "symbol": pd.array(symbols, dtype=object),
            "bid": col(quote, "bp"),
            "ask": col(quote, "ap"),
            "last": col(trade, "p"),
            "iv": np.fromiter(
                (
                    np.nan if snaps[s].get("impliedVolatility") is None else snaps[s]["impliedVolatility"]
                    for s in symbols
                ),
                float,
                n,
            ),
            **{g: col(given, g) for g in ("delta", "gamma", "theta", "vega", "rho")},
        },
        index=pd.MultiIndex.from_arrays(
            [
                pd.to_datetime([p.expiration for p in parts]),
                np.array([p.strike for p in parts], float),
                pd.array([p.type for p in parts], dtype=object),
            ],
            names=["expiration", "strike", "type"],
        ),
    )
    oi = contracts["open_interest"] if contracts is not None else pd.Series(dtype=float)
    frame["open_interest"] = frame["symbol"].map(oi).astype("float64")
    missing = frame["delta"].isna().to_numpy()
    frame["computed"] = missing & (spot is not None)
    if spot is not None and missing.any():
        _fill_greeks(frame, missing, spot)
    frame = frame.sort_index()
    return frame[list(CHAIN_COLUMNS)]


def _fill_greeks(frame: pd.DataFrame, rows: np.ndarray, spot: float) -> None:
    """Our own IV (from the mid) and greeks where the snapshot has none."""
    sub = frame[rows]
    expiry = sub.index.get_level_values("expiration").to_numpy("datetime64[ns]").astype(np.int64)
    close = expiry + 20 * 3600 * 10**9  # 16:00 ET (20:00 UTC), near enough for years
    years = np.maximum((close - pd.Timestamp.now(tz="UTC").value) / 1e9 / (365.0 * 86400), 1e-6)
    strike = sub.index.get_level_values("strike").to_numpy(float)
    is_call = np.asarray(sub.index.get_level_values("type") == "call")
    mid = ((sub["bid"] + sub["ask"]) / 2).to_numpy(float)
    iv = sub["iv"].to_numpy(float)
    iv = np.where(np.isfinite(iv), iv, bs.implied_vol(mid, spot, strike, years, is_call))
    found = bs.greeks(spot, strike, years, iv, is_call)
    frame.loc[rows, "iv"] = iv
    for name, values in found.items():
        frame.loc[rows, name] = values
