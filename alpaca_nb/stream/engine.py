"""``Engine``: one thread with its own asyncio loop — where everything network-side of a hub runs.

``start`` makes the loop before its thread runs it, so work handed over (``call``) in the moment
between the two is queued, never dropped (the review found that window: a subscription could be lost).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Engine:
    """The engine thread (``alpaca-nb-stream``); hand it work with ``call``, ``spawn`` and ``run``."""

    def __init__(self, on_error: Callable[[BaseException], None], name: str = "alpaca-nb-stream") -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._name = name
        self._on_error = on_error
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Future[Any]] = set()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._run, args=(self._loop,), name=self._name,
                                                daemon=True)  # fmt: skip
                self._thread.start()

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def call(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(*args)`` on the engine thread (queued until it runs); False if it is not running."""
        if self._loop is None:
            return False
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed
            return False
        return True

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """On the engine thread: run ``coro`` as a task whose errors go to ``on_error``."""
        assert self._loop is not None, "spawn runs on the engine thread"
        task = asyncio.ensure_future(self._guarded(coro), loop=self._loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A task cancelled before it ran (the loop stopping) never awaited ``coro``: close it, or Python
        # warns "coroutine … was never awaited" when it is collected. Closing a finished one does nothing.
        task.add_done_callback(lambda _: coro.close())
        return task

    async def _guarded(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._on_error(err)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """From another thread: run ``coro`` on the engine and wait for its result."""
        assert self._loop is not None, "start() first"
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def stop(self, timeout: float = 10) -> None:
        """Stop the loop and join the thread (idempotent)."""
        with self._lock:
            thread, loop = self._thread, self._loop
        if loop is not None and not loop.is_closed():
            self.call(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
