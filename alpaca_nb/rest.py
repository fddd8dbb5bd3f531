"""Safe HTTP under alpaca-py's REST clients: timeouts, a rate limiter, no blind retries, our errors.

alpaca-py's ``RESTClient._request`` sends without a timeout and retries 429/504 for every method,
POST included (a duplicate-order risk). ``SafeRESTMixin`` replaces that one method, keeping alpaca-py's
URL building, headers and model parsing:

* every request has the session's timeout;
* a client-side limiter keeps each key under its per-minute budget;
* only requests that are safe to repeat (GET) are retried, and only on 429, after ``Retry-After`` /
  ``X-RateLimit-Reset``; POST, PATCH and DELETE are never resent here (``trading.place_order`` decides);
* HTTP errors become ``alpaca_nb.errors`` exceptions (``errors.from_http``), transport failures
  ``RequestTimeoutError`` / ``ConnectionLostError``;
* each request is logged on ``alpaca_nb.rest`` with method, path, status, latency and client_order_id.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.parse
from collections import deque
from typing import Any

import requests

from .errors import ConnectionLostError, RequestTimeoutError, from_http

log = logging.getLogger("alpaca_nb.rest")
SAFE_METHODS = frozenset({"GET", "HEAD"})
MAX_RATE_LIMIT_RETRIES = 3
MAX_WAIT_S = 60.0


class RateLimiter:
    """At most ``limit`` requests per ``period`` seconds (sliding window); ``None`` means no limit."""

    def __init__(self, limit: int | None = 200, period: float = 60.0) -> None:
        self.limit = limit
        self.period = period
        self._stamps: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._paused_until - now
                if wait <= 0 and self.limit is not None:
                    while self._stamps and now - self._stamps[0] >= self.period:
                        self._stamps.popleft()
                    if len(self._stamps) >= self.limit:
                        wait = self.period - (now - self._stamps[0])
                if wait <= 0:
                    if self.limit is not None:
                        self._stamps.append(now)
                    return waited
            time.sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after the server said 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def remaining(self) -> int | None:
        if self.limit is None:
            return None
        with self._lock:
            now = time.monotonic()
            return self.limit - sum(1 for s in self._stamps if now - s < self.period)


def retry_after_seconds(response: requests.Response) -> float | None:
    """Seconds to wait from ``Retry-After``, else from ``X-RateLimit-Reset`` (epoch seconds)."""
    return _header_wait(response.headers.get("Retry-After"), response.headers.get("X-RateLimit-Reset"))


class SafeRESTMixin:
    """Mixed in before an alpaca-py REST client class (``TradingClient``, ``StockHistoricalDataClient``)."""

    _session: requests.Session
    _anb_timeout: float = 10.0
    _anb_limiter: RateLimiter
    _anb_account: str = "paper"
    _anb_last_error: str | None = None

    def _anb_setup(self, *, timeout: float, limiter: RateLimiter, account: str) -> None:
        self._anb_timeout = timeout
        self._anb_limiter = limiter
        self._anb_account = account

    def _request(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | str | None = None,
        base_url: Any = None,
        api_version: str | None = None,
    ) -> Any:
        """alpaca-py's entry point: the parsed JSON body (None for an empty one)."""
        response = self._exchange(method, path, data, base_url, api_version)
        return response.json() if response.content else None

    def _exchange(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | str | None = None,
        base_url: Any = None,
        api_version: str | None = None,
        *,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request (waiting out 429s for safe methods); the successful response, or raise.

        ``stream=True`` leaves the body unread (``response.raw``), for callers that want the bytes.
        """
        base = base_url or self._base_url  # type: ignore[attr-defined]
        version = api_version or self._api_version  # type: ignore[attr-defined]
        url = f"{base}/{version}{path}"
        opts: dict[str, Any] = {"headers": self._get_default_headers(), "allow_redirects": False}  # type: ignore[attr-defined]
        opts["params" if method.upper() in ("GET", "DELETE") else "json"] = data
        coid = data.get("client_order_id") if isinstance(data, dict) else None
        full_path = f"/{version}{path}"
        for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            self._anb_limiter.acquire()
            response = self._send(method, url, full_path, {**opts, "stream": stream}, coid)
            if response.ok:
                return response
            wait = retry_after_seconds(response)
            if response.status_code == 429:
                self._anb_limiter.pause(min(wait or 1.0, MAX_WAIT_S))
                if method.upper() in SAFE_METHODS and attempt < MAX_RATE_LIMIT_RETRIES:
                    continue
            error = from_http(
                response.status_code,
                response.text,
                method=method.upper(),
                path=full_path,
                request_id=response.headers.get("X-Request-ID"),
                retry_after=wait,
            )
            self._anb_last_error = str(error)
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, method: str, url: str, path: str, opts: dict[str, Any], coid: str | None
    ) -> requests.Response:
        start = time.monotonic()
        extra = {
            "method": method.upper(),
            "path": path,
            "client_order_id": coid,
            "account": self._anb_account,
        }
        try:
            response = self._session.request(method, url, timeout=self._anb_timeout, **opts)
        except requests.Timeout:
            self._log(logging.WARNING, extra, "timeout", start)
            error: Exception = RequestTimeoutError(
                f"{method.upper()} {path}: no answer within {self._anb_timeout:g} s"
                + (f" (client_order_id={coid})" if coid else "")
            )
            self._anb_last_error = str(error)
            raise error from None
        except requests.ConnectionError:
            self._log(logging.WARNING, extra, "connection lost", start)
            error = ConnectionLostError(
                f"{method.upper()} {path}: the connection failed or was dropped"
                + (f" (client_order_id={coid})" if coid else "")
            )
            self._anb_last_error = str(error)
            raise error from None
        self._log(logging.INFO if response.ok else logging.WARNING, extra, response.status_code, start)
        return response

    def _log(self, level: int, extra: dict[str, Any], status: object, start: float) -> None:
        latency_ms = (time.monotonic() - start) * 1000
        coid = f" client_order_id={extra['client_order_id']}" if extra["client_order_id"] else ""
        log.log(
            level,
            "%s %s -> %s in %.0f ms (%s)%s",
            extra["method"],
            extra["path"],
            status,
            latency_ms,
            extra["account"],
            coid,
            extra={**extra, "status": status, "latency_ms": round(latency_ms, 1)},
        )


class PipelinedGets:
    """GETs on one keep-alive connection, the next sent before the last answer is read.

    Paging through bars, the client parses page k while the server prepares page k+1: the request
    for k+1 goes out first, and its answer waits in the socket buffer. No thread, so no contention
    for the GIL with the parser (measured in benchmarks/bars.py; a prefetch thread cost ~40%).
    Same rules as ``SafeRESTMixin``: the limiter, the timeout, 429 waited out, our errors, the log.
    """

    def __init__(self, client: SafeRESTMixin) -> None:
        self._client = client
        base = urllib.parse.urlsplit(str(client._base_url))  # type: ignore[attr-defined]
        self._prefix = f"{base.path.rstrip('/')}/{client._api_version}"  # type: ignore[attr-defined]
        self._host, self._port, self._https = base.hostname or "", base.port, base.scheme == "https"
        self._conn: http.client.HTTPConnection | None = None
        self._pending: tuple[str, str, float] | None = None  # (path, target, sent at)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._client._anb_timeout)
        return self._conn

    def send(self, path: str, params: dict[str, Any]) -> None:
        """Send ``GET path?params`` now; ``receive()`` returns its body later."""
        target = f"{self._prefix}{path}?{urllib.parse.urlencode(params)}"
        self._client._anb_limiter.acquire()
        headers = self._client._get_default_headers()  # type: ignore[attr-defined]
        try:
            self._connection().request("GET", target, headers=headers)
        except OSError:  # an idle keep-alive connection the server closed: reconnect once
            self.close()
            self._connection().request("GET", target, headers=headers)
        self._pending = (f"{self._prefix}{path}", target, time.monotonic())

    def receive(self) -> bytes:
        """The body of the request last sent; retries it after 429s; raises alpaca_nb errors."""
        assert self._pending is not None, "send() first"
        for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            path, target, start = self._pending
            extra = {
                "method": "GET",
                "path": path,
                "client_order_id": None,
                "account": self._client._anb_account,
            }
            try:
                response = self._connection().getresponse()
                body = response.read()
            except TimeoutError:
                self.close()
                self._client._log(logging.WARNING, extra, "timeout", start)
                raise RequestTimeoutError(
                    f"GET {path}: no answer within {self._client._anb_timeout:g} s"
                ) from None
            except (OSError, http.client.HTTPException):
                self.close()
                self._client._log(logging.WARNING, extra, "connection lost", start)
                raise ConnectionLostError(f"GET {path}: the connection failed or was dropped") from None
            self._client._log(
                logging.INFO if response.status < 400 else logging.WARNING, extra, response.status, start
            )
            if response.status < 400:
                self._pending = None
                return body
            wait = _header_wait(response.getheader("Retry-After"), response.getheader("X-RateLimit-Reset"))
            if response.status == 429 and attempt < MAX_RATE_LIMIT_RETRIES:
                self._client._anb_limiter.pause(min(wait or 1.0, MAX_WAIT_S))
                self._connection().request("GET", target, headers=self._client._get_default_headers())  # type: ignore[attr-defined]
                self._pending = (path, target, time.monotonic())
                continue
            error = from_http(response.status, body.decode("utf-8", "replace"), method="GET", path=path,
                              request_id=response.getheader("X-Request-ID"), retry_after=wait)  # fmt: skip
            self._client._anb_last_error = str(error)
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _header_wait(retry_after: str | None, reset: str | None) -> float | None:
    try:
        if retry_after:
            return max(0.0, float(retry_after))
        if reset:
            return max(0.0, float(reset) - time.time())
    except ValueError:
        pass
    return None
