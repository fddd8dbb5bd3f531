"""How bytes travel: compressed answers, the emulated link, proxies and CA bundles — for the bars fast
path and for every other call alike."""

from __future__ import annotations

import gzip
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import urllib3
from alpaca.trading.client import TradingClient

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.data import pages as data_pages
from alpaca_nb.rest import decode_body, translate_transport
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from tests.proxy import ForwardingProxy

SYMBOLS = ["AAPL", "MSFT", "SPY"]
RANGE = {"start": "2024-03-01", "end": "2024-03-28"}  # ~3 pages per symbol's chain
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                   "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                   "SSL_CERT_FILE")  # fmt: skip


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _get(sim: Simulator, path: str, encoding: str, **fields: str) -> urllib3.BaseHTTPResponse:
    key, secret = sim.credentials()
    headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret, "Accept-Encoding": encoding}
    return urllib3.request("GET", sim.base_url + path, fields=fields or None, headers=headers,
                           decode_content=False)  # fmt: skip


def test_answers_are_compressed_when_asked_on_data_and_trading_routes() -> None:
    with Simulator(seed=3, hours="always", rate_limit=None) as sim:
        bars = {"symbols": "AAPL,MSFT", "timeframe": "1Min", "limit": "10000", **RANGE}
        plain = _get(sim, "/v2/stocks/bars", "identity", **bars)
        assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
        zipped = _get(sim, "/v2/stocks/bars", "gzip", **bars)
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(zipped.data) == plain.data
        assert len(zipped.data) * 3 < len(plain.data)  # JSON compresses ~5x
        deflated = _get(sim, "/v2/stocks/bars", "deflate", **bars)
        assert deflated.headers["Content-Encoding"] == "deflate"
        assert zlib.decompress(deflated.data) == plain.data
        picky = _get(sim, "/v2/stocks/bars", "gzip;q=0, deflate", **bars)
        assert picky.headers["Content-Encoding"] == "deflate"
        orders = _get(sim, "/v2/orders", "gzip", status="all")
        assert orders.headers["Content-Encoding"] == "gzip" and gzip.decompress(orders.data) == b"[]"
        account = _get(sim, "/v2/account", "gzip, deflate")
        assert account.headers["Content-Encoding"] == "gzip"
        client = TradingClient(*sim.credentials(), url_override=sim.base_url)  # requests asks for gzip
        client.submit_order  # noqa: B018 (unmodified alpaca-py reads compressed answers)
        assert client.get_account().status.value == "ACTIVE"  # type: ignore[union-attr]


def test_the_emulated_link_paces_answers() -> None:
    with Simulator(seed=3, hours="always", rate_limit=None, link_mbps=8, rtt_ms=60) as sim:
        fields = {"symbols": "AAPL", "timeframe": "1Min", "limit": "10000", **RANGE}
        _get(sim, "/v2/stocks/bars", "identity", **fields)  # warm the simulator's caches
        start = time.monotonic()
        reply = _get(sim, "/v2/stocks/bars", "identity", **fields)
        took = time.monotonic() - start
        expected = 0.060 + len(reply.data) * 8 / 8e6  # one round trip, then the bytes at 1 MB/s
        print(f"\n{len(reply.data):,} bytes over 8 Mbit/s, 60 ms: {took:.2f} s (expected {expected:.2f} s)")
        assert expected * 0.95 <= took <= expected * 1.5 + 0.1


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=5, hours="always", rate_limit=None, stream_connection_limit=None) as sim:
        yield sim


def _bars(session: Session) -> pd.DataFrame:
    return session.bars(SYMBOLS, "1Min", progress=False, **RANGE)


