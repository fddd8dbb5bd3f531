"""The research-scale bar store: Hive-partitioned Parquet that DuckDB queries on a laptop and Dask,
Spark or Polars read unchanged on a cluster (docs/bar-store.md).

Modules: ``layout`` (paths, partition values, ranges), ``manifest`` (what has been fetched; atomic,
checksummed), ``writer`` (``download``: resumable, incremental, one download at a time per store),
``reader`` (``BarStore``). pyarrow and duckdb are imported only when a store is used
(``pip install 'alpaca-nb[store]'``).
"""

from __future__ import annotations

from .reader import BarStore
from .writer import download

__all__ = ["BarStore", "download"]
