"""HTTP plumbing shared by the simulator's REST routes: auth, rate limits, faults, request log, and
Alpaca's JSON error bodies for everything that goes wrong (unknown routes, wrong methods, bugs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from .broker import Account, Broker
from .faults import FaultRule, Faults
from .transport import Compressor, Link
from .wire import ApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Market data that needs no keys (Alpaca: "with the exception of historical crypto data, all market
# data endpoints require authentication"); any keys sent are accepted, right or wrong.
KEYLESS_PREFIXES = ("/v1beta3/crypto/",)

# Request-scoped values set by the gate and the routes.
ACCOUNT = web.RequestKey("account", Account)
CLIENT_ORDER_ID = web.RequestKey("client_order_id", str)

_FAULT_MESSAGES = {
    429: (42910000, "rate limit exceeded"),
    500: (50010000, "internal server error"),
    502: (50210000, "bad gateway"),
    503: (50310000, "service unavailable"),
    504: (50410000, "gateway timeout"),
}
# What a proxy in front of an API sends when the service behind it is gone (garbage faults).
_HTML_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)
# Alpaca's bodies for requests no route answers.
_ROUTING_ERRORS = {404: (40410000, "endpoint not found"), 405: (40510000, "method not allowed")}
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the simulator received (for tests: what reached which account; for benchmarks:
    ``seconds``, the simulator's own time to answer it, compression included and the emulated link's
    waits left out)."""

    method: str
    path: str
    account: str | None
    status: int
    at: float
    client_order_id: str | None = None
    seconds: float = 0.0


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def raw_json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


def error_response(err: ApiError) -> web.Response:
    return raw_json_response(err.body(), err.status)


def http_error_response(exc: web.HTTPException) -> web.Response:
    """An aiohttp HTTP error (no route, wrong method, bad upgrade) as an Alpaca JSON body."""
    code, message = _ROUTING_ERRORS.get(exc.status, (exc.status * 100_000 + 10_000, exc.reason.lower()))
    response = error_response(ApiError(exc.status, code, message))
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def fault_response(status: int) -> web.Response:
    code, message = _FAULT_MESSAGES.get(status, (status * 100_000 + 10_000, "simulated failure"))
    response = error_response(ApiError(status, code, message))
    if status == 429:
        response.headers.update({"Retry-After": "1", "X-RateLimit-Remaining": "0"})
    return response


class _Dropped(web.Response):
    """What the middleware returns for a connection it reset: there is no answer to send."""


