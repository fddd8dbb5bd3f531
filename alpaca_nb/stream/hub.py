"""``StreamHub``: the session's streams, shared by every widget.

Threads — the one rule: **traits are set on the pump thread** (or by the kernel's own thread, in
answer to the user), never on the engine or REST threads.

* engine (``alpaca-nb-stream``, ``engine.Engine``): the sockets — one market-data connection per
  asset class per session (``feeds.StockFeed``, ``feeds.CryptoFeed``; each made when a symbol of its
  class is first wanted) and one trade-updates connection per account the session trades on
  (``feeds.TradeFeed``). It decodes frames, fills the buffers and calls subscribers; it never blocks.
* pump (``alpaca-nb-pump``, ``pumps.Pumps``): each widget's pump on its own schedule (≤ 10/s);
  a pump coalesces what arrived into at most one message.
* REST (``alpaca-nb-rest``, ``pumps.Worker``): slow work for widgets (refresh, backfill); it may
  block in the rate limiter — the frames go on.

Events (callbacks run on the engine thread: keep them cheap, hand work over, set no trait):

* ``subscribe(..., callback=fn)``: ``fn(batch)`` once per frame with that subscriber's records,
  ``batch = [(channel, symbol, records), ...]`` — one entry per channel and symbol in the frame, its
  records in arrival order, each a ``_wire.Quote``, ``Trade``, ``Bar`` or ``BookUpdate`` (crypto
  ``orderbooks``: the hub keeps each symbol's ``books.Book``, ``orderbook()``);
* ``on_trade_update(fn)``: ``fn(update)`` per order event — Alpaca's ``trade_updates`` data (event,
  order, price, qty, position_qty, timestamp…) plus ``"account"``: ``"paper"`` or ``"live"``.

Errors on any thread are counted and kept in ``last_error`` (``stats()``), never lost.

Examples
--------
>>> hub = s.stream
>>> token = hub.subscribe(quotes=["AAPL", "MSFT"])       # connects on first use
>>> hub.latest_quote("AAPL")                              # Quote(t_ns, bid, bid_size, ask, ask_size)
>>> hub.state, hub.stats()["messages"], hub.last_error
>>> hub.unsubscribe(token); hub.close()
"""

from __future__ import annotations

import enum
import itertools
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgpack

from .._wire import (
    RECORDS,
    Bar,
    BookUpdate,
    Quote,
    Trade,
    asset_class,
    fast_frame_decoder,
    normalize_symbol,
    wire_nanos,
)
from ..config import AccountConfig
from ..errors import StreamError
from .books import Book
from .engine import Engine
from .feeds import FEEDS, DataFeed, PollFeed, TradeFeed
from .pumps import Pumps, Worker

log = logging.getLogger("alpaca_nb.stream")
# alpaca-py logs every reconnect as a warning; with no handler configured Python would print it into
# the notebook. The hub reports the same through state/stats()/last_error; an app that configures
# logging still receives alpaca-py's records (they propagate past this handler).
logging.getLogger("alpaca").addHandler(logging.NullHandler())
CHANNELS = ("quotes", "trades", "bars", "orderbooks")
Batch = list[tuple[str, str, list[tuple[Any, ...]]]]
Callback = Callable[[Batch], None]


_CODES = {"quotes": ("q", Quote), "trades": ("t", Trade), "bars": ("b", Bar),
          "orderbooks": ("o", BookUpdate)}  # channel → stream type  # fmt: skip


def _nanos(stamp: Any) -> int:
    return stamp.to_unix_nano() if isinstance(stamp, msgpack.Timestamp) else 0


class StreamState(enum.Enum):
    IDLE = "idle"  # nothing subscribed yet: no connection
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


def _noop(_: Any) -> Any:
    async def handler(__: Any) -> None:  # alpaca-py wants a coroutine handler per symbol
        return None

    return handler


