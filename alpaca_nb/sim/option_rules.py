"""Validation of option orders as Alpaca does it (ALPACA_WIRE_MORE B4, checklist D21-D23, D26).

* **Single-leg**: whole ``qty`` (``1.0`` is whole: alpaca-py sends floats), no ``notional``, ``day``
  only, ``market`` or ``limit``, no extended hours; prices on the penny grid.
* **Multi-leg** (``order_class: mleg``): no top-level ``symbol``; 2 to 4 ``legs``, each a listed
  contract of one underlying with a whole ``ratio_qty`` and a ``side`` or a ``position_intent``;
  unique symbols; ratios in lowest terms. ``limit_price`` is the net price per unit: positive a
  debit, negative a credit, 0 allowed.
* **Approval levels** (403 ``40310000`` "account not eligible for levelN options trading"): closing
  is always allowed; level 1 sells covered calls and cash-secured puts; level 2 also buys calls and
  puts; level 3 also trades multi-leg orders, whose short legs must each be covered by a long leg of
  the same type in the same order expiring no earlier. A naked short call is refused at every level.
* **Cost basis** of a multi-leg order: the maximum loss at the first expiration over all underlying
  prices (the universal spread rule; later legs valued at intrinsic) plus the net premium, times 100.

Malformed orders are 422 ``40010001``; rules specific to options 422 ``42210000``.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .market.occ import ContractInfo
from .market.venues import Venues
from .order_rules import check_increment
from .orders import ZERO, decimal_field
from .wire import ApiError

INTENTS = ("buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close")
HUNDRED = Decimal(100)


def _invalid(message: str, code: int = 42210000) -> ApiError:
    return ApiError(422, code, message)


def not_eligible(level: int) -> ApiError:
    return ApiError(403, 40310000, f"account not eligible for level{level} options trading")


def _whole(body: dict[str, Any], name: str, label: str | None = None) -> Decimal:
    value = decimal_field(body, name, label)
    if value is None:
        raise _invalid(f"{label or name} is required", 40010001)
    if value <= 0 or value != value.to_integral_value():
        raise _invalid(f"{label or name} must be a whole number of contracts greater than 0", 40010001)
    return value.quantize(Decimal(1))


def _common(body: Any) -> dict[str, Any]:
    """Fields every option order shares: type, time in force, qty, limit price, client order id."""
    if not isinstance(body, dict):
        raise ApiError(400, 40010000, "request body format is invalid")
    kind = body.get("type")
    if kind not in ("market", "limit"):
        raise _invalid(f"invalid type for options: {kind!r} (expected one of market, limit)")
    if body.get("time_in_force") != "day":
        raise _invalid("options orders must be day orders (time_in_force: day)")
    if body.get("extended_hours"):
        raise _invalid("extended hours orders are not supported for options")
    if body.get("notional") is not None:
        raise _invalid("notional orders are not supported for options", 40010001)
    for name in ("stop_price", "trail_price", "trail_percent"):
        if body.get(name) is not None:
            raise _invalid(f"{name} is not allowed for options orders", 40010001)
    limit = decimal_field(body, "limit_price")
    if kind == "limit" and limit is None:
        raise _invalid("limit_price is required for limit orders", 40010001)
    if kind == "market" and limit is not None:
        raise _invalid("limit_price is not allowed for market orders", 40010001)
    if limit is not None and limit != 0:
        check_increment(abs(limit), "limit_price", body["limit_price"])
    coid = body.get("client_order_id") or str(uuid.uuid4())
    if not isinstance(coid, str) or len(coid) > 128:
        raise _invalid("client_order_id must be no more than 128 characters", 40010001)
    return {"type": kind, "time_in_force": "day", "qty": _whole(body, "qty"), "limit_price": limit,
            "client_order_id": coid, "extended_hours": False}  # fmt: skip


def _side_and_intent(leg: dict[str, Any], label: str) -> tuple[str, str | None]:
    side, intent = leg.get("side"), leg.get("position_intent")
    if intent is not None and intent not in INTENTS:
        raise _invalid(f"invalid {label}position_intent: {intent!r}", 40010001)
    if side is None and intent is None:
        raise _invalid(f"{label}side or {label}position_intent is required", 40010001)
    if side is None:
        side = intent.split("_")[0]  # type: ignore[union-attr]
    if side not in ("buy", "sell"):
        raise _invalid(f"invalid {label}side: {side!r} (expected one of buy, sell)", 40010001)
    if intent is not None and not intent.startswith(side):
        raise _invalid(f"{label}position_intent {intent} does not match {label}side {side}")
    return side, intent


def parse_single(body: Any) -> dict[str, Any]:
    """A single-leg option order's fields (``position_intent`` None: derive it from the position)."""
    fields = _common(body)
    if body.get("order_class") not in (None, "", "simple"):
        raise _invalid(f"order_class {body['order_class']} is not supported for single-leg options orders")
    if fields["limit_price"] is not None and fields["limit_price"] <= 0:
        raise _invalid("limit price must be > 0", 40010001)
    side, intent = _side_and_intent(body, "")
    return {**fields, "side": side, "position_intent": intent, "notional": None, "stop_price": None}


