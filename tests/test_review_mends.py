"""What the adversarial review of the bars fast path broke (issue 13), each a test that failed before the
mend: a malformed proxy URL, connections left open after a parse failure, a closed session's REST thread
waiting out a spent budget, pages of the wrong shape, multi-line HTML errors, proxy and TLS failures told
apart, a doubled connect timeout, multi-member gzip, keys echoed by a server, megabyte-sized locals."""

from __future__ import annotations

import gzip
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.config import Endpoints
from alpaca_nb.errors import from_http
from alpaca_nb.rest import Reply, decode_body, http_error
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from tests.test_transport import PROXY_VARIABLES

KEY, SECRET = "PKMENDSENTINEL42", "mend-SECRET-sentinel-9"
PASSWORD = "pr0xyPASSW0RD"
BARS = {"start": "2024-03-01", "end": "2024-03-28", "progress": False}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=9, hours="always", rate_limit=None, credentials={"paper": (KEY, SECRET)}) as sim:
        yield sim


def _session(sim: Simulator, base: str | None = None, **options: object) -> Session:
    url = base or sim.base_url
    where = Endpoints(url, url, sim.data_stream_url, sim.trading_stream_url)
    return anb.connect("paper", api_key=KEY, secret_key=SECRET, endpoints={"paper": where}, quiet=True,
                       **{"rate_limit": None, "timeout": 2.0, **options})  # type: ignore[arg-type]  # fmt: skip


