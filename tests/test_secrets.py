"""Sentinel keys go in; every repr, status, log record and exception text is scanned for them."""

from __future__ import annotations

import logging
import pickle
import re
import socket
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.config import Credentials, Endpoints, Secret
from alpaca_nb.magics import format_status
from alpaca_nb.session import close_current
from alpaca_nb.sim import Simulator

KEY, SECRET = "PKSENTINEL7KEY99XQ", "s3ntinel-SECRET-do-not-leak"
LIVE_KEY, LIVE_SECRET = "AKSENTINEL8LIVE77Z", "l1ve-SENTINEL-never-shown"
WRONG_SECRET = "wr0ng-SENTINEL-secret"
SENTINELS = (KEY, SECRET, LIVE_KEY, LIVE_SECRET, WRONG_SECRET, "SENTINEL")


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.__dict__))


@pytest.fixture
def texts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Everything the scenario produced: log records (all loggers, DEBUG) plus what the test adds."""
    handler = _Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("APCA_LIVE_API_KEY_ID", LIVE_KEY)
    monkeypatch.setenv("APCA_LIVE_API_SECRET_KEY", LIVE_SECRET)
    collected: list[str] = []
    yield collected
    root.removeHandler(handler)
    root.setLevel(old_level)
    close_current()
    everything = collected + handler.texts
    assert sum(map(len, everything)) > 2000  # the scan saw real material
    leaks = [t[:200] for t in everything for s in SENTINELS if s in t]
    assert not leaks, f"secrets leaked into: {leaks[:5]}"


def _error_text(call: Callable[[], Any]) -> str:
    try:
        call()
    except Exception as err:
        return "".join(traceback.format_exception(err)) + repr(err) + str(getattr(err, "body", ""))
    raise AssertionError("expected an error")


def test_no_secret_in_reprs_status_logs_or_errors(
    texts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    creds = {"paper": (KEY, SECRET), "live": (LIVE_KEY, LIVE_SECRET)}
    with Simulator(seed=1, credentials=creds, rate_limit=None) as sim:
        where = Endpoints(sim.base_url, sim.base_url, sim.data_stream_url, sim.trading_stream_url)
        s = anb.connect("paper", allow_live=True, endpoints={"paper": where, "live": where}, timeout=0.5)
        order = s.submit_order("AAPL", qty=1)
        s.submit_order("AAPL", qty=1, account="live")
        texts += [
            repr(s),
            str(s),
            repr(s.trading),
            repr(s.market_data),
            repr(s.client("live")),
            repr(vars(s)),
        ]
        texts += [repr(order), str(s.status()), format_status(s.status()), repr(Credentials.of(KEY, SECRET))]
        texts += [repr(s.trading.get_account()), repr(s.market_data)]
        # Errors of every kind, with the keys in play.
        sim.faults.stall("GET", "/v2/account", 2)
        texts.append(_error_text(s.trading.get_account))
        texts.append(_error_text(lambda: s.submit_order("AAPL", qty=-1)))
        texts.append(_error_text(lambda: s.submit_order("ZZZZ", qty=1)))
        texts.append(_error_text(lambda: s.submit_order("NFLX", qty=100_000)))
        sim.faults.fail("POST", "/v2/orders", 504, after_apply=True)
        s.submit_order("MSFT", qty=1)
        wrong = anb.connect(
            "paper", api_key=KEY, secret_key=WRONG_SECRET, endpoints={"paper": where}, quiet=True
        )
        texts.append(_error_text(wrong.trading.get_account))
        locked = anb.connect("paper", endpoints={"paper": where, "live": where}, quiet=True)
        texts.append(_error_text(lambda: locked.submit_order("AAPL", qty=1, account="live")))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
        nowhere = Endpoints(dead, dead, dead, dead)
        gone = anb.connect("paper", endpoints={"paper": nowhere}, quiet=True, timeout=0.5)
        texts.append(_error_text(gone.trading.get_clock))
        texts.append(_error_text(lambda: pickle.dumps(Secret(SECRET))))
        # The magic's view of the same session.
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "alpaca_nb")
        anb.connect("paper", endpoints={"paper": where, "live": where}, quiet=True)
        ip.run_line_magic("alpaca", "status")
        assert not ip.run_cell("%alpaca connect live").success  # refused: needs --allow-live
        captured = capsys.readouterr()
        texts += [captured.out, captured.err]
        assert "live mode needs allow_live=True" in captured.out + captured.err


def test_secret_object_hides_itself() -> None:
    secret = Secret(SECRET)
    assert SECRET not in repr(secret) and SECRET not in str(secret) and SECRET not in f"{secret}"
    assert secret.reveal() == SECRET
    creds = Credentials.of(KEY, SECRET)
    assert KEY not in repr(creds) and creds.masked_key == "PK…99XQ"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def _sentinel_session(sim: Simulator, timeout: float = 0.5) -> anb.Session:
    where = Endpoints(sim.base_url, sim.base_url, sim.data_stream_url, sim.trading_stream_url)
    return anb.connect(
        "paper", allow_live=True, endpoints={"paper": where, "live": where}, timeout=timeout, quiet=True
    )


CREDS = {"paper": (KEY, SECRET), "live": (LIVE_KEY, LIVE_SECRET)}


def test_verbose_tracebacks_show_no_secret(texts: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """%xmode Verbose prints every frame's local variables: timeouts, resets, cut-off answers, API errors."""
    with Simulator(seed=3, credentials=CREDS, rate_limit=None, hours="always") as sim:
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "alpaca_nb")
        ip.run_line_magic("xmode", "Verbose")
        try:
            s = _sentinel_session(sim, timeout=0.3)
            ip.user_ns["s"] = s
            cells = {
                "s.trading.get_account()": lambda: sim.faults.stall("GET", "/v2/account", 1),
                "s.trading.get_clock()": lambda: sim.faults.reset("GET", "/v2/clock"),
                "s.trading.get_all_positions()": lambda: sim.faults.truncate("GET", "/v2/positions"),
                "s.trading.get_orders()": lambda: sim.faults.garbage("GET", "/v2/orders"),
                "s.trading.get_asset('ZZZZ')": lambda: None,
                "s.submit_order('AAPL', qty=1, account='live', client_order_id='sentinel-1')": lambda: (
                    sim.faults.fail("POST", "/v2/orders", 504),
                    sim.faults.stall("GET", "/v2/orders:by_client_order_id", 1, times=3),
                ),
                "s.bars('AAPL', '1Min', start='2024-10-14', end='2024-10-15')": lambda: sim.faults.fail(
                    "GET", "/v2/stocks/bars", 500
                ),
                "%alpaca buy 1 ZZZZ": lambda: None,
            }
            failed = 0
            for cell, arm in cells.items():
                arm()
                failed += not ip.run_cell(cell).success
                sim.faults.clear()
            assert failed == len(cells)
        finally:
            ip.run_line_magic("xmode", "Context")
        shown = capsys.readouterr()
        texts += [shown.out, shown.err]
        assert "RequestTimeoutError" in shown.out and "InvalidResponseError" in shown.out
        plain = re.sub(r"\x1b\[[0-9;]*m", "", shown.out)
        assert "self = <SafeTradingClient" in plain  # Verbose really printed the locals


