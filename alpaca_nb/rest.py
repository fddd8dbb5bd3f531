"""The one HTTP choke point under alpaca-py's REST clients: timeouts, a rate limiter, no blind
retries, and the one place where HTTP and transport failures become ``alpaca_nb.errors``.

alpaca-py's ``RESTClient._request`` sends without a timeout and retries 429/504 for every method,
POST included (a duplicate-order risk). ``SafeRESTMixin`` replaces that one method, keeping alpaca-py's
URL building, headers and model parsing:

* every request has the session's timeout;
* a client-side limiter keeps each key under its per-minute budget;
* only requests that are safe to repeat (GET) are retried, and only on 429, after ``Retry-After`` /
  ``X-RateLimit-Reset``; POST, PATCH and DELETE are never resent here (``trading.orders`` decides);
* HTTP errors become ``errors.from_http(...)``; transport failures (``translate_transport``) become
  ``RequestTimeoutError`` / ``ConnectionLostError`` / ``InvalidResponseError`` — a body cut off or not
  JSON included. The pipelined bars path (``PipelinedGets``) uses the same functions and the same limiter;
* each request is logged on ``alpaca_nb.rest`` with method, path, status, latency and client_order_id.

Secrets: request headers are built inside the call that sends them and never kept in a local variable
or an exception, so ``%xmode Verbose`` tracebacks (which print locals) cannot show them.
"""

from __future__ import annotations

import functools
import http.client
import logging
import os
import re
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import requests
import urllib3

from .errors import (
    AlpacaNbError,
    APIError,
    ConnectionLostError,
    InvalidResponseError,
    RequestTimeoutError,
    TransportError,
    from_http,
)

log = logging.getLogger("alpaca_nb.rest")
SAFE_METHODS = frozenset({"GET", "HEAD"})
ACCEPT_COMPRESSED = {"Accept-Encoding": "gzip, deflate"}  # what requests asks for; Alpaca's data API gzips
MAX_RATE_LIMIT_RETRIES = 3
MAX_WAIT_S = 60.0


