"""``%alpaca download | store``: the Parquet bar store (docs/bar-store.md)."""

from __future__ import annotations

import argparse
from typing import Any

from .router import subcommand, symbol_list


def _download_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbols", help="symbols separated by commas (AAPL,MSFT or BTC/USD,ETH/USD)")
    p.add_argument("timeframe", help="1Min, 5Min, 1Hour, 1Day, … (as %%alpaca bars)")
    p.add_argument("--start", required=True, help="date or time; dates and naive times are New York time")
    p.add_argument("--end", help="inclusive; default: now")
    p.add_argument("--path", required=True, metavar="DIR", help="the store's directory (created if missing)")
    p.add_argument("--feed", choices=("iex", "sip", "otc", "boats", "delayed_sip"))
    p.add_argument("--adjustment", help="raw, split, dividend, spin-off or all")


@subcommand(
    "download",
    "fill a Parquet bar store with what it lacks (resumable; run again to resume or extend)",
    [
        "%alpaca download AAPL,MSFT 1Min --start 2024-01-01 --end 2024-06-30 --path data/bars",
        "store = %alpaca download BTC/USD 1Hour --start 2024-01-01 --path data/bars",
    ],
    _download_args,
    returns_data=True,
)
def _download(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    return current_session().download_bars(
        symbol_list(args.symbols), args.timeframe, args.start, args.end, path=args.path, feed=args.feed,
        adjustment=args.adjustment,
    )  # fmt: skip


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="DIR", help="a bar store's directory")


@subcommand(
    "store",
    "what a bar store holds: one row per stored range (start inclusive, end exclusive, UTC)",
    ["%alpaca store data/bars", "cov = %alpaca store data/bars"],
    _store_args,
    returns_data=True,
)
def _store(magics: Any, args: argparse.Namespace) -> Any:
    from ..store import BarStore

    return BarStore(args.path).coverage()
