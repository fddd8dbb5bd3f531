"""A small forwarding HTTP proxy on 127.0.0.1 for tests: absolute-form requests (``GET http://…``) are
forwarded over a kept-alive upstream connection, ``CONNECT host:port`` opens a tunnel. It records what
it was asked (``seen``: ``("GET", "/v2/stocks/bars?…")`` or ``("CONNECT", "127.0.0.1:PORT")``) and
refuses (403) targets that are not on 127.0.0.1, so no test can reach the internet through it."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import urllib.parse
from typing import Any


def _read_head(stream: Any) -> tuple[str, list[tuple[str, str]]] | None:
    line = stream.readline(65536)
    if not line:
        return None
    headers = []
    while True:
        raw = stream.readline(65536)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return line.decode("latin-1").rstrip("\r\n"), headers


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(socketserver.StreamRequestHandler):
    server: ForwardingProxy

    def handle(self) -> None:
        self._open: list[Any] = []
        with self.server._lock:
            self.server.connections += 1
            self.server.handlers.append(self)
        try:
            self._serve()
        finally:
            for thing in self._open:
                thing.close()

    def _serve(self) -> None:
        upstream: socket.socket | None = None
        upstream_file: Any = None
        served = 0
        while (head := _read_head(self.rfile)) is not None:
            request_line, headers = head
            method, target, version = request_line.split(" ", 2)
            if served and self.server.take_drop():  # a kept-alive connection closed as a request came
                return
            served += 1
            self.server.record(method, target)
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                if host != "127.0.0.1":
                    self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    return
                tunnel = socket.create_connection((host, int(port)))
                self._open.append(tunnel)
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.wfile.flush()
                back = threading.Thread(target=_pipe, args=(tunnel, self.connection), daemon=True)
                back.start()
                _pipe(self.connection, tunnel)
                back.join(5)
                return
            url = urllib.parse.urlsplit(target)
            if url.hostname != "127.0.0.1" or url.scheme != "http":
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            if upstream is None:
                upstream = socket.create_connection((url.hostname, url.port or 80))
                upstream_file = upstream.makefile("rb")
                self._open += [upstream_file, upstream]
            path = url.path + (f"?{url.query}" if url.query else "")
            hop = ("proxy-authorization", "proxy-connection")
            kept = [(k, v) for k, v in headers if k.lower() not in hop]
            self.server.auth.append({k.lower(): v for k, v in headers}.get("proxy-authorization"))
            lines = [f"{method} {path} {version}", *(f"{k}: {v}" for k, v in kept), "", ""]
            upstream.sendall("\r\n".join(lines).encode("latin-1"))
            answer = _read_head(upstream_file)
            if answer is None:
                return
            status, answer_headers = answer
            length = int(dict((k.lower(), v) for k, v in answer_headers).get("content-length", "0"))
            out = [status, *(f"{k}: {v}" for k, v in answer_headers), "", ""]
            self.wfile.write("\r\n".join(out).encode("latin-1") + upstream_file.read(length))
            self.wfile.flush()


class ForwardingProxy(socketserver.ThreadingTCPServer):
    """``with ForwardingProxy() as proxy: proxy.url`` → ``"http://127.0.0.1:PORT"``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str]] = []
        self.auth: list[str | None] = []
        self.connections = 0  # client connections accepted
        self.handlers: list[_Handler] = []
        self.drop_reused = 0  # close this many kept-alive connections on their next request, unanswered
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, name="test-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, method: str, target: str) -> None:
        with self._lock:
            self.seen.append((method, target))

    def take_drop(self) -> bool:
        with self._lock:
            if self.drop_reused:
                self.drop_reused -= 1
                return True
            return False

    def close_idle(self) -> None:
        """Close every client connection (as a server closes idle kept-alive ones)."""
        with self._lock:
            handlers = list(self.handlers)
        for h in handlers:
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> ForwardingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)
