"""An order's fields checked and turned into alpaca-py's request: the input rules, before anything
about the account or the market is known (those are ``checks``).

Every entry point (``Session.submit_order``, ``%alpaca buy/sell``, the ticket) builds its request
here, so a field means the same everywhere and a bad one gets the same one-line error.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

from alpaca.trading.enums import OrderClass
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from .._wire import asset_class, normalize_symbol, to_decimal
from ..errors import ValidationError

SIDES = ("buy", "sell")
_PLAIN_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", re.ASCII)
MAX_CLIENT_ORDER_ID = 128


def new_client_order_id() -> str:
    return f"anb-{uuid.uuid4()}"


def number(name: str, value: Any, *, required: bool = False) -> float | None:
    """A positive finite number, or None when not given (``required``: a ValidationError instead)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"{name} is required")
        return None
    if isinstance(value, bool) or (isinstance(value, str) and not _PLAIN_NUMBER.fullmatch(value)):
        raise ValidationError(f"{name} must be a number, not {value!r}")  # not "1_000" nor "١٠"
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(result) or result <= 0:
        raise ValidationError(f"{name} must be a positive number, not {value!r}")
    return result


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = str(value).strip().lower() if value is not None else ""
    if text not in allowed:
        raise ValidationError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return text


def price_on_steps(name: str, value: Any, symbol: str, *, required: bool = False) -> float | None:
    """A price Alpaca accepts: positive, and on the asset class's increments (no sub-pennies).

    Float noise is forgiven (``1 + 0.57`` is 1.5699999999999998: sent as 1.57); a real extra decimal
    (``151.515``) is refused, as Alpaca would refuse it."""
    price = number(name, value, required=required)
    if price is None:
        return None
    cls = asset_class(symbol)
    for places in range(0, (cls.price_places or 4) + 1):
        rounded = round(price, places)
        # noise is relative to the price: an absolute 1e-9 rounded a tiny positive price to 0 and sent it
        if abs(rounded - price) <= 1e-9 * price and cls.price_step_ok(to_decimal(name, rounded)):
            return rounded
    step = (
        f"{cls.price_places} decimals" if cls.price_places is not None
        else "2 decimals at $1 and above" if price >= 1 else "4 decimals below $1"
    )  # fmt: skip
    raise ValidationError(f"{name} {price!r} is finer than Alpaca's price increments ({step})")


def _places(name: str, value: float | None, cls: Any) -> float | None:
    """Crypto quantities go to at most 9 decimals (Alpaca's rule); float noise (``0.1 + 0.2``) is
    forgiven, a real tenth decimal is refused. Stocks are left as they are."""
    if value is None or cls.price_places is None:
        return value
    rounded: float = round(value, cls.price_places)
    if rounded <= 0 or abs(rounded - value) > 1e-12 * value:  # relative: 0.0001000000001 is not noise
        raise ValidationError(f"{name} {value!r} has more than {cls.price_places} decimals")
    return rounded


