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

import logging
import threading
import time
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
    raw = response.headers.get("Retry-After")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    return None


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
        base = base_url or self._base_url  # type: ignore[attr-defined]
        version = api_version or self._api_version  # type: ignore[attr-defined]
        url = f"{base}/{version}{path}"
        opts: dict[str, Any] = {"headers": self._get_default_headers(), "allow_redirects": False}  # type: ignore[attr-defined]
        opts["params" if method.upper() in ("GET", "DELETE") else "json"] = data
        coid = data.get("client_order_id") if isinstance(data, dict) else None
        full_path = f"/{version}{path}"
        for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            self._anb_limiter.acquire()
            response = self._send(method, url, full_path, opts, coid)
            if response.ok:
                return response.json() if response.content else None
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
