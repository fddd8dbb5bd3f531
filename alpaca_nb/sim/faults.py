"""Fault injection for the simulator: failed, stalled, reset, truncated and garbled HTTP answers;
dropped or silent streams.

Rules are armed from any thread (tests call them from the main thread) and consumed by the server's
HTTP middleware on the simulator's loop (``http.Gate``); stream faults are handed to the loop
thread-safely.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

Action = Literal["fail", "stall", "reset", "truncate", "garbage"]


@dataclass(slots=True)
class FaultRule:
    action: Action
    method: str
    path: str
    times: int
    after_apply: bool
    status: int = 0
    seconds: float = 0.0
    skip: int = 0  # matching requests to let through before the rule fires
    body: bytes | None = None  # garbage: what to send instead of the answer

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and fnmatch.fnmatchcase(path, self.path)


class StreamControl(Protocol):
    """What the stream server exposes to ``Faults`` (implemented by the simulator's stream hub)."""

    def drop(self) -> None: ...
    def drop_every(self, seconds: float | None) -> None: ...
    def silence(self, seconds: float) -> None: ...
    def freeze(self, seconds: float) -> None: ...


class Faults:
    """Arms faults for the next matching requests (``path`` may be a glob, e.g. ``/v2/orders/*``).

    Each HTTP fault takes ``times`` (how many matching requests it hits) and ``after_apply``:
    without it the request is *not* carried out (no order is placed); with it the request is carried
    out first and only the answer is spoiled — the case a client must not answer by resending.

    ===========================  =====================================================================
    ``fail(m, p, status)``       an Alpaca-shaped JSON error: 429 ``42910000`` (with Retry-After),
                                 500 ``50010000`` "internal server error", 502 ``50210000`` "bad
                                 gateway", 503 ``50310000`` "service unavailable", 504 ``50410000``
                                 "gateway timeout", any other 4xx/5xx ``status * 100000 + 10000``
    ``stall(m, p, seconds)``     the answer is held ``seconds`` (the request is still carried out,
                                 even if the client gave up)
    ``reset(m, p)``              the connection is dropped with no answer (``requests`` raises
                                 ``ConnectionError``)
    ``truncate(m, p)``           status line and headers (Content-Length of the full body) are sent,
                                 then half the body, then the connection is closed (``requests``
                                 raises ``ChunkedEncodingError``); the body cut is the real answer
                                 with ``after_apply``, else a 502 error body
    ``garbage(m, p)``            200 with ``Content-Type: application/json`` and a body that is not
                                 JSON: an HTML error page, or with ``after_apply`` the first half of
                                 the real answer (``body=`` chooses the bytes)
    ===========================  =====================================================================

    Every HTTP fault also takes ``skip``: that many matching requests pass first (a fault in the middle
    of a paged pull).

    Examples
    --------
    >>> sim.faults.fail("POST", "/v2/orders", 504, after_apply=True)  # order accepted, client sees 504
    >>> sim.faults.stall("GET", "/v2/account", seconds=5)
    >>> sim.faults.reset("POST", "/v2/orders")                          # connection reset by peer
    >>> sim.faults.truncate("POST", "/v2/orders", after_apply=True)     # placed; answer cut off
    >>> sim.faults.garbage("GET", "/v2/orders/*")                       # 200 with an HTML page
    >>> sim.faults.drop_streams(); sim.faults.silence_streams(10)
    """

    def __init__(self, streams: StreamControl, call_soon: Callable[[Callable[[], None]], None]) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._streams = streams
        self._call_soon = call_soon
        self.triggered = 0

    def _arm(self, rule: FaultRule) -> None:
        if rule.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._rules.append(rule)

    def fail(
        self, method: str, path: str, status: int, times: int = 1, after_apply: bool = False, *, skip: int = 0
    ) -> None:
        """Answer the next ``times`` matching requests with an Alpaca-shaped ``status`` error.

        With ``after_apply=True`` the request is carried out first (an order is accepted) and only
        the answer is replaced: the client sees an error for something that happened. ``skip`` lets
        that many matching requests through first (e.g. a 429 in the middle of a paged pull).
        """
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        self._arm(FaultRule("fail", method.upper(), path, times, after_apply, status=status, skip=skip))

    def stall(
        self,
        method: str,
        path: str,
        seconds: float,
        times: int = 1,
        after_apply: bool = False,
        *,
        skip: int = 0,
    ) -> None:
        """Hold the next matching requests ``seconds`` before (or, ``after_apply``, after) handling them.

        A stalled request is still carried out when the stall ends, even if its client gave up.
        """
        self._arm(FaultRule("stall", method.upper(), path, times, after_apply, seconds=seconds, skip=skip))

    def reset(
        self, method: str, path: str, times: int = 1, after_apply: bool = False, *, skip: int = 0
    ) -> None:
        """Drop the connection of the next matching requests without an answer."""
        self._arm(FaultRule("reset", method.upper(), path, times, after_apply, skip=skip))

    def truncate(
        self, method: str, path: str, times: int = 1, after_apply: bool = False, *, skip: int = 0
    ) -> None:
        """Send the status line and headers, then cut the body off half-way and close the connection.

        The Content-Length announces the full body, so a client sees a broken connection
        (``requests.exceptions.ChunkedEncodingError``) rather than a short answer.
        """
        self._arm(FaultRule("truncate", method.upper(), path, times, after_apply, skip=skip))

    def garbage(
        self,
        method: str,
        path: str,
        times: int = 1,
        after_apply: bool = False,
        *,
        body: bytes | None = None,
        skip: int = 0,
    ) -> None:
        """Answer 200 (``application/json``) with a body that is not JSON.

        By default an HTML error page, or with ``after_apply=True`` the first half of the real
        answer (a cut-off JSON prefix); ``body`` sends those bytes instead.
        """
        self._arm(FaultRule("garbage", method.upper(), path, times, after_apply, body=body, skip=skip))

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first armed rule matching this request, consumed once (called by the server)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.skip > 0:
                        rule.skip -= 1
                        return None
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                    self.triggered += 1
                    return rule
        return None

    @property
    def pending(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def drop_streams(self) -> None:
        """Close every market-data and trading stream connection now."""
        self._call_soon(self._streams.drop)

    def drop_streams_every(self, seconds: float | None) -> None:
        """Drop all streams every ``seconds`` (``None`` or 0 stops it)."""
        self._call_soon(lambda: self._streams.drop_every(seconds or None))

    def silence_streams(self, seconds: float) -> None:
        """Keep stream sockets open (pings answered) but send no data for ``seconds``."""
        self._call_soon(lambda: self._streams.silence(seconds))

    def freeze_streams(self, seconds: float) -> None:
        """Send nothing and read nothing on every stream socket for ``seconds``: pings go unanswered,
        so a client's keepalive must find the connection dead (a half-open socket, a frozen peer)."""
        self._call_soon(lambda: self._streams.freeze(seconds))

    def clear(self) -> None:
        """Disarm every HTTP rule and stop periodic drops and silence."""
        with self._lock:
            self._rules.clear()

        def calm() -> None:
            self._streams.drop_every(None)
            self._streams.silence(0)

        self._call_soon(calm)