def test_debug_logs_of_every_logger_show_no_secret(texts: list[str]) -> None:
    """DEBUG on the root logger: connect, both streams (their authenticate frames), orders, bars."""
    import logging

    from alpaca_nb.config import LOGGER_FAMILIES, RedactingFilter

    seen = _Everything()
    logging.getLogger().addHandler(seen)
    with Simulator(seed=4, credentials=CREDS, rate_limit=None, hours="always", tick_interval=0.05) as sim:
        s = _sentinel_session(sim)
        hub = s.stream
        hub.subscribe(quotes=["AAPL"])  # the market-data stream: msgpack auth
        hub.on_trade_update(lambda update: None)  # the trading stream: JSON auth
        assert sim.wait_for(lambda: hub.stats()["messages"] > 0 and hub.stats()["trading_connections"] > 0)
        s.submit_order("AAPL", qty=1)
        s.submit_order("AAPL", qty=1, account="live")
        s.bars(["AAPL", "MSFT"], "1Min", start="2024-10-14", end="2024-10-16")
        s.latest_quotes("AAPL")
        s.close()
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in LOGGER_FAMILIES]
    unfiltered = [
        n for n in names
        if not any(isinstance(f, RedactingFilter) for f in logging.getLogger(n).filters)
    ]  # fmt: skip
    assert len(names) > 10 and unfiltered == [], unfiltered
    logging.getLogger().removeHandler(seen)
    hidden = [t for t in seen.texts if "content hidden by alpaca_nb" in t]
    assert len(hidden) >= 4  # auth + subscribe/listen on both streams were logged, masked
    texts.extend(seen.texts)


def test_keys_that_cannot_be_sent_are_refused_without_showing_them(
    texts: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key pasted with an invisible character, and connect() failing with keys from the environment,
    under %xmode Verbose (which prints every frame's arguments)."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("xmode", "Verbose")
    try:
        monkeypatch.setenv("APCA_API_KEY_ID", KEY + "\u200b")
        bad = ip.run_cell("import alpaca_nb as anb; anb.connect('paper', quiet=True)")
        assert isinstance(bad.error_in_exec, errors.ConfigurationError)
        assert "position 19" in str(bad.error_in_exec)
        monkeypatch.setenv("APCA_API_KEY_ID", KEY)
        for cell in ("anb.connect('paper', timeout=0)", "anb.connect('paper', feed='x')",
                     "anb.connect('paper', max_notional=-1)"):  # fmt: skip
            assert not ip.run_cell(cell).success
    finally:
        ip.run_line_magic("xmode", "Context")
    shown = capsys.readouterr()
    texts += [shown.out, shown.err]


@pytest.mark.serial  # interrupts the main thread: run where pytest owns it (not an xdist worker)
def test_an_interrupted_request_shows_no_key(texts: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C while a request waits: the KeyboardInterrupt comes from our frame, not urllib3's."""
    import _thread
    import threading

    with Simulator(seed=6, credentials=CREDS, rate_limit=None, hours="always") as sim:
        ip = InteractiveShell.instance()
        ip.run_line_magic("xmode", "Verbose")
        try:
            ip.user_ns["s"] = _sentinel_session(sim, timeout=5)
            sim.faults.stall("GET", "/v2/account", 3)
            threading.Timer(0.7, _thread.interrupt_main).start()
            result = ip.run_cell("s.account()")
            assert isinstance(result.error_in_exec, KeyboardInterrupt)
        finally:
            ip.run_line_magic("xmode", "Context")
        shown = capsys.readouterr()
        texts += [shown.out, shown.err]
        assert "KeyboardInterrupt" in shown.out + shown.err
