"""The frame thread and the REST thread a hub's widgets share — each widget on its own schedule.

``Pumps`` (thread ``alpaca-nb-pump``) calls each widget's pump at that widget's own interval (at most
10 times a second: ``MIN_INTERVAL``); a pump sends at most one coalesced message. ``Worker`` (thread
``alpaca-nb-rest``) runs the slow work widgets need — an account refresh, a chart's backfill, a
ticket's order re-read — so that a spent rate budget (the limiter blocks) delays that work and never
the frames.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MIN_INTERVAL = 0.1  # seconds: ≤ 10 messages per second per widget


@dataclass
class _Pump:
    fn: Callable[[], None]
    interval: float
    due: float


class Pumps:
    """One thread; each pump on its own schedule. ``add`` returns a token for ``remove``."""

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self._on_error = on_error
        self._pumps: dict[int, _Pump] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, fn: Callable[[], None], interval: float) -> int:
        interval = max(MIN_INTERVAL, float(interval))
        with self._lock:
            token = next(self._ids)
            self._pumps[token] = _Pump(fn, interval, time.monotonic() + interval)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="alpaca-nb-pump", daemon=True)
                self._thread.start()
        self._wake.set()
        return token

    def remove(self, token: int) -> None:
        with self._lock:
            self._pumps.pop(token, None)

    def intervals(self) -> dict[int, float]:
        with self._lock:
            return {token: p.interval for token, p in self._pumps.items()}

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                due = [p for p in self._pumps.values() if p.due <= now]
                for p in due:
                    p.due = max(p.due + p.interval, now + p.interval / 2)  # no burst after a slow pump
                nxt = min((p.due for p in self._pumps.values()), default=now + 1.0)
            for p in due:
                try:
                    p.fn()
                except Exception as err:
                    self._on_error(err)
            self._wake.wait(max(0.0, nxt - time.monotonic()))
            self._wake.clear()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


class Worker:
    """One thread for slow (REST) work; a job already waiting under the same key is not queued twice."""

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self._on_error = on_error
        self._jobs: queue.Queue[tuple[Any, Callable[[], None]] | None] = queue.Queue()
        self._waiting: set[Any] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, key: Any, fn: Callable[[], None]) -> bool:
        """Queue ``fn``; False if a job with ``key`` is already waiting (or the worker stopped)."""
        with self._lock:
            if self._stopped or key in self._waiting:
                return False
            self._waiting.add(key)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alpaca-nb-rest", daemon=True)
                self._thread.start()
        self._jobs.put((key, fn))
        return True

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            key, fn = job
            with self._lock:
                self._waiting.discard(key)
            try:
                fn()
            except Exception as err:
                self._on_error(err)

    def stop(self, timeout: float = 10) -> None:
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._jobs.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
