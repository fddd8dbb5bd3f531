"""Where a bar store puts things, and the arithmetic of the time ranges it holds.

The dataset is Hive-partitioned Parquet, one directory level per partition column::

    <root>/_manifest.json                               what has been fetched (``manifest.py``)
    <root>/.lock                                        held by the one download writing (``writer.py``)
    <root>/asset=stock/timeframe=1Min/symbol=AAPL/year=2024/part-20240102T000000Z-20240201T000000Z.parquet
    <root>/asset=crypto/timeframe=1Hour/symbol=BTC-USD/year=2024/part-….parquet

* ``asset`` (``stock``/``crypto``) keeps one schema per directory: stock volume is int64, crypto float64.
* ``symbol``: a crypto pair's ``/`` becomes ``-`` (``BTC/USD`` → ``BTC-USD``); stock symbols never hold
  a ``-``, so the mapping is one to one.
* ``year``: the UTC year of the bars' timestamps.
* A file holds the bars of one symbol with ``start <= timestamp < end`` (the times in its name, UTC).

Columns in every file: ``timestamp`` (``timestamp[us, tz=UTC]``: Spark reads microseconds, not
nanoseconds; bars are whole seconds, so nothing is lost), ``open high low close`` (float64), ``volume``
(int64 for stocks, float64 for crypto), ``trade_count`` (int64), ``vwap`` (float64); zstd-compressed,
sorted by time. Names starting with ``.`` or ``_`` are not data: Hive readers (Spark, Dask, pyarrow,
DuckDB, Polars) skip them, and a file being written carries such a name until it is complete.

Ranges are half-open ``[start, end)`` in UTC nanoseconds, kept sorted and merged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .._wire import ASSET_CLASSES, AssetClass

NS = 1_000_000_000
Range = tuple[int, int]
PART_RE = re.compile(r"^part-(\d{8}T\d{6}Z)-(\d{8}T\d{6}Z)\.parquet$")
_SECONDS = {
    "Min": 60,
    "Hour": 3600,
    "Day": 86_400 + 3600,
    "Week": 7 * 86_400 + 3600,
    "Month": 31 * 86_400 + 3600,
}  # fmt: skip  (a day may be 25 hours long around DST)


# ----- names on disk ------------------------------------------------------------------------------
def partition_symbol(symbol: str) -> str:
    """``BTC/USD`` → ``BTC-USD``: a partition value must be one path segment."""
    return symbol.replace("/", "-")


def symbol_of(value: str) -> str:
    """The inverse of ``partition_symbol``."""
    return value.replace("-", "/")


def series_dir(asset: AssetClass, timeframe: str, symbol: str) -> str:
    return f"asset={asset.key}/timeframe={timeframe}/symbol={partition_symbol(symbol)}"


def file_name(lo: int, hi: int) -> str:
    return f"part-{stamp(lo)}-{stamp(hi)}.parquet"


def stamp(ns: int) -> str:
    """``20240102T143000Z``: whole seconds (every range bound is one)."""
    import pandas as pd

    return pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y%m%dT%H%M%SZ")


def iso(ns: int) -> str:
    import pandas as pd

    return pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: Any) -> int:
    """``2024-01-02T14:30:00Z`` → nanoseconds; ValueError for anything else."""
    import pandas as pd

    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text):
        raise ValueError(f"not a UTC time like 2024-01-02T14:30:00Z: {text!r}")
    return int(pd.Timestamp(text).value)


def asset_of(key: str) -> AssetClass:
    if key not in ASSET_CLASSES:
        raise ValueError(f"unknown asset class {key!r}")
    return ASSET_CLASSES[key]


def data_files(root: Path) -> Iterator[Path]:
    """Every data file (and every temporary one) under the store's partition directories."""
    yield from root.glob("asset=*/timeframe=*/symbol=*/year=*/*")


def arrow_schema(asset: AssetClass) -> Any:
    """The files' columns (see the module docstring): ``timestamp`` in microseconds, then the frame's."""
    import pyarrow as pa

    from ..data.frames import BAR_COLUMNS, bar_dtypes

    dtypes = bar_dtypes(asset)
    fields = [pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False)]
    fields += [pa.field(name, pa.from_numpy_dtype(dtypes[name]), nullable=False) for name in BAR_COLUMNS]
    return pa.schema(fields)


# ----- times --------------------------------------------------------------------------------------
def bounds(start: Any, end: Any, timeframe: str, now_ns: int) -> Range:
    """``[lo, hi)`` for an inclusive ``start``/``end`` (UTC Timestamps; ``end`` None: now), in whole
    seconds, ending before the first bar that may still change: a bar stamped ``t`` is final once
    ``t + its length`` has passed."""
    lo = -(-int(start.value) // NS) * NS
    last = now_ns if end is None else min(int(end.value), now_ns)
    hi = (last // NS) * NS + NS
    amount, unit = re.fullmatch(r"(\d+)(\D+)", timeframe).groups()  # type: ignore[union-attr]
    final = ((now_ns - int(amount) * _SECONDS[unit] * NS) // NS) * NS + NS
    return lo, min(hi, final)


def years(lo: int, hi: int) -> Iterator[tuple[int, Range]]:
    """``[lo, hi)`` cut at each UTC new year: ``(year, piece)``."""
    import pandas as pd

    while lo < hi:
        year = pd.Timestamp(lo, unit="ns", tz="UTC").year
        cut = min(hi, int(pd.Timestamp(year + 1, 1, 1, tz="UTC").value))
        yield year, (lo, cut)
        lo = cut


def merged(ranges: Iterable[Range]) -> list[Range]:
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def gaps(covered: list[Range], lo: int, hi: int) -> list[Range]:
    """What of ``[lo, hi)`` the (merged) ``covered`` ranges leave out."""
    out: list[Range] = []
    at = lo
    for a, b in covered:
        if b <= at:
            continue
        if a >= hi:
            break
        if a > at:
            out.append((at, min(a, hi)))
        at = max(at, b)
        if at >= hi:
            break
    if at < hi:
        out.append((at, hi))
    return out