class StreamHub:
    """The session's background streams (``session.stream``); see the module docstring for the rules."""

    def __init__(
        self,
        account: AccountConfig | None,
        *,
        trading_accounts: Mapping[Any, AccountConfig] | None = None,
        poll: Callable[[list[str], list[str]], list[dict[str, Any]]] | None = None,
        buffer_size: int = 10_000,
        ping_interval: float = 10.0,
        stale_after: float = 10.0,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self._account = account  # None: keyless (crypto-data mode), crypto polled through ``poll``
        self._poll = poll
        if trading_accounts is None:
            trading_accounts = {account.kind: account} if account is not None else {}
        self._trading_accounts = dict(trading_accounts)
        self.buffer_size = buffer_size
        self.ping_interval = ping_interval
        self.stale_after = stale_after
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.state = StreamState.IDLE
        self.last_error: str | None = None
        self._buffers: dict[tuple[str, str], deque[tuple[Any, ...]]] = {}
        self._refs: dict[tuple[str, str], int] = defaultdict(int)
        self._tokens: dict[int, tuple[list[tuple[str, str]], Callback | None]] = {}
        self._callbacks: dict[tuple[str, str], list[Callback]] = {}  # rebuilt on (un)subscribe
        # stream type → symbol → [channel, symbol, keep, subscribers, this frame's records or None]
        self._routes: dict[str, dict[str, list[Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._messages = self._errors = self._reconnects = self._connections = self._drops = 0
        self._stale = False
        self._last_message = 0.0
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)
        self._engine = Engine(self._failed)
        self._feeds: dict[str, DataFeed] = {}  # asset class key → its feed
        self._feed_tasks: dict[str, Any] = {}
        self._books: dict[str, Book] = {}
        self._stale_feeds: set[str] = set()
        self._trade_callbacks: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._trade_updates: deque[dict[str, Any]] = deque(maxlen=1000)
        self._trade_feeds: dict[str, TradeFeed] = {}
        self._trading_connections: dict[str, int] = defaultdict(int)
        self._pumps = Pumps(self._failed)
        self._worker = Worker(self._failed)

    @property
    def data_stream_url(self) -> str:
        """Where the market-data connection goes (quotes from elsewhere do not price another account)."""
        return self._account.endpoints.data_stream if self._account is not None else "keyless"

    def feed_url(self, asset: str) -> str:
        """The stream URL of asset class ``asset``'s feed ("stock", "crypto")."""
        if self._account is None:
            return "REST polling (keyless)"
        where = self._account.endpoints
        return {"crypto": where.crypto_data_stream, "option": where.option_data_stream}.get(
            asset, where.data_stream
        )

    def __repr__(self) -> str:
        return f"<StreamHub {self.state.value} subscriptions={len(self._refs)} messages={self._messages}>"

    def _check_open(self) -> None:
        if self.state is StreamState.CLOSED:
            raise StreamError("this stream hub is closed: reconnect the session")

    # ----- market data: subscribers -------------------------------------------------------------
    def subscribe(
        self,
        *,
        quotes: Iterable[str] = (),
        trades: Iterable[str] = (),
        bars: Iterable[str] = (),
        orderbooks: Iterable[str] = (),
        callback: Callback | None = None,
    ) -> int:
        """Add a consumer; returns a token for ``unsubscribe``. Starts the connection(s) if needed: the
        feed of each symbol's asset class (``orderbooks`` are crypto's)."""
        self._check_open()
        wanted = [(c, normalize_symbol(s)) for c, syms in (("quotes", quotes), ("trades", trades),
                  ("bars", bars), ("orderbooks", orderbooks)) for s in syms]  # fmt: skip
        for channel, symbol in wanted:
            if channel == "orderbooks" and asset_class(symbol).key != "crypto":
                raise StreamError(f"order books are streamed for crypto pairs only, not {symbol}")
            if channel == "bars" and asset_class(symbol).key == "option":
                raise StreamError(f"Alpaca streams no bars of options ({symbol}): quotes and trades only")
            if self._account is None and (
                asset_class(symbol).key != "crypto" or channel in ("trades", "bars")
            ):
                raise StreamError(
                    f"without keys only crypto quotes and order books are followed (polled), not {channel} "
                    f"of {symbol}: connect with keys, or in demo mode"
                )
        token = next(self._ids)
        new: dict[str, list[str]] = defaultdict(list)
        with self._lock:
            self._tokens[token] = (wanted, callback)
            for key in wanted:
                self._refs[key] += 1
                if self._refs[key] == 1:
                    if key[0] == "orderbooks":
                        self._books.setdefault(key[1], Book())
                    self._buffers.setdefault(
                        key, deque(maxlen=1 if key[0] == "orderbooks" else self.buffer_size)
                    )
                    new[key[0]].append(key[1])
            self._index_callbacks()
        if new:
            self._start()
            self._engine.call(self._add_symbols, dict(new))
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
        if gone and self._feeds and self.state is not StreamState.CLOSED:
            self._engine.call(self._remove_symbols, dict(gone))

    def _index_callbacks(self) -> None:
        """Rebuild the routes the engine thread reads: (stream type, symbol) → (channel, record
        class, buffer's append, subscribers). Swapped whole, so it is read without the lock."""
        index: dict[tuple[str, str], list[Callback]] = defaultdict(list)
        for wanted, callback in self._tokens.values():
            if callback is not None:
                for key in wanted:
                    index[key].append(callback)
        self._callbacks = dict(index)
        routes: dict[str, dict[str, list[Any]]] = {}
        for (channel, symbol), buffer in self._buffers.items():
            code = _CODES[channel][0]
            keep: Callable[[Any], None] = buffer.append
            if channel == "orderbooks":
                keep = self._books.setdefault(symbol, Book()).apply  # the book, not a buffer of updates
            callbacks = tuple(index.get((channel, symbol), ()))
            pending: list[Any] | None = [] if callbacks else None
            routes.setdefault(code, {})[symbol] = [channel, symbol, keep, callbacks, pending]
        self._routes = routes

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

    def orderbook(
        self, symbol: str, depth: int | None = None
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]], int]:
        """(bids best first, asks best first, t_ns) of a crypto pair's streamed book ([] when none yet)."""
        book = self._books.get(normalize_symbol(symbol))
        return book.levels(depth) if book is not None else ([], [], 0)

    def book(self, symbol: str) -> Book | None:
        """The ``Book`` the hub keeps for ``symbol`` (None if its order book is not subscribed)."""
        return self._books.get(normalize_symbol(symbol))

    def _snapshot(self, channel: str, symbol: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._buffers.get((channel, symbol.upper()), ()))

    def subscriptions(self) -> dict[str, list[str]]:
        with self._lock:
            out: dict[str, list[str]] = {c: [] for c in CHANNELS if c != "orderbooks"}
            for channel, symbol in sorted(self._refs):
                out.setdefault(channel, []).append(symbol)
            return out

    def stats(self) -> dict[str, Any]:
        """``messages``, ``reconnects``, ``last_message_age_s``, ``rate_per_s``, ``stale`` and more."""
        now = time.monotonic()
        with self._lock:
            recent = [(t, n) for t, n in self._rate if now - t <= 5.0]
            span = recent[-1][0] - recent[0][0] if len(recent) > 1 else 0.0
            rate = (recent[-1][1] - recent[0][1]) / span if span > 0 else 0.0
            return {
                "state": self.state.value,
                "stale": self._stale,
                "messages": self._messages,
                "reconnects": self._reconnects,
                "connections": self._connections,
                "drops": self._drops,
                "trading_connections": sum(self._trading_connections.values()),
                "trading_accounts": dict(self._trading_connections),
                "trade_updates": len(self._trade_updates),
                "errors": self._errors,
                "last_message_age_s": None if not self._last_message else round(now - self._last_message, 3),
                "rate_per_s": round(rate, 1),
                "subscriptions": sum(len(v) for v in self.subscriptions().values()),
                "feeds": {
                    k: {
                        "url": self.feed_url(k),
                        "state": f.state,
                        "connections": f.connections,
                        "reconnects": f.reconnects,
                    }
                    for k, f in self._feeds.items()
                },
                "last_error": self.last_error,
            }

    # ----- trade updates ------------------------------------------------------------------------
    def on_trade_update(self, callback: Callable[[dict[str, Any]], None]) -> int:
        """Call ``callback(update)`` on the engine thread for each order event of every account the
        session trades on; returns a token for ``remove_trade_callback``. Starts those streams."""
        self._check_open()
        token = next(self._ids)
        with self._lock:
            self._trade_callbacks[token] = callback
        self._start()
        self._engine.call(self._start_trading)
        return token

    def remove_trade_callback(self, token: int) -> None:
        with self._lock:
            self._trade_callbacks.pop(token, None)

    def trade_updates(self) -> list[dict[str, Any]]:
        """The most recent order events received (up to 1,000), oldest first."""
        with self._lock:
            return list(self._trade_updates)

    def _start_trading(self) -> None:
        for kind, account in self._trading_accounts.items():
            if kind in self._trade_feeds:
                continue
            creds = account.credentials
            feed = TradeFeed(self, kind, creds.key_id.reveal(), creds.secret_key.reveal(),
                             account.endpoints.trading_stream)  # fmt: skip
            self._trade_feeds[kind] = feed
            self._engine.spawn(feed._run_forever())  # type: ignore[no-untyped-call]

    def _trade_update(self, kind: str, data: dict[str, Any]) -> None:
        update = {**data, "account": kind}
        with self._lock:
            self._trade_updates.append(update)
            callbacks = list(self._trade_callbacks.values())
        for callback in callbacks:
            try:
                callback(update)
            except Exception as err:
                self._failed(err)

    def _trading_connected(self, kind: str) -> None:
        with self._lock:
            self._trading_connections[kind] += 1

    # ----- widgets' schedules ------------------------------------------------------------------
    def add_pump(self, fn: Callable[[], None], interval: float = 0.1) -> int:
        """Call ``fn`` every ``interval`` seconds (≥ 0.1) on the pump thread, on its own schedule;
        returns a token for ``remove_pump``."""
        self._check_open()
        return self._pumps.add(fn, interval)

    def remove_pump(self, token: int) -> None:
        self._pumps.remove(token)

    def run_soon(self, key: Any, fn: Callable[[], None]) -> bool:
        """Run ``fn`` on the REST thread (once per ``key`` while one is waiting)."""
        return self.state is not StreamState.CLOSED and self._worker.submit(key, fn)

    # ----- the engine thread ------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._engine.started:
                return
            self.state = StreamState.CONNECTING
            self._engine.start()

    def _feed(self, asset: str) -> DataFeed:
        """``asset``'s feed, made on first use (engine thread)."""
        feed = self._feeds.get(asset)
        if feed is None and self._account is None:
            if asset != "crypto" or self._poll is None:
                raise StreamError(f"a {asset} stream needs keys: connect with keys, or in demo mode")
            feed = PollFeed(self, self._poll)  # type: ignore[assignment]
            self._feeds[asset] = feed  # type: ignore[assignment]
        if feed is None:
            assert self._account is not None
            creds = self._account.credentials
            feed = FEEDS[asset](self, creds.key_id.reveal(), creds.secret_key.reveal(), self.feed_url(asset))
            self._feeds[asset] = feed
        return feed

    def _add_symbols(self, new: dict[str, list[str]]) -> None:
        touched: set[str] = set()
        for channel, symbols in new.items():
            for sym in symbols:
                asset = asset_class(sym).key
                self._feed(asset)._handlers[channel][sym] = _noop(sym)
                touched.add(asset)
        for asset in touched:
            feed = self._feeds[asset]
            if asset not in self._feed_tasks:
                self._feed_tasks[asset] = self._engine.spawn(feed._run_forever())  # type: ignore[attr-defined]
            elif feed._running:
                self._engine.spawn(feed._send_subscribe_msg())  # type: ignore[attr-defined]

    def _remove_symbols(self, gone: dict[str, list[str]]) -> None:
        for channel, symbols in gone.items():
            by_feed: dict[str, list[str]] = defaultdict(list)
            for sym in symbols:
                by_feed[asset_class(sym).key].append(sym)
            for asset, syms in by_feed.items():
                feed = self._feeds.get(asset)
                if feed is None:
                    continue
                for sym in syms:
                    feed._handlers[channel].pop(sym, None)
                if feed._running:
                    self._engine.spawn(feed._send_unsubscribe_msg(channel, syms))  # type: ignore[attr-defined]

    # ----- called on the engine thread by the feeds ---------------------------------------------
    def _connecting(self, feed: DataFeed) -> None:
        feed.state = "reconnecting" if feed.connections else "connecting"
        self._update_state()

    def _connected(self, feed: DataFeed) -> None:
        if self.state is StreamState.CLOSED:
            return
        if feed.connections > 0:
            feed.reconnects += 1
            self._reconnects += 1
        feed.connections += 1
        self._connections += 1
        feed.state = "connected"
        self._update_state()
        log.info("%s stream connected (%d reconnects)", feed.asset, feed.reconnects)

    def _disconnected(self, feed: DataFeed) -> None:
        if feed.state == "connected":
            feed.state = "reconnecting"
            feed.drops += 1
            self._drops += 1
        self._update_state()

    def _update_state(self) -> None:
        """The hub's state: the least settled of its feeds' (any reconnecting → RECONNECTING)."""
        if self.state is StreamState.CLOSED:
            return
        states = {f.state for f in self._feeds.values()}
        if "reconnecting" in states:
            self.state = StreamState.RECONNECTING
        elif "connecting" in states:
            self.state = StreamState.CONNECTING
        elif "connected" in states:
            self.state = StreamState.CONNECTED

    def _mark_stale(self, feed: DataFeed, stale: bool) -> None:
        if stale:
            self._stale_feeds.add(feed.asset)
        else:
            self._stale_feeds.discard(feed.asset)
        self._stale = bool(self._stale_feeds)

    def _failed(self, err: BaseException) -> None:
        self._errors += 1
        self.last_error = f"{type(err).__name__}: {err}"
        log.warning("stream error: %s", self.last_error)

    def _ingest_frame(self, messages: list[dict[str, Any]]) -> int:
        """One decoded frame: buffer every market message, hand each subscriber its batch; how many.

        The hot path (benchmarks/stream.py): one route look-up per message, quotes built inline, and
        records grouped per route so that subscribers are visited once per frame, not per message."""
        count = 0
        routes = self._routes
        touched: list[list[Any]] = []  # routes with subscribers that got records in this frame
        new, quote, integer = tuple.__new__, Quote, int
        for msg in messages:
            try:
                code = msg["T"]
                symbols = routes.get(code)
                route = symbols.get(msg["S"]) if symbols is not None else None
                if route is None:
                    if code == "error":  # the server refused something ("symbol limit exceeded"…)
                        self._failed(StreamError(f"stream error {msg.get('code')}: {msg.get('msg')}"))
                    count += code in RECORDS  # a market message nobody wants (any more)
                    continue
                stamp: Any = msg["t"]
                t_ns = stamp if type(stamp) is integer else _nanos(stamp)
                item: Any
                if code == "q":
                    item = new(quote, (t_ns, msg["bp"], msg["bs"], msg["ap"], msg["as"]))
                else:
                    item = RECORDS[code][1](msg, t_ns)
            except (KeyError, TypeError, ValueError, AttributeError):  # a control message, one missing
                # a field, or one no record can be made of (not a map, an unhashable symbol, a book level
                # that is no number): skipped alone, before anything of it is kept, so the rest of its
                # frame is still kept and delivered
                continue
            route[2](item)  # deque.append is atomic; readers copy under the lock
            pending = route[4]  # only this (the engine) thread touches it
            if pending is not None:
                if not pending:
                    touched.append(route)
                pending.append(item)
            count += 1
        return self._deliver(touched, count)

    def _ingest_wire(self, wire: list[Any]) -> int:
        """``_ingest_frame`` for a frame the shortcut decoded (``_wire.fast_frame_decoder``: quotes and
        trades as msgspec structs). Every timestamp is read before anything is kept, so a ``ValueError``
        leaves no trace and the caller can take the general path."""
        stamps = [wire_nanos(m.t) for m in wire]
        routes = self._routes
        quotes, trades = routes.get("q") or {}, routes.get("t") or {}
        touched: list[list[Any]] = []
        new, quote_type, quote, trade = tuple.__new__, fast_frame_decoder()[1], Quote, Trade
        count = len(wire)
        for m, t_ns in zip(wire, stamps, strict=True):
            if type(m) is quote_type:
                route = quotes.get(m.S)
                if route is None:
                    continue
                item: Any = new(quote, (t_ns, m.bp, m.bs, m.ap, m.as_))
            else:
                route = trades.get(m.S)
                if route is None:
                    continue
                item = new(trade, (t_ns, m.p, m.s))
            route[2](item)
            pending = route[4]
            if pending is not None:
                if not pending:
                    touched.append(route)
                pending.append(item)
        return self._deliver(touched, count)

    def _deliver(self, touched: list[list[Any]], count: int) -> int:
        """Hand each subscriber this frame's records (one call each) and count the messages."""
        batches: dict[Callback, Batch] = {}
        for route in touched:
            channel, symbol, _, callbacks, items = route
            route[4] = []  # the list handed over is the subscribers' to keep
            for callback in callbacks:
                batch = batches.get(callback)
                if batch is None:
                    batches[callback] = batch = []
                batch.append((channel, symbol, items))
        for callback, batch in batches.items():
            try:
                callback(batch)
            except Exception as err:
                self._failed(err)
        if count:
            self._messages += count
            now = time.monotonic()
            self._last_message = now
            self._stale = False
            if not self._rate or now - self._rate[-1][0] >= 0.25:
                self._rate.append((now, self._messages))
        return count

    # ----- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the streams, the engine, the pump and REST threads, and join them (idempotent)."""
        with self._lock:
            if self.state is StreamState.CLOSED:
                return
            self.state = StreamState.CLOSED
            started = self._engine.started
        if started:
            feeds: list[Any] = [*self._trade_feeds.values(), *self._feeds.values()]
            for feed in feeds:
                try:
                    self._engine.run(feed.shutdown(), timeout=10)
                except Exception as err:  # closing must not raise; keep what happened
                    self.last_error = f"{type(err).__name__}: {err}"
        self._engine.stop()
        self._pumps.stop()
        self._worker.stop()
