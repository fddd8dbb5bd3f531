"""Validation of crypto orders as Alpaca does it (ALPACA_WIRE_MORE A3, checklist D12-D16).

* Simple orders only (a ``take_profit``/``stop_loss`` without ``order_class`` is ignored, as Alpaca
  ignores it); types ``market``, ``limit``, ``stop_limit``; time in force ``gtc`` or ``ioc``.
* ``qty`` (at most 9 decimals, at least the pair's ``min_order_size``, a multiple of its
  ``min_trade_increment``) or ``notional`` (at least $1); prices on the pair's ``price_increment``.
* Not marginable, not shortable: buys spend ``non_marginable_buying_power``, sells the coins held;
  both answer 403 ``40310000`` "insufficient balance for USD|BTC (requested: …, available: …)".
  At most $200,000 per order (422).

Closing orders (``DELETE /v2/positions/…``) skip the size rules: a position may be dust.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from .ledger import Account, valuation
from .market.pairs import PairInfo
from .market.venues import Venues
from .orders import ZERO, Order, decimal_field, fmt
from .wire import ApiError

CRYPTO_TYPES = ("market", "limit", "stop_limit")
CRYPTO_TIF = ("gtc", "ioc")
MAX_NOTIONAL = Decimal(200_000)


def _invalid(code: int, message: str, **extra: Any) -> ApiError:
    return ApiError(422, code, message, **extra)


def _multiple(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


def parse_crypto_order(body: Any, info: PairInfo, *, closing: bool = False) -> dict[str, Any]:
    """Validate a POST /v2/orders body for a crypto pair; the fields for ``Order``."""
    if not isinstance(body, dict):
        raise ApiError(400, 40010000, "request body format is invalid")
    if body.get("order_class") not in (None, "", "simple"):
        raise _invalid(42210000, "crypto orders support only simple orders")
    side = body.get("side")
    if side not in ("buy", "sell"):
        raise _invalid(40010001, f"invalid side: {side!r} (expected one of buy, sell)")
    kind = body.get("type")
    if kind not in CRYPTO_TYPES:
        raise _invalid(
            40010001, f"invalid type for crypto: {kind!r} (expected one of {', '.join(CRYPTO_TYPES)})"
        )
    tif = body.get("time_in_force")
    if tif not in CRYPTO_TIF:
        raise _invalid(42210000, "invalid crypto time_in_force", time_in_force=tif, allowed=list(CRYPTO_TIF))
    if body.get("extended_hours"):
        raise _invalid(42210000, "extended hours orders are not supported for crypto (it trades 24/7)")
    qty, notional = decimal_field(body, "qty"), decimal_field(body, "notional")
    _check_size(qty, notional, info, closing)
    prices = {n: _price(body, n, info) for n in ("limit_price", "stop_price")}
    needs = {"limit_price": kind in ("limit", "stop_limit"), "stop_price": kind == "stop_limit"}
    for name, needed in needs.items():
        if needed and prices[name] is None:
            raise _invalid(40010001, f"{name} is required for {kind} orders")
        if not needed and prices[name] is not None:
            raise _invalid(40010001, f"{name} is not allowed for {kind} orders")
    if body.get("trail_price") is not None or body.get("trail_percent") is not None:
        raise _invalid(40010001, "trail_price and trail_percent are only allowed for trailing_stop orders")
    coid = body.get("client_order_id") or str(uuid.uuid4())
    if not isinstance(coid, str) or len(coid) > 128:
        raise _invalid(40010001, "client_order_id must be no more than 128 characters")
    return {
        "side": side,
        "type": kind,
        "time_in_force": tif,
        "qty": qty,
        "notional": notional,
        "extended_hours": False,
        "client_order_id": coid,
        "order_class": "",
        "trail_price": None,
        "trail_percent": None,
        **prices,
    }


def _check_size(qty: Decimal | None, notional: Decimal | None, info: PairInfo, closing: bool) -> None:
    if (qty is None) == (notional is None):
        raise _invalid(
            40010001,
            "qty or notional is required" if qty is None else "only one of qty or notional is accepted",
        )
    amount, name = (qty, "qty") if qty is not None else (notional, "notional")
    assert amount is not None
    if amount <= 0:
        raise _invalid(40010001, f"{name} must be > 0")
    if amount.as_tuple().exponent < -9:  # type: ignore[operator]
        raise _invalid(40010001, f"{name} must have at most 9 decimal places")
    if notional is not None:
        if notional < 1:
            raise _invalid(40010001, "cost basis must be >= 1")
        return
    assert qty is not None
    if closing:
        return
    minimum = Decimal(info.min_order_size)
    if qty < minimum:
        raise _invalid(
            40010001,
            f"qty {fmt(qty)} is below the minimum order size {info.min_order_size} for {info.symbol}",
        )
    if not _multiple(qty, info.qty_step):
        raise _invalid(
            40010001,
            f"qty {fmt(qty)} is not a multiple of the minimum trade increment {info.min_trade_increment}"
            f" for {info.symbol}",
        )


def _price(body: dict[str, Any], name: str, info: PairInfo) -> Decimal | None:
    value = decimal_field(body, name)
    if value is None:
        return None
    if value <= 0:
        raise _invalid(40010001, f"{name.replace('_', ' ')} must be > 0")
    if not _multiple(value, Decimal(info.price_increment)):
        raise _invalid(
            42210000,
            f"invalid {name} {body[name]}. price increment for {info.symbol} is {info.price_increment}",
        )
    return value


def floor_to_step(qty: Decimal, step: Decimal) -> Decimal:
    return (qty // step) * step


def check_crypto_funds(venues: Venues, acct: Account, order: Order, info: PairInfo, now: int) -> None:
    """$200k per order; buys within non-marginable buying power; sells within the coins held."""
    quote = venues.quote_at(order.symbol, now)
    if quote is None:
        raise ApiError(422, 40010001, f"no market for {order.symbol}")
    bid, ask = Decimal(str(quote[0])), Decimal(str(quote[1]))
    price = order.limit_price or (ask if order.side == "buy" else bid)
    value = order.notional if order.notional is not None else (order.qty or ZERO) * price
    if value > MAX_NOTIONAL:
        raise _invalid(
            40010001, f"order notional {fmt(value.quantize(Decimal('0.01')))} exceeds the maximum of 200000"
        )
    if order.side == "buy":
        available = valuation(venues, acct, now)["non_marginable_buying_power"]
        if value > available:
            raise _balance("USD", value.quantize(Decimal("0.01")), available)
        return
    qty = order.qty if order.qty is not None else floor_to_step((order.notional or ZERO) / bid, info.qty_step)
    held = acct.position_qty(info.position_symbol)
    selling = sum(
        (o.remaining() for o in acct.working_orders() if o.side == "sell" and o.symbol == order.symbol), ZERO
    )
    available = max(held - selling, ZERO)
    if qty > available:
        raise _balance(info.symbol.split("/")[0], qty, available, balance=held)


def _balance(asset: str, requested: Decimal, available: Decimal, balance: Decimal | None = None) -> ApiError:
    return ApiError(
        403,
        40310000,
        f"insufficient balance for {asset} (requested: {fmt(requested)}, available: {fmt(available)})",
        available=fmt(available),
        balance=fmt(available if balance is None else balance),
        symbol=asset,
    )
