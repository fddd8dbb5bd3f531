"""The simulator's WebSocket servers: market data (stocks ``/v2/{feed}``, crypto
``/v1beta3/crypto/us``, options ``/v1beta1/indicative`` and ``/v1beta1/opra``) and trade updates
(``/stream``).

Market data: ``connected`` on upgrade, ``auth`` within 10 s, then ``subscribe``/``unsubscribe`` with
the full subscription state echoed back; msgpack (binary, ``t`` as msgpack Timestamps) when the
client's upgrade request says ``Content-Type: application/msgpack`` (alpaca-py does), JSON text
otherwise (the option feed is msgpack only). A ticker task asks each feed (``stock_feed``,
``crypto_feed``, ``option_feed``), every ``tick_interval``,
to send what its market produced since the last tick. Faults (drop, silence, freeze) apply to every
connection of every feed. Each client has a bounded outgoing queue and a
writer task, so a slow client is cut off with ``407 slow client`` instead of stalling the others.

Trade updates: no greeting; ``authenticate`` (or ``auth``) then ``listen``; JSON in binary frames,
as Alpaca's paper endpoint sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Protocol

import msgpack
import orjson
from aiohttp import WSMsgType, web

from ..broker import Account, Broker
from ..market import Market
from ..market.occ import OCC_RE
from ..wire import stream_frame, stream_timestamp
from .crypto_feed import CryptoFeed
from .option_feed import OptionFeed
from .stock_feed import FEEDS as DATA_FEEDS
from .stock_feed import StockFeed
from .stream_clients import DataClient, TradingStreamClient
from .trade_updates import on_trading_message

CRYPTO_PATH = "/v1beta3/crypto/us"
OPTION_FEEDS = ("indicative", "opra")
AUTH_TIMEOUT = 10.0


class Feed(Protocol):
    """What a market-data stream sends; the server does connections, auth and subscriptions."""

    @property
    def channels(self) -> tuple[str, ...]: ...

    def valid_symbol(self, symbol: str) -> bool: ...

    def linked(self, channel: str) -> tuple[str, ...]: ...

    def refusal(self, client: DataClient, changes: dict[str, list[str]]) -> tuple[int, str] | None: ...

    def subscribed(self, client: DataClient) -> None: ...

    def tick(self, clients: list[DataClient], lo: int, hi: int) -> None: ...


class StreamServer:
    """Both stream endpoints, the live ticker and the stream faults (drop, silence, replay)."""

    def __init__(
        self,
        market: Market,
        broker: Broker,
        *,
        crypto: CryptoFeed,
        options: OptionFeed,
        tick_interval: float = 0.1,
        connection_limit: int | None = 1,
    ) -> None:
        self.market = market
        self.stocks = StockFeed(market)
        self.crypto = crypto
        self.options = options
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
        app.router.add_get(CRYPTO_PATH, self.data_handler)
        app.router.add_get("/v1beta1/{feed:" + "|".join(OPTION_FEEDS) + "}", self.data_handler)

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
    def feed_of(self, client: DataClient) -> Feed:
        return self._feed(client.feed)

    def _feed(self, name: str) -> Feed:
        if name == "crypto":
            return self.crypto
        return self.options if name in OPTION_FEEDS else self.stocks

    async def data_handler(self, request: web.Request) -> web.StreamResponse:
        feed = request.match_info.get("feed", "crypto")
        if feed not in (*DATA_FEEDS, "crypto", *OPTION_FEEDS):
            raise web.HTTPNotFound()
        ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        binary = "msgpack" in request.headers.get("Content-Type", "")
        if feed in OPTION_FEEDS and not binary:  # Alpaca's words (ALPACA_WIRE_MORE B3)
            refusal = {
                "T": "error",
                "code": 412,
                "msg": "option messages are only available in MsgPack format",
            }
            await ws.send_str(orjson.dumps([refusal]).decode())
            await ws.close()
            return ws
        channels = self._feed(feed).channels
        client = DataClient(ws, request, feed=feed, binary=binary, channels=channels)
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
        feed = self.feed_of(client)
        changes: dict[str, list[str]] = {}
        for channel in feed.channels:
            symbols = payload.get(channel)
            if symbols is None:
                continue
            if not isinstance(symbols, list) or not all(
                isinstance(s, str) and feed.valid_symbol(s) for s in symbols
            ):
                client.error(400, "invalid syntax")
                return
            changes[channel] = symbols
        refusal = feed.refusal(client, changes) if add else None
        if refusal is not None:
            client.error(*refusal)
            return
        for channel, symbols in changes.items():
            for target in feed.linked(channel):
                if add:
                    client.subs[target].update(symbols)
                else:
                    client.subs[target].difference_update(symbols)
        state: dict[str, Any] = {"T": "subscription"}
        state.update({c: sorted(client.subs[c]) for c in feed.channels})
        client.control(state)
        feed.subscribed(client)

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
        for name in ("stocks", "crypto", "options"):
            feed = getattr(self, name)
            mine = [c for c in clients if self.feed_of(c) is feed]
            if mine:
                feed.tick(mine, lo, hi)

    # ----- replay (benchmarks) ----------------------------------------------------------------
    async def replay(
        self,
        count: int,
        *,
        batch: int = 10,
        pre_encoded: bool = True,
        symbols: list[str] | None = None,
        channel: str = "quotes",
    ) -> tuple[int, float]:
        """Send ``count`` messages to every authenticated data client of the symbols' stream (crypto
        when they are pairs, ``BTC/USD``) as fast as sockets take them; (messages sent, seconds).

        ``pre_encoded`` sends frames encoded before the clock starts (the wire's ceiling); otherwise
        every frame is built and msgpack-encoded as it is sent (the live path's cost). ``channel`` is
        ``quotes`` (stocks and crypto), ``trades`` or ``orderbooks`` (crypto: a cycle of book
        increments after a whole-book reset, so a client's book stays a real book).
        """
        crypto = bool(symbols) and all("/" in s for s in symbols or ())
        options = bool(symbols) and all(OCC_RE.match(s) for s in symbols or ())
        family: Feed = self.crypto if crypto else self.options if options else self.stocks
        clients = [c for c in self.data_clients if c.account is not None and self.feed_of(c) is family]
        if crypto:
            pool = self.crypto.replay_messages(symbols, channel, batch)
        elif options:
            pool = self.options.replay_messages(symbols, channel)
        else:
            pool = self.stocks.replay_messages(symbols, channel)

        def frame(k: int, binary: bool) -> bytes | str:
            return stream_frame([pool[(k * batch + m) % len(pool)](binary) for m in range(batch)], binary)

        n_frames = max(1, count // batch)
        cycle = len(pool) // batch if channel == "orderbooks" else 256
        cached = (
            {b: [frame(k, b) for k in range(cycle)] for b in {c.binary for c in clients}}
            if pre_encoded
            else {}
        )
        self.replaying = True
        start = time.perf_counter()
        try:
            if channel == "orderbooks":
                for c in clients:
                    await self._send_now(c, self.crypto.replay_reset(c, symbols))
            if pre_encoded and all(_transport(c) is not None for c in clients):
                framed = {b: [_ws_frame(x) for x in frames] for b, frames in cached.items()}
                await _blast(clients, framed, n_frames)
            else:
                for k in range(n_frames):
                    for c in clients:
                        data = cached[c.binary][k % cycle] if pre_encoded else frame(k, c.binary)
                        if c.ws.closed:
                            continue
                        await self._send_now(c, data)
        finally:
            self.replaying = False
            for c in clients:
                if c.feed == "crypto":
                    self.crypto.replay_end(c)
        return n_frames * batch, time.perf_counter() - start

    @staticmethod
    async def _send_now(client: DataClient, data: bytes | str) -> None:
        if client.ws.closed:
            return
        if isinstance(data, bytes):
            await client.ws.send_bytes(data)
        else:
            await client.ws.send_str(data)

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
        return on_trading_message(self.broker, client, data)

    def _on_trade_update(self, acct: Account, message: dict[str, Any]) -> None:
        if self.silenced:
            return
        frame = orjson.dumps(message)
        for client in list(self.trading_clients):
            if client.account is acct and client.listening:
                client.send(frame)


# ----- the replay's fast path: whole WebSocket frames written in runs ------------------------------------
# aiohttp's send_bytes costs a coroutine and a write per frame, which caps a replay near 40,000 frames/s
# here — below what the clients it measures can take. Pre-encoded frames are framed once (server frames
# are unmasked; uncompressed frames are valid even where permessage-deflate was agreed, RFC 7692) and
# written 64 at a time, waiting while the socket's buffer is full.
_RUN = 64
_HIGH = 4 * 2**20


def _ws_frame(data: bytes | str) -> bytes:
    payload = data if isinstance(data, bytes) else data.encode()
    opcode = 0x2 if isinstance(data, bytes) else 0x1
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def _transport(client: Any) -> Any:
    writer = getattr(client.ws, "_writer", None)
    transport = getattr(writer, "transport", None)
    return transport if transport is not None and not transport.is_closing() else None


async def _blast(clients: list[Any], framed: dict[bool, list[bytes]], n_frames: int) -> None:
    """Frame ``k`` is ``framed[binary][k % len]``, in order, to every client (as the slow path sends)."""
    sent = 0
    while sent < n_frames:
        take = min(_RUN, n_frames - sent)
        for c in clients:
            transport = _transport(c)
            if transport is None:
                continue
            frames = framed[c.binary]
            transport.write(b"".join(frames[(sent + j) % len(frames)] for j in range(take)))
            while transport.get_write_buffer_size() > _HIGH and not transport.is_closing():
                await asyncio.sleep(0.001)
        sent += take
        if sent % (_RUN * 16) == 0:
            await asyncio.sleep(0)  # let the loop breathe (pings, other clients)
