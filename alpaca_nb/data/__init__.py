"""Market data into pandas, fast: bars built column-wise from Alpaca's raw JSON, page by page.

alpaca-py's ``get_stock_bars(...).df`` turns every bar into a pydantic model and then a dict before
pandas sees it (~10x slower and ~7x the memory, see benchmarks/bars.py). Here each page's bytes are
parsed with orjson, each symbol's bars become numpy columns in one pass, timestamps are parsed
vectorised, and the next page is requested before the current one is parsed (``rest.PipelinedGets``),
on up to three connections at once for several symbols (``pages.fetch_pages``), compressed on the wire.
Requests still go through alpaca-py's client and alpaca_nb's transport (timeouts, limiter, 429s).

One client per asset class (``client.py``); the class (``_wire.ASSET_CLASSES``) gives the routes
(``/v2/stocks/bars``, ``/v1beta3/crypto/us/bars``…) and the frame's dtypes (crypto volume is float64).

Input times: timezone-aware values are converted to UTC; **naive datetimes and date-only values
(``"2024-10-14"``, ``datetime.date``) are read in New York time**, the exchange's clock, so
``start="2024-10-14"`` starts at midnight ET and ``"2024-10-14 09:30"`` is the open. ``start`` and
``end`` are inclusive, as at Alpaca.

Modules: ``client`` (the clients), ``params`` (checking arguments), ``pages`` (paging ahead),
``frames`` (JSON → columns → DataFrame), ``bars`` (bars and chart records), ``latest`` (latest,
snapshots, order books).
"""

from __future__ import annotations

from .._wire import to_utc
from .bars import check_known, fetch_bars, fetch_records, symbols_for
from .client import SafeCryptoDataClient, SafeDataClient, SafeOptionDataClient
from .frames import BAR_COLUMNS, BAR_DTYPES, BarsBuilder, bar_columns, bar_dtypes, parse_timestamps
from .latest import fetch_latest, fetch_orderbook, fetch_snapshots
from .pages import PAGE_LIMIT, fetch_pages, next_token
from .params import bar_params, parse_timeframe

__all__ = [
    "BAR_COLUMNS", "BAR_DTYPES", "PAGE_LIMIT", "BarsBuilder", "SafeCryptoDataClient", "SafeDataClient",
    "SafeOptionDataClient",
    "bar_columns", "bar_dtypes", "bar_params", "check_known", "fetch_bars", "fetch_latest",
    "fetch_orderbook", "fetch_pages", "fetch_records", "fetch_snapshots", "next_token",
    "parse_timeframe", "parse_timestamps", "symbols_for", "to_utc",
]  # fmt: skip