class RateLimiter:
    """At most ``limit`` requests per ``period`` seconds (sliding window); ``None`` means no limit."""

    def __init__(self, limit: int | None = 200, period: float = 60.0) -> None:
        self.limit = limit
        self.period = period
        self._stamps: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def close(self) -> None:
        """The session closed: whoever waits (or would wait) for a slot gives up (``ConnectionLostError``)."""
        self._closed.set()

    def acquire(self) -> float:
        """Wait for a slot (and out any pause a 429 asked for); returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._paused_until - now
                if wait <= 0 and self.limit is not None:
                    while self._stamps and now - self._stamps[0] >= self.period:
                        self._stamps.popleft()
                    if len(self._stamps) >= self.limit:
                        wait = self.period - (now - self._stamps[0])
                if wait <= 0:
                    if self.limit is not None:
                        self._stamps.append(now)
                    return waited
            if self._closed.is_set():  # closed: nobody waits any more (a REST thread must be able to stop)
                raise ConnectionLostError("the session was closed while this request waited for its turn")
            self._closed.wait(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after the server said 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def remaining(self) -> int | None:
        if self.limit is None:
            return None
        with self._lock:
            now = time.monotonic()
            return self.limit - sum(1 for s in self._stamps if now - s < self.period)


# ----- the translation point -----------------------------------------------------------------------
def translate_transport(
    err: BaseException, what: str, timeout: float, *, via_proxy: bool = False
) -> TransportError:
    """A failure while sending or reading (requests, urllib3, http.client, ssl, socket) as our error;
    ``what`` is ``"POST /v2/orders (client_order_id=…)"``; ``via_proxy``: the connection was to a proxy.
    The original is never chained: it, and the frames below it, hold the request and its headers. A
    Ctrl-C is raised again as a new, bare ``KeyboardInterrupt`` for the same reason."""
    if isinstance(err, KeyboardInterrupt | SystemExit):
        raise type(err)() from None
    u3 = urllib3.exceptions
    if not isinstance(err, requests.RequestException | OSError | http.client.HTTPException | u3.HTTPError):
        return ConnectionLostError(f"{what}: the request failed ({type(err).__name__})")
    text = repr(err)
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(err, ssl.SSLCertVerificationError):
        return ConnectionLostError(
            f"{what}: the server's TLS certificate could not be verified — if your network's proxy or CA "
            "signs it, point REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) at that CA bundle"
        )
    if isinstance(err, requests.exceptions.SSLError | ssl.SSLError | u3.SSLError):
        return ConnectionLostError(f"{what}: the TLS handshake failed (does the server speak HTTPS there?)")
    if "CA certificate bundle" in text:
        return ConnectionLostError(
            f"{what}: the CA bundle in REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE could not be read"
        )
    proxy_failed = (
        isinstance(err, requests.exceptions.ProxyError | u3.ProxyError) or "Tunnel connection failed" in text
    )
    refused = isinstance(
        err, u3.NewConnectionError | ConnectionRefusedError
    )  # urllib3: a ConnectTimeoutError
    if proxy_failed or (via_proxy and refused):
        return ConnectionLostError(f"{what}: the proxy (HTTPS_PROXY/HTTP_PROXY) refused or failed it")
    if not refused and isinstance(err, requests.Timeout | TimeoutError | u3.TimeoutError):
        return RequestTimeoutError(f"{what}: no answer within {timeout:g} s")
    if isinstance(err, requests.exceptions.ContentDecodingError | u3.DecodeError):
        return InvalidResponseError(f"{what}: the answer's compressed body could not be decoded")
    cut = (requests.exceptions.ChunkedEncodingError, http.client.IncompleteRead)
    if isinstance(err, cut) or "IncompleteRead" in text or "ended prematurely" in text:
        return InvalidResponseError(f"{what}: the answer was cut off before its end")
    if "Read timed out" in text:
        return RequestTimeoutError(f"{what}: no answer within {timeout:g} s")
    return ConnectionLostError(f"{what}: the connection failed or was dropped")


def session_verify(session: requests.Session) -> dict[str, Any]:
    """``{"verify": SSL_CERT_FILE}`` where requests alone would ignore that variable (no
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, the session's default verification); else ``{}``."""
    env = os.environ
    if (
        session.verify is True
        and session.trust_env
        and env.get("SSL_CERT_FILE")
        and not (env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE"))
    ):
        return {"verify": env["SSL_CERT_FILE"]}
    return {}


# What Alpaca answers on success, by request: (methods, path pattern after /v2, JSON type, keys it
# always has). An answer of another shape is not Alpaca's answer: as ambiguous as a cut-off one.
_ORDER_KEYS = ("id", "client_order_id", "symbol", "status")
SHAPES: tuple[tuple[frozenset[str], re.Pattern[str], type, tuple[str, ...]], ...] = tuple(
    (frozenset(methods.split()), re.compile(pattern), kind, keys)
    for methods, pattern, kind, keys in (
        ("POST", r"/orders", dict, _ORDER_KEYS),
        ("GET", r"/orders", list, ()),
        ("DELETE", r"/orders", list, ()),
        ("GET PATCH", r"/orders/[^/]+", dict, _ORDER_KEYS),
        ("GET", r"/orders:by_client_order_id", dict, _ORDER_KEYS),
        ("GET", r"/positions", list, ()),
        ("DELETE", r"/positions", list, ()),
        ("GET", r"/positions/.+", dict, ("symbol", "qty")),
        ("DELETE", r"/positions/.+", dict, _ORDER_KEYS),
        ("GET", r"/account", dict, ("id", "status")),
        ("GET PATCH", r"/account/configurations", dict, ()),
        ("GET", r"/assets", list, ()),
        ("GET", r"/assets/.+", dict, ("symbol", "tradable")),
        ("GET", r"/clock", dict, ("is_open",)),
        ("GET", r"/calendar", list, ()),
        ("GET", r"/stocks/.+", dict, ()),
        ("GET", r"/crypto/.+", dict, ()),
    )
)


def _shape(method: str, path: str) -> tuple[type, tuple[str, ...]] | None:
    for methods, pattern, kind, keys in SHAPES:
        if method in methods and pattern.fullmatch(path):
            return kind, keys
    return None


def decode_json(
    body: bytes | memoryview, what: str, method: str = "GET", path: str = "", *, status: int = 200
) -> Any:
    """The JSON of a successful answer, checked to be what Alpaca sends there (``SHAPES``).

    A body that is empty (but for a 204), not JSON, or of another shape is an ``InvalidResponseError``:
    for an order, as ambiguous as an answer cut off."""
    if not body:
        if status == 204 or (method == "DELETE" and _shape(method, path) is None):
            return None
        raise InvalidResponseError(f"{what}: the answer has no body (HTTP {status})")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidResponseError(f"{what}: the answer is not JSON ({len(body)} bytes)") from None
    expected = _shape(method, path)
    if expected is None:
        if not isinstance(payload, dict | list):
            raise InvalidResponseError(f"{what}: the answer is not a JSON object or array")
        return payload
    kind, keys = expected
    if not isinstance(payload, kind) or (keys and not all(k in payload for k in keys)):  # type: ignore[operator]
        raise InvalidResponseError(f"{what}: the answer is not the {kind.__name__} Alpaca sends here")
    return payload


def decode_typed(body: bytes | memoryview, decode: Callable[[Any], Any], what: str) -> Any:
    """``decode(body)`` for a typed msgspec decoder (``_wire.chain_page_decoders``): a body that is not
    JSON, or not of the types it holds, is an ``InvalidResponseError`` — as ``decode_json``."""
    import msgspec

    if not body:
        raise InvalidResponseError(f"{what}: the answer has no body")
    try:
        return decode(body)
    except msgspec.ValidationError as e:
        raise InvalidResponseError(f"{what}: the answer is not what Alpaca sends here ({e})") from None
    except msgspec.DecodeError:
        raise InvalidResponseError(f"{what}: the answer is not JSON ({len(body)} bytes)") from None


def retry_wait(headers: Mapping[str, str] | http.client.HTTPMessage) -> float | None:
    """Seconds to wait from ``Retry-After``, else from ``X-RateLimit-Reset`` (epoch seconds)."""
    try:
        if headers.get("Retry-After"):
            return max(0.0, float(headers["Retry-After"]))
        if headers.get("X-RateLimit-Reset"):
            return max(0.0, float(headers["X-RateLimit-Reset"]) - time.time())
    except ValueError:
        pass
    return None


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole HTTP answer: status, headers and the body already read."""

    status: int
    headers: Mapping[str, str] | http.client.HTTPMessage = field(repr=False)  # never in a traceback
    body: bytes = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def view(self) -> memoryview:
        """The body as a view: what a verbose traceback shows of it is ``<memory at …>``, never its
        bytes (an answer may echo the request's headers)."""
        return memoryview(self.body)


def _what(method: str, path: str, coid: str | None) -> str:
    return f"{method} {path}" + (f" (client_order_id={coid})" if coid else "")


class _MaskedHeaders(dict[str, str]):
    """Request headers that never print themselves (they carry the keys)."""

    def __repr__(self) -> str:
        return "{headers: '****'}"

    __str__ = __repr__


def _headers(client: Any) -> _MaskedHeaders:
    """alpaca-py's headers for ``client``, without the ``None`` ones a keyless crypto client makes
    (requests drops them; urllib3 would send ``None``)."""
    return _MaskedHeaders({k: v for k, v in client._get_default_headers().items() if v is not None})


class SafeRESTMixin:
    """Mixed in before an alpaca-py REST client class (``TradingClient``, ``StockHistoricalDataClient``).

    Public: ``get_json(path, params)`` and ``get_raw(path, params)`` for calls alpaca-py does not wrap
    (or wraps slowly). Everything else goes through alpaca-py's own methods, which land in ``_request``.
    """

    _session: requests.Session
    _anb_timeout: float = 10.0
    _anb_limiter: RateLimiter
    _anb_account: str = "paper"
    _anb_last_error: str | None = None

    def _anb_setup(self, *, timeout: float, limiter: RateLimiter, account: str) -> None:
        self._anb_timeout = timeout
        self._anb_limiter = limiter
        self._anb_account = account

    @property
    def last_error(self) -> str | None:
        return self._anb_last_error

    @property
    def timeout(self) -> float:
        return self._anb_timeout

    @property
    def limiter(self) -> RateLimiter:
        return self._anb_limiter

    def close(self) -> None:
        """Close the client's keep-alive connections."""
        self._session.close()
        self._idle().clear()

    def _idle(self) -> IdleConnections:
        idle = self.__dict__.get("_anb_idle")
        if idle is None:
            idle = self.__dict__.setdefault("_anb_idle", IdleConnections())
        return idle  # type: ignore[no-any-return]

    def _connector(self) -> Connector:
        """Connections for the paged fast path, set up as this client's session would set them up."""
        return Connector(self._session, str(self._base_url), self._anb_timeout)  # type: ignore[attr-defined]

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The parsed JSON of ``GET /v2{path}``."""
        return self._request("GET", path, params)

    def get_raw(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """The raw body of ``GET /v2{path}`` (for fast parsers: check it with ``decode_json``)."""
        return self._exchange("GET", path, params).body

    def _request(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | str | None = None,
        base_url: Any = None,
        api_version: str | None = None,
    ) -> Any:
        """alpaca-py's entry point: the parsed JSON body (None for an empty one)."""
        reply = self._exchange(method, path, data, base_url, api_version)
        coid = data.get("client_order_id") if isinstance(data, dict) else None
        what = self._full(method, path, api_version, coid)
        try:
            return decode_json(reply.view, what, method.upper(), path, status=reply.status)
        except InvalidResponseError as err:
            raise self._remember(err) from None

    def _full(self, method: str, path: str, api_version: str | None, coid: str | None) -> str:
        version = api_version or self._api_version  # type: ignore[attr-defined]
        return _what(method.upper(), f"/{version}{path}", coid)

    def _exchange(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | str | None = None,
        base_url: Any = None,
        api_version: str | None = None,
    ) -> Reply:
        """Send one request (waiting out 429s for safe methods); the successful reply, or raise."""
        method = method.upper()
        version = api_version or self._api_version  # type: ignore[attr-defined]
        url = f"{base_url or self._base_url}/{version}{path}"  # type: ignore[attr-defined]
        coid = data.get("client_order_id") if isinstance(data, dict) else None
        full_path = f"/{version}{path}"
        for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            self._anb_limiter.acquire()
            reply = self._send(method, url, full_path, data, coid)
            if reply.ok:
                return reply
            if not self._may_retry(reply, method, attempt):
                raise self._remember(http_error(reply, method, full_path))
        raise AssertionError("unreachable")  # pragma: no cover

    def _may_retry(self, reply: Reply, method: str, attempt: int) -> bool:
        """After a 429: pause the limiter; True if this request may be sent again."""
        if reply.status != 429:
            return False
        self._anb_limiter.pause(min(retry_wait(reply.headers) or 1.0, MAX_WAIT_S))
        return method in SAFE_METHODS and attempt < MAX_RATE_LIMIT_RETRIES

    def _send(self, method: str, url: str, path: str, data: Any, coid: str | None) -> Reply:
        start = time.monotonic()
        failure: BaseException | None = None
        try:
            response = self._session.request(
                method,
                url,
                headers=_headers(self),
                allow_redirects=False,
                timeout=self._anb_timeout,
                **session_verify(self._session),
                **({"params": data} if method in ("GET", "DELETE") else {"json": data}),
            )
            reply = Reply(response.status_code, response.headers, response.content)
        except BaseException as err:  # Ctrl-C too: the frames below hold the request's headers
            failure = err
        if failure is not None:  # raised outside the except block: no chained request in the traceback
            error = translate_transport(failure, _what(method, path, coid), self._anb_timeout)
            del failure
            self._log(logging.WARNING, method, path, coid, type(error).__name__, start)
            raise self._remember(error)
        self._log(logging.INFO if reply.ok else logging.WARNING, method, path, coid, reply.status, start)
        return reply

    def _remember(self, error: AlpacaNbError) -> AlpacaNbError:
        self._anb_last_error = str(error)
        return error

    def _log(
        self, level: int, method: str, path: str, coid: str | None, status: object, start: float
    ) -> None:
        latency_ms = (time.monotonic() - start) * 1000
        extra = {"method": method, "path": path, "client_order_id": coid, "account": self._anb_account,
                 "status": status, "latency_ms": round(latency_ms, 1)}  # fmt: skip
        log.log(level, "%s %s -> %s in %.0f ms (%s)%s", method, path, status, latency_ms,
                self._anb_account, f" client_order_id={coid}" if coid else "", extra=extra)  # fmt: skip


def http_error(reply: Reply, method: str, path: str) -> APIError:
    from .config import mask_text

    return from_http(
        reply.status,
        mask_text(reply.body.decode("utf-8", "replace")),  # a server that echoes a key shows ****
        method=method,
        path=path,
        request_id=reply.headers.get("X-Request-ID"),
        retry_after=retry_wait(reply.headers),
    )


class _Key(tuple):  # type: ignore[type-arg]
    """A connection's key: it holds the proxy's URL and credentials, so it never prints them (a verbose
    traceback shows locals)."""

    def __repr__(self) -> str:
        return "<connection key>"


class IdleConnections:
    """The fast path's keep-alive connections between calls, by where they lead (``Connector.key``): a
    call's pages go out on connections the last call left open, not new ones (over TLS, a handshake of
    two round trips each). A connection the server has closed meanwhile is dropped when taken."""

    PER_KEY = 6  # (bars use three chains at once, an option chain three)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[Any]] = {}
        self.generation = 0  # + 1 at each clear(): what a call opened before it is not kept after it

    def take(self, key: _Key) -> Any:
        while True:
            with self._lock:
                stack = self._idle.get(key)
                conn = stack.pop() if stack else None
            if conn is None:
                return None
            if conn.is_connected:  # (False once the server has closed it: its socket reads EOF)
                return conn
            conn.close()

    def give(self, key: _Key, conn: Any, generation: int) -> None:
        """Keep ``conn`` for the next call — unless the client was closed since the call began."""
        with self._lock:
            stack = self._idle.setdefault(key, [])
            if generation == self.generation and len(stack) < self.PER_KEY:
                stack.append(conn)
                return
        conn.close()

    def clear(self) -> None:
        with self._lock:
            conns = [c for stack in self._idle.values() for c in stack]
            self._idle.clear()
            self.generation += 1
        for conn in conns:
            conn.close()

    def __del__(self) -> None:  # a client dropped without close(): its sockets are closed, not leaked
        for stack in self._idle.values():
            for conn in stack:
                conn.close()


class Connector:
    """Opens keep-alive connections to one base URL the way requests would, on urllib3's machinery.

    The proxy comes from the environment as requests reads it (``HTTPS_PROXY``/``HTTP_PROXY``/
    ``ALL_PROXY``, ``NO_PROXY``; credentials in the proxy URL become ``Proxy-Authorization``): an
    ``https://`` target is tunnelled through it (CONNECT), an ``http://`` one is asked of it by absolute
    URL. Certificates are verified against the session's bundle (``ca_bundle``). A proxy that is not
    ``http://`` (https, socks) is left to requests: ``direct`` is False and callers use the session.
    """

    def __init__(self, session: requests.Session, base_url: str, timeout: float) -> None:
        base = urllib.parse.urlsplit(base_url)
        self.timeout = timeout
        self.https = base.scheme == "https"
        self.host, self.port = base.hostname or "", base.port or (443 if self.https else 80)
        self.prefix = base.path.rstrip("/")
        self.verify, self.proxy, self.proxy_headers, readable = _environment(session, base_url)
        if not readable:  # raised here, where no local holds the proxy URL (it may carry a password)
            raise ConnectionLostError(
                f"GET {self.prefix}/…: the proxy URL in HTTPS_PROXY/HTTP_PROXY/ALL_PROXY could not be read"
            )
        self.direct = self.proxy is None or self.proxy.scheme == "http"
        # where a connection leads, and how it was set up: one of another key is never reused here
        bundle = ca_bundle(self.verify) if self.https else None
        self.key = _Key(  # (no local holds the proxy's credentials: a verbose traceback would show it)
            (self.https, self.host, self.port, self.proxy, tuple(sorted(self.proxy_headers.items())), bundle,
             self.verify is False)
        )  # fmt: skip
        if bundle and not os.path.exists(bundle):
            raise ConnectionLostError(
                f"the CA bundle {bundle!r} (REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE/SSL_CERT_FILE) does not exist"
            )

    def target(self, path_and_query: str) -> str:
        """The request target: absolute when a plain-HTTP request goes through a proxy."""
        if self.proxy is not None and not self.https:
            return f"http://{self.host}:{self.port}{path_and_query}"
        return path_and_query

    def open(self) -> Any:
        """A new (not yet connected) urllib3 connection; it connects on its first request."""
        from urllib3.connection import HTTPConnection, HTTPSConnection

        proxy = self.proxy
        host, port = (proxy.hostname or "", proxy.port or 80) if proxy else (self.host, self.port)
        if not self.https:
            return HTTPConnection(host, port, timeout=self.timeout)
        bundle = ca_bundle(self.verify)
        conn = HTTPSConnection(
            host, port, timeout=self.timeout,
            cert_reqs="CERT_NONE" if self.verify is False else "CERT_REQUIRED",
            ca_certs=bundle if bundle and not os.path.isdir(bundle) else None,
            ca_cert_dir=bundle if bundle and os.path.isdir(bundle) else None,
            server_hostname=self.host, assert_hostname=False if self.verify is False else None,
        )  # fmt: skip
        if self.proxy is not None:
            conn.set_tunnel(self.host, self.port, headers=self.proxy_headers)
        return conn


def _environment(
    session: requests.Session, base_url: str
) -> tuple[Any, urllib.parse.SplitResult | None, dict[str, str], bool]:
    """(verify, proxy, proxy headers, readable) for ``base_url`` as requests would see them. Never
    raises: a proxy URL that cannot be read comes back as ``readable`` False (raising here would put
    the URL, and its password, into a traceback's locals)."""
    from requests.utils import get_auth_from_url, select_proxy

    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    headers: dict[str, str] = {}
    try:
        url = select_proxy(base_url, settings["proxies"])
        proxy = urllib.parse.urlsplit(url) if url else None
        if proxy is not None:
            proxy.port  # noqa: B018 (a port out of range or not a number raises here)
            if (
                proxy.scheme not in ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
                or not proxy.hostname
            ):
                raise ValueError("not a proxy URL")
            user, password = get_auth_from_url(str(url))
            if user:
                import base64

                token = base64.b64encode(f"{user}:{password}".encode()).decode()
                headers["Proxy-Authorization"] = f"Basic {token}"
    except ValueError:
        return settings["verify"], None, {}, False
    return settings["verify"], proxy, headers, True


def decode_body(raw: bytes, encoding: str | None) -> bytes:
    """A body as sent with ``Content-Encoding`` gzip or deflate, decoded (ISA-L's inflate when installed:
    ~5x zlib's speed, benchmarks/bars.py); an undecodable one raises urllib3's ``DecodeError``."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity" or not raw:
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise urllib3.exceptions.DecodeError(f"unsupported Content-Encoding {encoding!r}")
    inflate = _inflate()
    try:
        if encoding == "deflate":
            try:
                return bytes(inflate.decompress(raw, 15))  # zlib-wrapped, as the RFC says
            except inflate.error:
                return bytes(inflate.decompress(raw, -15))  # raw deflate, as some servers send
        if raw[:2] == b"\x1f\x8b":  # gzip: every member, as gzip.decompress reads them
            return bytes(_gunzip()(raw))
        return bytes(inflate.decompress(raw, 47))  # a zlib header where gzip was said
    except (inflate.error, OSError, EOFError):
        raise urllib3.exceptions.DecodeError(f"the {encoding} body could not be decoded") from None


@functools.cache  # (made once: decode_body runs for every page)
def _gunzip() -> Any:
    try:
        from isal import igzip, igzip_lib
    except ImportError:  # pragma: no cover
        import gzip

        return gzip.decompress

    def gunzip(raw: bytes) -> bytes:
        # One member (what servers send), its output sized from the trailer's length field at once: ~4x
        # faster than a buffer grown as it fills (0.25 vs 1.35 ms for a 944 KB contracts page). The
        # trailer's checksum and length are verified; anything else — several members, a wrong size,
        # a cut-off body — is read the general way, which raises for what cannot be read.
        size = int.from_bytes(raw[-4:], "little")
        if size <= 1 << 26:  # (a body said to be over 64 MB is read the general way, not sized at once)
            one = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
            out = one.decompress(raw, size + 1)
            if one.eof and not one.unused_data:
                return out
        return igzip.decompress(raw)  # type: ignore[no-untyped-call,no-any-return]

    return gunzip


@functools.cache
def _inflate() -> Any:
    try:
        from isal import isal_zlib

        return isal_zlib
    except ImportError:  # pragma: no cover - isal is a dependency; zlib does the same, slower
        import zlib

        return zlib


def ca_bundle(verify: bool | str | None = True) -> str | None:
    """The CA bundle to verify TLS against: ``verify`` if it is a path (requests' setting, which already
    holds ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``), else ``SSL_CERT_FILE`` (OpenSSL's variable, which
    requests alone ignores), else certifi's bundle, as requests uses. None: verification is off."""
    if verify is False:
        return None
    if isinstance(verify, str):
        return verify
    if os.environ.get("SSL_CERT_FILE"):
        return os.environ["SSL_CERT_FILE"]
    from requests.utils import DEFAULT_CA_BUNDLE_PATH

    return str(DEFAULT_CA_BUNDLE_PATH)


class PipelinedGets:
    """GETs on one keep-alive connection, the next sent before the last answer is parsed.

    Paging through bars, the client parses page k while page k+1 is prepared and travels: the request
    for k+1 goes out first, and its answer waits in the socket's buffer. Several instances on several
    connections (``data.fetch_pages``' chains) hide the round trips of one another over a slow link.
    No thread, so no contention for the GIL with the parser (measured in benchmarks/bars.py).
    Answers are compressed when the server agrees (``Accept-Encoding: gzip, deflate``, as requests
    asks) and decoded by urllib3. Same rules as ``SafeRESTMixin``, through the same functions: the
    limiter (also before a resend), the timeout, 429 waited out, ``translate_transport``/``http_error``,
    the log. Behind a proxy requests cannot hand us (``Connector.direct`` False), each GET goes through
    the client's own session instead, one at a time.
    """

    def __init__(self, client: SafeRESTMixin, connector: Connector | None = None) -> None:
        self._client = client
        self._connector = connector or client._connector()
        self._prefix = f"{self._connector.prefix}/{client._api_version}"  # type: ignore[attr-defined]
        self._conn: Any = None
        self._pending: tuple[str, str, float, dict[str, Any]] | None = None  # (path, target, sent at, params)
        self._generation = client._idle().generation  # (a close() of the client after this: not kept)
        self._pooled = False  # the connection came from the client's idle ones and has not answered yet
        self._clean = False  # the last answer was read whole, and the server keeps the connection open

    def send(self, path: str, params: dict[str, Any]) -> None:
        """Send ``GET path?params`` now; ``receive()`` returns its body later."""
        target = self._connector.target(f"{self._prefix}{path}?{urllib.parse.urlencode(params)}")
        self._pending = (f"{self._prefix}{path}", target, time.monotonic(), params)
        if self._connector.direct:
            self._request(target)

    def _request(self, target: str, *, fresh: bool = False) -> None:
        self._client._anb_limiter.acquire()
        failure: BaseException | None = None
        if self._conn is None and not fresh:
            self._conn = self._client._idle().take(self._connector.key)
            self._pooled = self._conn is not None
        for _ in range(2):  # once more on a new connection: the server may have closed an idle one
            reused = self._conn is not None
            self._clean = False
            try:
                if self._conn is None:
                    self._conn = self._connector.open()
                headers = _headers(self._client)
                headers.update(ACCEPT_COMPRESSED)
                if self._connector.proxy is not None and not self._connector.https:
                    headers.update(self._connector.proxy_headers)  # asked of the proxy itself
                self._conn.request("GET", target, headers=headers, preload_content=False)
                return
            except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as err:
                self.close()
                self._pooled = False
                failure = None if reused else err  # a fresh connection that failed is not retried
                if failure is not None:
                    break
            except BaseException as err:  # Ctrl-C, or a header http.client cannot encode
                self.close()
                failure = err
                break
        if failure is not None:  # outside the except block: nothing chained
            self._fail(failure)

    def _fail(self, failure: BaseException) -> None:
        assert self._pending is not None
        path, _, start, _ = self._pending
        client = self._client
        via_proxy = self._connector.proxy is not None
        error = translate_transport(failure, f"GET {path}", client._anb_timeout, via_proxy=via_proxy)
        del failure
        client._log(logging.WARNING, "GET", path, None, type(error).__name__, start)
        raise client._remember(error)

    def receive(self) -> memoryview:
        """The body of the request last sent (a view: a traceback's locals print it in a few characters,
        not as a megabyte); retries it after 429s; raises alpaca_nb errors."""
        assert self._pending is not None, "send() first"
        client = self._client
        if not self._connector.direct:  # through the session: its own limiter, 429 and error rules
            path, _, _, params = self._pending
            self._pending = None
            return memoryview(client._exchange("GET", path[len(self._prefix) :], params).body)
        for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            path, target, start, params = self._pending
            failure: BaseException | None = None
            try:
                response = self._conn.getresponse()
            except (
                ConnectionError,
                http.client.BadStatusLine,
                ssl.SSLEOFError,
                ssl.SSLZeroReturnError,
            ) as err:
                self.close()
                if not self._pooled:
                    self._fail(err)
                # an idle connection the server closed as the request went out: nothing was answered,
                # so the GET goes again, on a new connection (as once more in ``_request``)
                self._pooled = False
                self._request(target, fresh=True)
                continue
            except BaseException as err:
                self.close()
                failure = err
            if failure is None:
                self._pooled = False
                try:
                    raw = response.read(decode_content=False)
                    body = decode_body(raw, response.headers.get("Content-Encoding"))
                    reply = Reply(response.status, response.headers, body)
                    self._clean = (
                        response.version == 11
                        and "close" not in response.headers.get("Connection", "").lower()
                    )
                except BaseException as err:
                    self.close()
                    failure = err
            if failure is not None:
                self._fail(failure)
            client._log(logging.INFO if reply.ok else logging.WARNING, "GET", path, None, reply.status, start)
            if reply.ok:
                self._pending = None
                return memoryview(reply.body)  # prints as <memory at …>, not a megabyte, in a traceback
            if not client._may_retry(reply, "GET", attempt):
                raise client._remember(http_error(reply, "GET", path))
            self._pending = (path, target, time.monotonic(), params)
            self._request(target)  # acquire() first: waits out the 429's pause
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def release(self) -> None:
        """Done: the connection goes back to the client's idle ones if its last answer was read whole
        and nothing is in flight on it; else it is closed."""
        if self._conn is not None and self._pending is None and self._clean:
            self._client._idle().give(self._connector.key, self._conn, self._generation)
            self._conn = None
        self.close()