def _locals_text(err: BaseException) -> str:
    """What ``%xmode Verbose`` shows below the user's own cell: the repr of every local of every frame
    in the traceback, the test's own frame (the cell) apart."""
    out, tb = [], err.__traceback__
    tb = tb.tb_next if tb is not None else None
    while tb is not None:
        out += [f"{k}={v!r}" for k, v in tb.tb_frame.f_locals.items()]
        tb = tb.tb_next
    return "\n".join(out)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _client_sockets(port: int) -> int:
    """Established client connections (this machine) to 127.0.0.1:``port``."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state = fields[2], fields[3]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            count += 1
    return count


def test_a_malformed_proxy_url_is_one_line_and_its_password_shows_nowhere(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _session(sim)
    for url in (f"http://user:{PASSWORD}@[::1", f"http://user:{PASSWORD}@127.0.0.1:99999"):
        monkeypatch.setenv("HTTP_PROXY", url)
        with pytest.raises(errors.ConnectionLostError, match=r"proxy URL .* could not be read") as caught:
            s.bars(["AAPL", "MSFT"], "1Day", **BARS)
        assert PASSWORD not in str(caught.value) and PASSWORD not in _locals_text(caught.value)
    close_current()


def test_a_page_that_fails_to_parse_leaves_no_connection_open(sim: Simulator) -> None:
    s = _session(sim)
    s.bars("AAPL", "1Day", **BARS)  # warm: the session's own keep-alive connections exist now
    before = _client_sockets(int(sim.port or 0))
    sim.faults.garbage("GET", "/v2/stocks/bars", body=b'{"bars":{"AAPL":[{"t":1}]},"next_page_token":null}')
    with pytest.raises(errors.InvalidResponseError) as caught:
        s.bars(["AAPL", "MSFT", "SPY"], "1Min", **BARS)
    time.sleep(0.2)
    assert _client_sockets(int(sim.port or 0)) <= before  # while the traceback (and its frames) live on
    del caught
    close_current()


def test_closing_a_session_stops_a_refresh_waiting_for_the_rate_budget(sim: Simulator) -> None:
    s = _session(sim, rate_limit=3)
    limiter = s.trading.limiter
    while limiter.remaining():
        limiter.acquire()
    outcome: list[BaseException] = []

    def refresh() -> None:
        try:
            s.account()
        except errors.AlpacaNbError as err:
            outcome.append(err)

    waiting = threading.Thread(target=refresh)
    waiting.start()
    time.sleep(0.3)
    start = time.monotonic()
    s.close()
    waiting.join(5)
    print(f"\nclose() with a request waiting for the budget: {time.monotonic() - start:.2f} s")
    assert not waiting.is_alive() and time.monotonic() - start < 3
    assert isinstance(outcome[0], errors.ConnectionLostError) and "closed" in str(outcome[0])
    close_current()


@pytest.mark.parametrize(
    "body",
    [
        b'{"bars":[1,2],"next_page_token":null}',
        b'{"bars":{"AAPL":"x"},"next_page_token":null}',
        b'{"bars":{"AAPL":[{"t":"2024-03-01T05:00:00Z","o":1}]},"next_page_token":null}',
        b'{"bars":{"AAPL":[{"t":"2024-03-01T05:00:00Z","o":"abc","h":1,"l":1,"c":1,"v":1,"n":1,"vw":1}]},'
        b'"next_page_token":null}',
        b'{"bars":{"AAPL":[{"t":"yesterday","o":1,"h":1,"l":1,"c":1,"v":1,"n":1,"vw":1}]},'
        b'"next_page_token":null}',
        b'{"bars":{"AAPL":[{"t":"2024-03-01T05:00:00Z","o":1,"h":1,"l":1,"c":1,"v":null,"n":1,"vw":1}]},'
        b'"next_page_token":null}',
        b'{"bars":{"ZZZZ":[{"t":"2024-03-01T05:00:00Z","o":1,"h":1,"l":1,"c":1,"v":1,"n":1,"vw":1}]},'
        b'"next_page_token":null}',
    ],
    ids=[
        "list",
        "rows-not-list",
        "missing-keys",
        "string-price",
        "bad-time",
        "null-volume",
        "unasked-symbol",
    ],
)
def test_a_page_of_another_shape_is_an_invalid_answer_in_one_line(sim: Simulator, body: bytes) -> None:
    s = _session(sim)
    sim.faults.garbage("GET", "/v2/stocks/bars", body=body)
    with pytest.raises(errors.InvalidResponseError) as caught:
        s.bars("AAPL", "1Day", **BARS)
    assert "\n" not in str(caught.value)
    close_current()


def test_an_html_error_page_is_one_line() -> None:
    page = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>\nbad\n</body></html>"
    for status in (407, 502):
        assert "\n" not in str(from_http(status, page, method="GET", path="/v2/stocks/bars"))


def test_a_refusing_proxy_is_named(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_free_port()}")
    s = _session(sim)
    with pytest.raises(errors.ConnectionLostError, match="proxy"):
        s.bars(["AAPL", "MSFT"], "1Day", **BARS)
    close_current()


def test_tls_failures_are_told_apart(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _session(sim, base=sim.base_url.replace("http://", "https://"))  # HTTPS to a plain-HTTP server
    with pytest.raises(errors.ConnectionLostError, match="TLS handshake failed") as caught:
        s.bars(["AAPL", "MSFT"], "1Day", **BARS)
    assert "REQUESTS_CA_BUNDLE" not in str(caught.value)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    with pytest.raises(errors.ConnectionLostError, match="CA bundle"):
        s.bars(["AAPL", "MSFT"], "1Day", **BARS)
    close_current()


def test_a_silent_proxy_times_out_once_not_twice(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (the kernel does), answers nothing
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{silent.getsockname()[1]}")
    s = _session(sim, base=sim.base_url.replace("http://", "https://"), timeout=1.0)
    start = time.monotonic()
    with pytest.raises(errors.RequestTimeoutError):
        s.bars(["AAPL", "MSFT"], "1Day", **BARS)
    took = time.monotonic() - start
    print(f"\na silent CONNECT proxy with a 1 s timeout: {took:.2f} s")
    assert took < 1.8
    silent.close()
    close_current()


def test_every_gzip_member_is_read() -> None:
    body = gzip.compress(b'{"bars":') + gzip.compress(b'{}, "next_page_token": null}')
    assert decode_body(body, "gzip") == gzip.decompress(body)


def test_a_key_echoed_by_the_server_is_masked(sim: Simulator) -> None:
    _session(sim)  # the keys are live secrets of this process now
    reply = Reply(401, {}, f'{{"code":40110000,"message":"invalid key {KEY} with {SECRET}"}}'.encode())
    error = http_error(reply, "GET", "/v2/account")
    assert KEY not in str(error) and SECRET not in str(error) and "****" in str(error)
    assert KEY not in repr(reply) and "40110000" not in repr(reply)  # the body never prints
    close_current()


def test_a_failed_pull_leaves_small_locals_for_a_verbose_traceback(sim: Simulator) -> None:
    s = _session(sim)
    sim.faults.fail("GET", "/v2/stocks/bars", 500, skip=2)
    with pytest.raises(errors.APIError) as caught:
        s.bars(["AAPL", "MSFT", "SPY", "QQQ"], "1Min", start="2024-02-01", end="2024-03-28", progress=False)
    text = _locals_text(caught.value)
    print(f"\nlocals of the failed pull's frames: {len(text):,} characters")
    assert len(text) < 100_000  # a page's body (~1 MB) is not among them
    close_current()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
