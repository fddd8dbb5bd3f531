"""Simulated orders: the record the broker keeps and its Alpaca JSON (legs included).

Validation of submitted bodies lives in ``order_rules``; order groups (bracket, OCO, OTO) in ``groups``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from .wire import ApiError, iso_one

ZERO = Decimal(0)
NANO = Decimal("0.000000001")

# ``held`` exit legs count as open (they are live orders waiting for their turn).
OPEN_STATUSES = frozenset({"accepted", "new", "partially_filled", "pending_new", "held"})
ORDER_TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
TIME_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")


def fmt(value: Decimal | None) -> str | None:
    """Alpaca's decimal strings: plain notation, at most 9 places, no trailing zeros."""
    if value is None:
        return None
    if value.as_tuple().exponent < -9:  # type: ignore[operator]
        value = value.quantize(NANO)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def decimal_field(body: dict[str, Any], name: str, label: str | None = None) -> Decimal | None:
    """``body[name]`` as a Decimal (strings or JSON numbers), None if absent; 422 if not a number."""
    raw = body.get(name)
    label = label or name
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ApiError(422, 40010001, f"{label} must be a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ApiError(422, 40010001, f"invalid {label}: {raw!r}") from None
    if not value.is_finite():
        raise ApiError(422, 40010001, f"invalid {label}: {raw!r}")
    return value


@dataclass(slots=True, eq=False)
class Order:
    """One order as the broker keeps it; ``to_json`` gives Alpaca's Order object.

    Members of an order group point at each other: the parent (a bracket's or OTO's entry, an OCO's
    take-profit) lists its exit ``legs``; each leg knows its ``parent``. ``role`` says which part
    an order plays: ``entry``, ``take_profit`` or ``stop_loss`` ("" for simple orders).
    """

    symbol: str
    asset_id: str
    side: str
    type: str
    time_in_force: str
    client_order_id: str
    created_at: int
    qty: Decimal | None = None
    notional: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    extended_hours: bool = False
    position_intent: str = "buy_to_open"
    expires_at: int = 0
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "accepted"
    updated_at: int = 0
    filled_at: int | None = None
    expired_at: int | None = None
    canceled_at: int | None = None
    failed_at: int | None = None
    replaced_at: int | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    filled_qty: Decimal = ZERO
    filled_value: Decimal = ZERO
    hwm: Decimal | None = None
    triggered: bool = False
    armed: bool = False  # an exit leg that matching watches (its entry is done, or it is an OCO's)
    order_class: str = ""  # "" (simple), "bracket", "oco", "oto", "simple" (options) or "mleg"
    role: str = ""
    asset_class: str = "us_equity"
    position_symbol: str = ""  # where its fills are booked: "BTCUSD" for "BTC/USD" ("": the symbol)
    ratio_qty: Decimal | None = None  # a multi-leg order's leg: contracts per unit of its parent's qty
    reserve: Decimal = ZERO  # a multi-leg order: the options buying power it holds while working
    parent: Order | None = field(default=None, repr=False)
    legs: list[Order] = field(default_factory=list, repr=False)

    @property
    def pos_key(self) -> str:
        """The position this order trades (positions keep crypto's old symbology, ``BTCUSD``)."""
        return self.position_symbol or self.symbol

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def filled_avg_price(self) -> Decimal | None:
        if self.filled_qty == 0:
            return None
        return self.filled_value / self.filled_qty

    @property
    def root(self) -> Order:
        """The group's parent (the order itself for simple orders and parents)."""
        return self.parent if self.parent is not None else self

    def members(self) -> list[Order]:
        """Every order of this order's group, parent first (just itself for a simple order)."""
        root = self.root
        return [root, *root.legs]

    def remaining(self) -> Decimal:
        return ZERO if self.qty is None else self.qty - self.filled_qty

    def touch(self, status: str, now: int) -> None:
        self.status = status
        self.updated_at = now

    def to_json(self, *, legs: bool = False) -> dict[str, Any]:
        """Alpaca's Order object; with ``legs=True`` a parent carries its legs as full Orders."""

        def ts(ns: int | None) -> str | None:
            return None if ns is None else iso_one(ns)

        out = {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": iso_one(self.created_at),
            "updated_at": iso_one(self.updated_at or self.created_at),
            "submitted_at": iso_one(self.created_at),
            "filled_at": ts(self.filled_at),
            "expired_at": ts(self.expired_at),
            "expires_at": iso_one(self.expires_at),
            "canceled_at": ts(self.canceled_at),
            "failed_at": ts(self.failed_at),
            "replaced_at": ts(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "asset_class": self.asset_class,
            "notional": fmt(self.notional),
            "qty": fmt(self.qty),
            "filled_qty": fmt(self.filled_qty),
            "filled_avg_price": fmt(self.filled_avg_price),
            "order_class": self.order_class or ("simple" if self.asset_class == "us_option" else ""),
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": self.position_intent,
            "time_in_force": self.time_in_force,
            "limit_price": fmt(self.limit_price),
            "stop_price": fmt(self.stop_price),
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": [leg.to_json() for leg in self.legs] if (legs or self.is_mleg) and self.legs else None,
            "trail_percent": fmt(self.trail_percent),
            "trail_price": fmt(self.trail_price),
            "hwm": fmt(self.hwm),
            "source": None,
            "subtag": None,
        }
        if self.is_mleg:  # ALPACA_WIRE_MORE B4: empty strings, which alpaca-py reads as None
            if self.parent is None:
                out.update(symbol="", asset_id="", asset_class="", side="")
                del out["position_intent"]
            else:
                out.update(type="", order_type="", ratio_qty=fmt(self.ratio_qty))
        return out

    @property
    def is_mleg(self) -> bool:
        """A multi-leg option order: the parent (no symbol of its own) or one of its legs."""
        return self.order_class == "mleg"


def floor_qty(notional: Decimal, price: Decimal) -> Decimal:
    return (notional / price).quantize(NANO, rounding=ROUND_DOWN)
