"""``%alpaca account | positions | orders | buy | sell | cancel | close | order``: the account and orders.

Orders go through ``Session.submit_order`` — the same pre-trade policy and exactly-once path as the
ticket. ``all`` on the live account (cancel, close) asks first.
"""

from __future__ import annotations

import argparse
from typing import Any

from .router import confirm_live, subcommand, symbol_list


def _live_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--live", action="store_true", help="the live account (needs allow_live at connect)")


@subcommand(
    "account",
    "the account card (equity, cash, buying power, day P&L, flags)",
    ["%alpaca account", "acct = %alpaca account"],
    _live_flag,
    returns_data=True,
)
def _account(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    return current_session().account(account="live" if args.live else None)


@subcommand(
    "positions", "open positions as a DataFrame", ["%alpaca positions"], _live_flag, returns_data=True
)
def _positions(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    return current_session().positions(account="live" if args.live else None)


def _orders_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", choices=("open", "closed", "all"), default="open")
    p.add_argument("--limit", type=int, help="most orders (default: all)")
    p.add_argument("--symbols", help="only these symbols (AAPL,MSFT)")
    _live_flag(p)


@subcommand(
    "orders",
    "orders as a DataFrame, newest first",
    ["%alpaca orders", "%alpaca orders --status all --limit 20"],
    _orders_args,
    returns_data=True,
)
def _orders(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    return current_session().orders(
        args.status,
        limit=args.limit,
        symbols=symbol_list(args.symbols) if args.symbols else None,
        account="live" if args.live else None,
    )


def _trade_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("qty", help="shares or coins (use --notional for dollars: then give 0 here)")
    p.add_argument("symbol")
    p.add_argument("--limit", help="limit price")
    p.add_argument("--stop", help="stop price")
    p.add_argument("--tif", default=None, help="day, gtc, ioc, fok, opg, cls (default: day; gtc for crypto)")
    p.add_argument("--notional", help="dollar amount instead of a quantity (market, day)")
    p.add_argument("--take-profit", help="exit limit price: with --stop-loss a bracket, alone an OTO")
    p.add_argument("--stop-loss", help="exit stop price: with --take-profit a bracket, alone an OTO")
    p.add_argument("--stop-loss-limit", help="make the stop-loss exit a stop-limit at this price")
    p.add_argument("--oco", action="store_true", help="take-profit + stop-loss as an exit pair (OCO)")
    p.add_argument("--trail-percent", help="a trailing stop this many percent behind the market")
    p.add_argument("--trail-price", help="a trailing stop this many dollars behind the market")
    p.add_argument("--client-order-id", help="your own id (sending it again finds the order)")
    _live_flag(p)


def _order_kind(args: argparse.Namespace) -> str:
    if args.trail_percent is not None or args.trail_price is not None:
        return "trailing_stop"
    limit, stop = args.limit is not None, args.stop is not None
    if args.oco:  # an OCO is a limit order: its limit is the take-profit's
        return "limit"
    return "stop_limit" if limit and stop else "limit" if limit else "stop" if stop else "market"


def _order_class(args: argparse.Namespace) -> str | None:
    exits = (args.take_profit is not None) + (args.stop_loss is not None)
    if args.oco:
        return "oco"
    return None if not exits else "bracket" if exits == 2 else "oto"


# An order line whose fate was unknown, by its words: running the same line again reuses its
# client_order_id, so it finds that order instead of placing a second one.
_UNKNOWN: dict[tuple[Any, ...], str] = {}


def _trade(args: argparse.Namespace, side: str) -> Any:
    from ..errors import OrderStateUnknownError

    words = (
        side,
        *sorted((k, str(v)) for k, v in vars(args).items() if k not in ("output", "client_order_id")),
    )
    if args.client_order_id is None and words in _UNKNOWN:
        args.client_order_id = _UNKNOWN[words]
    try:
        order = _submit(args, side)
    except OrderStateUnknownError as err:
        _UNKNOWN[words] = err.client_order_id
        raise OrderStateUnknownError(
            f"{err} — or simply run this line again: it reuses client_order_id {err.client_order_id}",
            err.client_order_id,
        ) from None
    _UNKNOWN.pop(words, None)
    return order


def _submit(args: argparse.Namespace, side: str) -> Any:
    from ..errors import ValidationError
    from ..session import current_session

    kind = _order_kind(args)
    try:
        qty = None if args.notional is not None and float(args.qty) == 0 else args.qty
    except ValueError:
        raise ValidationError(f"qty must be a number, not {args.qty!r}") from None
    stop_loss = None
    if args.stop_loss is not None:
        stop_loss = {"stop_price": args.stop_loss, "limit_price": args.stop_loss_limit}
    elif args.stop_loss_limit is not None:
        raise ValidationError("--stop-loss-limit needs --stop-loss")
    session = current_session()
    order = session.submit_order(
        args.symbol, qty=qty, side=side, type=kind, time_in_force=args.tif, notional=args.notional,
        limit_price=args.limit, stop_price=args.stop, trail_percent=args.trail_percent,
        trail_price=args.trail_price, order_class=_order_class(args), take_profit=args.take_profit,
        stop_loss=stop_loss, client_order_id=args.client_order_id, account="live" if args.live else None,
    )  # fmt: skip
    where = "LIVE" if args.live or session.default_account == "live" else session.default_account
    amount = args.qty if qty is not None else f"${args.notional}"
    print(
        f"{side} {amount} {order.symbol} {kind} ({where}): {_value(order.status)} · id {order.id} · "
        f"client_order_id {order.client_order_id}"
    )
    for leg in order.legs or []:
        price = leg.limit_price or leg.stop_price
        print(f"  leg {_value(leg.side)} {_value(leg.type)} {price}: {_value(leg.status)} · id {leg.id}")
    return order


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))


@subcommand(
    "buy",
    "submit a buy order (checked, then sent exactly once: it carries a client_order_id)",
    ["%alpaca buy 10 AAPL", "%alpaca buy 5 MSFT --limit 300 --tif gtc", "%alpaca buy 0 SPY --notional 500",
     "%alpaca buy 10 AAPL --limit 230 --take-profit 240 --stop-loss 225"],
    _trade_args,
    returns_data=True,
)  # fmt: skip
def _buy(magics: Any, args: argparse.Namespace) -> Any:
    return _trade(args, "buy")


@subcommand(
    "sell",
    "submit a sell order",
    ["%alpaca sell 10 AAPL", "%alpaca sell 5 AAPL --stop 140", "%alpaca sell 10 AAPL --trail-percent 2",
     "%alpaca sell 10 AAPL --limit 250 --take-profit 250 --stop-loss 220 --oco"],
    _trade_args,
    returns_data=True,
)  # fmt: skip
def _sell(magics: Any, args: argparse.Namespace) -> Any:
    return _trade(args, "sell")


def _target_args(help_text: str) -> Any:
    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("target", help=help_text)
        _live_flag(p)
        p.add_argument("--yes", action="store_true", help="skip the question for 'all' on live")

    return configure


def _all_may_go(session: Any, args: argparse.Namespace, prompt: str) -> bool:
    """``all`` on the live account asks first (refused at once if live is locked); True: go ahead."""
    if not (args.live or session.default_account == "live"):
        return True
    session.client("live")  # the interlock before the question
    return bool(args.yes) or confirm_live(prompt)


@subcommand(
    "cancel",
    "cancel one order or all open orders (asks first for 'all' on live)",
    ["%alpaca cancel all", "%alpaca cancel ORDER_ID"],
    _target_args("an order id, a client_order_id, or 'all'"),
    returns_data=True,
)
def _cancel(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    session = current_session()
    account = "live" if args.live else None
    if args.target.strip().lower() == "all":
        if not _all_may_go(session, args, "Cancel ALL open LIVE orders?"):
            print("nothing cancelled")
            return None
        result = session.cancel_all_orders(account=account)
        print(f"cancel requested for {len(result)} open order(s)")
        return result
    order = session.get_order(args.target, account=account)
    found = session.cancel_order(str(order.id), account=account)
    if found is None:
        print(f"cancel requested for {order.id}")
    else:
        print(f"{order.id} is {_value(found.status)} (looked up after the cancel)")
    return None


@subcommand(
    "close",
    "close a position or all positions (asks first for 'all' on live)",
    ["%alpaca close AAPL", "%alpaca close all"],
    _target_args("a symbol (or asset id), or 'all'"),
    returns_data=True,
)
def _close(magics: Any, args: argparse.Namespace) -> Any:
    from ..session import current_session

    session = current_session()
    account = "live" if args.live else None
    if args.target.strip().lower() != "all":
        order = session.close_position(args.target, account=account)
        print(f"closing {order.symbol}: {_value(order.side)} {order.qty} ({_value(order.status)})")
        return order
    if not _all_may_go(session, args, "Close ALL LIVE positions with market orders?"):
        print("not closed")
        return None
    result = session.close_all_positions(cancel_orders=True, account=account)
    print(f"closing {len(result)} position(s)")
    return result


def _order_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbol", nargs="?", default=None)


@subcommand("order", "show an order ticket", ["%alpaca order AAPL"], _order_args, returns_data=True)
def _order(magics: Any, args: argparse.Namespace) -> Any:
    from ..widgets import OrderTicket

    return OrderTicket(args.symbol)
