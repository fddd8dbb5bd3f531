"""Option contracts and chains into pandas, fast: every page of Alpaca's JSON parsed once, no pydantic.

A chain is ``/v1beta1/options/snapshots/{underlying}`` (quotes, last trade, greeks, implied volatility;
up to 1,000 a page) joined with ``/v2/options/contracts`` (open interest; up to 10,000 a page), indexed
by (expiration, strike, type). Calls, puts and contracts page in at once, on three connections in one
thread; each page is decoded into only what a row keeps and made arrays (``ChainRows``), and the frame
is built from them (benchmarks/options.py). Where
a snapshot carries no greeks, ours (``blackscholes``, Black-Scholes from the mid price and the
underlying's price, asked for only then) fill them and the row is marked ``computed``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .. import blackscholes as bs
from .._wire import OPTION, chain_page_decoders, normalize_symbol
from ..errors import InvalidResponseError, ValidationError
from ..rest import decode_typed
from .pages import fetch_chains, next_token

CONTRACT_COLUMNS = {
    "underlying": "object", "expiration": "datetime64[ns]", "type": "object", "strike": "float64",
    "style": "object", "status": "object", "tradable": "bool", "open_interest": "float64",
    "close_price": "float64", "multiplier": "float64", "name": "object", "id": "object",
}  # fmt: skip
CHAIN_COLUMNS = ("symbol", "bid", "ask", "last", "iv", "delta", "gamma", "theta", "vega", "rho",
                 "open_interest", "computed")  # fmt: skip
TYPES = ("call", "put")
CONTRACTS_PATH = "/options/contracts"
SNAPSHOT_PAGE, CONTRACT_PAGE = 1000, 10_000  # Alpaca's largest pages (ALPACA_WIRE_MORE B1, B2)


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
    symbol = params.pop("underlying")
    query = dict(contracts_query(params, symbol, status), limit=CONTRACT_PAGE)
    rows: list[dict[str, Any]] = []
    while True:
        payload = trading.get_json(CONTRACTS_PATH, query)
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
    spot: float | Callable[[], float | None] | None = None,
    feed: str | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """The chain of ``underlying`` (see the module docstring). ``spot``: the underlying's price (or a
    function that fetches it, called only if needed), for greeks the snapshots lack (rows marked
    ``computed``).

    The snapshots (market-data API, 1,000 a page; calls and puts as two page chains) and the contracts
    (trading API, 10,000 a page) page in at once, each page parsed while the next is on its way."""
    params = contract_params(underlying, **filters)
    symbol = params.pop("underlying")
    if feed is not None and feed not in OPTION.feeds:
        raise ValidationError(f"feed must be one of {', '.join(OPTION.feeds)}, not {feed!r}")
    path = f"{OPTION.data_prefix}/snapshots/{symbol}"
    what = f"GET /{OPTION.data_version}{path}"
    contracts = contracts_query(params, symbol)
    rows = ChainRows()
    interest: dict[str, float] = {}
    decode_snapshots, decode_contracts = chain_page_decoders()
    snapshots = {**params, **({"feed": feed} if feed else {})}
    # Calls and puts as two page chains (unless one type was asked): their first pages are asked at
    # once, so a chain of up to 2,000 contracts is one round trip, not two pages one after the other.
    # The contracts (one page, for open interest) are asked last: a server answers in turn, and theirs
    # is the quickest page to parse, so the least work is left when the last answer is in.
    halves = [snapshots] if "type" in params else [dict(snapshots, type=kind) for kind in TYPES]
    pages = fetch_chains([
        *((data, path, half, SNAPSHOT_PAGE) for half in halves),
        (trading, CONTRACTS_PATH, contracts, CONTRACT_PAGE),
    ])  # fmt: skip
    last = snapshot_chains = len(halves)
    frame: pd.DataFrame | None = None
    with closing(pages):
        for i, body in pages:
            if i < last:
                rows.add(decode_typed(body, decode_snapshots, what).snapshots)
                snapshot_chains -= next_token(body) is None
                if not snapshot_chains and len(interest) < len(rows.symbols):
                    # the snapshots are all in and the contracts are not: the frame is built while
                    # they come, and their open interest is put in it then
                    frame = rows.frame(None, spot)
            else:
                page = decode_typed(body, decode_contracts, f"GET /v2{CONTRACTS_PATH}")
                interest.update(open_interest(page.option_contracts or ()))
    if frame is None:
        return rows.frame(interest if rows.symbols else None, spot)
    if len(frame):
        frame["open_interest"] = interest_column(frame["symbol"].tolist(), interest)
    return frame


def contracts_query(params: dict[str, Any], underlying: str, status: str = "active") -> dict[str, Any]:
    """The ``/v2/options/contracts`` query for ``contract_params``' filters: every expiration unless
    limited (Alpaca's default window ends next weekend)."""
    query = {"underlying_symbols": underlying, "status": status, **params}
    if "expiration_date" not in params and "expiration_date_lte" not in params:
        query["expiration_date_lte"] = (dt.date.today() + dt.timedelta(days=3 * 366)).isoformat()
    return query


def open_interest(contracts: Iterable[Any]) -> Iterator[tuple[str, float]]:
    """(symbol, open interest) of each contract of a decoded ``/v2/options/contracts`` page (NaN: none
    given)."""
    for c in contracts:
        oi = c.open_interest
        yield c.symbol, float(oi) if oi else np.nan


def interest_column(symbols: list[str], interest: dict[str, float]) -> np.ndarray:
    """Open interest for each symbol (NaN: not known)."""
    return np.array([interest.get(s, np.nan) for s in symbols], float)


class _Nothing:
    """What a snapshot lacks (no quote, trade or greeks): every field None."""

    bp = ap = p = delta = gamma = theta = vega = rho = None


_NOTHING = _Nothing()


class ChainRows:
    """Snapshot pages as they arrive, each made arrays at once (its symbols' OCC parts, its numbers), so
    that what is left when the last page is in is one sort and the frame: the earlier pages' work is done
    while the later ones are on their way."""

    def __init__(self) -> None:
        self.symbols: list[str] = []
        self._values: list[np.ndarray] = []  # per page: (n, 9) floats, CHAIN_COLUMNS[1:10]; NaN: not sent
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per page: occ_parts

    def add(self, snaps: dict[str, Any] | None) -> None:
        """A decoded snapshot page's ``.snapshots`` (``_wire.chain_page_decoders``)."""
        if not snaps:
            return
        symbols = list(snaps)
        self._parts.append(occ_parts(np.array(symbols, dtype=object)))
        nothing = _NOTHING
        values: list[float | None] = []  # flat: no object per row is kept (nor counted by the collector)
        extend = values.extend
        for snap in snaps.values():
            q, t, g = snap.latestQuote or nothing, snap.latestTrade or nothing, snap.greeks or nothing
            extend((q.bp, q.ap, t.p, snap.impliedVolatility, g.delta, g.gamma, g.theta, g.vega, g.rho))
        self._values.append(np.array(values, dtype=float).reshape(len(symbols), 9))  # None → NaN
        self.symbols += symbols

    def frame(
        self, interest: dict[str, float] | None, spot: float | Callable[[], float | None] | None
    ) -> pd.DataFrame:
        """The chain frame, sorted by (expiration, strike, type); ``interest``: open interest by symbol."""
        pages = len(self._parts)
        expiration, strike, is_put = (
            (np.concatenate([p[i] for p in self._parts]) for i in range(3))
            if pages
            else (np.array([], "datetime64[D]"), np.array([], float), np.array([], bool))
        )
        values = np.concatenate(self._values) if pages else np.empty((0, 9))
        order = np.lexsort((is_put, strike, expiration))  # stable: ties (other roots) stay in symbol order
        symbols = np.array(self.symbols, dtype=object)[order]
        values = values[order]
        days, day_codes = np.unique(expiration[order], return_inverse=True)
        strikes, strike_codes = np.unique(strike[order], return_inverse=True)
        kinds, kind_codes = np.unique(is_put[order], return_inverse=True)
        levels: list[Any] = [pd.DatetimeIndex(days.astype("datetime64[us]")), strikes,
                             np.array(TYPES, object)[kinds.astype(np.intp)]]  # fmt: skip
        codes: list[Any] = [day_codes, strike_codes, kind_codes]
        index = pd.MultiIndex(levels, codes, names=["expiration", "strike", "type"], verify_integrity=False)
        oi = interest or {}
        missing = np.isnan(values[:, 4])  # no delta: no greeks
        if callable(spot):
            spot = spot() if missing.any() else None
        frame = pd.DataFrame(
            {
                "symbol": symbols,
                **dict(zip(CHAIN_COLUMNS[1:10], values.T, strict=True)),
                "open_interest": interest_column(symbols.tolist(), oi),
                "computed": missing & (spot is not None),
            },
            index=index,
        )
        if spot is not None and missing.any():
            _fill_greeks(frame, missing, spot)
        return frame


def chain_frame(snaps: dict[str, Any], contracts: pd.DataFrame | None, spot: float | None) -> pd.DataFrame:
    """Snapshots as Alpaca's JSON (``{symbol: {"latestQuote": …}}``) + contracts for open interest → the
    chain frame, greeks filled where missing; the same decoding as a fetched page."""
    rows = ChainRows()
    decode = chain_page_decoders()[0]
    rows.add(decode_typed(orjson.dumps({"snapshots": snaps}), decode, "the snapshots").snapshots)
    interest = (
        None if contracts is None else dict(zip(contracts.index, contracts["open_interest"], strict=True))
    )
    return rows.frame(interest, spot)


def occ_parts(symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expiration as datetime64[D], strike, is_put) of OCC symbols, read from their fixed-width tails
    (``YYMMDD`` + ``C``/``P`` + strike×1000 in 8 digits) all at once."""
    n = len(symbols)
    tails = "".join(s[-15:] for s in symbols.tolist()).encode("ascii", "replace")
    chars = (
        np.frombuffer(tails, np.uint8).reshape(n, 15) if len(tails) == 15 * n else np.zeros((n, 15), np.uint8)
    )
    digits = np.delete(chars, 6, axis=1).astype(np.int64) - ord("0")
    if ((digits < 0) | (digits > 9)).any() or not np.isin(chars[:, 6], (ord("C"), ord("P"))).all():
        bad = [s for s in symbols.tolist() if not (s.isascii() and OPTION.symbol.match(s))][:1]
        raise InvalidResponseError(f"the option chain has a symbol that is not an OCC symbol: {bad}")
    year, month, day = (digits[:, i] * 10 + digits[:, i + 1] for i in (0, 2, 4))
    months = (year + 2000 - 1970) * 12 + month - 1
    expiration = months.astype("datetime64[M]").astype("datetime64[D]") + (day - 1)
    strike = digits[:, 6:] @ 10 ** np.arange(7, -1, -1) / 1000
    return expiration, strike, chars[:, 6] == ord("P")


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
