"""The connections: a data feed per asset class (``StockFeed`` on ``/v2/<feed>``, ``CryptoFeed`` on
``/v1beta3/crypto/us``; one each per session, made on first use) and ``TradeFeed`` (trade updates, one
per account the session trades on), all alpaca-py's streams with small subclasses.

Liveness is by ping/pong, not by silence: alpaca-py's websockets client pings every ``ping_interval``
and drops a connection whose pong does not come within ``ping_timeout``; alpaca-py then reconnects with
backoff and jitter and resubscribes. A quiet market (or a bars-only subscription between minutes) is
not a dead socket: no data for ``stale_after`` seconds only marks the hub "stale".
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgpack
import msgspec
import websockets
from alpaca.data.live import CryptoDataStream, OptionDataStream, StockDataStream
from alpaca.trading.stream import TradingStream

from .._wire import fast_frame_decoder

if TYPE_CHECKING:
    from .hub import StreamHub


def _keepalive(ping_interval: float) -> dict[str, Any]:
    return {"ping_interval": ping_interval, "ping_timeout": ping_interval, "max_queue": 1024}


class _DataFeedMixin:
    """What every market-data feed adds to alpaca-py's stream: it reports connections to the hub
    (as ``asset``'s feed) and hands it whole frames.

    ``_consume`` is replaced (benchmarks/stream.py): alpaca-py wraps every ``recv`` in
    ``asyncio.wait_for`` and awaits a handler per message, which caps ingestion near 90k quotes/s
    here. This version receives frames directly, hands each decoded frame to the hub in one call, and
    watches for a stop request and for staleness in a side task. Connect, auth, subscribe, keepalive
    and reconnect-with-backoff stay alpaca-py's.
    """

    asset = "stock"
    # alpaca-py's DataStream attributes the mixin uses (declared for the type checker)
    _ws: Any
    _should_run: bool
    _stop_stream_queue: Any
    _data_received: bool
    _running: bool
    _handlers: dict[str, dict[str, Any]]
    _reconnect_min_backoff: float
    _reconnect_max_backoff: float

    def __init__(self, hub: StreamHub, key: str, secret: str, url: str) -> None:
        super().__init__(key, secret, raw_data=True, url_override=url,  # type: ignore[call-arg]
                         websocket_params=_keepalive(hub.ping_interval))  # fmt: skip
        self._hub = hub
        self._reconnect_min_backoff = hub.min_backoff
        self._reconnect_max_backoff = hub.max_backoff
        self._last_data = 0.0
        self.state = "idle"
        self.connections = self.reconnects = self.drops = 0

    async def _start_ws(self) -> None:
        self._hub._connecting(self)
        try:
            await super()._start_ws()  # type: ignore[misc]
        except Exception as err:
            self._hub._failed(err)
            raise
        self._hub._connected(self)

    async def close(self) -> None:
        await super().close()  # type: ignore[misc]
        self._hub._disconnected(self)

    async def shutdown(self) -> None:
        await self.stop_ws()  # type: ignore[attr-defined]
        await self.close()

    async def _consume(self) -> bool:
        loop = asyncio.get_running_loop()
        ws = self._ws
        assert ws is not None
        self._data_received = False
        self._last_data = loop.time()
        watchdog = asyncio.ensure_future(self._watch(loop))
        ingest, ingest_wire = self._hub._ingest_frame, self._hub._ingest_wire
        decode = fast_frame_decoder()[0]

        def take(frame: Any) -> int:
            """A frame of quotes and trades takes the shortcut; any other the general path (timestamps
            as int nanoseconds either way: no Timestamp object per message)."""
            if type(frame) is bytes:
                try:
                    return int(ingest_wire(decode(frame)))
                except (msgspec.DecodeError, ValueError):
                    pass
            return int(ingest(msgpack.unpackb(frame, timestamp=2)))

        try:
            while True:
                try:
                    frame = await ws.recv()
                except websockets.ConnectionClosed:
                    if not self._should_run or not self._stop_stream_queue.empty():
                        return False
                    raise  # a drop, or no pong: alpaca-py reconnects with backoff
                if take(frame):
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
            self._hub._mark_stale(self, loop.time() - self._last_data >= self._hub.stale_after)


class StockFeed(_DataFeedMixin, StockDataStream):
    """The stock feed (``/v2/iex``, ``/v2/sip``, ``/v2/test``)."""

    asset = "stock"


class CryptoFeed(_DataFeedMixin, CryptoDataStream):
    """The crypto feed (``/v1beta3/crypto/us``): quotes, trades, bars and order books, 24/7."""

    asset = "crypto"


class OptionFeed(_DataFeedMixin, OptionDataStream):
    """The option feed (``/v1beta1/indicative`` or ``/opra``; msgpack only): quotes and trades."""

    asset = "option"


FEEDS: dict[str, type[_DataFeedMixin]] = {"stock": StockFeed, "crypto": CryptoFeed, "option": OptionFeed}
DataFeed = _DataFeedMixin


class TradeFeed(TradingStream):
    """alpaca-py's trade-updates stream (raw JSON) for one account, handing each update to the hub."""

    def __init__(self, hub: StreamHub, kind: str, key: str, secret: str, url: str) -> None:
        super().__init__(key, secret, raw_data=True, url_override=url,
                         websocket_params=_keepalive(hub.ping_interval))  # fmt: skip
        self._hub = hub
        self.kind = kind
        self._reconnect_min_backoff = hub.min_backoff
        self._reconnect_max_backoff = hub.max_backoff
        self._trade_updates_handler = self._handle  # type: ignore[assignment]

    async def _handle(self, message: dict[str, Any]) -> None:
        self._hub._trade_update(self.kind, message.get("data") or {})

    async def _start_ws(self) -> None:
        try:
            await super()._start_ws()  # type: ignore[no-untyped-call]
        except Exception as err:
            self._hub._failed(err)
            raise
        self._hub._trading_connected(self.kind)

    async def shutdown(self) -> None:
        await self.stop_ws()
        await self.close()


class PollFeed:
    """The crypto feed without keys (``connect("crypto-data")``): Alpaca serves crypto market data over
    REST without keys but its stream needs them, so this feed asks ``poll(quotes, books)`` (the
    session's REST calls, run off the loop in a thread) every ``interval`` seconds and hands the
    answers to the hub as stream messages. Same face to the hub as a socket feed."""

    asset = "crypto"

    def __init__(self, hub: StreamHub, poll: Any, interval: float = 1.0) -> None:
        self._hub = hub
        self._poll = poll
        self.interval = interval
        self._handlers: dict[str, dict[str, Any]] = {"quotes": {}, "trades": {}, "bars": {}, "orderbooks": {}}
        self._running = False
        self._stop = False
        self.state = "idle"
        self.connections = self.reconnects = self.drops = 0

    async def _run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        self._hub._connecting(self)  # type: ignore[arg-type]
        self._running = True
        failing = False
        while not self._stop:
            quotes, books = list(self._handlers["quotes"]), list(self._handlers["orderbooks"])
            if quotes or books:
                try:
                    messages = await loop.run_in_executor(None, self._poll, quotes, books)
                except Exception as err:  # a failed round: report, show "reconnecting", try again
                    self._hub._failed(err)
                    if not failing:
                        failing = True
                        self._hub._disconnected(self)  # type: ignore[arg-type]
                        self._hub._connecting(self)  # type: ignore[arg-type]
                else:
                    if failing or self.state != "connected":
                        failing = False
                        self._hub._connected(self)  # type: ignore[arg-type]
                    self._hub._ingest_frame(messages)
            await asyncio.sleep(self.interval)

    async def _send_subscribe_msg(self) -> None:  # the next round asks for the new symbols
        return None

    async def _send_unsubscribe_msg(self, channel: str, symbols: list[str]) -> None:
        return None

    async def shutdown(self) -> None:
        self._stop = True
