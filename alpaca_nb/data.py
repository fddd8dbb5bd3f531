"""Market data into pandas, fast: bars built column-wise from Alpaca's raw JSON, page by page.

alpaca-py's ``get_stock_bars(...).df`` turns every bar into a pydantic model and then a dict before
pandas sees it (~10x slower and ~7x the memory, see benchmarks/bars.py). Here each page's bytes are
parsed with orjson, each symbol's bars become numpy columns in one pass, timestamps are parsed
vectorised, and the next page is requested before the current one is parsed (``rest.PipelinedGets``),
on up to three connections at once for several symbols (``fetch_pages``), compressed on the wire.
Requests still go through alpaca-py's client and alpaca_nb's transport (timeouts, limiter, 429s).

Input times: timezone-aware values are converted to UTC; **naive datetimes and date-only values
(``"2024-10-14"``, ``datetime.date``) are read in New York time**, the exchange's clock, so
``start="2024-10-14"`` starts at midnight ET and ``"2024-10-14 09:30"`` is the open. ``start`` and
``end`` are inclusive, as at Alpaca.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from alpaca.data.historical import StockHistoricalDataClient

from ._wire import BAR_KEYS, QUOTE_KEYS, TRADE_KEYS, normalize_symbols, to_utc
from .config import AccountConfig
from .errors import InvalidResponseError, SymbolNotFoundError, ValidationError
from .rest import PipelinedGets, RateLimiter, SafeRESTMixin, decode_json

if TYPE_CHECKING:
    import numpy.typing as npt

BAR_COLUMNS = ("open", "high", "low", "close", "volume", "trade_count", "vwap")
BAR_DTYPES = {"open": "float64", "high": "float64", "low": "float64", "close": "float64",
              "volume": "int64", "trade_count": "int64", "vwap": "float64"}  # fmt: skip
PAGE_LIMIT = 10_000
FEEDS = ("iex", "sip", "otc", "boats", "delayed_sip")
ADJUSTMENTS = ("raw", "split", "dividend", "spin-off", "all")
_T_KEY = re.compile(rb'"t":')
_TOKEN_RE = re.compile(rb'"next_page_token":\s*(null|"([^"]*)")')

_UNIT_ALIASES = {
    "min": "Min", "mins": "Min", "minute": "Min", "minutes": "Min", "m": "Min", "t": "Min",
    "h": "Hour", "hr": "Hour", "hrs": "Hour", "hour": "Hour", "hours": "Hour",
    "d": "Day", "day": "Day", "days": "Day",
    "w": "Week", "wk": "Week", "week": "Week", "weeks": "Week",
    "mo": "Month", "mon": "Month", "month": "Month", "months": "Month",
}  # fmt: skip
_MONTHS = (1, 2, 3, 4, 6, 12)


class SafeDataClient(SafeRESTMixin, StockHistoricalDataClient):
    """``StockHistoricalDataClient`` with timeouts, the rate limiter and alpaca_nb's errors."""

    def __init__(
        self, account: AccountConfig, *, timeout: float, limiter: RateLimiter, trading: Any = None
    ) -> None:
        creds = account.credentials
        super().__init__(
            creds.key_id.reveal(), creds.secret_key.reveal(), url_override=account.endpoints.data
        )
        self._anb_setup(timeout=timeout, limiter=limiter, account=account.kind)
        self.trading = trading  # a trading client on the same keys, for /v2/assets look-ups

    def __repr__(self) -> str:
        return f"<SafeDataClient {self._base_url}>"