def test_bars_through_a_proxy_in_the_environment(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    direct = _bars(anb.connect("demo", simulator=sim, rate_limit=None, quiet=True))
    close_current()
    with ForwardingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://user:pa%3Ass@"))
        session = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
        through = _bars(session)
        close_current()
    bars_requests = [t for m, t in proxy.seen if m == "GET" and "/v2/stocks/bars?" in t]
    print(f"\nthe proxy saw {len(proxy.seen)} requests, {len(bars_requests)} of them for bars")
    assert len(bars_requests) >= 4  # every page of both chains went through it
    assert all(t.startswith(sim.base_url) for t in bars_requests)  # absolute-form: asked of a proxy
    assert set(proxy.auth) == {"Basic dXNlcjpwYTpzcw=="}  # user:pa:ss, from the proxy URL
    pd.testing.assert_frame_equal(through, direct)


def test_no_proxy_is_honoured(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    with ForwardingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        _bars(anb.connect("demo", simulator=sim, rate_limit=None, quiet=True))
        close_current()
    assert proxy.seen == []


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, Path]]:
    """A simulator serving HTTPS with a certificate from a CA of the test's own (trustme)."""
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with Simulator(seed=5, hours="always", rate_limit=None, ssl_context=context) as sim:
        assert sim.base_url.startswith("https://")
        yield sim, bundle


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_bars_over_tls_verify_against_the_bundle_in_the_environment(
    tls: tuple[Simulator, Path], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, bundle = tls
    monkeypatch.setenv(variable, str(bundle))
    session = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
    frame = _bars(session)
    assert len(frame) > 20_000 and session.account().equity > 0  # the fast path and requests alike
    close_current()


def test_an_untrusted_certificate_is_one_clear_error(tls: tuple[Simulator, Path]) -> None:
    sim, _ = tls
    session = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
    hint = r"certificate could not be verified.*REQUESTS_CA_BUNDLE"
    with pytest.raises(errors.ConnectionLostError, match=hint):
        _bars(session)
    with pytest.raises(errors.ConnectionLostError, match="certificate could not be verified"):
        session.account()
    close_current()


def test_bars_over_tls_through_a_proxy_tunnel(
    tls: tuple[Simulator, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, bundle = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with ForwardingProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        frame = _bars(anb.connect("demo", simulator=sim, rate_limit=None, quiet=True))
        close_current()
    tunnels = [t for m, t in proxy.seen if m == "CONNECT"]
    assert tunnels and all(t == f"127.0.0.1:{sim.port}" for t in tunnels)
    assert not [t for m, t in proxy.seen if m != "CONNECT"]  # nothing in the clear
    assert len(frame) > 20_000


def test_undecodable_compressed_bodies_are_invalid_answers() -> None:
    assert decode_body(gzip.compress(b'{"bars":{}}'), "gzip") == b'{"bars":{}}'
    assert decode_body(zlib.compress(b"[]"), "deflate") == b"[]"
    assert decode_body(zlib.compress(b"[]")[2:-4], "deflate") == b"[]"  # raw deflate, as some servers send
    for body, encoding in ((b"not gzip at all", "gzip"), (gzip.compress(b"{}")[:-12], "gzip"), (b"x", "br")):
        with pytest.raises(urllib3.exceptions.DecodeError) as caught:
            decode_body(body, encoding)
        error = translate_transport(caught.value, "GET /v2/stocks/bars", 10)
        assert isinstance(error, errors.InvalidResponseError) and "decoded" in str(error)


def test_gzip_bodies_decode_as_gzip_reads_them_whatever_their_trailer_says() -> None:
    """The one-member fast path (output sized from the trailer) gives what ``gzip.decompress`` gives:
    several members, a trailer whose length lies, a corrupt checksum (an error), an empty body."""
    page = (
        b'{"option_contracts":[' + b'{"symbol":"AAPL261218C00200000","open_interest":"7"},' * 20_000 + b"{}]}"
    )
    one = gzip.compress(page)
    two = one + one  # (the trailer names one member's length: the second must not be missed)
    lying = bytearray(one)
    lying[-4:] = (len(page) // 2).to_bytes(4, "little")  # a length field that is wrong (and so a bad check)
    for body in (one, two, gzip.compress(b""), gzip.compress(page[:10])):
        assert decode_body(body, "gzip") == gzip.decompress(body)
    for body in (bytes(lying), one[:-1], one[: len(one) // 2]):
        with pytest.raises(urllib3.exceptions.DecodeError):
            decode_body(body, "gzip")


# ----- keep-alive between calls ----------------------------------------------------------------------
def test_a_second_call_goes_out_on_the_first_calls_connections_over_tls(
    tls: tuple[Simulator, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path keeps its connections between calls (a TLS handshake is two round trips each): a
    second pull through a tunnelling proxy opens no new tunnel, and gets the same bars."""
    sim, bundle = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with ForwardingProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        session = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
        first = _bars(session)
        tunnels = proxy.connections
        second = _bars(session)
        again = proxy.connections
        close_current()
    assert tunnels >= 3  # (the first pull: a chain per symbol, and a tunnel each)
    assert again == tunnels, f"the second pull opened {again - tunnels} new connections"
    pd.testing.assert_frame_equal(second, first)


def test_kept_connections_the_server_closed_are_replaced(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed while idle (seen when taken), or closed just as the next request arrives (nothing was
    answered, so the GET goes again on a new connection): either way the pull is whole, no error."""
    direct = _bars(anb.connect("demo", simulator=sim, rate_limit=None, quiet=True))
    close_current()
    with ForwardingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        session = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
        pd.testing.assert_frame_equal(_bars(session), direct)
        proxy.close_idle()
        time.sleep(0.2)
        opened = proxy.connections
        pd.testing.assert_frame_equal(_bars(session), direct)
        assert proxy.connections > opened  # new ones, the closed ones dropped
        proxy.drop_reused = 1  # the next request on a kept connection (the first request of a chain, on a
        pd.testing.assert_frame_equal(_bars(session), direct)  # connection the last pull left): closed
        assert proxy.drop_reused == 0  # it was dropped unanswered, and asked again
        close_current()


@pytest.mark.parametrize(
    "closed",
    [ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), ssl.SSLZeroReturnError(6, "closed (EOF)")],
    ids=["SSLEOFError", "SSLZeroReturnError"],
)
def test_a_kept_connection_closed_as_tls_eof_is_asked_again(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, closed: Exception
) -> None:
    """Over TLS a server closing a kept connection as the GET goes out shows as an SSL EOF, not a
    ConnectionError: the GET goes again on a new connection, as for a reset (review finding)."""
    session = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
    want = _bars(session)  # (the connections are kept)
    answer = urllib3.connection.HTTPConnection.getresponse
    raised: list[Exception] = []

    def eof_once(conn: Any, *args: Any, **kwargs: Any) -> Any:
        if not raised:
            raised.append(closed)
            raise closed
        return answer(conn, *args, **kwargs)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "getresponse", eof_once)
    pd.testing.assert_frame_equal(_bars(session), want)
    assert raised == [closed]
    close_current()


def test_connections_of_a_pull_that_ends_after_close_are_not_kept(sim: Simulator) -> None:
    """``close()`` while a pull runs in another thread: when it ends, its connections are closed, not
    put back for the next call (review finding: 3 sockets stayed open after close())."""
    session = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
    client = session.data_client("AAPL")
    _bars(session)
    started, done = threading.Event(), threading.Event()
    decode = data_pages.next_token

    def slow(body: Any) -> Any:
        started.set()
        done.wait(10)
        return decode(body)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data_pages, "next_token", slow)
        pull = threading.Thread(target=_bars, args=(session,))
        pull.start()
        assert started.wait(10)
        client.close()
        done.set()
        pull.join(30)
    kept = sum(len(stack) for stack in client._idle()._idle.values())
    assert kept == 0, f"{kept} connections kept after close()"
    assert len(_bars(session)) > 20_000  # and the client works after it
    close_current()
