"""``StreamHub``: one engine thread, one market-data connection per session, shared by every consumer.

Threading rule: everything network-side runs on the hub's own thread and asyncio loop (no
nest-asyncio, nothing on the kernel's loop). The public methods are called from the notebook's thread
and return at once. Data lands in bounded per-symbol ring buffers; consumers (charts, views) read them
at their own pace, or get callbacks on the engine thread. Errors on the thread are kept in
``last_error`` and counted, never lost.

The connection is alpaca-py's ``StockDataStream`` (raw data), which reconnects with exponential
backoff and jitter, detects a silent socket (``data_timeout``) and re-sends the subscriptions; a small
subclass reports each (re)connection to the hub and hands messages straight to it.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Any

import msgpack
import websockets
from alpaca.data.live import StockDataStream
from alpaca.trading.stream import TradingStream

from ._wire import RECORDS, Quote, normalize_symbol
from .config import AccountConfig
from .errors import StreamError

log = logging.getLogger("alpaca_nb.stream")
# alpaca-py logs every reconnect as a warning; with no handler configured Python would print it into
# the notebook. The hub reports the same through state/stats()/last_error; an app that configures
# logging still receives alpaca-py's records (they propagate past this handler).
logging.getLogger("alpaca").addHandler(logging.NullHandler())
CHANNELS = ("quotes", "trades", "bars")
Callback = Callable[[str, str, tuple[Any, ...]], None]


class StreamState(enum.Enum):
    IDLE = "idle"  # nothing subscribed yet: no connection
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class _HubStream(StockDataStream):
    """alpaca-py's stream, reporting connections to the hub and handing it whole frames.

    ``_consume`` is replaced (benchmarks/stream.py): alpaca-py wraps every ``recv`` in
    ``asyncio.wait_for`` and awaits a handler per message, which caps ingestion near 90k quotes/s
    here. This version receives frames directly, hands each decoded frame to the hub in one call, and
    watches for a stop request and for silence (``data_timeout``) in a side task. Connect, auth,
    subscribe and reconnect-with-backoff stay alpaca-py's.
    """

    def __init__(self, hub: StreamHub, key: str, secret: str, url: str, data_timeout: float) -> None:
        super().__init__(key, secret, raw_data=True, url_override=url, data_timeout=data_timeout)
        self._hub = hub
        self._reconnect_min_backoff = hub.min_backoff
        self._reconnect_max_backoff = hub.max_backoff
        self._last_data = 0.0
        self._stale = False

    async def _start_ws(self) -> None:
        self._hub._connecting()
        try:
            await super()._start_ws()
        except Exception as err:
            self._hub._failed(err)
            raise
        self._hub._connected()

    async def close(self) -> None:
        await super().close()
        self._hub._disconnected()

    async def _consume(self) -> bool:
        loop = asyncio.get_running_loop()
        ws = self._ws
        assert ws is not None
        self._data_received = False
        self._stale = False
        self._last_data = loop.time()
        watchdog = asyncio.ensure_future(self._watch(loop))
        try:
            while True:
                try:
                    frame = await ws.recv()
                except websockets.ConnectionClosed:
                    if self._stale:
                        return True  # alpaca-py reconnects (with backoff) after a stale return
                    if not self._should_run or not self._stop_stream_queue.empty():
                        return False
                    raise
                if self._hub._ingest_frame(msgpack.unpackb(frame)):
                    self._data_received = True
                    self._last_data = loop.time()
        finally:
            watchdog.cancel()

    async def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            await asyncio.sleep(0.25)
            if not self._stop_stream_queue.empty():
                self._stop_stream_queue.get_nowait()
                self._should_run = False
                await self.close()
                return
            timeout = self._data_timeout
            if timeout is not None and loop.time() - self._last_data >= timeout:
                log.warning("no data on the stream for %.1f s: reconnecting", timeout)
                self._stale = True
                await self.close()
                return


class _HubTradingStream(TradingStream):
    """alpaca-py's trade-updates stream (raw JSON), handing each update to the hub."""

    def __init__(self, hub: StreamHub, key: str, secret: str, url: str) -> None:
        super().__init__(key, secret, raw_data=True, url_override=url)
        self._hub = hub
        self._reconnect_min_backoff = hub.min_backoff
        self._reconnect_max_backoff = hub.max_backoff

    async def _start_ws(self) -> None:
        try:
            await super()._start_ws()  # type: ignore[no-untyped-call]
        except Exception as err:
            self._hub._failed(err)
            raise
        self._hub._trading_connections += 1


def _noop(_: Any) -> Any:
    async def handler(__: Any) -> None:  # alpaca-py wants a coroutine handler per symbol
        return None

    return handler


