"""Stream connections: a bounded outgoing queue and a writer task per client, so a slow client is
cut off (``407 slow client`` on Alpaca) instead of stalling the others."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import msgpack
import orjson
from aiohttp import web

from ..broker import Account

QUEUE_FRAMES = 4096


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
    channels: tuple[str, ...] = ()
    subs: dict[str, set[str]] = field(default_factory=dict)
    books: dict[str, int] = field(default_factory=dict)  # crypto: the book tick each symbol was sent at

    def __post_init__(self) -> None:
        self.subs = {c: set() for c in self.channels}

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
