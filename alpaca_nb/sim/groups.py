"""Order groups: bracket, OCO and OTO orders (ALPACA_WIRE_MORE §C4).

* **bracket**: an entry (market or limit) and two exits, a take-profit limit and a stop-loss stop (or
  stop-limit). The exits are ``held`` until the entry is completely filled; then the take-profit is
  ``new`` and the stop-loss stays ``held`` but is watched: if its stop triggers, it fills.
* **oco**: an exit pair for a position; the take-profit is the parent (``new``), the stop-loss its
  child (``held``, watched from the start).
* **oto**: an entry and one exit, ``held`` until the entry is completely filled, then ``new``.

Whichever exit fills first cancels the other; a partial fill of one resizes the other so that the
two never close more than the group holds. Cancelling any open member cancels the whole group.
Every state change is published on ``trade_updates`` through ``emit``, once per order and event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from .ledger import Account
from .order_rules import ExitSpec, check_exit_prices
from .orders import Order
from .wire import ApiError

Emit = Callable[..., None]  # emit(acct, event, order, now, **extra)
_OPPOSITE = {"buy": "sell", "sell": "buy"}
_REPLACEABLE = {"limit_price", "stop_price", "client_order_id"}


def exit_side(order: Order) -> str:
    """The side of a group's exits: an OCO is itself the exit; a bracket/OTO exits its entry."""
    root = order.root
    return root.side if root.order_class == "oco" else _OPPOSITE[root.side]


def attach_exits(parent: Order, exits: list[ExitSpec], now: int) -> list[Order]:
    """Create the exit legs of ``parent`` (all ``held``), link them to it and return them."""
    side = exit_side(parent)
    parent.role = "take_profit" if parent.order_class == "oco" else "entry"
    for spec in exits:
        if parent.order_class == "oco" and spec.role == "take_profit":
            continue  # the parent is the take-profit
        leg = Order(
            symbol=parent.symbol,
            asset_id=parent.asset_id,
            side=side,
            type=spec.type,
            time_in_force=parent.time_in_force,
            client_order_id=str(uuid.uuid4()),
            created_at=now,
            updated_at=now,
            qty=parent.qty,
            limit_price=spec.limit_price,
            stop_price=spec.stop_price,
            position_intent=f"{side}_to_close",
            expires_at=parent.expires_at,
            status="held",
            order_class=parent.order_class,
            role=spec.role,
            parent=parent,
            armed=parent.order_class == "oco",
        )
        parent.legs.append(leg)
    return parent.legs


def waiting(order: Order) -> bool:
    """A leg whose entry has not completely filled yet: matching leaves it alone."""
    return order.parent is not None and not order.armed


def _exits(order: Order) -> list[Order]:
    return [m for m in order.members() if m.role in ("take_profit", "stop_loss")]


def activate(acct: Account, entry: Order, now: int, emit: Emit) -> None:
    """The entry is done: arm its exits; the take-profit (or a lone exit) becomes ``new``."""
    legs = [leg for leg in entry.legs if leg.is_open]
    for leg in legs:
        leg.armed = True
        if leg.role == "take_profit" or len(legs) == 1:
            leg.touch("new", now)
            emit(acct, "new", leg, now)


def after_fill(acct: Account, order: Order, now: int, emit: Emit) -> None:
    """Group consequences of a fill of ``order``: arm exits, or cancel/resize the other exit."""
    if order.role == "entry":
        if order.status == "filled":
            activate(acct, order, now, emit)
        return
    if order.order_class not in ("bracket", "oco"):
        return
    for other in _exits(order):
        if other is order or not other.is_open:
            continue
        if order.status == "filled":
            cancel(acct, other, now, emit)
        else:  # both exits close the same shares: what one has sold, the other need not
            assert order.qty is not None
            other.qty = order.qty + other.filled_qty - order.filled_qty


def after_entry_end(acct: Account, order: Order, now: int, emit: Emit) -> None:
    """An entry expired. If it bought nothing its exits go with it; otherwise they stay, and expire
    on their own: they share its time in force."""
    if order.role != "entry" or order.filled_qty > 0:
        return
    for leg in order.legs:
        if leg.is_open:
            cancel(acct, leg, now, emit)


def cancel(acct: Account, order: Order, now: int, emit: Emit) -> None:
    order.canceled_at = now
    order.touch("canceled", now)
    emit(acct, "canceled", order, now)


def cancel_group(acct: Account, order: Order, now: int, emit: Emit) -> list[Order]:
    """Cancel every open member of ``order``'s group (just ``order`` if simple); those canceled."""
    done = []
    for member in order.members():
        if member.is_open:
            cancel(acct, member, now, emit)
            done.append(member)
    return done


def check_replace(old: Order, body: dict[str, Any]) -> None:
    """Only the prices of a bracket's or OCO's exits may change (ALPACA_WIRE_MORE §C4)."""
    if old.order_class == "oto":
        raise ApiError(422, 42210000, "replacement of oto orders is not supported yet")
    if old.role == "entry":
        raise ApiError(422, 42210000, "the entry of a bracket order cannot be replaced: cancel and resend it")
    extra = sorted(k for k, v in body.items() if v is not None and k not in _REPLACEABLE)
    if extra:
        raise ApiError(
            422, 42210000, f"only limit_price and stop_price of a {old.order_class} leg can be replaced"
        )


def take_slot(old: Order, new: Order) -> None:
    """``new`` replaces ``old`` inside its group (same role, same waiting state, same links)."""
    exits = [new if m is old else m for m in _exits(old) if m is old or m.is_open]
    specs = [ExitSpec(old.role if m is new else m.role, m.type, m.limit_price, m.stop_price) for m in exits]
    check_exit_prices(specs, exit_side(old), None)  # before any link changes
    new.order_class, new.role, new.armed = old.order_class, old.role, old.armed
    if old.status == "held":
        new.status = "held"
    if old.parent is None:  # an OCO's take-profit: the new order becomes the parent
        new.legs, old.legs = old.legs, []
        for leg in new.legs:
            leg.parent = new
    else:
        new.parent = old.parent
        siblings = old.parent.legs
        siblings[siblings.index(old)] = new