@dataclass(frozen=True, slots=True)
class LegSpec:
    info: ContractInfo
    ratio: Decimal
    side: str
    intent: str | None

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1


def parse_mleg(body: Any, venues: Venues) -> tuple[dict[str, Any], list[LegSpec]]:
    """A multi-leg order's fields and its legs (see the module docstring for the rules)."""
    if isinstance(body, dict) and body.get("symbol"):
        raise _invalid("mleg orders take their contracts in legs: symbol is not allowed")
    fields = _common(body)
    legs = body.get("legs")
    if not isinstance(legs, list) or not 2 <= len(legs) <= 4:
        raise _invalid("mleg orders need 2 to 4 legs")
    specs: list[LegSpec] = []
    for n, leg in enumerate(legs):
        if not isinstance(leg, dict) or not isinstance(leg.get("symbol"), str):
            raise _invalid(f"legs[{n}].symbol is required", 40010001)
        info = venues.contract(leg["symbol"])
        if info is None:
            raise _invalid(f'asset "{leg["symbol"]}" not found')
        side, intent = _side_and_intent(leg, f"legs[{n}].")
        specs.append(LegSpec(info, _whole(leg, "ratio_qty", f"legs[{n}].ratio_qty"), side, intent))
    if len({s.info.symbol for s in specs}) != len(specs):
        raise _invalid("the legs of a mleg order must have unique symbols")
    if len({s.info.underlying for s in specs}) != 1:
        raise _invalid("the legs of a mleg order must share one underlying")
    if math.gcd(*(int(s.ratio) for s in specs)) != 1:
        raise _invalid("leg ratios must be in lowest terms (their greatest common divisor must be 1)")
    return fields, specs


def check_coverage(opening: list[LegSpec]) -> None:
    """Every opening short leg covered by opening long legs of its type expiring no earlier."""
    for kind in ("call", "put"):
        shorts = sorted(
            (s for s in opening if s.sign < 0 and s.info.kind == kind), key=lambda s: s.info.expiration
        )
        longs = {s.info.symbol: s.ratio for s in opening if s.sign > 0 and s.info.kind == kind}
        for short in shorts:
            need = short.ratio
            for long in sorted(
                (s for s in opening if s.info.symbol in longs), key=lambda s: s.info.expiration
            ):
                if long.info.expiration < short.info.expiration or need == 0:
                    continue
                take = min(need, longs[long.info.symbol])
                longs[long.info.symbol] -= take
                need -= take
            if need > 0:
                raise ApiError(
                    403, 40310000,
                    f"uncovered short {kind} leg {short.info.symbol}: each short leg needs a long {kind} "
                    "leg in the same order expiring no earlier",
                )  # fmt: skip


def max_loss(legs: list[LegSpec]) -> Decimal:
    """The most a unit of ``legs`` can lose at its first expiration (premium aside), >= 0."""
    strikes = sorted({s.info.strike for s in legs})
    prices = [ZERO, *strikes, strikes[-1] * 2 + 1]

    def payoff(price: Decimal) -> Decimal:
        total = ZERO
        for s in legs:
            k = s.info.strike
            intrinsic = max(price - k, ZERO) if s.info.kind == "call" else max(k - price, ZERO)
            total += s.sign * s.ratio * intrinsic
        return total

    lowest = min(payoff(p) for p in prices)
    slope = sum((s.sign * s.ratio for s in legs if s.info.kind == "call"), ZERO)
    if slope < 0:
        raise ApiError(
            403, 40310000, "naked short calls are not allowed: the order's loss would be unbounded"
        )
    return max(-lowest, ZERO)
