"""Sentinel keys go in; every repr, status, log record and exception text is scanned for them."""

from __future__ import annotations

import logging
import pickle
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
    assert len(everything) > 30  # the scan saw real material
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
    assert errors.AlpacaNbError  # the hierarchy is importable from the package
