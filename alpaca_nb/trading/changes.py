"""Changes to orders and positions that are never sent twice: replace, cancel, close.

* **Replace** carries a ``client_order_id`` for the replacement, so it follows ``place_order``'s rule:
  after an ambiguous answer the replacement is looked up by that id before anything is resent.
* **Cancel** is looked at (the order's state) before it is sent again.
* **Close** has no id of its own, so it is never resent: the symbol's orders are noted first, and
  after an ambiguous answer the new closing order among them is the answer.

A 429 is not ambiguous (Alpaca's limiter answers before anything is done), so a change refused with
429 is sent again after ``Retry-After``; if that second answer is an error, the state is looked up
too, since a 429 that followed the change is possible on other servers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from alpaca.trading.models import Order
from alpaca.trading.requests import ClosePositionRequest, ReplaceOrderRequest

from .._wire import quoted_symbol
from ..errors import (
    APIError,
    DuplicateClientOrderIdError,
    OrderRejectedError,
    OrderStateUnknownError,
    RateLimitError,
    TransportError,
)
from .client import SafeTradingClient
from .orders import AMBIGUOUS, OPEN, SUBMIT_ATTEMPTS, _retrying, find_order

T = TypeVar("T")


class _Refused:
    """Sends ``fn`` again after a 429; remembers that it did (``again``)."""

    def __init__(self) -> None:
        self.again = False

    def __call__(self, fn: Callable[[], T]) -> T:
        for attempt in range(SUBMIT_ATTEMPTS):
            try:
                return fn()
            except RateLimitError as err:
                if attempt == SUBMIT_ATTEMPTS - 1:
                    raise
                self.again = True
                time.sleep(min(err.retry_after or 1.0, 60.0))
        raise AssertionError("unreachable")  # pragma: no cover


def _status(order: Any) -> str:
    return str(getattr(order.status, "value", order.status))


def _is_open(order: Any) -> bool:
    return _status(order) in OPEN


def _unknown(what: str, err: BaseException) -> OrderStateUnknownError:
    return OrderStateUnknownError(f"{what}: no answer ({err}) — check before trying again", "")


# ----- replace --------------------------------------------------------------------------------------
def replace_order(client: SafeTradingClient, order_id: str, request: ReplaceOrderRequest) -> Order:
    """PATCH an order; the replacement carries ``request.client_order_id``, so it exists at most once."""
    coid = request.client_order_id
    assert coid, "replace requests always carry a client_order_id"
    send = _Refused()

    def replacement() -> Order | None:
        found = find_order(client, coid)
        if found is not None and str(found.replaces) != order_id:
            raise DuplicateClientOrderIdError(
                422, 40010001, f"client_order_id {coid} is already used by another order ({found.id}); "
                "use a new one", method="PATCH", path=f"/v2/orders/{order_id}",
            )  # fmt: skip
        return found

    last: Exception | None = None
    for _ in range(SUBMIT_ATTEMPTS):
        try:
            order = send(lambda: client.replace_order_by_id(order_id, request))
            assert isinstance(order, Order)
            return order
        except (APIError, TransportError) as err:
            last = err
            ambiguous = isinstance(err, AMBIGUOUS)
            if ambiguous or send.again or isinstance(err, DuplicateClientOrderIdError):
                found = replacement()  # it may have happened: look before anything else
                if found is not None:
                    return found
            if not ambiguous:
                raise
            if not _is_open(_read(client, order_id, f"replace of {order_id}", err)):
                raise OrderRejectedError(
                    422, 42210000, f"order {order_id} is no longer open: not replaced", method="PATCH",
                    path=f"/v2/orders/{order_id}",
                ) from None  # fmt: skip
    raise OrderStateUnknownError(
        f"replacement {coid} of order {order_id} was not confirmed (last: {last}); check "
        f"get_order({coid!r}) before replacing again",
        coid,
    )


def _read(client: SafeTradingClient, order_id: str, what: str, why: BaseException) -> Order:
    try:
        order = _retrying(lambda: client.get_order_by_id(order_id))
    except (*AMBIGUOUS, RateLimitError):
        raise _unknown(what, why) from None
    assert isinstance(order, Order)
    return order


# ----- cancel ---------------------------------------------------------------------------------------
def cancel_order(client: SafeTradingClient, order_id: str) -> Order | None:
    """Cancel one order. None when Alpaca took the cancel; otherwise the order as found afterwards
    (canceled, or already done), or ``OrderStateUnknownError``."""
    send = _Refused()
    for attempt in range(2):
        try:
            send(lambda: client.cancel_order_by_id(order_id))
            return None
        except OrderRejectedError as err:  # "not cancelable": done already — or by our lost first try
            order = _read(client, order_id, f"cancel of {order_id}", err)
            if _is_open(order) and _status(order) != "pending_cancel":
                raise
            return order
        except AMBIGUOUS as err:
            order = _read(client, order_id, f"cancel of {order_id}", err)
            if not _is_open(order) or _status(order) == "pending_cancel":
                return order  # canceled (by our request or otherwise), filled, or expired
            if attempt:
                raise OrderStateUnknownError(
                    f"cancel of {order_id}: no answer twice, and it is still {_status(order)}", ""
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def cancel_all_orders(client: SafeTradingClient) -> list[Any]:
    """Cancel every open order (one DELETE, never resent blindly); after an ambiguous answer the open
    orders noted before are looked up, and those no longer open are reported as cancelled."""
    before = [
        o["id"] for o in _retrying(lambda: client.get_json("/orders", {"status": "open", "limit": 500}))
    ]
    try:
        return list(_Refused()(client.cancel_orders) or [])
    except AMBIGUOUS as err:
        try:
            left = {
                o["id"]
                for o in _retrying(lambda: client.get_json("/orders", {"status": "open", "limit": 500}))
            }
        except (*AMBIGUOUS, RateLimitError):
            raise _unknown("cancel all", err) from None
        if left & set(before):
            raise OrderStateUnknownError(
                f"cancel all: no answer ({err}); {len(left & set(before))} of {len(before)} order(s) are "
                "still open — check them (`%alpaca orders`) before cancelling again",
                "",
            ) from None
        return [{"id": order_id, "status": 200} for order_id in before]


# ----- close ----------------------------------------------------------------------------------------
def close_position(
    client: SafeTradingClient, symbol_or_id: str, options: ClosePositionRequest | None
) -> Order:
    """Close a position with one DELETE, never resent (it has no id to make a resend safe).

    The position and the symbol's orders are read first; after an ambiguous answer, a new market order
    on the closing side is the answer. If the orders could not be read, nothing is guessed."""
    position = _retrying(lambda: client.get_json(f"/positions/{symbol_or_id}"))
    closing_side = "sell" if float(position["qty"]) > 0 else "buy"
    symbol = quoted_symbol(position)  # what its orders carry: a crypto position BTCUSD trades as BTC/USD
    before = _recent_orders(client, symbol)
    send = _Refused()
    try:
        order = send(lambda: client.close_position(symbol_or_id, options))
        assert isinstance(order, Order)
        return order
    except (APIError, TransportError) as err:
        ambiguous = isinstance(err, AMBIGUOUS)
        if not (ambiguous or send.again):
            raise
        found = _closing_order(client, symbol, closing_side, before)
        if found is not None:
            return found
        if not ambiguous:
            raise
        raise OrderStateUnknownError(
            f"close {symbol_or_id}: no answer ({err}) and no closing order found yet — check "
            "`%alpaca orders --status all` and the position before closing again",
            "",
        ) from None


def _recent_orders(client: SafeTradingClient, symbol: str) -> set[str] | None:
    params: dict[str, Any] = {"status": "all", "direction": "desc", "limit": 100, "symbols": symbol}
    try:
        return {str(row["id"]) for row in _retrying(lambda: client.get_json("/orders", params))}
    except (*AMBIGUOUS, RateLimitError):
        return None


def _closing_order(
    client: SafeTradingClient, symbol: str, side: str, before: set[str] | None
) -> Order | None:
    if before is None:  # what was there before is not known: no order can be told to be the new one
        return None
    params: dict[str, Any] = {"status": "all", "direction": "desc", "limit": 100, "symbols": symbol}
    try:
        rows = _retrying(lambda: client.get_json("/orders", params))
    except (*AMBIGUOUS, RateLimitError):
        return None
    for row in rows:
        if str(row["id"]) not in before and row.get("side") == side and row.get("type") == "market":
            return Order(**row)
    return None


def close_all_positions(client: SafeTradingClient, *, cancel_orders: bool) -> list[Any]:
    """Close every position with one DELETE, never resent; after an ambiguous answer, the closing
    order of each position noted before is looked for."""
    positions = _retrying(lambda: client.get_json("/positions"))
    befores = {str(p["symbol"]): _recent_orders(client, quoted_symbol(p)) for p in positions}
    try:
        return list(_Refused()(lambda: client.close_all_positions(cancel_orders=cancel_orders)) or [])
    except AMBIGUOUS as err:
        results, missing = [], []
        for p in positions:
            side = "sell" if float(p["qty"]) > 0 else "buy"
            found = _closing_order(client, quoted_symbol(p), side, befores[str(p["symbol"])])
            if found is None:
                missing.append(str(p["symbol"]))
            else:
                results.append({"symbol": p["symbol"], "status": 200, "body": found.model_dump(mode="json")})
        if missing:
            raise OrderStateUnknownError(
                f"close all: no answer ({err}); no closing order found for {', '.join(missing)} — check "
                "`%alpaca positions` and `%alpaca orders` before closing again",
                "",
            ) from None
        return results
