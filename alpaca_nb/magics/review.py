"""``%alpaca history | fills | pnl | watch``: the account's own trading, looked back on."""

from __future__ import annotations

import argparse
from typing import Any

from .router import subcommand, symbol_list


def _history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--period", default="1M", help="1D, 1W, 1M (default), 3M, 1A…")
    p.add_argument("--timeframe", choices=("1Min", "5Min", "15Min", "1H", "1D"), help="default: by period")
    p.add_argument("--extended", action="store_true", help="intraday points over extended hours too")


@subcommand(
    "history",
    "the account's equity curve: equity, profit_loss, profit_loss_pct, drawdown by time",
    ["%alpaca history", "%alpaca history --period 1D --timeframe 5Min", "eq = %alpaca history --period 1A"],
    _history_args,
    returns_data=True,
)
def _history(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    reporting = "extended_hours" if args.extended else None
    return current_session().portfolio_history(args.period, args.timeframe, intraday_reporting=reporting)


def _fills_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbols", nargs="?", default="", help="only these symbols (AAPL,MSFT)")
    p.add_argument("--start", help="date or time (New York time for dates)")
    p.add_argument("--end", help="inclusive")


@subcommand(
    "fills",
    "your fills: symbol, side, qty, price, order_id by time (every page)",
    ["%alpaca fills", "%alpaca fills AAPL --start 2024-10-01 -o aapl_fills"],
    _fills_args,
    returns_data=True,
)
def _fills(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    symbols = symbol_list(args.symbols) if args.symbols else None
    return current_session().fills(symbols, start=args.start, end=args.end)


@subcommand(
    "pnl",
    "profit and loss per symbol: realized (FIFO lots), unrealized, total",
    ["%alpaca pnl", "pnl = %alpaca pnl"],
    lambda p: None,
    returns_data=True,
)
def _pnl(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    return current_session().pnl()


def _watch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="list", choices=("list", "set", "add", "remove", "delete"))
    p.add_argument("name", nargs="?", help="the watchlist's name")
    p.add_argument("symbols", nargs="?", default="", help="symbols separated by commas")


@subcommand(
    "watch",
    "watchlists: list them, or set/add/remove symbols, or delete one",
    ["%alpaca watch", "%alpaca watch set tech AAPL,MSFT,NVDA", "%alpaca watch add tech AMD",
     "%alpaca watch delete tech"],
    _watch_args,
    returns_data=True,
)  # fmt: skip
def _watch(magics: Any, args: argparse.Namespace) -> Any:
    from ..errors import ValidationError
    from ..session import current_session

    session = current_session()
    if args.action == "list":
        return session.watchlists()
    if not args.name:
        raise ValidationError(f"%alpaca watch {args.action} needs a watchlist name")
    symbols = symbol_list(args.symbols) if args.symbols else None
    if args.action in ("add", "remove") and not symbols:
        raise ValidationError(f"%alpaca watch {args.action} needs symbols (AAPL,MSFT)")
    return session.watchlist(
        args.name, symbols, add=args.action == "add", remove=args.action == "remove",
        delete=args.action == "delete",
    )  # fmt: skip


def _plot_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbol", help="one symbol")
    p.add_argument("timeframe", nargs="?", default="1Day", help="1Min, 5Min, 1Hour, 1Day (default), 1Week…")
    p.add_argument("--start", help="date or time (New York time for dates); default: a year of daily bars")
    p.add_argument("--end", help="inclusive; default: now")


@subcommand(
    "plot",
    "candles + volume with your fills as markers and your open orders as lines (drag one to replace it)",
    ["%alpaca plot AAPL", "%alpaca plot MSFT 5Min --start 2024-10-14"],
    _plot_args,
    returns_data=True,
)
def _plot(magics: Any, args: argparse.Namespace) -> Any:
    from ..widgets import BarChart

    return BarChart(args.symbol, args.timeframe, start=args.start, end=args.end)
