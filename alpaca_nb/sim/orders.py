"""Simulated orders: the record, its Alpaca JSON, and validation of submitted order bodies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from .wire import ApiError, iso_one

ZERO = Decimal(0)
NANO = Decimal("0.000000001")

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


def decimal_field(body: dict[str, Any], name: str) -> Decimal | None:
    raw = body.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ApiError(422, 40010001, f"{name} must be a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ApiError(422, 40010001, f"invalid {name}: {raw!r}") from None
    if not value.is_finite():
        raise ApiError(422, 40010001, f"invalid {name}: {raw!r}")
    return value


@dataclass(slots=True)
class Order:
    """One order as the broker keeps it; ``to_json`` gives Alpaca's Order object."""

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

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def filled_avg_price(self) -> Decimal | None:
        if self.filled_qty == 0:
            return None
        return self.filled_value / self.filled_qty

    def remaining(self) -> Decimal:
        return ZERO if self.qty is None else self.qty - self.filled_qty

    def touch(self, status: str, now: int) -> None:
        self.status = status
        self.updated_at = now

    def to_json(self) -> dict[str, Any]:
        def ts(ns: int | None) -> str | None:
            return None if ns is None else iso_one(ns)

        return {
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
            "asset_class": "us_equity",
            "notional": fmt(self.notional),
            "qty": fmt(self.qty),
            "filled_qty": fmt(self.filled_qty),
            "filled_avg_price": fmt(self.filled_avg_price),
            "order_class": "",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": self.position_intent,
            "time_in_force": self.time_in_force,
            "limit_price": fmt(self.limit_price),
            "stop_price": fmt(self.stop_price),
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": None,
            "trail_percent": fmt(self.trail_percent),
            "trail_price": fmt(self.trail_price),
            "hwm": fmt(self.hwm),
            "source": None,
            "subtag": None,
        }


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = body.get(name, default)
    if value is None:
        raise ApiError(422, 40010001, f"{name} is required")
    if value not in allowed:
        raise ApiError(422, 40010001, f"invalid {name}: {value!r} (expected one of {', '.join(allowed)})")
    return str(value)


def parse_order(body: Any, *, fractionable: bool) -> dict[str, Any]:
    """Validate a POST /v2/orders body as Alpaca does; the fields for ``Order`` or ApiError(422)."""
    if not isinstance(body, dict):
        raise ApiError(400, 40010000, "request body format is invalid")
    order_class = body.get("order_class") or "simple"
    if order_class != "simple":
        raise ApiError(422, 40010001, f"order_class {order_class} is not supported by the simulator")
    side = _choice(body, "side", ("buy", "sell"))
    kind = _choice(body, "type", ORDER_TYPES)
    tif = _choice(body, "time_in_force", TIME_IN_FORCE)
    qty, notional = decimal_field(body, "qty"), decimal_field(body, "notional")
    prices = {
        n: decimal_field(body, n) for n in ("limit_price", "stop_price", "trail_price", "trail_percent")
    }
    if qty is None and notional is None:
        raise ApiError(422, 40010001, "qty or notional is required")
    if qty is not None and notional is not None:
        raise ApiError(422, 40010001, "only one of qty or notional may be given")
    if qty is not None:
        if qty <= 0:
            raise ApiError(422, 40010001, "qty must be > 0")
        if qty.as_tuple().exponent < -9:  # type: ignore[operator]
            raise ApiError(422, 40010001, "qty must have at most 9 decimal places")
        if qty != qty.to_integral_value():
            if not fractionable:
                raise ApiError(422, 40010001, "fractional orders are not supported for this asset")
            if kind not in ("market", "limit") or tif != "day":
                raise ApiError(422, 40010001, "fractional orders must be DAY market or limit orders")
    if notional is not None:
        if kind != "market" or tif != "day":
            raise ApiError(422, 40010001, "notional orders must be DAY market orders")
        if notional < 1:
            raise ApiError(422, 40010001, "cost basis must be >= 1")
        if notional.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ApiError(422, 40010001, "notional must have at most 2 decimal places")
        if not fractionable:
            raise ApiError(422, 40010001, "fractional orders are not supported for this asset")
    needs = {
        "limit_price": kind in ("limit", "stop_limit"),
        "stop_price": kind in ("stop", "stop_limit"),
    }
    for name, needed in needs.items():
        value = prices[name]
        if needed and value is None:
            raise ApiError(422, 40010001, f"{name} is required for {kind} orders")
        if not needed and value is not None:
            raise ApiError(422, 40010001, f"{name} is not allowed for {kind} orders")
        if value is not None and value <= 0:
            raise ApiError(422, 40010001, f"{name.replace('_', ' ')} must be > 0")
    trail = [n for n in ("trail_price", "trail_percent") if prices[n] is not None]
    if kind == "trailing_stop":
        if len(trail) != 1:
            raise ApiError(422, 40010001, "exactly one of trail_price or trail_percent is required")
        if prices[trail[0]] <= 0:  # type: ignore[operator]
            raise ApiError(422, 40010001, f"{trail[0]} must be > 0")
    elif trail:
        raise ApiError(422, 40010001, f"{trail[0]} is only allowed for trailing_stop orders")
    extended = body.get("extended_hours", False)
    if not isinstance(extended, bool):
        raise ApiError(422, 40010001, "extended_hours must be a boolean")
    if extended and (kind != "limit" or tif not in ("day", "gtc")):
        raise ApiError(422, 40010001, "extended hours order must be DAY or GTC limit orders")
    coid = body.get("client_order_id") or str(uuid.uuid4())
    if not isinstance(coid, str) or len(coid) > 128:
        raise ApiError(422, 40010001, "client_order_id must be a string of at most 128 characters")
    return {
        "side": side,
        "type": kind,
        "time_in_force": tif,
        "qty": qty,
        "notional": notional,
        "extended_hours": extended,
        "client_order_id": coid,
        **prices,
    }


def floor_qty(notional: Decimal, price: Decimal) -> Decimal:
    return (notional / price).quantize(NANO, rounding=ROUND_DOWN)
