"""Multi-leg option orders (``order_class="mleg"``): the legs' fields checked and turned into alpaca-py's
request, the input rules Alpaca states (2–4 legs, distinct contracts of one underlying, ratios in
lowest terms, day orders, market or limit; a limit's sign: positive is a net debit, negative a credit).

What depends on the account or the market (the options level, what the legs can be worth, buying power)
is the pre-trade policy's (``checks.check_mleg``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import reduce
from typing import Any

from alpaca.trading.enums import OrderClass, OrderSide, PositionIntent
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, OptionLegRequest, OrderRequest

from .._wire import OPTION, normalize_symbol, parse_occ
from ..errors import ValidationError
from .payoff import LegShape
from .requests import MAX_CLIENT_ORDER_ID, choice, new_client_order_id, number

INTENTS = {"buy": ("buy_to_open", "buy_to_close"), "sell": ("sell_to_open", "sell_to_close")}


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg of a multi-leg option order.

    >>> anb.Leg("AAPL261218C00200000", "buy")
    >>> anb.Leg("AAPL261218C00210000", "sell", ratio_qty=2, position_intent="sell_to_open")
    """

    symbol: str
    side: str = "buy"
    ratio_qty: int = 1
    position_intent: str | None = None


def check_legs(legs: Any) -> list[Leg]:
    """The legs, normalised; one ``ValidationError`` line for the first rule broken."""
    if isinstance(legs, Leg) or not isinstance(legs, list | tuple):
        raise ValidationError("legs must be a list of anb.Leg (2 to 4 of them)")
    if not 2 <= len(legs) <= 4:
        raise ValidationError(f"a multi-leg order takes 2 to 4 legs, not {len(legs)}")
    out: list[Leg] = []
    for i, leg in enumerate(legs, 1):
        if not isinstance(leg, Leg):
            raise ValidationError(f"leg {i} must be an anb.Leg, not {type(leg).__name__}")
        symbol = normalize_symbol(leg.symbol)
        if not OPTION.symbol.match(symbol):
            raise ValidationError(f"leg {i}: {symbol} is not an option contract (OCC symbol)")
        parts = parse_occ(symbol)
        try:
            expiry = dt.date.fromisoformat(parts.expiration)
        except ValueError:
            raise ValidationError(f"leg {i}: {symbol} has no valid expiration date") from None
        if expiry < dt.date.today():
            raise ValidationError(f"leg {i}: {symbol} expired on {expiry}")
        side = choice(f"leg {i} side", leg.side, ("buy", "sell"))
        ratio = leg.ratio_qty
        if (
            isinstance(ratio, bool)
            or not isinstance(ratio, int | float)
            or not math.isfinite(ratio)
            or ratio != int(ratio)
            or not 1 <= ratio <= 1000
        ):
            raise ValidationError(f"leg {i}: ratio_qty must be a whole number from 1, not {ratio!r}")
        intent = leg.position_intent
        if intent is not None and intent not in INTENTS[side]:
            raise ValidationError(f"leg {i}: position_intent {intent!r} does not go with side {side!r}")
        out.append(Leg(symbol, side, int(ratio), intent))
    symbols = [leg.symbol for leg in out]
    if len(set(symbols)) != len(symbols):
        raise ValidationError("each leg must be a different contract")
    roots = {parse_occ(s).root for s in symbols}
    if len(roots) > 1:
        raise ValidationError(f"the legs must share one underlying, not {', '.join(sorted(roots))}")
    if reduce(math.gcd, (leg.ratio_qty for leg in out)) != 1:
        raise ValidationError("leg ratios must be in lowest terms (e.g. 1:2, not 2:4)")
    return out


def shapes(legs: list[Leg]) -> list[LegShape]:
    """The legs as the payoff sees them."""
    out = []
    for leg in legs:
        parts = parse_occ(leg.symbol)
        sign = 1 if leg.side == "buy" else -1
        out.append(LegShape(sign * leg.ratio_qty, parts.type == "call", parts.strike))
    return out


def build_mleg_request(
    legs: Any,
    *,
    qty: Any = 1,
    type: str = "limit",
    limit_price: Any = None,
    time_in_force: str | None = None,
    client_order_id: str | None = None,
) -> OrderRequest:
    """alpaca-py's mleg request for ``legs`` (``limit_price`` per share: + debit, − credit, 0 allowed)."""
    checked = check_legs(legs)
    q = number("qty", qty, required=True)
    assert q is not None
    if q != int(q):
        raise ValidationError(f"qty of a multi-leg order is a whole number of units, not {qty!r}")
    kind = choice("type", type, ("market", "limit"))
    tif = choice("time_in_force", time_in_force or "day", OPTION.time_in_force)
    price = _net_price(limit_price) if kind == "limit" else None
    if kind == "market" and limit_price is not None:
        raise ValidationError("limit_price does not apply to market orders")
    coid = client_order_id if client_order_id is not None else new_client_order_id()
    if not isinstance(coid, str) or not 0 < len(coid) <= MAX_CLIENT_ORDER_ID:
        raise ValidationError("client_order_id must be a string of 1 to 128 characters")
    requests = [
        OptionLegRequest(symbol=leg.symbol, ratio_qty=float(leg.ratio_qty), side=OrderSide(leg.side),
                         position_intent=PositionIntent(leg.position_intent) if leg.position_intent else None)
        for leg in checked
    ]  # fmt: skip
    common: dict[str, Any] = {"qty": int(q), "time_in_force": tif, "order_class": OrderClass.MLEG,
                              "legs": requests, "client_order_id": coid}  # fmt: skip
    try:
        if kind == "market":
            return MarketOrderRequest(**common)
        return LimitOrderRequest(**common, limit_price=price)
    except ValueError as err:
        raise ValidationError(str(err).splitlines()[-1] if str(err) else "invalid order") from None


def _net_price(value: Any) -> float:
    """A net price per share: any sign (a credit is negative), on cents."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError("limit_price is required (per share: positive a net debit, negative a credit)")
    if isinstance(value, bool):
        raise ValidationError(f"limit_price must be a number, not {value!r}")
    try:
        price = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"limit_price must be a number, not {value!r}") from None
    if not math.isfinite(price) or abs(price) > 100_000:
        raise ValidationError(f"limit_price must be a finite number of dollars per share, not {value!r}")
    if abs(round(price, 2) - price) > 1e-9:
        raise ValidationError(f"limit_price {price!r} is finer than a cent")
    return round(price, 2)


def legs_of(request: Any) -> list[Leg]:
    """The ``Leg``s of an alpaca-py mleg request (for the policy and confirmations)."""
    out = []
    for leg in request.legs or []:
        side = getattr(leg.side, "value", leg.side) or (
            "buy" if "buy" in str(leg.position_intent) else "sell"
        )
        intent = getattr(leg.position_intent, "value", leg.position_intent)
        out.append(Leg(leg.symbol, str(side), int(leg.ratio_qty), intent))
    return out
