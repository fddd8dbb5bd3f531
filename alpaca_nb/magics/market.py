"""``%alpaca bars | quote | stream | chart``: market data."""

from __future__ import annotations

import argparse
from typing import Any

from .router import subcommand, symbol_list, symbols_arg


def _bars_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbols", help="one symbol, or several separated by commas (AAPL,MSFT)")
    p.add_argument(
        "timeframe", nargs="?", default="1Day", help="1Min, 5Min, 1Hour, 1Day, 1Week, 1Month, 15T, 1h…"
    )
    p.add_argument("--start", help="date or time; dates and naive times are New York time")
    p.add_argument("--end", help="inclusive; default: now")
    p.add_argument("--limit", type=int, help="most bars in total")
    p.add_argument("--feed", choices=("iex", "sip", "otc", "boats", "delayed_sip"))
    p.add_argument("--adjustment", help="raw, split, dividend, spin-off or all")
    p.add_argument("--tz", help="time zone of the index, e.g. America/New_York (default UTC)")
    p.add_argument("--sort", choices=("asc", "desc"), default="asc")


@subcommand(
    "bars",
    "bars into a DataFrame (one symbol: DatetimeIndex; several: (symbol, timestamp) MultiIndex)",
    [
        "df = %alpaca bars AAPL 1Min --start 2024-10-14 --end 2024-10-15",
        "%alpaca bars AAPL,MSFT 1Day --start 2024-01-01 --tz America/New_York -o daily",
    ],
    _bars_args,
    returns_data=True,
)
def _bars(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    return current_session().bars(
        symbols_arg(args.symbols), args.timeframe, args.start, args.end, limit=args.limit,
        feed=args.feed, adjustment=args.adjustment, sort=args.sort, tz=args.tz,
    )  # fmt: skip


def _quote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbols", help="symbols separated by commas")
    p.add_argument("--feed", choices=("iex", "sip", "otc", "boats", "delayed_sip", "overnight"))


@subcommand(
    "quote", "latest bid/ask per symbol", ["%alpaca quote AAPL,MSFT,SPY"], _quote_args, returns_data=True
)
def _quote(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    return current_session().latest_quotes(symbol_list(args.symbols), feed=args.feed)


def _stream_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("symbols", nargs="?", default="", help="start: quotes to subscribe (AAPL,MSFT)")


@subcommand(
    "stream",
    "control the background stream: start [SYMBOLS] | stop | status",
    ["%alpaca stream start AAPL,MSFT", "%alpaca stream status", "%alpaca stream stop"],
    _stream_args,
    returns_data=True,
    echo=False,
)
def _stream(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    session = current_session()
    if args.action == "stop":
        session.stop_stream()
        print("stream stopped")
        return None
    hub = session.stream
    if args.action == "start" and args.symbols:
        hub.subscribe(quotes=symbol_list(args.symbols))
    stats = hub.stats()
    subs = hub.subscriptions()
    listed = "; ".join(f"{channel} {', '.join(symbols) or '-'}" for channel, symbols in subs.items())
    print(f"stream {stats['state']}: {listed}")
    age = stats["last_message_age_s"]
    print(
        f"messages {stats['messages']} ({stats['rate_per_s']}/s), reconnects {stats['reconnects']}, "
        f"last message {'-' if age is None else f'{age} s ago'}, last error {stats['last_error'] or 'none'}"
    )
    return stats


def _chart_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbols", help="symbols separated by commas")
    p.add_argument("--window", default="5min", help="history shown, e.g. 5min, 1h (default 5min)")
    p.add_argument("--trades", action="store_true", help="also draw trades")
    p.add_argument("--bars", action="store_true", help="also draw 1-minute candles")


@subcommand(
    "chart",
    "a live bid/ask chart on the background stream",
    ["%alpaca chart AAPL", "%alpaca chart AAPL,MSFT --window 15min --trades"],
    _chart_args,
    returns_data=True,
)
def _chart(magics: Any, args: argparse.Namespace) -> Any:
    from ..widgets import QuoteChart

    return QuoteChart(symbols_arg(args.symbols), window=args.window, trades=args.trades, bars=args.bars)


def _book_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbol", help="a crypto pair, e.g. BTC/USD")
    p.add_argument("--depth", type=int, default=20, help="levels a side (default 20, at most 100)")


@subcommand(
    "book",
    "a live order book (depth ladder) of a crypto pair",
    ["%alpaca book BTC/USD", "%alpaca book ETH/USD --depth 10"],
    _book_args,
    returns_data=True,
)
def _book(magics: Any, args: argparse.Namespace) -> Any:
    from ..widgets import OrderBook

    return OrderBook(args.symbol, depth=args.depth)


def _chain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("underlying", help="the underlying stock, e.g. AAPL")
    p.add_argument("--expiry", help="one expiration date, e.g. 2026-12-18 (default: all)")
    p.add_argument("--type", choices=("call", "put"), help="calls or puts only")
    p.add_argument("--strike-gte", type=float, help="lowest strike")
    p.add_argument("--strike-lte", type=float, help="highest strike")


@subcommand(
    "chain",
    "an option chain with quotes and greeks (DataFrame by expiration, strike, type)",
    ["%alpaca chain AAPL", "%alpaca chain AAPL --expiry 2026-12-18 --type call", "chain = %alpaca chain SPY"],
    _chain_args,
    returns_data=True,
)
def _chain(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    return current_session().option_chain(
        args.underlying, expiration=args.expiry, type=args.type, strike_gte=args.strike_gte,
        strike_lte=args.strike_lte,
    )  # fmt: skip