class StreamHub:
    """The session's background stream (``session.stream``).

    Examples
    --------
    >>> hub = s.stream
    >>> token = hub.subscribe(quotes=["AAPL", "MSFT"])       # connects on first use
    >>> hub.quotes("AAPL")[-1]                               # (t_ns, bid, bid_size, ask, ask_size)
    >>> hub.state, hub.stats()["messages"], hub.last_error
    >>> hub.unsubscribe(token); hub.close()
    """

    def __init__(
        self,
        account: AccountConfig,
        *,
        trading_account: AccountConfig | None = None,
        buffer_size: int = 10_000,
        data_timeout: float = 15.0,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self._account = account
        self._trading_account = trading_account or account
        self.buffer_size = buffer_size
        self.data_timeout = data_timeout
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.state = StreamState.IDLE
        self.last_error: str | None = None
        self._buffers: dict[tuple[str, str], deque[tuple[Any, ...]]] = {}
        self._refs: dict[tuple[str, str], int] = defaultdict(int)
        self._tokens: dict[int, tuple[list[tuple[str, str]], Callback | None]] = {}
        self._callbacks: dict[tuple[str, str], list[Callback]] = {}  # rebuilt on (un)subscribe
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._messages = 0
        self._errors = 0
        self._reconnects = 0
        self._connections = 0
        self._last_message = 0.0
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stream: _HubStream | None = None
        self._task: asyncio.Future[Any] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._pumps: list[Callable[[], None]] = []
        self.pump_interval = 0.1
        self._trade_callbacks: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._trade_updates: deque[dict[str, Any]] = deque(maxlen=1000)
        self._trading: _HubTradingStream | None = None
        self._trading_connections = 0
        self._pump_thread: threading.Thread | None = None
        self._pump_stop = threading.Event()

    @property
    def data_stream_url(self) -> str:
        """Where the market-data connection goes (quotes from elsewhere do not price another account)."""
        return self._account.endpoints.data_stream

    def __repr__(self) -> str:
        return f"<StreamHub {self.state.value} subscriptions={len(self._refs)} messages={self._messages}>"

    # ----- consumers --------------------------------------------------------------------------
    def subscribe(
        self,
        *,
        quotes: Iterable[str] = (),
        trades: Iterable[str] = (),
        bars: Iterable[str] = (),
        callback: Callback | None = None,
    ) -> int:
        """Add a consumer; returns a token for ``unsubscribe``. Starts the connection if needed.

        ``callback(channel, symbol, item)`` runs on the engine thread for each message (keep it
        cheap); its exceptions are counted and kept in ``last_error``.
        """
        if self.state is StreamState.CLOSED:
            raise StreamError("this stream hub is closed: reconnect the session")
        wanted = [
            (c, _symbol(s))
            for c, syms in (("quotes", quotes), ("trades", trades), ("bars", bars))
            for s in syms
        ]
        token = next(self._ids)
        new: dict[str, list[str]] = defaultdict(list)
        with self._lock:
            self._tokens[token] = (wanted, callback)
            self._index_callbacks()
            for key in wanted:
                self._refs[key] += 1
                if self._refs[key] == 1:
                    self._buffers.setdefault(key, deque(maxlen=self.buffer_size))
                    new[key[0]].append(key[1])
        if new:
            self._ensure_running()
            self._call(self._add_symbols, dict(new))
        return token

    def unsubscribe(self, token: int) -> None:
        """Remove a consumer; symbols nobody else wants are unsubscribed from the server."""
        gone: dict[str, list[str]] = defaultdict(list)
        with self._lock:
            wanted, _ = self._tokens.pop(token, ([], None))
            self._index_callbacks()
            for key in wanted:
                self._refs[key] -= 1
                if self._refs[key] <= 0:
                    del self._refs[key]
                    gone[key[0]].append(key[1])
        if gone and self._stream is not None and self.state is not StreamState.CLOSED:
            self._call(self._remove_symbols, dict(gone))

    def _index_callbacks(self) -> None:
        index: dict[tuple[str, str], list[Callback]] = defaultdict(list)
        for wanted, callback in self._tokens.values():
            if callback is not None:
                for key in wanted:
                    index[key].append(callback)
        self._callbacks = dict(index)  # swapped whole: the engine thread reads it without the lock

    def quotes(self, symbol: str) -> list[tuple[Any, ...]]:
        """Buffered quotes of ``symbol``, oldest first: ``Quote(t_ns, bid, bid_size, ask, ask_size)``."""
        return self._snapshot("quotes", symbol)

    def latest_quote(self, symbol: str) -> Quote | None:
        """The newest buffered quote of ``symbol`` (None if there is none)."""
        with self._lock:
            buffer = self._buffers.get(("quotes", symbol.upper()))
            return buffer[-1] if buffer else None  # type: ignore[return-value]

    def trades(self, symbol: str) -> list[tuple[Any, ...]]:
        """Buffered trades: ``Trade(t_ns, price, size)``."""
        return self._snapshot("trades", symbol)

    def bars(self, symbol: str) -> list[tuple[Any, ...]]:
        """Buffered minute bars: ``Bar(t_ns, open, high, low, close, volume, trade_count, vwap)``."""
        return self._snapshot("bars", symbol)

    def _snapshot(self, channel: str, symbol: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._buffers.get((channel, symbol.upper()), ()))

    def subscriptions(self) -> dict[str, list[str]]:
        with self._lock:
            out: dict[str, list[str]] = {c: [] for c in CHANNELS}
            for channel, symbol in sorted(self._refs):
                out[channel].append(symbol)
            return out

    def stats(self) -> dict[str, Any]:
        """``messages``, ``reconnects``, ``last_message_age_s``, ``rate_per_s`` and more."""
        now = time.monotonic()
        with self._lock:
            recent = [(t, n) for t, n in self._rate if now - t <= 5.0]
            rate = (
                (recent[-1][1] - recent[0][1]) / max(recent[-1][0] - recent[0][0], 1e-9)
                if len(recent) > 1
                else 0.0
            )
            return {
                "state": self.state.value,
                "messages": self._messages,
                "reconnects": self._reconnects,
                "connections": self._connections,
                "trading_connections": self._trading_connections,
                "trade_updates": len(self._trade_updates),
                "errors": self._errors,
                "last_message_age_s": None if not self._last_message else round(now - self._last_message, 3),
                "rate_per_s": round(rate, 1),
                "subscriptions": sum(len(v) for v in self.subscriptions().values()),
                "last_error": self.last_error,
            }

    # ----- trade updates ------------------------------------------------------------------------
    def on_trade_update(self, callback: Callable[[dict[str, Any]], None]) -> int:
        """Call ``callback(update)`` (Alpaca's raw ``trade_updates`` data: event, order, price, qty,
        timestamp…) on the engine thread for each order event; returns a token for ``remove``.
        Starts the trading stream on first use."""
        if self.state is StreamState.CLOSED:
            raise StreamError("this stream hub is closed: reconnect the session")
        token = next(self._ids)
        with self._lock:
            self._trade_callbacks[token] = callback
        self._ensure_running()
        self._call(self._start_trading)
        return token

    def remove_trade_callback(self, token: int) -> None:
        with self._lock:
            self._trade_callbacks.pop(token, None)

    def trade_updates(self) -> list[dict[str, Any]]:
        """The most recent order events received (up to 1,000), oldest first."""
        with self._lock:
            return list(self._trade_updates)

    def _start_trading(self) -> None:
        if self._trading is not None:
            return
        creds = self._trading_account.credentials
        stream = _HubTradingStream(
            self,
            creds.key_id.reveal(),
            creds.secret_key.reveal(),
            self._trading_account.endpoints.trading_stream,
        )

        async def handler(message: dict[str, Any]) -> None:
            data = message.get("data") or {}
            with self._lock:
                self._trade_updates.append(data)
                callbacks = list(self._trade_callbacks.values())
            for callback in callbacks:
                try:
                    callback(data)
                except Exception as err:
                    self._failed(err)

        stream._trade_updates_handler = handler  # type: ignore[assignment]
        self._trading = stream
        self._spawn(stream._run_forever())  # type: ignore[no-untyped-call]

    # ----- periodic consumers (charts) -------------------------------------------------------------
    def add_pump(self, fn: Callable[[], None], interval: float = 0.1) -> None:
        """Call ``fn`` every ``interval`` seconds on the hub's pump thread (one thread for all).

        Widgets coalesce what arrived and send it from here, so a chart sends at most ~10 messages
        per second however fast quotes come. Exceptions are kept in ``last_error``.
        """
        with self._lock:
            self._pumps.append(fn)
            self.pump_interval = interval
            if self._pump_thread is None:
                self._pump_thread = threading.Thread(target=self._pump, name="alpaca-nb-pump", daemon=True)
                self._pump_thread.start()

    def remove_pump(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if fn in self._pumps:
                self._pumps.remove(fn)

    def _pump(self) -> None:
        while not self._pump_stop.wait(self.pump_interval):
            with self._lock:
                pumps = list(self._pumps)
            for fn in pumps:
                try:
                    fn()
                except Exception as err:
                    self._failed(err)

    # ----- the engine thread ------------------------------------------------------------------
    def _ensure_running(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(ready,), name="alpaca-nb-stream", daemon=True
            )
            self.state = StreamState.CONNECTING
            self._thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        creds = self._account.credentials
        self._stream = _HubStream(
            self,
            creds.key_id.reveal(),
            creds.secret_key.reveal(),
            self._account.endpoints.data_stream,
            self.data_timeout,
        )
        ready.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(fn, *args)

    def _add_symbols(self, new: dict[str, list[str]]) -> None:
        stream = self._stream
        assert stream is not None
        for channel, symbols in new.items():
            for sym in symbols:
                stream._handlers[channel][sym] = _noop(sym)
        if self._task is None:
            self._task = self._spawn(stream._run_forever())
        elif stream._running:
            self._spawn(stream._send_subscribe_msg())

    def _remove_symbols(self, gone: dict[str, list[str]]) -> None:
        stream = self._stream
        assert stream is not None
        for channel, symbols in gone.items():
            for sym in symbols:
                stream._handlers[channel].pop(sym, None)
            if stream._running:
                self._spawn(stream._send_unsubscribe_msg(channel, symbols))

    def _spawn(self, coro: Any) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(self._guarded(coro))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _guarded(self, coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._failed(err)

    # ----- called on the engine thread by _HubStream -------------------------------------------
    def _connecting(self) -> None:
        if self.state is StreamState.CLOSED:
            return
        if self._connections > 0:
            self.state = StreamState.RECONNECTING
        else:
            self.state = StreamState.CONNECTING

    def _connected(self) -> None:
        if self.state is StreamState.CLOSED:
            return
        if self._connections > 0:
            self._reconnects += 1
        self._connections += 1
        self.state = StreamState.CONNECTED
        log.info("stream connected (%d reconnects)", self._reconnects)

    def _disconnected(self) -> None:
        if self.state is StreamState.CONNECTED:
            self.state = StreamState.RECONNECTING

    def _failed(self, err: BaseException) -> None:
        self._errors += 1
        self.last_error = f"{type(err).__name__}: {err}"
        log.warning("stream error: %s", self.last_error)

    def _ingest_frame(self, messages: list[dict[str, Any]]) -> int:
        """One decoded frame: buffer every market message, call consumers; returns how many."""
        count = 0
        buffers, callbacks = self._buffers, self._callbacks
        for msg in messages:
            kind = msg.get("T")
            record = RECORDS.get(kind)  # type: ignore[arg-type]
            if record is None:
                if kind == "error":
                    self._failed(StreamError(f"stream error {msg.get('code')}: {msg.get('msg')}"))
                continue
            channel, make = record
            symbol = msg.get("S", "")
            stamp = msg.get("t")
            item = make(msg, stamp.to_unix_nano() if isinstance(stamp, msgpack.Timestamp) else 0)
            key = (channel, symbol)
            buffer = buffers.get(key)
            if buffer is not None:
                buffer.append(item)  # deque.append is atomic; readers copy under the lock
            for callback in callbacks.get(key, ()):
                try:
                    callback(channel, symbol, item)
                except Exception as err:
                    self._failed(err)
            count += 1
        if count:
            self._messages += count
            now = time.monotonic()
            self._last_message = now
            if not self._rate or now - self._rate[-1][0] >= 0.25:
                self._rate.append((now, self._messages))
        return count

    # ----- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the stream, stop the loop and join the thread (idempotent)."""
        with self._lock:
            if self.state is StreamState.CLOSED:
                return
            self.state = StreamState.CLOSED
            thread, loop, stream = self._thread, self._loop, self._stream
        if loop is not None and loop.is_running():
            if self._trading is not None:
                trading = self._trading
                try:
                    asyncio.run_coroutine_threadsafe(_stop_trading(trading), loop).result(10)
                except Exception as err:
                    self.last_error = f"{type(err).__name__}: {err}"
            if stream is not None:
                future = asyncio.run_coroutine_threadsafe(_stop(stream), loop)
                try:
                    future.result(10)
                except Exception as err:  # closing must not raise; keep what happened
                    self.last_error = f"{type(err).__name__}: {err}"
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(10)
        self._pump_stop.set()
        if self._pump_thread is not None and self._pump_thread is not threading.current_thread():
            self._pump_thread.join(10)


async def _stop_trading(stream: _HubTradingStream) -> None:
    await stream.stop_ws()
    await stream.close()


async def _stop(stream: _HubStream) -> None:
    await stream.stop_ws()
    await stream.close()


def _symbol(raw: str) -> str:
    return normalize_symbol(raw)
