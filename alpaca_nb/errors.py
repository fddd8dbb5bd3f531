"""alpaca_nb's exceptions, and the one place where HTTP answers become them (``from_http``).

Every error the toolkit raises derives from ``AlpacaNbError`` and says what to do next::

    AlpacaNbError
    ├── ConfigurationError            missing keys, unknown mode, bad connect() arguments
    ├── NoSessionError                no session yet: call alpaca_nb.connect()
    ├── ValidationError               bad input caught before anything was sent (also a ValueError)
    │   └── PreTradeRefusal           the pre-trade policy refused an order (price, limits, asset)
    ├── LiveTradingLockedError        a live action without allow_live=True; nothing was sent
    ├── TransportError                no usable answer: the request's outcome is unknown
    │   ├── RequestTimeoutError       no answer within the timeout
    │   ├── ConnectionLostError       the connection failed or dropped
    │   └── InvalidResponseError      an answer cut off, or a body that is not what Alpaca sends
    ├── OrderStateUnknownError        an order's fate could not be established (client_order_id given)
    ├── StreamError                   a streaming connection failed
    ├── StoreError                    a bar store on disk cannot be used as asked (not a store, another
    │   │                             feed, a manifest edited by hand, a range not downloaded)
    │   └── StoreBusyError            another download holds the store's lock
    └── APIError                      Alpaca answered with an error (status, code, message kept)
        ├── AuthenticationError       401, or 403 for bad keys
        ├── InsufficientBuyingPowerError   403 40310000 about buying power
        ├── SubscriptionError         403 about the market-data plan (e.g. recent SIP data)
        ├── NotFoundError             404 40410000
        │   └── SymbolNotFoundError   an unknown symbol or asset
        ├── OrderRejectedError        403/422 answers to order requests (Alpaca's code and message kept)
        │   └── DuplicateClientOrderIdError   422 "client_order_id must be unique"
        ├── RateLimitError            429 (``retry_after`` in seconds)
        └── ServerError               5xx

Translation is keyed on the HTTP status, Alpaca's code and the request; the message text is read only
where Alpaca's code is shared by several meanings. No exception text ever contains credentials.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "APIError",
    "AlpacaNbError",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionLostError",
    "DuplicateClientOrderIdError",
    "InsufficientBuyingPowerError",
    "InvalidResponseError",
    "LiveTradingLockedError",
    "NoSessionError",
    "NotFoundError",
    "OrderRejectedError",
    "OrderStateUnknownError",
    "PreTradeRefusal",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "StoreBusyError",
    "StoreError",
    "StreamError",
    "SubscriptionError",
    "SymbolNotFoundError",
    "TransportError",
    "ValidationError",
    "from_http",
]


class AlpacaNbError(Exception):
    """Base of every alpaca_nb error."""


class ConfigurationError(AlpacaNbError):
    """The session cannot be set up as asked (missing keys, unknown mode, bad arguments)."""


class NoSessionError(AlpacaNbError):
    """No current session."""

    def __init__(
        self, message: str = "no alpaca_nb session: run `%alpaca connect` or alpaca_nb.connect()"
    ) -> None:
        super().__init__(message)


class ValidationError(AlpacaNbError, ValueError):
    """Bad input, caught before anything was sent."""


class PreTradeRefusal(ValidationError):
    """The pre-trade policy refused the order (unknown price, a limit, the asset); nothing was sent."""


class LiveTradingLockedError(AlpacaNbError):
    """A live-account action was refused locally; nothing was sent."""


class TransportError(AlpacaNbError):
    """No usable answer came back: whether the request took effect is unknown."""


class RequestTimeoutError(TransportError, TimeoutError):
    """No answer within the session's timeout."""


class ConnectionLostError(TransportError, ConnectionError):
    """The connection could not be made or was dropped."""


class InvalidResponseError(TransportError):
    """The answer was cut off, or its body is not what Alpaca sends (not JSON)."""


