"""``BarStore``: a bar store on disk read back — the same frames as ``Session.bars``, DuckDB SQL over it,
and what it holds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._wire import normalize_symbols, one_class, to_utc
from ..errors import StoreError, ValidationError
from .layout import NS, arrow_schema, gaps, iso
from .manifest import NAME, Manifest
from .writer import open_root

if TYPE_CHECKING:
    import pandas as pd

_HIVE_TYPES = "{'asset': 'VARCHAR', 'timeframe': 'VARCHAR', 'symbol': 'VARCHAR', 'year': 'INTEGER'}"
_COLUMNS = (
    "replace(symbol, '-', '/') AS symbol, timeframe, \"timestamp\", open, high, low, close, volume, "
    "trade_count, vwap, asset, year"
)
_EMPTY = ("SELECT NULL::VARCHAR AS symbol, NULL::VARCHAR AS timeframe, NULL::TIMESTAMPTZ AS \"timestamp\", "
          "NULL::DOUBLE AS open, NULL::DOUBLE AS high, NULL::DOUBLE AS low, NULL::DOUBLE AS close, "
          "NULL::BIGINT AS volume, NULL::BIGINT AS trade_count, NULL::DOUBLE AS vwap, "
          "NULL::VARCHAR AS asset, NULL::INTEGER AS year WHERE false")  # fmt: skip


class BarStore:
    """A Parquet bar store (filled by ``Session.download_bars``), read without any network.

    Parameters
    ----------
    path:
        The store's directory (it holds ``_manifest.json``; layout in docs/bar-store.md).

    Examples
    --------
    >>> store = anb.BarStore("data/bars")
    >>> store.coverage()                                  # what ranges are stored
    >>> store.bars("AAPL", "1Min", start="2024-10-14", end="2024-10-15")   # == s.bars(...)
    >>> store.sql("select symbol, count(*) from bars group by symbol")
    """

    def __init__(self, path: Any) -> None:
        self.path = open_root(path, create=False)
        if not (self.path / NAME).exists():
            raise StoreError(f"no bar store at {self.path} (no {NAME}): fill one with s.download_bars(...)")
        self._duck: Any = None
        self._cached: tuple[tuple[int, int, int], Manifest] | None = None

    def manifest(self) -> Manifest:
        """The manifest as it is now (a download may be adding to it: read again whenever the file was
        replaced)."""
        try:
            st = (self.path / NAME).stat()
        except FileNotFoundError:
            raise StoreError(f"{self.path / NAME} is gone: was the store deleted?") from None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._cached is None or self._cached[0] != stamp:
            self._cached = (stamp, Manifest.load(self.path))
        return self._cached[1]

    def __repr__(self) -> str:
        m = self.manifest()
        frames = sorted({k.split("/")[1] for k in m.series})
        rows = sum(p.rows for s in m.series.values() for p in s.files.values())
        count = len(self.symbols())
        return f"<BarStore {self.path}: {count} symbols, {', '.join(frames) or '-'}, {rows:,} bars>"

    # ----- what it holds ----------------------------------------------------------------------------
    def symbols(self, timeframe: str | None = None) -> list[str]:
        """The symbols with anything stored (of ``timeframe``, if given), sorted."""
        from ..data.params import parse_timeframe

        tf = parse_timeframe(timeframe) if timeframe is not None else None
        keys = [k.split("/", 2) for k, s in self.manifest().series.items() if s.ranges]
        return sorted({symbol for _, t, symbol in keys if tf is None or t == tf})

    def coverage(self) -> pd.DataFrame:
        """One row per stored range: symbol, timeframe, asset, ``start`` (inclusive), ``end`` (exclusive),
        bars and files in it. Times are UTC."""
        import pandas as pd

        rows = []
        for key, series in sorted(self.manifest().series.items()):
            asset, timeframe, symbol = key.split("/", 2)
            for lo, hi in series.ranges:
                inside = [p for p in series.files.values() if lo <= p.start and p.end <= hi]
                first, until = pd.Timestamp(lo, unit="ns", tz="UTC"), pd.Timestamp(hi, unit="ns", tz="UTC")
                rows.append(
                    (symbol, timeframe, asset, first, until, sum(p.rows for p in inside), len(inside))
                )
        frame = pd.DataFrame(rows, columns=["symbol", "timeframe", "asset", "start", "end", "bars", "files"])
        return frame.astype({"start": "datetime64[ns, UTC]", "end": "datetime64[ns, UTC]", "bars": "int64",
                             "files": "int64"})  # fmt: skip

    # ----- bars -------------------------------------------------------------------------------------
    def bars(
        self,
        symbols: str | Sequence[str],
        timeframe: Any = "1Day",
        start: Any = None,
        end: Any = None,
        *,
        tz: str | None = None,
    ) -> pd.DataFrame:
        """The stored bars as ``Session.bars`` returns them (same columns, dtypes and index), read with
        the time filter pushed down to the Parquet row groups.

        ``start``/``end`` as for ``Session.bars`` (inclusive; naive and date-only values are New York
        time); without them, everything stored. A range not downloaded is an error (``StoreError``
        naming the gap), never a silently shorter frame.
        """
        from ..data.frames import BarsBuilder
        from ..data.params import parse_timeframe

        syms, single = normalize_symbols(symbols)
        asset = one_class(syms)
        tf = parse_timeframe(timeframe)
        t0, t1 = to_utc(start, "start"), to_utc(end, "end")
        if t0 is not None and t1 is not None and t0 > t1:
            raise ValidationError(f"start ({t0}) is after end ({t1})")
        if tz is not None:
            from ..data.params import bar_params

            bar_params(
                syms, tf, None, None, limit=None, feed=None, adjustment=None, sort="asc", tz=tz, asset=asset
            )  # fmt: skip  (checks the time zone)
        manifest = self.manifest()
        builder = BarsBuilder(asset)
        for symbol in syms:
            series = manifest.get(asset.key, tf, symbol)
            if not series.ranges:
                raise StoreError(f"{symbol} {tf}: not in the store at {self.path}; download it first "
                                 f"(s.download_bars({symbol!r}, {tf!r}, start=…, path=…))")  # fmt: skip
            lo = -(-int(t0.value) // NS) * NS if t0 is not None else series.ranges[0][0]
            hi = (int(t1.value) // NS) * NS + NS if t1 is not None else series.ranges[-1][1]
            missing = gaps(series.ranges, lo, hi)
            if missing:
                held = ", ".join(f"{iso(a)} → {iso(b)}" for a, b in series.ranges)
                gap = f"{iso(missing[0][0])} → {iso(missing[0][1])}"
                raise StoreError(f"{symbol} {tf}: {gap} is not in the store (it holds {held}); download "
                                 "it first with s.download_bars(...)")  # fmt: skip
            parts = sorted(
                (p.start, p.end, n) for n, p in series.files.items() if p.start < hi and p.end > lo
            )
            for a, b, name in parts:  # a file wholly inside the range is read without a filter
                span = None if lo <= a and b <= hi else (lo, hi)
                builder.add_columns(symbol, self._read(self.path / name, asset, span))
        return builder.frame(single=syms[0] if single else None, tz=tz)

    @staticmethod
    def _read(file: Path, asset: Any, span: tuple[int, int] | None) -> dict[str, Any]:
        """One file's bars as ``BarsBuilder`` columns; with ``span``, only ``[lo, hi)`` (row groups
        skipped on their statistics first)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = arrow_schema(asset)
        if not file.exists():
            raise StoreError(f"{file} is listed in the store's manifest but missing: was it deleted by hand?")
        if span is None:
            table = pq.ParquetFile(file).read().cast(schema)
        else:
            us = schema.field("timestamp").type
            where = [("timestamp", ">=", pa.scalar(span[0] // 1000, us)),
                     ("timestamp", "<", pa.scalar(span[1] // 1000, us))]  # fmt: skip
            table = pq.read_table(file, schema=schema, filters=where)
        columns = {"t": table.column("timestamp").cast(pa.int64()).to_numpy() * 1000}
        for f in list(schema)[1:]:
            columns[f.name] = np.ascontiguousarray(
                table.column(f.name).to_numpy(), dtype=f.type.to_pandas_dtype()
            )
        return columns

    # ----- SQL --------------------------------------------------------------------------------------
    def sql(self, query: str) -> pd.DataFrame:
        """Run DuckDB SQL over the store; the data is the view ``bars`` (symbol, timeframe, timestamp
        (UTC), open, high, low, close, volume, trade_count, vwap, asset, year). Returns a DataFrame.

        >>> store.sql("select symbol, sum(volume) from bars where timeframe = '1Min' group by all")
        """
        import duckdb

        if self._duck is None:
            self._duck = duckdb.connect()
            self._duck.execute("SET TimeZone = 'UTC'")
        files = sorted(name for s in self.manifest().series.values() for name in s.files)
        if files:
            listed = ", ".join("'" + str(self.path / f).replace("'", "''") + "'" for f in files)
            source = (f"SELECT {_COLUMNS} FROM read_parquet([{listed}], hive_partitioning = true, "
                      f"union_by_name = true, hive_types = {_HIVE_TYPES})")  # fmt: skip
        else:
            source = _EMPTY
        self._duck.execute(f"CREATE OR REPLACE TEMP VIEW bars AS {source}")
        try:
            relation = self._duck.sql(query)
            return relation.df() if relation is not None else _empty_frame()
        except duckdb.Error as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValidationError(f"DuckDB: {first}") from None

    def close(self) -> None:
        """Close the DuckDB connection (the next ``sql`` opens another)."""
        if self._duck is not None:
            self._duck.close()
            self._duck = None


def _empty_frame() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame()
