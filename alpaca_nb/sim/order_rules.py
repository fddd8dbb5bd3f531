"""Validation of POST /v2/orders bodies as Alpaca does it: simple orders, price increments, and the
class rules of bracket, OCO and OTO orders (ALPACA_WIRE_MORE §C4).

Every refusal is an ``ApiError`` with Alpaca's status, code and wording where it is known: 422
``40010001`` for malformed orders, 422 ``42210000`` for sub-penny prices and advanced-order rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .orders import ORDER_TYPES, TIME_IN_FORCE, decimal_field, fmt
from .wire import ApiError

ADVANCED_CLASSES = ("bracket", "oco", "oto")
PENNY, HUNDREDTH_OF_A_CENT = 2, 4  # decimals allowed at >= $1 and below $1


@dataclass(frozen=True, slots=True)
class ExitSpec:
    """One exit leg asked for in ``take_profit`` / ``stop_loss``."""

    role: str  # "take_profit" | "stop_loss"
    type: str  # "limit" | "stop" | "stop_limit"
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None

    @property
    def price(self) -> Decimal:
        """The price that defines the exit: the take-profit's limit, the stop-loss's stop."""
        value = self.limit_price if self.role == "take_profit" else self.stop_price
        assert value is not None
        return value


def _invalid(code: int, message: str) -> ApiError:
    return ApiError(422, code, message)


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = body.get(name, default)
    if value is None:
        raise _invalid(40010001, f"{name} is required")
    if value not in allowed:
        raise _invalid(40010001, f"invalid {name}: {value!r} (expected one of {', '.join(allowed)})")
    return str(value)


def check_increment(value: Decimal, label: str, raw: Any) -> None:
    """Equity prices: at most 2 decimals from $1 up, 4 below $1 (422 42210000 otherwise)."""
    places = -int(value.normalize().as_tuple().exponent)
    allowed = PENNY if value >= 1 else HUNDREDTH_OF_A_CENT
    if places > allowed:
        shown = raw if isinstance(raw, str) else str(raw)
        raise _invalid(
            42210000,
            f"invalid {label} {shown}. sub-penny increment does not fulfill minimum pricing criteria",
        )


def price_field(body: dict[str, Any], name: str, label: str | None = None) -> Decimal | None:
    """A positive price with an allowed increment, or None if absent."""
    label = label or name
    value = decimal_field(body, name, label)
    if value is None:
        return None
    if value <= 0:
        raise _invalid(40010001, f"{label.replace('_', ' ')} must be > 0")
    check_increment(value, label, body[name])
    return value


def order_class_of(body: dict[str, Any]) -> str:
    """``""`` for simple orders, else ``bracket``/``oco``/``oto``; anything else is refused."""
    value = body.get("order_class") or "simple"
    if value == "simple":
        return ""
    if value in ADVANCED_CLASSES:
        return str(value)
    if value == "mleg":
        raise _invalid(42210000, "order_class mleg is for options; the simulator trades equities only")
    raise _invalid(40010001, f"invalid order_class: {value!r}")


def parse_order(body: Any, *, fractionable: bool, fractional_enabled: bool = True) -> dict[str, Any]:
    """Validate a POST /v2/orders body; the fields for ``Order`` (exit legs: see ``parse_exits``)."""
    if not isinstance(body, dict):
        raise ApiError(400, 40010000, "request body format is invalid")
    order_class = order_class_of(body)
    side = _choice(body, "side", ("buy", "sell"))
    kind = _choice(body, "type", ORDER_TYPES)
    tif = _choice(body, "time_in_force", TIME_IN_FORCE)
    if order_class == "oco":
        if kind != "limit":
            raise _invalid(42210000, "oco orders must be limit orders")
        # The parent of an OCO is its take-profit: the top-level limit_price may be left out.
        take_profit = body.get("take_profit")
        if isinstance(take_profit, dict) and take_profit.get("limit_price") is not None:
            body = {**body, "limit_price": take_profit["limit_price"]}
    qty, notional = decimal_field(body, "qty"), decimal_field(body, "notional")
    prices = {n: price_field(body, n) for n in ("limit_price", "stop_price")}
    prices |= {n: decimal_field(body, n) for n in ("trail_price", "trail_percent")}
    _check_size(qty, notional, kind, tif, fractionable=fractionable, fractional_enabled=fractional_enabled)
    _check_prices(kind, tif, prices)
    extended = body.get("extended_hours", False)
    if extended is None:
        extended = False
    if not isinstance(extended, bool):
        raise _invalid(40010001, "extended_hours must be a boolean")
    if extended and (kind != "limit" or tif not in ("day", "gtc")):
        raise _invalid(42210000, "extended hours order must be DAY or GTC limit orders")
    coid = body.get("client_order_id") or str(uuid.uuid4())
    if not isinstance(coid, str) or len(coid) > 128:
        raise _invalid(40010001, "client_order_id must be no more than 128 characters")
    if order_class:
        _check_class(order_class, kind, tif, qty, notional, extended)
    return {
        "side": side,
        "type": kind,
        "time_in_force": tif,
        "qty": qty,
        "notional": notional,
        "extended_hours": extended,
        "client_order_id": coid,
        "order_class": order_class,
        **prices,
    }


def _check_size(
    qty: Decimal | None,
    notional: Decimal | None,
    kind: str,
    tif: str,
    *,
    fractionable: bool,
    fractional_enabled: bool,
) -> None:
    if qty is None and notional is None:
        raise _invalid(40010001, "qty or notional is required")
    if qty is not None and notional is not None:
        raise _invalid(40010001, "only one of qty or notional is accepted")
    if qty is not None:
        if qty <= 0:
            raise _invalid(40010001, "qty must be > 0")
        if qty.as_tuple().exponent < -9:  # type: ignore[operator]
            raise _invalid(40010001, "qty must have at most 9 decimal places")
        if qty != qty.to_integral_value():
            if not fractional_enabled:
                raise _invalid(40010001, "qty must be integer")  # Alpaca's words (fractional off)
            if not fractionable:
                raise _invalid(40010001, "fractional orders are not supported for this asset")
            if kind not in ("market", "limit") or tif != "day":
                raise _invalid(40010001, "fractional orders must be DAY market or limit orders")
    if notional is not None:
        if not fractional_enabled:
            raise _invalid(40010001, "notional orders need fractional trading, which is off for this account")
        if kind != "market" or tif != "day":
            raise _invalid(40010001, "notional orders must be DAY market orders")
        if notional < 1:
            raise _invalid(40010001, "cost basis must be >= 1")
        if notional.as_tuple().exponent < -2:  # type: ignore[operator]
            raise _invalid(40010001, "notional must have at most 2 decimal places")
        if not fractionable:
            raise _invalid(40010001, "fractional orders are not supported for this asset")


def _check_prices(kind: str, tif: str, prices: dict[str, Decimal | None]) -> None:
    needs = {"limit_price": kind in ("limit", "stop_limit"), "stop_price": kind in ("stop", "stop_limit")}
    for name, needed in needs.items():
        if needed and prices[name] is None:
            raise _invalid(40010001, f"{name} is required for {kind} orders")
        if not needed and prices[name] is not None:
            raise _invalid(40010001, f"{name} is not allowed for {kind} orders")
    trail = [n for n in ("trail_price", "trail_percent") if prices[n] is not None]
    if kind == "trailing_stop":
        if len(trail) != 1:
            raise _invalid(40010001, "trailing stop orders must specify one of trail_price or trail_percent")
        if prices[trail[0]] <= 0:  # type: ignore[operator]
            raise _invalid(40010001, f"{trail[0]} must be > 0")
        if tif not in ("day", "gtc"):
            raise _invalid(40010001, "trailing stop orders must be DAY or GTC")
    elif trail:
        raise _invalid(40010001, f"{trail[0]} is only allowed for trailing_stop orders")


def _check_class(
    order_class: str, kind: str, tif: str, qty: Decimal | None, notional: Decimal | None, extended: bool
) -> None:
    if order_class != "oco" and kind not in ("market", "limit"):
        raise _invalid(42210000, f"{order_class} orders must be market or limit orders")
    if tif not in ("day", "gtc"):
        raise _invalid(42210000, f"{order_class} orders must be DAY or GTC")
    if extended:
        raise _invalid(42210000, f"{order_class} orders cannot trade in extended hours")
    if notional is not None or (qty is not None and qty != qty.to_integral_value()):
        raise _invalid(42210000, "fractional orders must be simple orders")


def parse_exits(body: dict[str, Any], order_class: str) -> list[ExitSpec]:
    """The exit legs of an advanced order: both for bracket and OCO, exactly one for OTO."""
    exits: list[ExitSpec] = []
    take_profit, stop_loss = body.get("take_profit"), body.get("stop_loss")
    if take_profit is not None:
        if not isinstance(take_profit, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        limit = price_field(take_profit, "limit_price", "take_profit.limit_price")
        if limit is None:
            raise _invalid(42210000, f"{order_class} orders require take_profit.limit_price")
        exits.append(ExitSpec("take_profit", "limit", limit_price=limit))
    elif order_class != "oto":
        raise _invalid(42210000, f"{order_class} orders require take_profit.limit_price")
    if stop_loss is not None:
        if not isinstance(stop_loss, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        stop = price_field(stop_loss, "stop_price", "stop_loss.stop_price")
        if stop is None:
            raise _invalid(42210000, f"{order_class} orders require stop_loss.stop_price")
        limit = price_field(stop_loss, "limit_price", "stop_loss.limit_price")
        exits.append(
            ExitSpec("stop_loss", "stop_limit" if limit else "stop", limit_price=limit, stop_price=stop)
        )
    elif order_class != "oto":
        raise _invalid(42210000, f"{order_class} orders require stop_loss.stop_price")
    if order_class == "oto" and len(exits) != 1:
        raise _invalid(42210000, "oto orders require exactly one of take_profit or stop_loss")
    return exits


def check_exit_prices(exits: list[ExitSpec], exit_side: str, base: Decimal | None) -> None:
    """Take-profit beyond the stop, and each exit at least $0.01 beyond the base price.

    ``exit_side`` is the side of the exits ("sell" closes a long). ``base`` is the entry's limit
    price or the market (bracket, OTO); None for OCO, whose base is its own take-profit.
    """
    by_role = {e.role: e for e in exits}
    tp, sl = by_role.get("take_profit"), by_role.get("stop_loss")
    up = exit_side == "sell"  # exits of a long: profit above, stop below
    if tp is not None and sl is not None and (tp.price <= sl.price if up else tp.price >= sl.price):
        raise _invalid(42210000, f"take_profit.limit_price must be {'>' if up else '<'} stop_loss.stop_price")
    if base is None:
        return
    tick = Decimal("0.01")
    if sl is not None and (sl.price > base - tick if up else sl.price < base + tick):
        relation = "<= base_price - 0.01" if up else ">= base_price + 0.01"
        raise _invalid(42210000, f"stop_loss.stop_price must be {relation} (base_price: {fmt(base)})")
    if tp is not None and (tp.price < base + tick if up else tp.price > base - tick):
        relation = ">= base_price + 0.01" if up else "<= base_price - 0.01"
        raise _invalid(42210000, f"take_profit.limit_price must be {relation} (base_price: {fmt(base)})")