class RateLimiter:
    """Alpaca's per-key limit: ``limit`` requests per 60-second window, with X-RateLimit-* headers."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def hit(self, key: str, api: str) -> tuple[bool, dict[str, str]]:
        if self.limit is None:
            return True, {}
        now = time.time()
        start, count = self._windows.get((key, api), (now, 0))
        if now - start >= 60:
            start, count = now, 0
        allowed = count < self.limit
        count += allowed
        self._windows[(key, api)] = (start, count)
        reset = int(start + 60)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - count),
            "X-RateLimit-Reset": str(reset),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, int(reset - now + 0.999)))
        return allowed, headers


class Gate:
    """The middleware: request log, faults, routing errors, authentication, rate limits, and then the
    handler, whose errors (ApiError, aiohttp's HTTP errors, bad JSON, bugs) become Alpaca JSON."""

    def __init__(
        self,
        broker: Broker,
        faults: Faults,
        trading_limit: RateLimiter,
        data_limit: RateLimiter,
        log: deque[RequestRecord],
        compressor: Compressor,
        link: Link,
    ) -> None:
        self.broker = broker
        self.faults = faults
        self.limits = {"trading": trading_limit, "data": data_limit}
        self.log = log
        self.compressor = compressor
        self.link = link
        self.bytes_sent = 0  # HTTP answers: status line, headers and body as sent (not WebSockets)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)  # streams authenticate in-band
        with contextlib.suppress(ConnectionError):
            await request.read()  # the body arrives before any stall, as it would over a network
        started = time.perf_counter()
        keyless = request.path.startswith(KEYLESS_PREFIXES)
        api = "data" if keyless or request.path.startswith(("/v2/stocks", "/v1beta1/")) else "trading"
        acct = self.broker.authenticate(
            request.headers.get("APCA-API-KEY-ID"), request.headers.get("APCA-API-SECRET-KEY")
        )
        if acct is not None:
            request[ACCOUNT] = acct
        response = await self._handle(request, handler, api, acct)
        if isinstance(response, _Dropped):
            return response  # no answer was sent: nothing to record
        seconds = time.perf_counter() - started
        if isinstance(response, web.Response) and not response.prepared:  # not a fault's own writing
            self.compressor.encode(request, response)
            seconds = time.perf_counter() - started
            body = response.body if isinstance(response.body, bytes) else b""
            head = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
            # + what aiohttp adds: status line, Content-Length, Date, Server, the blank line (~110 B)
            self.bytes_sent += len(body) + head + 110 + len(str(len(body)))
            if self.link.active:
                response = await self.link.send(request, response)
        self.log.append(
            RequestRecord(
                request.method,
                request.path,
                acct.name if acct else None,
                response.status,
                time.time(),
                request.get(CLIENT_ORDER_ID),
                seconds,
            )
        )
        return response

    async def _handle(
        self, request: web.Request, handler: Handler, api: str, acct: Account | None
    ) -> web.StreamResponse:
        rule = self.faults.take(request.method, request.path)
        if rule is not None and not rule.after_apply:
            early = await self._fault(rule, request, None)
            if early is not None:
                return early
        response = await self._answer(request, handler, api, acct)
        if rule is not None and rule.after_apply:
            late = await self._fault(rule, request, response)
            if late is not None:
                return late
        return response

    async def _answer(
        self, request: web.Request, handler: Handler, api: str, acct: Account | None
    ) -> web.StreamResponse:
        unrouted = request.match_info.http_exception  # no route, or not this method
        if unrouted is not None:
            return http_error_response(unrouted)
        if acct is None and not request.path.startswith(KEYLESS_PREFIXES):
            # Trading answers 401; market data answers 403 for bad or missing keys.
            status = 401 if api == "trading" else 403
            return error_response(ApiError(status, 40110000, "request is not authorized"))
        # Keyless requests share a market-data budget per client address; never the trading one.
        who = acct.key_id if acct is not None else f"anonymous:{request.remote}"
        allowed, headers = self.limits[api].hit(who, api)
        if not allowed:
            response: web.StreamResponse = error_response(ApiError(429, 42910000, "rate limit exceeded"))
        else:
            try:
                response = await handler(request)
            except ApiError as err:
                response = error_response(err)
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                response = http_error_response(exc)
            except orjson.JSONDecodeError:
                response = error_response(ApiError(400, 40010000, "request body format is invalid"))
            except Exception:  # a bug in a handler: say so in Alpaca's words, and log it
                logger.exception("simulator handler failed: %s %s", request.method, request.path)
                response = error_response(ApiError(500, 50010000, "internal server error"))
        response.headers.update(headers)
        return response

    async def _fault(
        self, rule: FaultRule, request: web.Request, answer: web.StreamResponse | None
    ) -> web.StreamResponse | None:
        """Carry out ``rule``; ``answer`` is the real response when the rule fires after applying."""
        if rule.action == "stall":
            await asyncio.sleep(rule.seconds)
            return None
        if rule.action == "reset":
            if request.transport is not None:
                request.transport.abort()
            return _Dropped()  # aiohttp's write to the dead socket fails quietly; not logged
        real = answer.body if isinstance(answer, web.Response) and isinstance(answer.body, bytes) else b""
        if rule.action == "garbage":
            body = rule.body if rule.body is not None else real[: len(real) // 2] or _HTML_PAGE
            return web.Response(status=200, body=body, content_type="application/json")
        if rule.action == "truncate":
            if answer is not None and real:
                return await _truncated(request, answer.status, real, answer.headers)
            return await _truncated(request, 502, ApiError(502, 50210000, "bad gateway").body(), {})
        return fault_response(rule.status)


async def _truncated(request: web.Request, status: int, body: bytes, headers: Any) -> web.StreamResponse:
    """Send the headers (Content-Length: the whole body) and half the body, then close the socket."""
    response = web.StreamResponse(status=status)
    for name, value in headers.items():
        if name.lower().startswith("x-ratelimit"):
            response.headers[name] = value
    response.content_type = "application/json"
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: max(1, len(body) // 2)])
    if request.transport is not None:
        request.transport.close()  # flushes what was written, then FIN: the client reads a short body
    return response


async def read_json(request: web.Request) -> Any:
    body = await request.read()
    if not body:
        raise ApiError(400, 40010000, "request body format is invalid")
    return orjson.loads(body)


def query_bool(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() in ("true", "1")