class OrderStateUnknownError(AlpacaNbError):
    """The toolkit could not establish whether an order exists; check it by ``client_order_id``."""

    def __init__(self, message: str, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class StreamError(AlpacaNbError):
    """A streaming connection failed."""


class StoreError(AlpacaNbError):
    """A bar store on disk cannot be used as asked; nothing in it was changed."""


class StoreBusyError(StoreError):
    """Another download is writing to the same bar store (its lock file is held)."""


class APIError(AlpacaNbError):
    """Alpaca (or the simulator) answered with an error.

    Attributes: ``status`` (HTTP), ``code`` (Alpaca's 8-digit code or None), ``message`` (Alpaca's),
    ``method`` and ``path`` of the request, ``request_id`` if the server sent one, ``body`` (parsed).
    """

    hint = ""

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        *,
        method: str = "",
        path: str = "",
        request_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.path = path
        self.request_id = request_id
        self.body = body or {}
        where = f" ({method} {path})" if method else ""
        code_text = f" {code}" if code is not None else ""
        hint = f" — {self.hint}" if self.hint else ""
        super().__init__(f"{message} [HTTP {status}{code_text}]{where}{hint}")


class AuthenticationError(APIError):
    hint = "check APCA_API_KEY_ID / APCA_API_SECRET_KEY (paper and live keys differ)"


class InsufficientBuyingPowerError(APIError):
    hint = "reduce the quantity or free buying power"


class SubscriptionError(APIError):
    hint = 'your market-data plan does not cover this: try feed="iex"'


class NotFoundError(APIError):
    pass


class SymbolNotFoundError(NotFoundError):
    hint = "check the symbol (see /v2/assets)"


class OrderRejectedError(APIError):
    pass


class DuplicateClientOrderIdError(OrderRejectedError):
    hint = "an order with this client_order_id exists already: look it up instead of sending again"


class RateLimitError(APIError):
    hint = "Alpaca allows 200 requests per minute per key"

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class ServerError(APIError):
    hint = "the service had a problem; retry later"


def _parse_body(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except (ValueError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


_ORDER_PATHS = ("/orders", "/positions")


def _error_class(status: int, code: int | None, message: str, body: dict[str, Any], method: str, path: str
                 ) -> type[APIError]:  # fmt: skip
    """The class for one error answer: the status and Alpaca's code first, then the request."""
    text = message.lower()
    changes_orders = method in ("POST", "PATCH", "DELETE") and any(p in path for p in _ORDER_PATHS)
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    if status == 401 or code == 40110000:
        return AuthenticationError
    if status == 403:
        if code == 40310000 or changes_orders:
            # 40310000 covers buying power, qty held for orders, wash trades...: Alpaca tells them
            # apart by the body's fields (buying_power, cost_basis) and, failing those, its message.
            if "buying_power" in body or "buying power" in text:
                return InsufficientBuyingPowerError
            return OrderRejectedError if changes_orders else APIError
        if code == 42210000 or "subscription" in text:
            return SubscriptionError
        return AuthenticationError if code is None and "forbidden" in text else APIError
    if status == 404:
        return SymbolNotFoundError if "/assets" in path or "asset" in text else NotFoundError
    if status in (400, 422) and changes_orders:
        if "client_order_id" in text and "unique" in text:
            return DuplicateClientOrderIdError
        if "asset" in text and "not found" in text:
            return SymbolNotFoundError
        return OrderRejectedError
    return APIError


def from_http(
    status: int,
    text: str,
    *,
    method: str = "",
    path: str = "",
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """Translate one HTTP error answer into the matching ``APIError`` subclass."""
    body = _parse_body(text)
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = str(body.get("message") or " ".join(text.split())[:200] or f"HTTP {status}")  # one line
    cls = _error_class(status, code, message, body, method.upper(), path)
    context: dict[str, Any] = {"method": method, "path": path, "request_id": request_id, "body": body}
    if cls is RateLimitError:
        return RateLimitError(status, code, message, retry_after=retry_after, **context)
    return cls(status, code, message, **context)
