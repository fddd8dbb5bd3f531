"""Orders that exist exactly once, and changes that are never sent twice.

``place_order`` is the only path by which alpaca_nb submits an order. Its rule: an intended order
exists exactly once. The POST is never resent blindly: after ANY ambiguous outcome — a timeout, a
dropped connection, a cut-off or undecodable answer, a 5xx — the order is first looked up by its
``client_order_id`` and resent (with the same id, which Alpaca refuses to duplicate) only if it is not
there. A "client_order_id must be unique" answer, on any attempt, means it is there: it is looked up,
checked to be the same order, and returned. If its fate still cannot be known,
``OrderStateUnknownError`` carries the id, and calling again with the same id finds the order.

Replace carries a ``client_order_id`` for the new order and follows the same rule. Cancel and close
are never resent without looking first; close, which has no id of its own, is never resent at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from alpaca.trading.models import Order
from alpaca.trading.requests import ClosePositionRequest, OrderRequest, ReplaceOrderRequest

from ..errors import (
    DuplicateClientOrderIdError,
    NotFoundError,
    OrderRejectedError,
    OrderStateUnknownError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .client import SafeTradingClient

SUBMIT_ATTEMPTS = 4
AMBIGUOUS = (TransportError, ServerError)  # the request may or may not have taken effect
OPEN = ("new", "accepted", "pending_new", "partially_filled", "held", "accepted_for_bidding",
        "pending_replace", "pending_cancel", "calculated")  # fmt: skip
T = TypeVar("T")


def _retrying(fn: Callable[[], T], attempts: int = 3) -> T:
    """A read (GET) tried again after an ambiguous failure or a 429; the last error if all fail."""
    for attempt in range(attempts):
        try:
            return fn()
        except RateLimitError as err:
            if attempt == attempts - 1:
                raise
            time.sleep(min(err.retry_after or 1.0, 60.0))
        except AMBIGUOUS:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")  # pragma: no cover


def _unless_refused(fn: Callable[[], T]) -> T:
    """A change sent again only after a 429: Alpaca refused it before doing anything, so that is safe."""
    for attempt in range(SUBMIT_ATTEMPTS):
        try:
            return fn()
        except RateLimitError as err:
            if attempt == SUBMIT_ATTEMPTS - 1:
                raise
            time.sleep(min(err.retry_after or 1.0, 60.0))
    raise AssertionError("unreachable")  # pragma: no cover


def find_order(client: SafeTradingClient, client_order_id: str, attempts: int = 3) -> Order | None:
    """The order with ``client_order_id``, None if Alpaca has none; raises if it cannot tell."""

    def look() -> Order | None:
        try:
            order = client.get_order_by_client_id(client_order_id)
        except NotFoundError:
            return None
        assert isinstance(order, Order)
        return order

    try:
        return _retrying(look, attempts)
    except (*AMBIGUOUS, RateLimitError) as err:
        raise OrderStateUnknownError(
            f"could not check whether order {client_order_id} exists ({err}); send it again with the "
            f"same client_order_id (it will be found, not doubled) or look it up with "
            f"get_order({client_order_id!r})",
            client_order_id,
        ) from None


def _same_order(found: Order, request: OrderRequest) -> Order:
    """The order found under our client_order_id must be the one we meant."""

    def norm(value: Any) -> Any:
        value = getattr(value, "value", value)
        return None if value in (None, "") else float(value) if isinstance(value, int | float) else value

    def num(value: Any) -> float | None:
        return None if value in (None, "") else float(value)

    pairs = {
        "symbol": (found.symbol, request.symbol),
        "side": (norm(found.side), norm(request.side)),
        "qty": (num(found.qty), num(request.qty)),
        "notional": (num(found.notional), num(request.notional)),
        "limit_price": (num(found.limit_price), num(getattr(request, "limit_price", None))),
        "stop_price": (num(found.stop_price), num(getattr(request, "stop_price", None))),
    }
    if norm(request.type) == "trailing_stop":
        pairs.pop("stop_price")  # the broker derives it from the trail
    differ = [name for name, (a, b) in pairs.items() if a != b and not (a is None and b is None)]
    if differ:
        raise DuplicateClientOrderIdError(
            422,
            40010001,
            f"client_order_id {request.client_order_id} is already used by a different order "
            f"({', '.join(f'{n}: {pairs[n][0]} there, {pairs[n][1]} here' for n in differ)}); "
            "use a new client_order_id",
            method="POST",
            path="/v2/orders",
        )
    return found


def place_order(client: SafeTradingClient, request: OrderRequest) -> Order:
    """Submit ``request`` so that it exists exactly once, whatever happens on the wire."""
    coid = request.client_order_id
    assert coid, "build_order_request always sets a client_order_id"
    last: Exception | None = None
    for _ in range(SUBMIT_ATTEMPTS):
        try:
            order = client.submit_order(request)
            assert isinstance(order, Order)
            return order
        except RateLimitError as err:  # refused before it was processed: the same id may be resent
            last = err
            time.sleep(min(err.retry_after or 1.0, 60.0))
        except DuplicateClientOrderIdError:  # an earlier attempt (or call) with this id landed
            found = find_order(client, coid)
            if found is None:
                raise
            return _same_order(found, request)
        except AMBIGUOUS as err:  # it may or may not have been placed: look before resending
            last = err
            found = find_order(client, coid)
            if found is not None:
                return _same_order(found, request)
    raise OrderStateUnknownError(
        f"order {coid} was not confirmed after {SUBMIT_ATTEMPTS} attempts (last: {last}); it was not "
        "found when last checked — send it again with the same client_order_id (it will be found, "
        f"not doubled) or check get_order({coid!r})",
        coid,
    )


def replace_order(client: SafeTradingClient, order_id: str, request: ReplaceOrderRequest) -> Order:
    """PATCH an order; the replacement carries ``request.client_order_id``, so it exists at most once."""
    coid = request.client_order_id
    assert coid, "replace requests always carry a client_order_id"
    last: Exception | None = None
    for _ in range(SUBMIT_ATTEMPTS):
        try:
            order = client.replace_order_by_id(order_id, request)
            assert isinstance(order, Order)
            return order
        except RateLimitError as err:
            last = err
            time.sleep(min(err.retry_after or 1.0, 60.0))
        except DuplicateClientOrderIdError:
            found = find_order(client, coid)
            if found is None:
                raise
            return found
        except AMBIGUOUS as err:
            last = err
            found = find_order(client, coid)
            if found is not None:
                return found
            if not _is_open(_retrying(lambda: client.get_order_by_id(order_id))):
                raise OrderRejectedError(
                    422, 42210000, f"order {order_id} is no longer open: not replaced", method="PATCH",
                    path=f"/v2/orders/{order_id}",
                ) from None  # fmt: skip
    raise OrderStateUnknownError(
        f"replacement {coid} of order {order_id} was not confirmed (last: {last}); check "
        f"get_order({coid!r}) before replacing again",
        coid,
    )


def _is_open(order: Any) -> bool:
    return _status(order) in OPEN


def cancel_order(client: SafeTradingClient, order_id: str) -> Order | None:
    """Cancel one order; after an ambiguous answer, its state is looked up before anything is resent.

    Returns None when Alpaca accepted the cancel, or the order as found afterwards (canceled, or
    already done); raises ``OrderStateUnknownError`` if it could not be established."""
    for attempt in range(2):
        try:
            _unless_refused(lambda: client.cancel_order_by_id(order_id))
            return None
        except OrderRejectedError:
            if not attempt:
                raise
            order = _read_order(client, order_id, "cancel refused")  # our first cancel may have landed
            if _is_open(order):
                raise
            return order
        except AMBIGUOUS as err:
            order = _read_order(client, order_id, str(err))
            if not _is_open(order) or _status(order) == "pending_cancel":
                return order  # canceled (by our request or otherwise), filled, or expired
            if attempt:
                raise OrderStateUnknownError(
                    f"cancel of {order_id}: no answer twice, and it is still {_status(order)}", ""
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _status(order: Any) -> str:
    return str(getattr(order.status, "value", order.status))


def _read_order(client: SafeTradingClient, order_id: str, why: str) -> Order:
    try:
        order = _retrying(lambda: client.get_order_by_id(order_id))
    except (*AMBIGUOUS, RateLimitError):
        raise OrderStateUnknownError(
            f"cancel of {order_id}: no answer ({why}) and its state could not be read; check it "
            "before cancelling again",
            "",
        ) from None
    assert isinstance(order, Order)
    return order


def cancel_all_orders(client: SafeTradingClient) -> list[Any]:
    """Cancel every open order (one DELETE, never resent); after an ambiguous answer, says what is left."""
    try:
        result = _unless_refused(client.cancel_orders)
        return list(result or [])
    except AMBIGUOUS as err:
        left = _retrying(lambda: client.get_json("/orders", {"status": "open", "limit": 500}))
        if not left:
            return []
        raise OrderStateUnknownError(
            f"cancel all: no answer ({err}); {len(left)} order(s) are still open — check them "
            "(`%alpaca orders`) before cancelling again",
            "",
        ) from None


def close_position(
    client: SafeTradingClient, symbol_or_id: str, options: ClosePositionRequest | None
) -> Order:
    """Close a position with one DELETE, never resent (it has no id to make a resend safe).

    The symbol's recent orders are noted first; after an ambiguous answer, a new market order for the
    symbol — the closing one — is looked for among them."""
    before = {row.get("id") for row in _recent_orders(client, symbol_or_id) or []}
    try:
        order = _unless_refused(lambda: client.close_position(symbol_or_id, options))
        assert isinstance(order, Order)
        return order
    except AMBIGUOUS as err:
        found = _closing_order(client, symbol_or_id, before)
        if found is not None:
            return found
        raise OrderStateUnknownError(
            f"close {symbol_or_id}: no answer ({err}) and no closing order found yet — check "
            "`%alpaca orders --status all` and the position before closing again",
            "",
        ) from None


def _recent_orders(client: SafeTradingClient, symbol_or_id: str) -> list[dict[str, Any]] | None:
    params: dict[str, Any] = {"status": "all", "direction": "desc", "limit": 100}
    if "-" not in symbol_or_id:  # a symbol, not an asset id
        params["symbols"] = symbol_or_id
    try:
        return list(_retrying(lambda: client.get_json("/orders", params)) or [])
    except (*AMBIGUOUS, RateLimitError):
        return None


def _closing_order(client: SafeTradingClient, symbol_or_id: str, before: set[Any]) -> Order | None:
    for row in _recent_orders(client, symbol_or_id) or []:
        mine = symbol_or_id in (row.get("symbol"), row.get("asset_id"))
        if mine and row.get("id") not in before and row.get("type") == "market":
            return Order(**row)
    return None


def close_all_positions(client: SafeTradingClient, *, cancel_orders: bool) -> list[Any]:
    """Close every position with one DELETE, never resent; after an ambiguous answer, says what is left."""
    try:
        return list(_unless_refused(lambda: client.close_all_positions(cancel_orders=cancel_orders)) or [])
    except AMBIGUOUS as err:
        left = _retrying(lambda: client.get_json("/positions"))
        raise OrderStateUnknownError(
            f"close all: no answer ({err}); {len(left or [])} position(s) are still open — check "
            "`%alpaca positions` and `%alpaca orders` before closing again",
            "",
        ) from None