# ----- checking inputs --------------------------------------------------------------------------
def parse_timeframe(value: Any) -> str:
    """Alpaca's timeframe string for ``value``: ``"1Min"``, ``"15Min"``, ``"1Hour"``, ``"1Day"``, …

    Accepts Alpaca's own strings (``5Min``, ``1Hour``, ``1Day``, ``1Week``, ``3Month``), pandas-style
    ``15T``/``1H``/``1D``, and ``1m``, ``5min``, ``1h``, ``1d``, ``1w``, ``1mo``. ``M`` alone is a month
    (as at Alpaca); ``m`` is a minute. alpaca-py ``TimeFrame`` objects work too.
    """
    if hasattr(value, "amount") and hasattr(value, "unit"):  # alpaca.data.timeframe.TimeFrame
        value = f"{value.amount}{value.unit.value}"
    text = str(value).strip() if value is not None else ""
    m = re.fullmatch(r"(\d*)\s*([A-Za-z]+)", text)
    if not m:
        raise ValidationError(f"not a timeframe: {value!r} (try '1Min', '15Min', '1Hour', '1Day', '1Week')")
    amount = int(m.group(1) or 1)
    word = m.group(2)
    if word in ("Min", "Hour", "Day", "Week", "Month"):
        unit = word
    elif word == "M":
        unit = "Month"
    elif word in ("T", "H", "D", "W"):
        unit = {"T": "Min", "H": "Hour", "D": "Day", "W": "Week"}[word]
    else:
        unit = _UNIT_ALIASES.get(word.lower(), "")
    valid = {
        "Min": 1 <= amount <= 59, "Hour": 1 <= amount <= 23, "Day": amount == 1, "Week": amount == 1,
        "Month": amount in _MONTHS,
    }.get(unit, False)  # fmt: skip
    if not valid:
        raise ValidationError(
            f"not a timeframe Alpaca serves: {value!r} "
            "(1-59 Min, 1-23 Hour, 1 Day, 1 Week, 1/2/3/4/6/12 Month)"
        )
    return f"{amount}{unit}"


