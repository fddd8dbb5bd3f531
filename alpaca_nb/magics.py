"""``%alpaca``: one line magic routing to small subcommands, each with its own argparse parser.

Importing this module must stay cheap (``%load_ext alpaca_nb`` ≤ 150 ms): alpaca-py, pandas and
plotly are imported by the subcommands that need them, when they run.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from traitlets import Bool
from traitlets.config import Configurable

from .errors import AlpacaNbError

Handler = Callable[["AlpacaMagics", argparse.Namespace], Any]


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (one line) instead of exiting the kernel."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"%alpaca {self.prog.split()[-1]}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(message.strip())
        raise _HelpShown()


class _HelpShown(Exception):
    """``-h`` printed the help; nothing else to do."""


@dataclass
class Subcommand:
    name: str
    summary: str
    examples: list[str]
    configure: Callable[[argparse.ArgumentParser], None]
    handler: Handler
    returns_data: bool = False
    echo: bool = True  # False: the result is printed by the handler; only -o keeps it
    parser: argparse.ArgumentParser = field(init=False)

    def __post_init__(self) -> None:
        self.parser = _Parser(prog=f"%alpaca {self.name}", description=self.summary, add_help=True)
        self.configure(self.parser)
        if self.returns_data:
            self.parser.add_argument("-o", "--output", metavar="NAME", help="also store the result in NAME")


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(
    name: str,
    summary: str,
    examples: list[str],
    configure: Callable[[argparse.ArgumentParser], None],
    *,
    returns_data: bool = False,
    echo: bool = True,
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        SUBCOMMANDS[name] = Subcommand(name, summary, examples, configure, handler, returns_data, echo)
        return handler

    return register


def help_text() -> str:
    lines = ["%alpaca SUBCOMMAND [options]   (%alpaca SUBCOMMAND -h for details)", ""]
    width = max(len(n) for n in SUBCOMMANDS)
    for cmd in SUBCOMMANDS.values():
        lines.append(f"  {cmd.name:<{width}}  {cmd.summary}")
        lines += [f"  {'':<{width}}    {example}" for example in cmd.examples]
    lines += ["", "Errors print one line; `%config AlpacaMagics.short_errors = False` shows tracebacks."]
    return "\n".join(lines)


# ----- subcommands ------------------------------------------------------------------------------
def _connect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("mode", nargs="?", default="auto", choices=("auto", "demo", "paper", "live"))
    p.add_argument("--allow-live", action="store_true", help="unlock live trading (needs live keys)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (demo mode)")
    p.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout in seconds")


@subcommand(
    "connect",
    "create or replace the session; prints the mode and where orders go",
    ["%alpaca connect demo --seed 7", "%alpaca connect paper", "%alpaca connect live --allow-live"],
    _connect_args,
)
def _connect(magics: AlpacaMagics, args: argparse.Namespace) -> None:
    from .session import connect

    connect(args.mode, allow_live=args.allow_live, seed=args.seed, timeout=args.timeout)


@subcommand(
    "status",
    "mode, endpoints, where orders go, stream state, request budget, last error",
    ["%alpaca status"],
    lambda p: None,
    returns_data=True,
    echo=False,
)
def _status(magics: AlpacaMagics, args: argparse.Namespace) -> dict[str, Any]:
    from .session import current_session

    status = current_session().status()
    print(format_status(status))
    return status


def _symbols(text: str) -> str | list[str]:
    """``AAPL`` → "AAPL" (one symbol: a plain index); ``AAPL,MSFT`` → a list (a MultiIndex)."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    return parts[0] if len(parts) == 1 else parts


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
def _bars(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .session import current_session

    return current_session().bars(
        _symbols(args.symbols),
        args.timeframe,
        args.start,
        args.end,
        limit=args.limit,
        feed=args.feed,
        adjustment=args.adjustment,
        sort=args.sort,
        tz=args.tz,
    )


def _quote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbols", help="symbols separated by commas")
    p.add_argument("--feed", choices=("iex", "sip", "otc", "boats", "delayed_sip", "overnight"))


@subcommand(
    "quote", "latest bid/ask per symbol", ["%alpaca quote AAPL,MSFT,SPY"], _quote_args, returns_data=True
)
def _quote(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .session import current_session

    symbols = _symbols(args.symbols)
    return current_session().latest_quotes([symbols] if isinstance(symbols, str) else symbols, feed=args.feed)


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
def _stream(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .session import current_session

    session = current_session()
    if args.action == "stop":
        session.stop_stream()
        print("stream stopped")
        return None
    hub = session.stream
    if args.action == "start" and args.symbols:
        symbols = _symbols(args.symbols)
        hub.subscribe(quotes=[symbols] if isinstance(symbols, str) else symbols)
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
def _chart(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .widgets import QuoteChart

    symbols = _symbols(args.symbols)
    return QuoteChart(symbols, window=args.window, trades=args.trades, bars=args.bars)


def _account_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--live", action="store_true", help="the live account (needs allow_live)")


@subcommand(
    "account",
    "the account card (equity, cash, buying power, day P&L, flags)",
    ["%alpaca account", "acct = %alpaca account"],
    _account_args,
    returns_data=True,
)
def _account(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .session import current_session

    return current_session().account(account="live" if args.live else None)


@subcommand(
    "positions", "open positions as a DataFrame", ["%alpaca positions"], _account_args, returns_data=True
)
def _positions(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .session import current_session

    return current_session().positions(account="live" if args.live else None)


def _orders_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", choices=("open", "closed", "all"), default="open")
    p.add_argument("--limit", type=int, help="most orders (default: all)")
    p.add_argument("--symbols", help="only these symbols (AAPL,MSFT)")
    p.add_argument("--live", action="store_true", help="the live account (needs allow_live)")


@subcommand(
    "orders",
    "orders as a DataFrame, newest first",
    ["%alpaca orders", "%alpaca orders --status all --limit 20"],
    _orders_args,
    returns_data=True,
)
def _orders(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .session import current_session

    symbols = _symbols(args.symbols) if args.symbols else None
    return current_session().orders(
        args.status,
        limit=args.limit,
        symbols=[symbols] if isinstance(symbols, str) else symbols,
        account="live" if args.live else None,
    )


def _trade_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("qty", help="shares (use --notional for dollars: then give 0 here)")
    p.add_argument("symbol")
    p.add_argument("--limit", help="limit price")
    p.add_argument("--stop", help="stop price")
    p.add_argument("--tif", default="day", help="day, gtc, ioc, fok, opg, cls (default day)")
    p.add_argument("--notional", help="dollar amount instead of a quantity (market, day)")
    p.add_argument("--live", action="store_true", help="the live account (needs allow_live at connect)")


def _trade(args: argparse.Namespace, side: str) -> Any:
    from .errors import ValidationError
    from .session import current_session

    kind = {
        (False, False): "market",
        (True, False): "limit",
        (False, True): "stop",
        (True, True): "stop_limit",
    }[(args.limit is not None, args.stop is not None)]
    notional = args.notional
    try:
        qty = None if notional is not None and float(args.qty) == 0 else args.qty
    except ValueError:
        raise ValidationError(f"qty must be a number, not {args.qty!r}") from None
    session = current_session()
    order = session.submit_order(
        args.symbol.upper(),
        qty=qty,
        side=side,
        type=kind,
        time_in_force=args.tif,
        notional=notional,
        limit_price=args.limit,
        stop_price=args.stop,
        account="live" if args.live else None,
    )
    where = "LIVE" if args.live else session.default_account
    print(
        f"{side} {args.qty if qty is not None else '$' + str(notional)} {order.symbol} {kind} ({where}): "
        f"{order.status.value} · id {order.id} · client_order_id {order.client_order_id}"
    )
    return order


@subcommand(
    "buy",
    "submit a buy order (exactly once: it carries a client_order_id)",
    ["%alpaca buy 10 AAPL", "%alpaca buy 5 MSFT --limit 300 --tif gtc", "%alpaca buy 0 SPY --notional 500"],
    _trade_args,
    returns_data=True,
)
def _buy(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    return _trade(args, "buy")


@subcommand(
    "sell",
    "submit a sell order",
    ["%alpaca sell 10 AAPL", "%alpaca sell 5 AAPL --stop 140"],
    _trade_args,
    returns_data=True,
)
def _sell(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    return _trade(args, "sell")


def _cancel_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="an order id, a client_order_id, or 'all'")
    p.add_argument("--live", action="store_true")


@subcommand(
    "cancel",
    "cancel one order or all open orders",
    ["%alpaca cancel all", "%alpaca cancel ORDER_ID"],
    _cancel_args,
    returns_data=True,
)
def _cancel(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .session import current_session

    session = current_session()
    account = "live" if args.live else None
    if args.target == "all":
        result = session.cancel_all_orders(account=account)
        print(f"cancel requested for {len(result)} open order(s)")
        return result
    order = session.get_order(args.target, account=account)
    session.cancel_order(str(order.id), account=account)
    print(f"cancel requested for {order.id}")
    return None


def _close_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="a symbol, or 'all'")
    p.add_argument("--live", action="store_true")
    p.add_argument("--yes", action="store_true", help="skip the confirmation for 'all' on live")


@subcommand(
    "close",
    "close a position or all positions (asks first for 'all' on live)",
    ["%alpaca close AAPL", "%alpaca close all"],
    _close_args,
    returns_data=True,
)
def _close(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .session import current_session

    session = current_session()
    account = "live" if args.live else None
    if args.target.lower() != "all":
        order = session.close_position(args.target.upper(), account=account)
        side, status = getattr(order.side, "value", order.side), getattr(order.status, "value", order.status)
        print(f"closing {order.symbol}: {side} {order.qty} ({status})")
        return order
    live = account == "live" or session.default_account == "live"
    if live:
        session.client("live")  # refuse before asking if live is locked
        if (
            not args.yes
            and input("Close ALL LIVE positions with market orders? Type 'yes': ").strip() != "yes"
        ):
            print("not closed")
            return None
    result = session.close_all_positions(cancel_orders=True, account=account)
    print(f"closing {len(result)} position(s)")
    return result


def _order_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbol", nargs="?", default=None)


@subcommand("order", "show an order ticket", ["%alpaca order AAPL"], _order_args, returns_data=True)
def _order(magics: AlpacaMagics, args: argparse.Namespace) -> Any:
    from .widgets import OrderTicket

    return OrderTicket(args.symbol)


@subcommand("help", "list the subcommands with examples", ["%alpaca help"], lambda p: None)
def _help(magics: AlpacaMagics, args: argparse.Namespace) -> None:
    print(help_text())


def format_status(status: dict[str, Any]) -> str:
    lines = [
        f"mode          {status['mode']}{' (closed)' if status['closed'] else ''}",
        f"orders go to  {status['orders_go_to']}",
        f"live trading  {status['live']}",
    ]
    if status["simulator"]:
        lines.append(f"simulator     {status['simulator']}")
    for kind, info in status["accounts"].items():
        lock = " (locked)" if info["locked"] else ""
        lines.append(f"{kind + lock:<13} trading {info['trading']}  data {info['data']}")
        lines.append(f"{'':<13} streams {info['data_stream']}  {info['trading_stream']}")
        lines.append(f"{'':<13} requests {info['request_budget']}")
    lines.append(f"stream        {status['stream']}")
    lines.append(f"last error    {status['last_error'] or 'none'}")
    return "\n".join(lines)


# ----- the magic --------------------------------------------------------------------------------
@magics_class
class AlpacaMagics(Magics, Configurable):
    """The ``%alpaca`` line magic."""

    short_errors = Bool(True, help="Print errors as one line (no traceback).").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        Magics.__init__(self, shell=shell)
        Configurable.__init__(self, config=shell.config if shell is not None else None, **kwargs)

    @line_magic("alpaca")  # type: ignore[arg-type]
    def alpaca(self, line: str) -> Any:
        try:
            return self._run(line)
        except _HelpShown:
            return None
        except (AlpacaNbError, UsageError) as err:
            if not self.short_errors:
                raise
            print(
                f"{'UsageError' if isinstance(err, UsageError) else type(err).__name__}: {err}",
                file=sys.stderr,
            )
            return None

    def _run(self, line: str) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as err:
            raise UsageError(f"%alpaca: {err}") from None
        if not words:
            print(help_text())
            return None
        name, rest = words[0], words[1:]
        cmd = SUBCOMMANDS.get(name)
        if cmd is None:
            raise UsageError(f"%alpaca: unknown subcommand {name!r} (see %alpaca help)")
        args = cmd.parser.parse_args(rest)
        result = cmd.handler(self, args)
        if cmd.returns_data and getattr(args, "output", None):
            if not args.output.isidentifier():
                raise UsageError(f"%alpaca {name}: -o needs a Python name, not {args.output!r}")
            assert self.shell is not None
            self.shell.user_ns[args.output] = result
        return result if cmd.returns_data and cmd.echo else None


AlpacaMagics.alpaca.__doc__ = "Trade with Alpaca from the notebook.\n\n" + help_text()  # type: ignore[assignment]


def complete(shell: Any, event: Any) -> list[str]:
    """Tab completion: subcommands first, then symbols of the simulator's universe."""
    words = event.line.split()
    typing_first = len(words) == 1 or (len(words) == 2 and not event.line.endswith(" "))
    if typing_first:
        return sorted(SUBCOMMANDS)
    try:
        from .session import current_session

        session = current_session()
        if session.simulator is not None:
            return sorted(session.simulator.market.universe)
    except AlpacaNbError:
        pass
    return []


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(AlpacaMagics(shell=ipython))
    ipython.set_hook("complete_command", complete, str_key="%alpaca")
