"""Bars into a DataFrame without pydantic: orjson, numpy columns, one 2-D float block, vectorised times."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._wire import ASSET_CLASSES, BAR_KEYS, STOCK, AssetClass
from ..errors import InvalidResponseError
from ..rest import decode_json

if TYPE_CHECKING:
    import numpy.typing as npt

BAR_COLUMNS = ("open", "high", "low", "close", "volume", "trade_count", "vwap")
BAR_DTYPES = {"open": "float64", "high": "float64", "low": "float64", "close": "float64",
              "volume": "int64", "trade_count": "int64", "vwap": "float64"}  # fmt: skip


def bar_dtypes(asset: AssetClass = STOCK) -> dict[str, str]:
    """The frame's dtypes for ``asset``: crypto volume is fractional (float64)."""
    return dict(BAR_DTYPES, volume=asset.volume_dtype)


def rfc3339(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
def _numeric(asset: AssetClass) -> tuple[tuple[str, str, Any], ...]:
    dtypes = bar_dtypes(asset)
    return tuple((name, key, np.dtype(dtypes[name])) for key, name in BAR_KEYS.items() if key != "t")


_NUMERIC = {key: _numeric(cls) for key, cls in ASSET_CLASSES.items()}


def bar_columns(rows: list[dict[str, Any]], asset: AssetClass = STOCK) -> dict[str, np.ndarray]:
    """One symbol's bars (Alpaca's ``t o h l c v n vw`` objects) as numpy columns, one pass per key."""
    n = len(rows)
    columns = {"t": parse_timestamps(list(map(itemgetter("t"), rows)))}
    for name, key, dtype in _NUMERIC[asset.key]:
        columns[name] = np.fromiter(map(itemgetter(key), rows), dtype, n)
    return columns


class BarsBuilder:
    """Accumulates pages of bars (per symbol, in arrival order) and builds the final frame."""

    def __init__(self, asset: AssetClass = STOCK) -> None:
        self.parts: dict[str, list[dict[str, np.ndarray]]] = {}
        self.count = 0
        self.asset = asset
        self.dtypes = bar_dtypes(asset)
        self._path = asset.data_path("bars")
        self._what = f"GET /{asset.data_version}{self._path}"

    def add_page(self, body: bytes | memoryview) -> None:
        """One page's bars (a symbol's pages come in order: it lives in one page chain only). A page of
        another shape than Alpaca's is an ``InvalidResponseError``, never a half-read frame."""
        with wire_shape(self._what, "bars"):
            payload = decode_json(body, self._what, "GET", self._path)
            for symbol, rows in symbol_rows(payload, "bars"):
                if rows:
                    self.parts.setdefault(symbol, []).append(bar_columns(rows, self.asset))
                    self.count += len(rows)

    def add_columns(self, symbol: str, columns: dict[str, np.ndarray]) -> None:
        """One symbol's bars already as columns (``t`` in UTC ns, then the frame's names), in time order
        after any added before: how the bar store's files become the same frame as ``Session.bars``."""
        if len(columns["t"]):
            self.parts.setdefault(symbol, []).append(columns)
            self.count += len(columns["t"])

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
                out = np.empty(n, self.dtypes.get(name, "int64"))
            if pieces:
                np.concatenate([p[name] for p in pieces], out=out)
            return out

        stamps = column("t").view("datetime64[ns]")
        floats = [name for name in BAR_COLUMNS if self.dtypes[name] == "float64"]
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


def symbol_rows(payload: Any, channel: str) -> Iterator[tuple[str, list[Any]]]:
    """``{"<channel>": {symbol: [row, …]}}``: each symbol's rows, checked to be lists of objects."""
    by_symbol = payload.get(channel) or {}
    if not isinstance(by_symbol, dict):
        raise TypeError(channel)
    for symbol, rows in by_symbol.items():
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise TypeError(channel)
        yield symbol, rows
