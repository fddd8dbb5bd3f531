"""The connections: ``DataFeed`` (market data, one per session) and ``TradeFeed`` (trade updates, one per
account the session trades on), both alpaca-py's streams with small subclasses.

Liveness is by ping/pong, not by silence: alpaca-py's websockets client pings every ``ping_interval``
and drops a connection whose pong does not come within ``ping_timeout``; alpaca-py then reconnects with
backoff and jitter and resubscribes. A quiet market (or a bars-only subscription between minutes) is
not a dead socket: no data for ``stale_after`` seconds only marks the hub "stale".
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgpack
import websockets
from alpaca.data.live import StockDataStream
from alpaca.trading.stream import TradingStream

if TYPE_CHECKING:
    from .hub import StreamHub


def _keepalive(ping_interval: float) -> dict[str, Any]:
    return {"ping_interval": ping_interval, "ping_timeout": ping_interval, "max_queue": 1024}


class DataFeed(StockDataStream):
    """alpaca-py's market-data stream, reporting connections to the hub and handing it whole frames.

    ``_consume`` is replaced (benchmarks/stream.py): alpaca-py wraps every ``recv`` in
    ``asyncio.wait_for`` and awaits a handler per message, which caps ingestion near 90k quotes/s
    here. This version receives frames directly, hands each decoded frame to the hub in one call, and
    watches for a stop request and for staleness in a side task. Connect, auth, subscribe, keepalive
    and reconnect-with-backoff stay alpaca-py's.
    """

    def __init__(self, hub: StreamHub, key: str, secret: str, url: str) -> None:
        super().__init__(key, secret, raw_data=True, url_override=url,
                         websocket_params=_keepalive(hub.ping_interval))  # fmt: skip
        self._hub = hub
        self._reconnect_min_backoff = hub.min_backoff
        self._reconnect_max_backoff = hub.max_backoff
        self._last_data = 0.0

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

    async def shutdown(self) -> None:
        await self.stop_ws()
        await self.close()

    async def _consume(self) -> bool:
        loop = asyncio.get_running_loop()
        ws = self._ws
        assert ws is not None
        self._data_received = False
        self._last_data = loop.time()
        watchdog = asyncio.ensure_future(self._watch(loop))
        ingest = self._hub._ingest_frame

        def unpack(frame: Any) -> Any:  # timestamps as int nanoseconds: no Timestamp object per message
            return msgpack.unpackb(frame, timestamp=2)

        try:
            while True:
                try:
                    frame = await ws.recv()
                except websockets.ConnectionClosed:
                    if not self._should_run or not self._stop_stream_queue.empty():
                        return False
                    raise  # a drop, or no pong: alpaca-py reconnects with backoff
                if ingest(unpack(frame)):
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
            self._hub._mark_stale(loop.time() - self._last_data >= self._hub.stale_after)


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
