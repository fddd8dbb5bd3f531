"""How the simulator's HTTP answers travel: compressed when the request asks, as Alpaca's are, and —
for benchmarks and tests — over an emulated network link (bandwidth and round-trip time).

* **Compression**: ``Accept-Encoding: gzip`` (or ``deflate``) gets a gzip (zlib) body with
  ``Content-Encoding`` and ``Vary: Accept-Encoding``; ``identity`` or no header gets the plain body.
  Compressed bodies are kept in a small LRU keyed by a digest of the plain body, so a page served
  twice is compressed once.
* **The link** (``Link(mbps, rtt_ms)``): every HTTP answer waits one round trip before its first byte
  (the request's way there and the answer's way back), then its bytes leave at the link's rate,
  shared by every connection — one link, as between a laptop and Alpaca. WebSocket streams are not
  paced. Connection set-up (TCP/TLS handshakes) is not emulated: clients keep connections alive.
"""

from __future__ import annotations

import asyncio
import hashlib
import zlib
from collections import OrderedDict
from typing import Any

from aiohttp import web

CHUNK = 16 * 1024  # bytes written at a time over the link
_ENCODINGS = ("gzip", "deflate")


def accepted_encoding(header: str | None) -> str | None:
    """The first of gzip/deflate that an ``Accept-Encoding`` header accepts (q > 0), else None."""
    if not header:
        return None
    accepted: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        accepted[name.strip().lower()] = q
    for name in _ENCODINGS:
        if accepted.get(name, accepted.get("*", 0.0)) > 0:
            return name
    return None


UNCACHED = web.ResponseKey("uncached", bool)  # ``response[UNCACHED] = True``: compressed, not cached


class Compressor:
    """gzip/deflate bodies, with an LRU of recent results bounded by their total size.

    ``engine="zlib"`` (default) compresses as tightly as Alpaca's answers measured (a bars page 5.4x at
    level 6); ``"isal"`` uses ISA-L (levels 0-3, 6-8x faster, bodies ~15% bigger) for loopback benchmarks,
    where bytes are free and the server's CPU is not what is measured."""

    def __init__(self, level: int = 6, max_bytes: int = 64 * 2**20, engine: str = "zlib") -> None:
        if engine not in ("zlib", "isal"):
            raise ValueError(f"compression_engine must be 'zlib' or 'isal', not {engine!r}")
        self.level = level if engine == "zlib" else max(0, min(level, 3))
        self.engine: Any = zlib
        if engine == "isal":
            from isal import isal_zlib

            self.engine = isal_zlib
        self.max_bytes = max_bytes
        self._cache: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._bytes = 0

    def compress(self, body: bytes, encoding: str, *, cache: bool = True) -> bytes:
        """``cache`` False: an answer that will not be asked again as it is (a chain page stamped with the
        latest quote) is compressed without hashing it for the cache."""
        key = (encoding, hashlib.sha1(body, usedforsecurity=False).digest()) if cache else None  # (fastest)
        hit = self._cache.get(key) if key is not None else None
        if hit is not None:
            self._cache.move_to_end(key)  # type: ignore[arg-type]
            return hit
        wbits = 31 if encoding == "gzip" else 15  # HTTP "deflate" is the zlib format (RFC 9110 §8.4.1.2)
        packer = self.engine.compressobj(self.level, zlib.DEFLATED, wbits)
        out: bytes = packer.compress(body) + packer.flush()
        if key is None:
            return out
        self._cache[key] = out
        self._bytes += len(out)
        while self._bytes > self.max_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= len(old)
        return out

    def encode(self, request: web.Request, response: web.Response) -> None:
        """Compress ``response``'s body in place if the request accepts it (non-empty bodies only)."""
        body = response.body
        if not isinstance(body, bytes) or not body or "Content-Encoding" in response.headers:
            return
        encoding = accepted_encoding(request.headers.get("Accept-Encoding"))
        response.headers["Vary"] = "Accept-Encoding"
        if encoding is None:
            return
        response.body = self.compress(body, encoding, cache=not response.get(UNCACHED))
        response.headers["Content-Encoding"] = encoding


class Link:
    """An emulated network link for HTTP answers: ``rtt_ms`` before the first byte, then ``mbps``.

    The bandwidth is one budget for every connection: two answers at once each get about half."""

    def __init__(self, mbps: float | None = None, rtt_ms: float = 0.0) -> None:
        if mbps is not None and not mbps > 0:
            raise ValueError("link_mbps must be a positive number of megabits per second (or None)")
        if not rtt_ms >= 0:
            raise ValueError("rtt_ms must be zero or more milliseconds")
        self.bytes_per_s = mbps * 1e6 / 8 if mbps else None
        self.rtt_s = rtt_ms / 1000
        self._free_at = 0.0  # when the link has sent everything queued on it so far
        self.sent = 0  # body bytes sent over the link (for benchmarks)

    @property
    def active(self) -> bool:
        return self.bytes_per_s is not None or self.rtt_s > 0

    async def send(self, request: web.Request, response: web.Response) -> web.StreamResponse:
        """Send ``response`` over the link; returns the prepared (already sent) answer."""
        body = response.body if isinstance(response.body, bytes) else b""
        if self.rtt_s:
            await asyncio.sleep(self.rtt_s)
        out = web.StreamResponse(status=response.status, reason=response.reason, headers=response.headers)
        out.content_length = len(body)
        await out.prepare(request)
        loop = asyncio.get_running_loop()
        for start in range(0, len(body), CHUNK):
            chunk = body[start : start + CHUNK]
            if self.bytes_per_s is not None:
                now = loop.time()
                self._free_at = max(now, self._free_at) + len(chunk) / self.bytes_per_s
                await asyncio.sleep(self._free_at - now)
            await out.write(chunk)
            self.sent += len(chunk)
        await out.write_eof()
        return out
