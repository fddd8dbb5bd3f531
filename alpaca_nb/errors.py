"""alpaca_nb's exceptions, and the one place where HTTP answers become them.

Every error the toolkit raises derives from ``AlpacaNbError`` and says what to do next::

    AlpacaNbError
    ├── ConfigurationError            missing keys, unknown mode
    ├── NoSessionError                no session yet: call alpaca_nb.connect()
    ├── ValidationError               bad input caught before anything was sent (also a ValueError)
    ├── LiveTradingLockedError        a live action without allow_live=True; nothing was sent
    ├── RequestTimeoutError           no answer within the timeout
    ├── ConnectionLostError           the connection failed or dropped
    ├── OrderStateUnknownError        an order's fate could not be established (client_order_id given)
    ├── StreamError                   a streaming connection failed
    └── APIError                      Alpaca answered with an error (status, code, message kept)
        ├── AuthenticationError       401, or 403 for bad keys
        ├── InsufficientBuyingPowerError   403 40310000
        ├── SubscriptionError         403 42210000 (e.g. recent SIP data on a free plan)
        ├── NotFoundError             404 40410000
        │   └── SymbolNotFoundError   an unknown symbol or asset
        ├── OrderRejectedError        other 403/422 answers to orders (Alpaca's code and message kept)
        ├── RateLimitError            429 (``retry_after`` in seconds)
        └── ServerError               5xx

No exception text ever contains credentials.
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
    "InsufficientBuyingPowerError",
    "LiveTradingLockedError",
    "NoSessionError",
    "NotFoundError",
    "OrderRejectedError",
    "OrderStateUnknownError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "StreamError",
    "SubscriptionError",
    "SymbolNotFoundError",
    "ValidationError",
    "from_http",
]


class AlpacaNbError(Exception):
    """Base of every alpaca_nb error."""


class ConfigurationError(AlpacaNbError):
    """The session cannot be set up as asked (missing keys, unknown mode)."""


class NoSessionError(AlpacaNbError):
    """No current session."""

    def __init__(
        self, message: str = "no alpaca_nb session: run `%alpaca connect` or alpaca_nb.connect()"
    ) -> None:
        super().__init__(message)


class ValidationError(AlpacaNbError, ValueError):
    """Bad input, caught before anything was sent."""


class LiveTradingLockedError(AlpacaNbError):
    """A live-account action was refused locally; nothing was sent."""


class RequestTimeoutError(AlpacaNbError, TimeoutError):
    """No answer within the session's timeout."""


class ConnectionLostError(AlpacaNbError, ConnectionError):
    """The connection could not be made or was dropped."""


class OrderStateUnknownError(AlpacaNbError):
    """The toolkit could not establish whether an order exists; check it by ``client_order_id``."""

    def __init__(self, message: str, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class StreamError(AlpacaNbError):
    """A streaming connection failed."""


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
    message = str(body.get("message") or text.strip()[:200] or f"HTTP {status}")
    context: dict[str, Any] = {"method": method, "path": path, "request_id": request_id, "body": body}
    if status == 429:
        return RateLimitError(status, code, message, retry_after=retry_after, **context)
    if status >= 500:
        return ServerError(status, code, message, **context)
    if status == 401 or code == 40110000:
        return AuthenticationError(status, code, message, **context)
    if status == 403:
        if code == 42210000 or "subscription" in message:
            return SubscriptionError(status, code, message, **context)
        if "buying power" in message:
            return InsufficientBuyingPowerError(status, code, message, **context)
        if code == 40310000 or "/orders" in path or "/positions" in path:
            return OrderRejectedError(status, code, message, **context)
        return AuthenticationError(status, code, message, **context)
    if status == 404:
        if "asset" in message or "/assets" in path:
            return SymbolNotFoundError(status, code, message, **context)
        return NotFoundError(status, code, message, **context)
    if "asset" in message and "not found" in message:
        return SymbolNotFoundError(status, code, message, **context)
    return OrderRejectedError(status, code, message, **context)
