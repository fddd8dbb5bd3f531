"""Orders that exist exactly once, and changes that are never sent twice.

``place_order`` is the only path by which alpaca_nb submits an order. Its rule: an intended order
exists exactly once. The POST is never resent blindly: after ANY ambiguous outcome — a timeout, a
dropped connection, a cut-off or undecodable answer, a 5xx — the order is first looked up by its
``client_order_id`` and resent (with the same id, which Alpaca refuses to duplicate) only if it is not
there. A "client_order_id must be unique" answer, on any attempt, means it is there: it is looked up,
checked to be the same order, and returned. If its fate still cannot be known,
``OrderStateUnknownError`` carries the id, and calling again with the same id finds the order.

Replace, cancel and close follow the same rule in ``changes``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from alpaca.trading.models import Order
from alpaca.trading.requests import OrderRequest

from ..errors import (
    DuplicateClientOrderIdError,
    NotFoundError,
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


def same_order(client: SafeTradingClient, found: Order, request: OrderRequest) -> Order:
    """The order found under our client_order_id must be the one we meant; returned with its legs.

    Only what the request set is compared: a notional order gets a qty once it fills, an OCO's limit
    is its take-profit's, a trailing stop's stop price is the broker's."""

    def value(x: Any) -> Any:
        x = getattr(x, "value", x)
        return (
            None if x in (None, "") else float(x) if isinstance(x, int | float | str) and _numeric(x) else x
        )

    asked = {
        "symbol": request.symbol,
        "side": value(request.side),
        "notional": value(request.notional),
        "qty": None if request.notional is not None else value(request.qty),
        "limit_price": value(getattr(request, "limit_price", None)),
        "stop_price": None
        if value(request.type) == "trailing_stop"
        else value(getattr(request, "stop_price", None)),
    }
    there = {name: value(getattr(found, name, None)) for name in asked}
    differ = [n for n, wanted in asked.items() if wanted is not None and there[n] != wanted]
    if getattr(request, "legs", None):  # a multi-leg order: the same contracts, sides and ratios

        def legs_of(x: Any) -> list[tuple[Any, ...]]:
            return sorted((leg.symbol, value(leg.side), float(leg.ratio_qty or 1)) for leg in x.legs or [])

        if legs_of(request) != legs_of(found):
            differ.append("legs")
            asked["legs"], there["legs"] = legs_of(request), legs_of(found)
    if differ:
        raise DuplicateClientOrderIdError(
            422,
            40010001,
            f"client_order_id {request.client_order_id} is already used by a different order "
            f"({', '.join(f'{n}: {there[n]} there, {asked[n]} here' for n in differ)}); "
            "use a new client_order_id",
            method="POST",
            path="/v2/orders",
        )
    if value(found.order_class) in ("bracket", "oco", "oto") and not found.legs:
        found = _nested(client, str(found.id)) or found  # the look-up by client_order_id has no legs
    return found


def _numeric(x: Any) -> bool:
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return True


def _nested(client: SafeTradingClient, order_id: str) -> Order | None:
    from alpaca.trading.requests import GetOrderByIdRequest

    try:
        order = _retrying(lambda: client.get_order_by_id(order_id, GetOrderByIdRequest(nested=True)))
    except (*AMBIGUOUS, RateLimitError):
        return None
    return order if isinstance(order, Order) else None


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
            return same_order(client, found, request)
        except AMBIGUOUS as err:  # it may or may not have been placed: look before resending
            last = err
            found = find_order(client, coid)
            if found is not None:
                return same_order(client, found, request)
    raise OrderStateUnknownError(
        f"order {coid} was not confirmed after {SUBMIT_ATTEMPTS} attempts (last: {last}); it was not "
        "found when last checked — send it again with the same client_order_id (it will be found, "
        f"not doubled) or check get_order({coid!r})",
        coid,
    )
