"""Orders made safe: validation before sending, one client_order_id per intended order, recovery.

``place_order`` is the only path by which alpaca_nb submits an order. Its rule: an intended order
exists exactly once. The POST is never resent blindly; after a timeout, a dropped connection or a
5xx, the order is first looked up by its ``client_order_id`` and resent (with the same id, which
Alpaca refuses to duplicate) only if it is not there.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from typing import Any

from alpaca.trading.client import TradingClient
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)

from .config import AccountConfig
from .errors import (
    ConnectionLostError,
    NotFoundError,
    OrderRejectedError,
    OrderStateUnknownError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    ValidationError,
)
from .rest import RateLimiter, SafeRESTMixin

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
TIME_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
SUBMIT_ATTEMPTS = 4
AMBIGUOUS = (RequestTimeoutError, ConnectionLostError, ServerError)


class SafeTradingClient(SafeRESTMixin, TradingClient):
    """alpaca-py's ``TradingClient`` with alpaca_nb's timeouts, limiter and errors (see ``rest``)."""

    def __init__(self, account: AccountConfig, *, timeout: float, limiter: RateLimiter) -> None:
        creds = account.credentials
        super().__init__(
            creds.key_id.reveal(),
            creds.secret_key.reveal(),
            paper=account.kind == "paper",
            url_override=account.endpoints.trading,
        )
        self._anb_setup(timeout=timeout, limiter=limiter, account=account.kind)

    def __repr__(self) -> str:
        return f"<SafeTradingClient {self._anb_account} {self._base_url}>"


def new_client_order_id() -> str:
    return f"anb-{uuid.uuid4()}"


def _number(name: str, value: Any, *, required: bool = False) -> float | None:
    if value is None:
        if required:
            raise ValidationError(f"{name} is required")
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ValidationError(f"{name} must be a positive number, not {value!r}")
    return number


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = str(value).lower() if value is not None else ""
    if text not in allowed:
        raise ValidationError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return text


def build_order_request(
    symbol: str,
    *,
    qty: float | str | None = None,
    notional: float | str | None = None,
    side: str = "buy",
    type: str = "market",
    time_in_force: str = "day",
    limit_price: float | str | None = None,
    stop_price: float | str | None = None,
    trail_price: float | str | None = None,
    trail_percent: float | str | None = None,
    extended_hours: bool = False,
    client_order_id: str | None = None,
) -> OrderRequest:
    """Check an order and build alpaca-py's request for it; ``ValidationError`` names the problem."""
    if not isinstance(symbol, str) or not SYMBOL_RE.match(symbol.strip().upper()):
        raise ValidationError(f"not a valid stock symbol: {symbol!r}")
    side = _choice("side", side, SIDES)
    kind = _choice("type", type, ORDER_TYPES)
    tif = _choice("time_in_force", time_in_force, TIME_IN_FORCE)
    q, n = _number("qty", qty), _number("notional", notional)
    if (q is None) == (n is None):
        raise ValidationError("give exactly one of qty or notional")
    if n is not None and (kind != "market" or tif != "day"):
        raise ValidationError("notional orders must be market orders with time_in_force='day'")
    prices = {
        "limit_price": _number("limit_price", limit_price, required=kind in ("limit", "stop_limit")),
        "stop_price": _number("stop_price", stop_price, required=kind in ("stop", "stop_limit")),
    }
    for name, value in prices.items():
        wanted = {"limit_price": ("limit", "stop_limit"), "stop_price": ("stop", "stop_limit")}[name]
        if value is not None and kind not in wanted:
            raise ValidationError(f"{name} does not apply to {kind} orders")
    trail = {
        "trail_price": _number("trail_price", trail_price),
        "trail_percent": _number("trail_percent", trail_percent),
    }
    given = [k for k, v in trail.items() if v is not None]
    if kind == "trailing_stop" and len(given) != 1:
        raise ValidationError("trailing_stop orders need exactly one of trail_price or trail_percent")
    if kind != "trailing_stop" and given:
        raise ValidationError(f"{given[0]} only applies to trailing_stop orders")
    if extended_hours and (kind != "limit" or tif not in ("day", "gtc")):
        raise ValidationError("extended_hours needs a limit order with time_in_force 'day' or 'gtc'")
    coid = client_order_id or new_client_order_id()
    if not isinstance(coid, str) or not 0 < len(coid) <= 128:
        raise ValidationError("client_order_id must be a string of 1 to 128 characters")
    common: dict[str, Any] = {
        "symbol": symbol.strip().upper(),
        "qty": q,
        "notional": n,
        "side": side,
        "time_in_force": tif,
        "extended_hours": extended_hours or None,
        "client_order_id": coid,
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


def find_order(client: TradingClient, client_order_id: str, attempts: int = 3) -> Order | None:
    """The order with ``client_order_id``, None if Alpaca has none; raises if it cannot tell."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            order = client.get_order_by_client_id(client_order_id)
            assert isinstance(order, Order)
            return order
        except NotFoundError:
            return None
        except (*AMBIGUOUS, RateLimitError) as err:
            last = err
            time.sleep(0.2)
    raise OrderStateUnknownError(
        f"could not check whether order {client_order_id} exists ({last}); "
        f"look it up with get_order_by_client_id({client_order_id!r}) before placing it again",
        client_order_id,
    )


def place_order(client: TradingClient, request: OrderRequest) -> Order:
    """Submit ``request`` so that it exists exactly once, whatever happens on the wire."""
    coid = request.client_order_id
    assert coid, "build_order_request always sets a client_order_id"
    last: Exception | None = None
    for attempt in range(SUBMIT_ATTEMPTS):
        try:
            order = client.submit_order(request)
            assert isinstance(order, Order)
            return order
        except RateLimitError as err:  # refused before it was processed: the same id may be resent
            last = err
            time.sleep(min(err.retry_after or 1.0, 60.0))
        except AMBIGUOUS as err:  # it may or may not have been placed: look before resending
            last = err
            found = find_order(client, coid)
            if found is not None:
                return found
        except OrderRejectedError as err:
            if attempt > 0 and "client_order_id" in err.message:  # our earlier attempt did land
                found = find_order(client, coid)
                if found is not None:
                    return found
            raise
    raise OrderStateUnknownError(
        f"order {coid} was not confirmed after {SUBMIT_ATTEMPTS} attempts (last: {last}); "
        f"it was not found when last checked — check get_order_by_client_id({coid!r}) "
        "before placing it again",
        coid,
    )