def _leg(name: str, value: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """``take_profit=160`` or ``{"limit_price": 160}``; ``stop_loss=145`` or ``{"stop_price": 145, ...}``."""
    if isinstance(value, Mapping):
        unknown = set(value) - set(keys)
        if unknown:
            raise ValidationError(f"{name} takes {', '.join(keys)}, not {', '.join(sorted(unknown))}")
        return dict(value)
    return {keys[0]: value}


def build_order_request(
    symbol: str,
    *,
    qty: float | str | None = None,
    notional: float | str | None = None,
    side: str = "buy",
    type: str = "market",
    time_in_force: str | None = None,
    limit_price: float | str | None = None,
    stop_price: float | str | None = None,
    trail_price: float | str | None = None,
    trail_percent: float | str | None = None,
    extended_hours: bool = False,
    client_order_id: str | None = None,
    order_class: str | None = None,
    take_profit: float | str | Mapping[str, Any] | None = None,
    stop_loss: float | str | Mapping[str, Any] | None = None,
) -> OrderRequest:
    """Check an order's fields and build alpaca-py's request; ``ValidationError`` names the problem.

    ``order_class="bracket"`` (entry + take-profit + stop-loss), ``"oco"`` (an exit pair for a
    position) or ``"oto"`` (entry + one exit); ``take_profit`` is a limit price, ``stop_loss`` a stop
    price or ``{"stop_price": P, "limit_price": L}``.
    """
    symbol = normalize_symbol(symbol)
    cls = asset_class(symbol)
    side = choice("side", side, SIDES)
    kind = choice("type", type, cls.order_types)
    # None: the class's usual one (stocks "day", crypto "gtc": crypto has no trading day)
    tif = choice("time_in_force", cls.time_in_force[0] if time_in_force is None else time_in_force,
                 cls.time_in_force)  # fmt: skip
    klass = choice("order_class", order_class or "simple", cls.order_classes)
    q, n = _places("qty", number("qty", qty), cls), _places("notional", number("notional", notional), cls)
    if (q is None) == (n is None):
        raise ValidationError("give exactly one of qty or notional")
    kinds, tifs = cls.notional
    if n is not None and not kinds:
        raise ValidationError(f"notional orders do not apply to {cls.label}s: give a qty")
    if q is not None and cls.multiplier != 1 and q != int(q):
        raise ValidationError(f"{cls.label}s trade in whole numbers, not {qty!r}")
    if n is not None and (kind not in kinds or tif not in tifs):
        raise ValidationError(
            f"notional orders must be {' or '.join(kinds)} orders with time_in_force "
            f"{' or '.join(repr(t) for t in tifs)}"
        )
    # An OCO's limit is its take-profit's: alpaca-py lets the top-level one be left out.
    limit_needed = kind == "stop_limit" or (kind == "limit" and klass != "oco")
    prices = {
        "limit_price": price_on_steps("limit_price", limit_price, symbol, required=limit_needed),
        "stop_price": price_on_steps(
            "stop_price", stop_price, symbol, required=kind in ("stop", "stop_limit")
        ),
    }
    for name, value in prices.items():
        wanted = {"limit_price": ("limit", "stop_limit"), "stop_price": ("stop", "stop_limit")}[name]
        if value is not None and kind not in wanted:
            raise ValidationError(f"{name} does not apply to {kind} orders")
    trail = {"trail_price": number("trail_price", trail_price),
             "trail_percent": number("trail_percent", trail_percent)}  # fmt: skip
    given = [k for k, v in trail.items() if v is not None]
    if kind == "trailing_stop" and len(given) != 1:
        raise ValidationError("trailing_stop orders need exactly one of trail_price or trail_percent")
    if kind != "trailing_stop" and given:
        raise ValidationError(f"{given[0]} only applies to trailing_stop orders")
    if extended_hours and not cls.extended_hours:
        raise ValidationError(f"extended_hours does not apply to {cls.label}s: they trade around the clock")
    if extended_hours and (kind != "limit" or tif not in ("day", "gtc")):
        raise ValidationError("extended_hours needs a limit order with time_in_force 'day' or 'gtc'")
    coid = client_order_id if client_order_id is not None else new_client_order_id()
    if not isinstance(coid, str) or not 0 < len(coid) <= MAX_CLIENT_ORDER_ID:
        raise ValidationError("client_order_id must be a string of 1 to 128 characters")
    legs = _advanced(klass, kind, side, tif, q, n, extended_hours, prices, symbol, take_profit, stop_loss)
    common: dict[str, Any] = {
        "symbol": symbol,
        "qty": q,
        "notional": n,
        "side": side,
        "time_in_force": tif,
        "extended_hours": extended_hours or None,
        "client_order_id": coid,
        **legs,
    }
    try:
        if kind == "market":
            return MarketOrderRequest(**common)
        if kind == "limit":
            return LimitOrderRequest(**common, limit_price=prices["limit_price"])
        if kind == "stop":
            return StopOrderRequest(**common, stop_price=prices["stop_price"])
        if kind == "stop_limit":
            return StopLimitOrderRequest(**common, **prices)
        return TrailingStopOrderRequest(**common, **trail)
    except ValueError as err:  # pydantic's own checks
        raise ValidationError(str(err).splitlines()[-1] if str(err) else "invalid order") from None


def _advanced(
    klass: str,
    kind: str,
    side: str,
    tif: str,
    qty: float | None,
    notional: float | None,
    extended_hours: bool,
    prices: dict[str, float | None],
    symbol: str,
    take_profit: Any,
    stop_loss: Any,
) -> dict[str, Any]:
    """The order_class, take_profit and stop_loss of a bracket, OCO or OTO order, checked as Alpaca does."""
    if klass == "simple":
        if take_profit is not None or stop_loss is not None:
            raise ValidationError("take_profit/stop_loss need order_class 'bracket', 'oco' or 'oto'")
        return {}
    if kind not in ("market", "limit") or (klass == "oco" and kind != "limit"):
        raise ValidationError(
            f"{klass} orders must be {'limit' if klass == 'oco' else 'market or limit'} orders"
        )
    if tif not in ("day", "gtc"):
        raise ValidationError(f"{klass} orders need time_in_force 'day' or 'gtc'")
    if notional is not None or (qty is not None and qty != int(qty)):
        raise ValidationError(f"{klass} orders need a whole-share qty")
    if extended_hours:
        raise ValidationError(f"{klass} orders cannot trade in extended hours")
    tp = _leg("take_profit", take_profit, ("limit_price",)) if take_profit is not None else None
    sl = _leg("stop_loss", stop_loss, ("stop_price", "limit_price")) if stop_loss is not None else None
    if klass in ("bracket", "oco") and (tp is None or sl is None):
        raise ValidationError(f"{klass} orders need both take_profit and stop_loss")
    if klass == "oto" and (tp is None) == (sl is None):
        raise ValidationError("oto orders need exactly one of take_profit or stop_loss")
    out: dict[str, Any] = {"order_class": OrderClass(klass)}
    tp_price = sl_price = None
    if tp is not None:
        tp_price = price_on_steps("take_profit", tp.get("limit_price"), symbol, required=True)
        assert tp_price is not None
        out["take_profit"] = TakeProfitRequest(limit_price=tp_price)
    if sl is not None:
        sl_price = price_on_steps("stop_loss", sl.get("stop_price"), symbol, required=True)
        sl_limit = price_on_steps("stop_loss limit_price", sl.get("limit_price"), symbol)
        assert sl_price is not None
        out["stop_loss"] = StopLossRequest(stop_price=sl_price, limit_price=sl_limit)
    if tp_price is not None and sl_price is not None:
        # The exits protect a long position when a bracket buys, or when an OCO (itself the exit) sells.
        long = (side == "buy") == (klass == "bracket")
        if tp_price <= sl_price if long else tp_price >= sl_price:
            relation = "above" if long else "below"
            raise ValidationError(f"take_profit {tp_price:g} must be {relation} stop_loss {sl_price:g}")
    return out
