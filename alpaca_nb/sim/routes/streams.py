"""The simulator's WebSocket servers: market data (``/v2/{feed}``) and trade updates (``/stream``).

Market data: ``connected`` on upgrade, ``auth`` within 10 s, then ``subscribe``/``unsubscribe`` with
the full subscription state echoed back; msgpack (binary, ``t`` as msgpack Timestamps) when the
client's upgrade request says ``Content-Type: application/msgpack`` (alpaca-py does), JSON text
otherwise. A ticker task sends, every ``tick_interval``, the trades, quotes and completed minute
bars that the market produced since the last tick. Each client has a bounded outgoing queue and a
writer task, so a slow client is cut off with ``407 slow client`` instead of stalling the others.

Trade updates: no greeting; ``authenticate`` (or ``auth``) then ``listen``; JSON in binary frames,
as Alpaca's paper endpoint sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np
import orjson
from aiohttp import WSMsgType, web

from .. import calendar as cal
from ..broker import Account, Broker
from ..market import Market
from ..universe import SYMBOL_RE
from ..wire import bar_message, quote_message, stream_frame, stream_timestamp, trade_message

CHANNELS = (
    "trades",
    "quotes",
    "bars",
    "updatedBars",
    "dailyBars",
    "statuses",
    "lulds",
    "corrections",
    "cancelErrors",
)
DATA_FEEDS = ("iex", "sip", "delayed_sip", "test")
QUEUE_FRAMES = 4096
AUTH_TIMEOUT = 10.0


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    request: web.Request
    queue: asyncio.Queue[bytes | str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_FRAMES))
    writer: asyncio.Task[None] | None = None

    def send(self, frame: bytes | str) -> bool:
        """Queue a frame; False (and the client is cut off) if it has fallen too far behind."""
        try:
            self.queue.put_nowait(frame)
            return True
        except asyncio.QueueFull:
            self.abort()
            return False

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def write_loop(self) -> None:
        while (frame := await self.queue.get()) is not None:
            if self.ws.closed:
                return
            try:
                if isinstance(frame, bytes):
                    await self.ws.send_bytes(frame)
                else:
                    await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return


@dataclass(eq=False)
class DataClient(_Client):
    feed: str = "iex"
    binary: bool = True
    account: Account | None = None
    subs: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in CHANNELS})

    def control(self, payload: dict[str, Any]) -> None:
        self.send(msgpack.packb([payload]) if self.binary else orjson.dumps([payload]).decode())

    def error(self, code: int, msg: str) -> None:
        self.control({"T": "error", "code": code, "msg": msg})

    def wants(self, channel: str, symbol: str) -> bool:
        subs = self.subs[channel]
        return symbol in subs or "*" in subs


@dataclass(eq=False)
class TradingStreamClient(_Client):
    account: Account | None = None
    listening: bool = False


class StreamServer:
    """Both stream endpoints, the live ticker and the stream faults (drop, silence, replay)."""

    def __init__(
        self,
        market: Market,
        broker: Broker,
        *,
        tick_interval: float = 0.1,
        connection_limit: int | None = 1,
    ) -> None:
        self.market = market
        self.broker = broker
        self.tick_interval = tick_interval
        self.connection_limit = connection_limit
        self.data_clients: set[DataClient] = set()
        self.trading_clients: set[TradingStreamClient] = set()
        self.silent_until = 0.0
        self.drops = 0
        self.replaying = False
        self._last_tick = market.now()
        self._tasks: list[asyncio.Task[None]] = []
        self._dropper: asyncio.Task[None] | None = None
        broker.sinks.append(self._on_trade_update)

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/stream", self.trading_handler)
        # Only the feeds: any other /v2/... path must stay an unknown REST route (JSON 404).
        app.router.add_get("/v2/{feed:" + "|".join(DATA_FEEDS) + "}", self.data_handler)

    def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._ticker()))

    async def close(self) -> None:
        self.drop_every(None)
        for task in self._tasks:
            task.cancel()
        for client in [*self.data_clients, *self.trading_clients]:
            client.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await client.ws.close()

    # ----- faults -----------------------------------------------------------------------------
    def drop(self) -> None:
        self.drops += 1
        for client in [*self.data_clients, *self.trading_clients]:
            client.abort()

    def drop_every(self, seconds: float | None) -> None:
        if self._dropper is not None:
            self._dropper.cancel()
            self._dropper = None
        if seconds:

            async def loop() -> None:
                while True:
                    await asyncio.sleep(seconds)
                    self.drop()

            self._dropper = asyncio.get_running_loop().create_task(loop())

    def silence(self, seconds: float) -> None:
        self.silent_until = time.monotonic() + seconds

    def freeze(self, seconds: float) -> None:
        """Silence, and answer no ping on the open streams: to a client, a dead peer.

        (aiohttp answers pings itself unless told not to: its ``_autoping`` is switched off for the
        while; pausing the socket's reading would not hold, aiohttp resumes it.)"""
        self.silence(seconds)
        sockets = [c.ws for c in [*self.data_clients, *self.trading_clients]]
        for ws in sockets:
            ws._autoping = False

        def thaw() -> None:
            for ws in sockets:
                ws._autoping = True

        asyncio.get_running_loop().call_later(seconds, thaw)

    @property
    def silenced(self) -> bool:
        return time.monotonic() < self.silent_until

    # ----- market data ------------------------------------------------------------------------
    async def data_handler(self, request: web.Request) -> web.StreamResponse:
        feed = request.match_info["feed"]
        if feed not in DATA_FEEDS:
            raise web.HTTPNotFound()
        ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        binary = "msgpack" in request.headers.get("Content-Type", "")
        client = DataClient(ws, request, feed=feed, binary=binary)
        client.writer = asyncio.get_running_loop().create_task(client.write_loop())
        self.data_clients.add(client)
        client.control({"T": "success", "msg": "connected"})
        deadline = time.monotonic() + AUTH_TIMEOUT
        try:
            while not ws.closed:
                timeout = None if client.account else max(0.0, deadline - time.monotonic())
                try:
                    msg = await asyncio.wait_for(ws.receive(), timeout)
                except TimeoutError:
                    client.error(404, "auth timeout")
                    break
                if msg.type in (
                    WSMsgType.CLOSE,
                    WSMsgType.CLOSING,
                    WSMsgType.CLOSED,
                    WSMsgType.ERROR,
                ):
                    break
                if msg.type in (WSMsgType.PING, WSMsgType.PONG):  # unanswered while frozen
                    continue
                self._on_data_message(client, msg)
        finally:
            self.data_clients.discard(client)
            client.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.writer, 1.0)
            await ws.close()
        return ws

    def _on_data_message(self, client: DataClient, msg: Any) -> None:
        try:
            payload = msgpack.unpackb(msg.data) if msg.type == WSMsgType.BINARY else orjson.loads(msg.data)
        except Exception:
            client.error(400, "invalid syntax")
            return
        if not isinstance(payload, dict):
            client.error(400, "invalid syntax")
            return
        action = payload.get("action")
        if action == "auth":
            self._auth(client, payload)
        elif action in ("subscribe", "unsubscribe"):
            if client.account is None:
                client.error(401, "not authenticated")
                return
            self._subscribe(client, payload, action == "subscribe")
        else:
            client.error(400, "invalid syntax")

    def _auth(self, client: DataClient, payload: dict[str, Any]) -> None:
        if client.account is not None:
            client.error(403, "already authenticated")
            return
        acct = self.broker.authenticate(payload.get("key"), payload.get("secret"))
        if acct is None:
            client.error(402, "auth failed")
            return
        same = [c for c in self.data_clients if c.account is acct and c.feed == client.feed]
        if self.connection_limit is not None and len(same) >= self.connection_limit:
            client.error(406, "connection limit exceeded")
            return
        client.account = acct
        client.control({"T": "success", "msg": "authenticated"})

    def _subscribe(self, client: DataClient, payload: dict[str, Any], add: bool) -> None:
        changes: dict[str, list[str]] = {}
        for channel in CHANNELS:
            symbols = payload.get(channel)
            if symbols is None:
                continue
            if not isinstance(symbols, list) or not all(
                isinstance(s, str) and (s == "*" or SYMBOL_RE.match(s)) for s in symbols
            ):
                client.error(400, "invalid syntax")
                return
            changes[channel] = symbols
        for channel, symbols in changes.items():
            for target in [
                channel,
                *(("corrections", "cancelErrors") if channel == "trades" else ()),
            ]:
                if add:
                    client.subs[target].update(symbols)
                else:
                    client.subs[target].difference_update(symbols)
        state: dict[str, Any] = {"T": "subscription"}
        state.update({c: sorted(client.subs[c]) for c in CHANNELS})
        client.control(state)

    # ----- the live ticker --------------------------------------------------------------------
    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            now = self.market.now()
            try:
                self.broker.process(now)
                if not self.replaying:
                    self._tick(self._last_tick, now)
            except Exception:  # a bug here must not kill the ticker silently
                import logging

                logging.getLogger(__name__).exception("simulator ticker failed")
            self._last_tick = now

    def _tick(self, lo: int, hi: int) -> None:
        clients = [c for c in self.data_clients if c.account is not None]
        if not clients or self.silenced:
            return
        wanted: dict[str, set[str]] = {ch: set() for ch in ("trades", "quotes", "bars", "dailyBars")}
        for c in clients:
            for ch, symbols in wanted.items():
                subs = c.subs[ch]
                symbols.update(self._expand(subs, c.feed))
        messages: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
        for binary in {c.binary for c in clients}:
            for ch, symbols in wanted.items():
                for sym in symbols:
                    messages[(ch, sym, binary)] = self._messages(ch, sym, lo, hi, binary)
        for c in clients:
            frame: list[dict[str, Any]] = []
            for ch in wanted:
                for sym in self._expand(c.subs[ch], c.feed):
                    frame.extend(messages.get((ch, sym, c.binary), ()))
            if frame:
                c.send(stream_frame(frame, c.binary))

    def _expand(self, subs: Iterable[str], feed: str) -> set[str]:
        symbols = set(subs)
        if "*" in symbols:
            symbols.discard("*")
            symbols.update(["FAKEPACA"] if feed == "test" else self.market.universe)
        return {s for s in symbols if self.market.info(s) is not None}

    def _messages(self, channel: str, sym: str, lo: int, hi: int, binary: bool) -> list[dict[str, Any]]:
        info = self.market.info(sym)
        assert info is not None
        out: list[dict[str, Any]] = []
        minute = cal.MINUTE_NS
        for day in sorted({cal.et_day_of(lo - minute), cal.et_day_of(hi)}):
            if channel == "trades":
                t = self.market.trades(sym, day)
                i, j = np.searchsorted(t.ns, [lo, hi], side="right")
                out += [trade_message(sym, t, k, info.tape, binary) for k in range(int(i), int(j))]
            elif channel == "quotes":
                q = self.market.quotes(sym, day)
                i, j = np.searchsorted(q.ns, [lo, hi], side="right")
                out += [quote_message(sym, q, k, info.tape, binary) for k in range(int(i), int(j))]
            else:  # bars complete when their minute has ended
                b = self.market.minute_bars(sym, day)
                i, j = np.searchsorted(b.ns, [lo - minute, hi - minute], side="right")
                if channel == "bars":
                    out += [bar_message("b", sym, b, k, binary) for k in range(int(i), int(j))]
                elif j > i:
                    daily = self.market.daily_bar(sym, day, hi)
                    out += [bar_message("d", sym, daily, 0, binary)] if len(daily) else []
        return out

    # ----- replay (benchmarks) ----------------------------------------------------------------
    async def replay(
        self,
        count: int,
        *,
        batch: int = 10,
        pre_encoded: bool = True,
        symbols: list[str] | None = None,
    ) -> tuple[int, float]:
        """Send ``count`` quotes to every authenticated data client as fast as sockets take them.

        ``pre_encoded`` sends frames encoded before the clock starts (the wire's ceiling); otherwise
        every frame is built and msgpack-encoded as it is sent (the live path's cost).
        """
        clients = [c for c in self.data_clients if c.account is not None]
        syms = symbols or sorted(self.market.universe)[:4]
        now = self.market.now()
        pool: list[tuple[str, Any, int]] = []
        for sym in syms:
            day = cal.et_day_of(now)
            q = self.market.quotes(sym, day)
            while len(q.ns) < 64:
                day = day.fromordinal(day.toordinal() - 1)
                q = self.market.quotes(sym, day)
            pool += [(sym, q, k) for k in range(min(len(q.ns), 2048))]
        tape = {s: self.market.info(s).tape for s in syms}  # type: ignore[union-attr]

        def frame(k: int, binary: bool) -> bytes | str:
            msgs = []
            for m in range(batch):
                sym, q, idx = pool[(k * batch + m) % len(pool)]
                msgs.append(quote_message(sym, q, idx, tape[sym], binary))
            return stream_frame(msgs, binary)

        n_frames = max(1, count // batch)
        cached = (
            {b: [frame(k, b) for k in range(256)] for b in {c.binary for c in clients}} if pre_encoded else {}
        )
        self.replaying = True
        start = time.perf_counter()
        try:
            for k in range(n_frames):
                for c in clients:
                    data = cached[c.binary][k % 256] if pre_encoded else frame(k, c.binary)
                    if c.ws.closed:
                        continue
                    if isinstance(data, bytes):
                        await c.ws.send_bytes(data)
                    else:
                        await c.ws.send_str(data)
        finally:
            self.replaying = False
        return n_frames * batch, time.perf_counter() - start

    async def busy(self, rate: float, seconds: float, symbols: list[str]) -> int:
        """A busy live feed: ``rate`` quotes a second for ``seconds``, stamped now, to every client
        subscribed to them, in frames every 10 ms (prices walk from the market's own quote)."""
        clients = [c for c in self.data_clients if c.account is not None]
        tape = {s: self.market.info(s).tape for s in symbols}  # type: ignore[union-attr]
        mids = {s: float(sum(self.market.quote_at(s, self.market.now())[:2]) / 2) for s in symbols}  # type: ignore[index]
        sent, start, step = 0, time.perf_counter(), 0.01
        carry = 0.0
        while time.perf_counter() - start < seconds:
            carry += rate * step
            n, carry = int(carry), carry - int(carry)
            now = self.market.now()
            for k in range(n):
                sym = symbols[(sent + k) % len(symbols)]
                mids[sym] += 0.01 * ((sent + k) % 3 - 1)
                msg = {"T": "q", "S": sym, "bx": "V", "bp": round(mids[sym] - 0.01, 2), "bs": 100, "ax": "V",
                       "ap": round(mids[sym] + 0.01, 2), "as": 100, "c": ["R"], "z": tape[sym]}  # fmt: skip
                for c in clients:
                    if c.wants("quotes", sym):
                        stamped = {**msg, "t": stream_timestamp(now + k, c.binary)}
                        c.send(stream_frame([stamped], c.binary))
            sent += n
            await asyncio.sleep(step)
        return sent

    # ----- trade updates ----------------------------------------------------------------------
    async def trading_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        client = TradingStreamClient(ws, request)
        client.writer = asyncio.get_running_loop().create_task(client.write_loop())
        self.trading_clients.add(client)
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                if not self._on_trading_message(client, msg.data):
                    break
        finally:
            self.trading_clients.discard(client)
            client.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.writer, 1.0)
            await ws.close()
        return ws

    def _on_trading_message(self, client: TradingStreamClient, data: str | bytes) -> bool:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            client.send(orjson.dumps({"stream": "error", "data": {"error_message": "invalid syntax"}}))
            return True
        action, body = payload.get("action"), payload.get("data") or {}
        if action in ("authenticate", "auth"):
            key = body.get("key_id") if action == "authenticate" else payload.get("key")
            secret = body.get("secret_key") if action == "authenticate" else payload.get("secret")
            client.account = self.broker.authenticate(key, secret)
            status = "authorized" if client.account else "unauthorized"
            client.send(
                orjson.dumps({"stream": "authorization", "data": {"status": status, "action": action}})
            )
            return client.account is not None
        if action == "listen":
            if client.account is None:
                msg = {
                    "stream": "authorization",
                    "data": {"status": "unauthorized", "action": "listen"},
                }
                client.send(orjson.dumps(msg))
                return True
            streams = [s for s in body.get("streams", []) if s == "trade_updates"]
            client.listening = bool(streams)
            client.send(orjson.dumps({"stream": "listening", "data": {"streams": streams}}))
            return True
        client.send(
            orjson.dumps({"stream": "error", "data": {"error_message": f"unknown action {action!r}"}})
        )
        return True

    def _on_trade_update(self, acct: Account, message: dict[str, Any]) -> None:
        if self.silenced:
            return
        frame = orjson.dumps(message)
        for client in list(self.trading_clients):
            if client.account is acct and client.listening:
                client.send(frame)