def _rfc3339(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ----- parsing ----------------------------------------------------------------------------------
def parse_timestamps(values: list[str]) -> npt.NDArray[np.int64]:
    """UTC nanoseconds of RFC-3339 strings. Vectorised fast path for ``YYYY-MM-DDTHH:MM:SSZ``."""
    n = len(values)
    if n == 0:
        return np.empty(0, np.int64)
    joined = "".join(values)
    if len(joined) == 20 * n and joined.isascii():
        d = np.frombuffer(joined.encode(), np.uint8).reshape(n, 20).astype(np.int64) - 48
        seps = d[:, [4, 7, 10, 13, 16, 19]] + 48
        if (seps == np.frombuffer(b"--T::Z", np.uint8)).all():
            year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
            month, day = d[:, 5] * 10 + d[:, 6], d[:, 8] * 10 + d[:, 9]
            secs = (
                (d[:, 11] * 10 + d[:, 12]) * 3600 + (d[:, 14] * 10 + d[:, 15]) * 60 + d[:, 17] * 10 + d[:, 18]
            )
            ns: npt.NDArray[np.int64] = (_days_from_civil(year, month, day) * 86_400 + secs) * 1_000_000_000
            return ns
    parsed = pd.to_datetime(pd.Index(values), format="ISO8601", utc=True)
    return np.asarray(parsed.as_unit("ns").asi8, dtype=np.int64)


def _days_from_civil(y: npt.NDArray[np.int64], m: npt.NDArray[np.int64], d: npt.NDArray[np.int64]) -> Any:
    # Howard Hinnant's days_from_civil, vectorised: days since 1970-01-01 of a proleptic Gregorian date.
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


# (column, Alpaca's key, dtype) for the numeric columns, from the one map of short keys.
_DTYPES = {"volume": np.int64, "trade_count": np.int64}
_NUMERIC = tuple((name, key, _DTYPES.get(name, np.float64)) for key, name in BAR_KEYS.items() if key != "t")


def bar_columns(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """One symbol's bars (Alpaca's ``t o h l c v n vw`` objects) as numpy columns, one pass per key."""
    n = len(rows)
    columns = {"t": parse_timestamps(list(map(itemgetter("t"), rows)))}
    for name, key, dtype in _NUMERIC:
        columns[name] = np.fromiter(map(itemgetter(key), rows), dtype, n)
    return columns


class BarsBuilder:
    """Accumulates pages of bars (per symbol, in arrival order) and builds the final frame."""

    def __init__(self) -> None:
        self.parts: dict[str, list[dict[str, np.ndarray]]] = {}
        self.count = 0

    def add_page(self, body: bytes | memoryview) -> None:
        """One page's bars (a symbol's pages come in order: it lives in one page chain only). A page of
        another shape than Alpaca's is an ``InvalidResponseError``, never a half-read frame."""
        with wire_shape("GET /v2/stocks/bars", "bars"):
            payload = decode_json(body, "GET /v2/stocks/bars", "GET", "/stocks/bars")
            for symbol, rows in _symbol_rows(payload, "bars"):
                if rows:
                    self.parts.setdefault(symbol, []).append(bar_columns(rows))
                    self.count += len(rows)

    def frame(self, single: str | None = None, tz: str | None = None) -> pd.DataFrame:
        """The frame, built without copying the data twice: the float columns are concatenated into one
        2-D block that pandas keeps as it is, and the MultiIndex is made from levels and codes."""
        symbols = sorted(self.parts)  # as Alpaca orders them: by symbol, then time
        if single is not None:
            symbols = [single] if single in self.parts else []
        pieces = [p for s in symbols for p in self.parts[s]]
        n = sum(len(p["t"]) for p in pieces)

        def column(name: str, out: np.ndarray | None = None) -> np.ndarray:
            if out is None:
                out = np.empty(n, BAR_DTYPES.get(name, "int64"))
            if pieces:
                np.concatenate([p[name] for p in pieces], out=out)
            return out

        stamps = column("t").view("datetime64[ns]")
        floats = [name for name in BAR_COLUMNS if BAR_DTYPES[name] == "float64"]
        block = np.empty((len(floats), n))
        for i, name in enumerate(floats):
            column(name, block[i])
        index: pd.Index
        if single is not None:
            index = pd.DatetimeIndex(stamps, name="timestamp").tz_localize("UTC")
            if tz is not None:
                index = index.tz_convert(tz)
        else:
            counts = [sum(len(p["t"]) for p in self.parts[s]) for s in symbols]
            times, time_codes = np.unique(stamps, return_inverse=True)
            level = pd.DatetimeIndex(times, name="timestamp").tz_localize("UTC")
            levels: Any = [pd.Index(symbols, dtype=object), level if tz is None else level.tz_convert(tz)]
            codes: Any = [np.repeat(np.arange(len(symbols)), counts), time_codes.ravel()]
            index = pd.MultiIndex(
                levels=levels, codes=codes, names=["symbol", "timestamp"], verify_integrity=False
            )
        frame = pd.DataFrame(block.T, index=index, columns=floats, copy=False)
        for name in BAR_COLUMNS:
            if name not in floats:
                frame.insert(BAR_COLUMNS.index(name), name, column(name))
        return frame


def next_token(body: bytes | memoryview) -> str | None:
    """The page token, read from the end of the body without parsing it."""
    m = _TOKEN_RE.search(body, max(0, len(body) - 2048))
    if m is None:
        m = _TOKEN_RE.search(body)
    return m.group(2).decode() if m and m.group(2) is not None else None


# ----- fetching ---------------------------------------------------------------------------------
CHAINS = 3  # page chains fetched at once (benchmarks/bars.py: over a link, the others hide one's round trip)


def fetch_pages(
    client: SafeDataClient,
    path: str,
    params: dict[str, Any],
    limit: int | None,
    count: Any,
    *,
    chains: int | None = None,
) -> Generator[tuple[int, memoryview], None, None]:
    """Yield ``(chain, body)`` for every page; each chain's next page is requested before its current one
    is parsed.

    Without a ``limit`` and with several symbols, the symbols are dealt into ``chains`` (default
    ``CHAINS``) independent page
    chains, each on its own connection with one request in flight: over a slow link, one chain's
    round trip overlaps another's transfer (benchmarks/bars.py). Pages of one chain arrive in order;
    a symbol lives in one chain only."""
    symbols = str(params.get("symbols", "")).split(",")
    k = 1 if limit is not None else max(1, min(chains or CHAINS, len(symbols)))
    queries = [dict(params, symbols=",".join(symbols[i::k])) for i in range(k)] if k > 1 else [params]
    connector = client._connector()
    pipes = [PipelinedGets(client, connector) for _ in queries]
    got = 0
    try:
        for pipe, query in zip(pipes, queries, strict=True):
            pipe.send(path, dict(query, limit=min(PAGE_LIMIT, limit) if limit else PAGE_LIMIT))
        active = list(range(k))
        while active:
            for i in list(active):
                body = pipes[i].receive()
                got += count(body) if limit is not None else 0
                token = next_token(body)
                if token is not None and (limit is None or got < limit):
                    more = min(PAGE_LIMIT, limit - got) if limit else PAGE_LIMIT
                    pipes[i].send(path, dict(queries[i], page_token=token, limit=more))
                else:
                    active.remove(i)
                yield i, body
    finally:
        for pipe in pipes:
            pipe.close()


def fetch_bars(
    client: SafeDataClient,
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
    syms, single = normalize_symbols(symbols)
    params = bar_params(
        syms, timeframe, start, end, limit=limit, feed=feed, adjustment=adjustment, sort=sort, tz=tz
    )
    builder = BarsBuilder()
    bar = None
    pages = fetch_pages(client, "/stocks/bars", params, limit, _count_items)
    try:  # closing the pages closes their connections, also when a page fails to parse
        for _, body in pages:
            builder.add_page(body)
            big = builder.count > PAGE_LIMIT or next_token(body)  # more than one page's worth of bars
            if bar is None and progress is not False and big:
                bar = _progress(f"{','.join(syms)} {params['timeframe']}")
            if bar is not None:
                bar.update(builder.count - bar.n)
    finally:
        pages.close()
        if bar is not None:
            bar.close()
    unasked = sorted(set(builder.parts) - set(syms))
    if unasked:
        raise InvalidResponseError(
            f"GET /v2/stocks/bars: the answer has bars of {', '.join(unasked)}, not asked for"
        )
    missing = [s for s in syms if s not in builder.parts]
    if missing:
        _check_known(client, missing)
    return builder.frame(single=syms[0] if single else None, tz=tz)


def fetch_records(
    client: SafeDataClient, channel: str, since_ns: dict[str, int], *, timeframe: str = "1Min"
) -> dict[str, list[Any]]:
    """Every quote (or minute bar) after ``since_ns[symbol]``, all pages read, oldest first, as
    ``_wire`` records: what a chart's seed and its gap backfill need.

    Each symbol may have its own start; one request covers them all from the earliest, and what lies
    before a symbol's own start is dropped."""
    from ._wire import Bar, Quote

    if channel not in ("quotes", "bars"):
        raise ValidationError(f"channel must be 'quotes' or 'bars', not {channel!r}")
    if not since_ns:
        return {}
    start = pd.Timestamp(min(since_ns.values()) + 1, unit="ns", tz="UTC")
    params: dict[str, Any] = {"symbols": ",".join(since_ns), "start": _rfc3339(start)}
    if channel == "bars":
        params["timeframe"] = timeframe
    out: dict[str, list[Any]] = {symbol: [] for symbol in since_ns}
    what = f"GET /v2/stocks/{channel}"
    with closing(fetch_pages(client, f"/stocks/{channel}", params, None, _count_items)) as pages:
        for _, body in pages:
            with wire_shape(what, channel):
                payload = decode_json(body, what, "GET", f"/stocks/{channel}")
                for symbol, rows in _symbol_rows(payload, channel):
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


@contextmanager
def wire_shape(what: str, channel: str) -> Iterator[None]:
    """Reading one page: a value of the wrong type or a missing key means the answer is not Alpaca's
    (``InvalidResponseError``, in one line), not a Python error from deep inside the parser."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        raise InvalidResponseError(
            f"{what}: the answer's {channel} are not of the shape Alpaca sends"
        ) from None


def _symbol_rows(payload: Any, channel: str) -> Iterator[tuple[str, list[Any]]]:
    """``{"<channel>": {symbol: [row, …]}}``: each symbol's rows, checked to be lists of objects."""
    by_symbol = payload.get(channel) or {}
    if not isinstance(by_symbol, dict):
        raise TypeError(channel)
    for symbol, rows in by_symbol.items():
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise TypeError(channel)
        yield symbol, rows


def bar_params(
    symbols: list[str],
    timeframe: Any,
    start: Any,
    end: Any,
    *,
    limit: int | None,
    feed: str | None,
    adjustment: str | None,
    sort: str,
    tz: str | None,
) -> dict[str, Any]:
    """Check every argument of a bars request (raising ValidationError) and build its query."""
    params: dict[str, Any] = {"symbols": ",".join(symbols), "timeframe": parse_timeframe(timeframe)}
    t0, t1 = to_utc(start, "start"), to_utc(end, "end")
    if t0 is not None and t1 is not None and t0 > t1:
        raise ValidationError(f"start ({t0}) is after end ({t1})")
    if t0 is not None:
        params["start"] = _rfc3339(t0)
    if t1 is not None:
        params["end"] = _rfc3339(t1)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationError(f"limit must be a positive integer, not {limit!r}")
    if sort not in ("asc", "desc"):
        raise ValidationError(f"sort must be 'asc' or 'desc', not {sort!r}")
    params["sort"] = sort
    if feed is not None:
        if feed not in FEEDS:
            raise ValidationError(f"feed must be one of {', '.join(FEEDS)}, not {feed!r}")
        params["feed"] = feed
    if adjustment is not None:
        parts = [a.strip() for a in str(adjustment).split(",")]
        if not all(a in ADJUSTMENTS for a in parts):
            raise ValidationError(f"adjustment must be among {', '.join(ADJUSTMENTS)}, not {adjustment!r}")
        params["adjustment"] = ",".join(parts)
    if tz is not None:
        try:
            pd.Timestamp.now(tz=tz)
        except Exception:
            raise ValidationError(f"unknown time zone: {tz!r}") from None
    return params


def _count_items(body: bytes | memoryview) -> int:
    return len(_T_KEY.findall(body))


def _progress(desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(desc=desc, unit=" bars", unit_scale=True, leave=False)


def _check_known(client: SafeDataClient, symbols: list[str]) -> None:
    """An empty result for a symbol Alpaca doesn't list is an error, not an empty frame."""
    from .errors import NotFoundError

    trading = _trading_twin(client)
    unknown = []
    for symbol in symbols:
        try:
            trading.get_asset(symbol)
        except NotFoundError:
            unknown.append(symbol)
    if unknown:
        raise SymbolNotFoundError(
            404,
            40410000,
            f"unknown symbol{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            method="GET",
            path="/v2/assets",
        )


def _trading_twin(client: SafeDataClient) -> Any:
    """A trading client on the same keys, transport and limiter (for /v2/assets look-ups)."""
    if client.trading is None:
        raise RuntimeError("data client has no trading twin")
    return client.trading


# ----- latest quotes, trades, snapshots --------------------------------------------------------
QUOTE_FIELDS, TRADE_FIELDS = QUOTE_KEYS, TRADE_KEYS


def _by_symbol(rows: dict[str, dict[str, Any]], fields: dict[str, str], symbols: list[str]) -> pd.DataFrame:
    records = {s: {name: rows[s].get(key) for key, name in fields.items()} for s in symbols if s in rows}
    frame = pd.DataFrame.from_dict(records, orient="index", columns=list(fields.values()))
    frame.index.name = "symbol"
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
    return frame


def fetch_latest(
    client: SafeDataClient, kind: str, symbols: str | Sequence[str], feed: str | None
) -> pd.DataFrame:
    """Latest quotes or trades, one row per symbol (unknown symbols raise SymbolNotFoundError)."""
    syms, _ = normalize_symbols(symbols)
    params: dict[str, Any] = {"symbols": ",".join(syms)}
    if feed is not None:
        if feed not in (*FEEDS, "overnight"):
            raise ValidationError(f"feed must be one of {', '.join(FEEDS)}, not {feed!r}")
        params["feed"] = feed
    key = "quotes" if kind == "quotes" else "trades"
    payload = client.get_json(f"/stocks/{key}/latest", params)
    rows = payload.get(key) or {}
    missing = [s for s in syms if s not in rows]
    if missing:
        _check_known(client, missing)
    return _by_symbol(rows, QUOTE_FIELDS if kind == "quotes" else TRADE_FIELDS, syms)


def fetch_snapshots(client: SafeDataClient, symbols: str | Sequence[str], feed: str | None) -> pd.DataFrame:
    """One row per symbol: last trade, bid/ask, the minute bar, today's and the previous daily bar."""
    syms, _ = normalize_symbols(symbols)
    params: dict[str, Any] = {"symbols": ",".join(syms)}
    if feed is not None:
        params["feed"] = feed
    payload = client.get_json("/stocks/snapshots", params)
    missing = [s for s in syms if s not in payload]
    if missing:
        _check_known(client, missing)
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
