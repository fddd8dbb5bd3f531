"""connect(): modes, credentials, the live interlock, replacing sessions, and the safe transport."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.config import Endpoints
from alpaca_nb.rest import RateLimiter
from alpaca_nb.session import close_current
from alpaca_nb.sim import Simulator


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "APCA_API_KEY_ID",
        "APCA_API_SECRET_KEY",
        "APCA_LIVE_API_KEY_ID",
        "APCA_LIVE_API_SECRET_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
    close_current()


def _endpoints(sim: Simulator) -> dict[str, Endpoints]:
    where = Endpoints(sim.base_url, sim.base_url, sim.data_stream_url, sim.trading_stream_url)
    return {"paper": where, "live": where}


def test_auto_without_keys_is_demo_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    s = anb.connect(seed=5)
    out = capsys.readouterr().out
    assert s.mode == "demo" and s.simulator is not None and s.simulator.running
    assert out.count("\n") == 1 and "demo mode" in out and s.simulator.base_url in out
    assert anb.current_session() is s
    assert s.trading.get_account().status == "ACTIVE"


def test_auto_with_keys_is_paper(monkeypatch: pytest.MonkeyPatch) -> None:
    with Simulator(seed=1, credentials={"paper": ("PKENVKEY12345678", "env-secret-value")}) as sim:
        monkeypatch.setenv("APCA_API_KEY_ID", "PKENVKEY12345678")
        monkeypatch.setenv("APCA_API_SECRET_KEY", "env-secret-value")
        s = anb.connect(endpoints=_endpoints(sim), quiet=True)
        assert s.mode == "paper" and s.simulator is None
        assert s.trading.get_account().status == "ACTIVE"
        with pytest.raises(errors.ConfigurationError, match="APCA_LIVE_API_KEY_ID"):
            anb.connect("paper", allow_live=True, endpoints=_endpoints(sim), quiet=True).client("live")


def test_mode_errors() -> None:
    with pytest.raises(errors.ConfigurationError, match="APCA_API_KEY_ID"):
        anb.connect("paper")
    with pytest.raises(errors.ConfigurationError, match="unknown mode"):
        anb.connect("papr")
    with pytest.raises(errors.ConfigurationError, match="both"):
        anb.connect("paper", api_key="PK123456789")
    with pytest.raises(errors.NoSessionError, match="connect"):
        anb.current_session()


def test_live_mode_needs_allow_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_LIVE_API_KEY_ID", "AKLIVEKEY1234567")
    monkeypatch.setenv("APCA_LIVE_API_SECRET_KEY", "live-secret")
    with pytest.raises(errors.LiveTradingLockedError, match="allow_live=True"):
        anb.connect("live")


def test_new_connect_closes_the_previous_session() -> None:
    first = anb.connect("demo", quiet=True)
    sim = first.simulator
    assert sim is not None
    second = anb.connect("demo", quiet=True)
    assert first.closed and not sim.running and anb.current_session() is second
    with pytest.raises(errors.NoSessionError):
        first.submit_order("AAPL", qty=1)
    second.close()
    with pytest.raises(errors.NoSessionError):
        anb.current_session()
    assert not any(t.name.startswith("alpaca-nb-sim") for t in threading.enumerate())


def test_live_interlock_end_to_end() -> None:
    """Without allow_live, no request reaches the live account; with it (demo), orders go through."""
    locked = anb.connect("demo", quiet=True, rate_limit=None)
    sim = locked.simulator
    assert sim is not None
    for attempt in (
        lambda: locked.submit_order("AAPL", qty=1, account="live"),
        lambda: locked.cancel_all_orders(account="live"),
        lambda: locked.close_all_positions(account="live"),
        lambda: locked.client("live"),
    ):
        with pytest.raises(errors.LiveTradingLockedError, match="nothing was sent"):
            attempt()
    locked.submit_order("AAPL", qty=1)
    assert {r.account for r in sim.requests} == {"paper"}  # the order and its pre-trade look-ups
    assert sim.orders("live") == []
    unlocked = anb.connect("demo", allow_live=True, quiet=True, rate_limit=None)
    assert unlocked.mode == "demo" and unlocked.default_account == "paper"
    order = unlocked.submit_order("MSFT", qty=1, account="live")
    assert unlocked.simulator is not None
    assert [o["id"] for o in unlocked.simulator.orders("live")] == [str(order.id)]


def test_bad_orders_send_nothing() -> None:
    s = anb.connect("demo", quiet=True)
    assert s.simulator is not None
    bad = [
        {"symbol": "aa pl", "qty": 1},
        {"symbol": "AAPL", "qty": 0},
        {"symbol": "AAPL", "qty": float("nan")},
        {"symbol": "AAPL", "qty": 1, "notional": 10},
        {"symbol": "AAPL"},
        {"symbol": "AAPL", "qty": 1, "side": "hold"},
        {"symbol": "AAPL", "qty": 1, "type": "limit"},
        {"symbol": "AAPL", "qty": 1, "type": "market", "limit_price": 10},
        {"symbol": "AAPL", "qty": 1, "type": "trailing_stop"},
        {"symbol": "AAPL", "notional": 100, "type": "limit", "limit_price": 5},
        {"symbol": "AAPL", "qty": 1, "time_in_force": "forever"},
        {"symbol": "AAPL", "qty": "ten"},
        {"symbol": "AAPL", "qty": True},
        {"symbol": "AAPL", "qty": 1, "extended_hours": True},
        {"symbol": "AAPL", "qty": 1, "client_order_id": "x" * 129},
    ]
    for kwargs in bad:
        with pytest.raises(errors.ValidationError) as err:
            s.submit_order(**kwargs)  # type: ignore[arg-type]
        assert "\n" not in str(err.value)
    assert s.simulator.requests == []


def test_stalled_get_fails_within_timeout_plus_one_second() -> None:
    s = anb.connect("demo", quiet=True, timeout=1.0)
    assert s.simulator is not None
    s.simulator.faults.stall("GET", "/v2/account", seconds=5)
    start = time.monotonic()
    with pytest.raises(errors.RequestTimeoutError, match="no answer within 1 s") as err:
        s.trading.get_account()
    elapsed = time.monotonic() - start
    assert elapsed < 1.0 + 1.0
    assert isinstance(err.value, errors.AlpacaNbError)
    print(f"stalled GET failed after {elapsed:.2f} s (timeout 1 s)")


def test_get_waits_out_429_but_post_is_not_resent_blindly() -> None:
    s = anb.connect("demo", quiet=True, rate_limit=None)
    sim = s.simulator
    assert sim is not None
    sim.faults.fail("GET", "/v2/clock", 429)
    start = time.monotonic()
    assert s.trading.get_clock().is_open
    assert time.monotonic() - start >= 0.9  # honoured Retry-After: 1
    clock_calls = [r.status for r in sim.requests if r.path == "/v2/clock"]
    assert clock_calls == [429, 200]
    s.submit_order("KO", qty=1, type="limit", limit_price=1, time_in_force="gtc")
    sim.faults.fail("DELETE", "/v2/orders", 503)
    with pytest.raises(errors.OrderStateUnknownError, match="1 order"):  # looked up, not resent
        s.cancel_all_orders()
    assert [r.status for r in sim.requests if r.method == "DELETE"] == [503]


def test_error_translation() -> None:
    s = anb.connect("demo", quiet=True, rate_limit=None)
    with pytest.raises(errors.PreTradeRefusal, match="exceeds buying power"):  # refused before sending
        s.submit_order("NFLX", qty=10_000)
    from alpaca.trading.requests import MarketOrderRequest

    with pytest.raises(errors.InsufficientBuyingPowerError) as bp:  # alpaca-py's own call: the broker's
        s.trading.submit_order(MarketOrderRequest(symbol="NFLX", qty=10_000, side="buy", time_in_force="day"))
    assert (
        bp.value.status == 403
        and bp.value.code == 40310000
        and "insufficient buying power" in bp.value.message
    )
    with pytest.raises(errors.SymbolNotFoundError):
        s.submit_order("ZZZZ", qty=1)
    with pytest.raises(errors.SymbolNotFoundError):
        s.trading.get_asset("ZZZZ")
    with pytest.raises(errors.NotFoundError) as nf:
        s.get_order("00000000-0000-4000-8000-000000000000")
    assert nf.value.code == 40410000 and nf.value.path == "/v2/orders/00000000-0000-4000-8000-000000000000"
    assert errors.from_http(401, '{"code":40110000,"message":"request is not authorized"}').__class__ is (
        errors.AuthenticationError
    )
    sip = errors.from_http(
        403, '{"code":42210000,"message":"subscription does not permit querying recent SIP data"}'
    )
    assert isinstance(sip, errors.SubscriptionError) and 'feed="iex"' in str(sip)
    limited = errors.from_http(429, '{"code":42910000,"message":"rate limit exceeded"}', retry_after=3)
    assert isinstance(limited, errors.RateLimitError) and limited.retry_after == 3
    assert isinstance(errors.from_http(502, "<html>bad gateway</html>"), errors.ServerError)


def test_rate_limiter_paces_requests() -> None:
    limiter = RateLimiter(5, period=0.5)
    start = time.monotonic()
    for _ in range(10):
        limiter.acquire()
    assert time.monotonic() - start >= 0.45
    assert limiter.remaining() is not None and limiter.remaining() <= 5  # type: ignore[operator]
    assert RateLimiter(None).remaining() is None


FAULTS = ("504-after-acceptance", "stall-past-timeout", "connection-reset", "429")


def test_two_hundred_orders_under_random_faults_exist_exactly_once() -> None:
    rng = random.Random(2024)
    s = anb.connect("demo", quiet=True, timeout=0.4, rate_limit=None)
    sim = s.simulator
    assert sim is not None
    sim.set_price("KO", 50.0)
    submitted = faulted = 0
    outcomes: dict[str, str] = {}  # client_order_id -> "order" | error class
    for i in range(200):
        fault = rng.choice(FAULTS)
        if fault == "504-after-acceptance":
            sim.faults.fail("POST", "/v2/orders", 504, after_apply=True)
        elif fault == "stall-past-timeout":
            sim.faults.stall("POST", "/v2/orders", seconds=0.6, after_apply=rng.random() < 0.5)
        elif fault == "connection-reset":
            sim.faults.reset("POST", "/v2/orders", after_apply=rng.random() < 0.5)
        else:
            sim.faults.fail("POST", "/v2/orders", 429)
        faulted += 1
        coid = f"fault-test-{i}"
        submitted += 1
        try:
            order = s.submit_order("KO", qty=1, client_order_id=coid)
            assert order.client_order_id == coid
            outcomes[coid] = "order"
        except errors.AlpacaNbError as err:
            assert coid in str(err)  # the error says which order it is about
            outcomes[coid] = type(err).__name__
    time.sleep(0.8)  # let any stalled request finish landing
    orders = sim.orders()
    by_coid: dict[str, int] = {}
    for o in orders:
        by_coid[o["client_order_id"]] = by_coid.get(o["client_order_id"], 0) + 1
    duplicates = sum(n - 1 for n in by_coid.values())
    lost = sum(1 for coid, outcome in outcomes.items() if outcome == "order" and coid not in by_coid)
    extra = len(set(by_coid) - set(outcomes))
    print(
        f"\nsubmitted={submitted} faulted={faulted} orders={len(orders)} duplicates={duplicates} "
        f"lost={lost} unexpected={extra} errors={sum(o != 'order' for o in outcomes.values())}"
    )
    assert duplicates == 0 and lost == 0 and extra == 0
    assert len(orders) == submitted  # every intended order exists exactly once


# ----- what the review found (each failed on bad0d12) -------------------------------------------------
@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "10", True])
def test_bad_connect_arguments_leave_the_old_session_alone(timeout: object) -> None:
    old = anb.connect("demo", quiet=True)
    threads = {t.name for t in threading.enumerate()}
    with pytest.raises(errors.ConfigurationError, match="timeout"):
        anb.connect("demo", timeout=timeout, quiet=True)  # type: ignore[arg-type]
    assert anb.current_session() is old and not old.closed
    assert {t.name for t in threading.enumerate()} == threads  # no new simulator left running
    for bad in ({"seed": "x"}, {"rate_limit": 0}, {"feed": "nasdaq"}, {"max_notional": -5}):
        with pytest.raises(errors.AlpacaNbError):
            anb.connect("demo", quiet=True, **bad)  # type: ignore[arg-type]
        assert anb.current_session() is old


def test_allow_live_is_fixed_at_connect() -> None:
    s = anb.connect("demo", quiet=True)
    with pytest.raises(AttributeError):
        s.allow_live = True  # type: ignore[misc]
    with pytest.raises(errors.LiveTradingLockedError):
        s.submit_order("AAPL", qty=1, account="live")
    assert s.simulator is not None and s.simulator.orders("live") == []


def test_numbers_are_not_dates() -> None:
    s = anb.connect("demo", quiet=True)
    for bad in (2024, 2024.5, 1_700_000_000):
        with pytest.raises(errors.ValidationError, match="is a number, not a date"):
            s.bars("AAPL", "1Day", start=bad)
    assert s.simulator is not None and s.simulator.requests == []


def test_bad_close_inputs_send_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    s = anb.connect("demo", quiet=True, rate_limit=None)
    sim = s.simulator
    assert sim is not None
    for kwargs in ({"qty": -5}, {"qty": float("nan")}, {"qty": 0}, {"percentage": 250}, {"percentage": -1},
                   {"qty": 1, "percentage": 50}, {"qty": "lots"}):  # fmt: skip
        with pytest.raises(errors.ValidationError):
            s.close_position("AAPL", **kwargs)  # type: ignore[arg-type]
    for symbol in ("", "   ", "aa pl", "BRK/B/C"):
        with pytest.raises(errors.ValidationError):
            s.close_position(symbol)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    assert not ip.run_cell('%alpaca close ""').success
    assert [r for r in sim.requests if r.method == "DELETE"] == []


def test_a_position_closes_by_asset_id_too() -> None:
    s = anb.connect("demo", quiet=True, rate_limit=None)
    sim = s.simulator
    assert sim is not None
    order = s.submit_order("KO", qty=3)
    assert sim.wait_for(lambda: s.get_order(str(order.id)).status == "filled")
    asset_id = str(s.asset("KO")["id"])
    closing = s.close_position(asset_id)  # a UUID keeps its case (upper-casing it broke the look-up)
    assert closing.symbol == "KO" and float(closing.qty) == 3


def test_cancel_all_on_live_asks_first(monkeypatch: pytest.MonkeyPatch) -> None:
    s = anb.connect("demo", allow_live=True, quiet=True, rate_limit=None)
    sim = s.simulator
    assert sim is not None
    s.submit_order("KO", qty=1, type="limit", limit_price=1, time_in_force="gtc", account="live")
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    answers = iter(["no", "yes"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    ip.run_line_magic("alpaca", "cancel all --live")
    assert [o["status"] for o in sim.orders("live")] in (["new"], ["accepted"])  # "no": nothing cancelled
    ip.run_line_magic("alpaca", "cancel all --live")
    assert sim.wait_for(lambda: [o["status"] for o in sim.orders("live")] == ["canceled"])


def test_an_environment_variable_never_moves_live_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from alpaca_nb.config import LIVE_TRADING_URL

    with Simulator(seed=5, credentials={"paper": ("PKENVKEY12345678", "env-secret-value")}) as sim:
        monkeypatch.setenv("ALPACA_NB_BASE_URL", sim.base_url)
        monkeypatch.setenv("APCA_API_KEY_ID", "PKENVKEY12345678")
        monkeypatch.setenv("APCA_API_SECRET_KEY", "env-secret-value")
        monkeypatch.setenv("APCA_LIVE_API_KEY_ID", "AKLIVEKEY1234567")
        monkeypatch.setenv("APCA_LIVE_API_SECRET_KEY", "live-secret-value")
        s = anb.connect("paper", allow_live=True, quiet=True)
        status = s.status()["accounts"]
        assert status["paper"]["trading"] == sim.base_url  # paper follows the variable...
        assert status["live"]["trading"] == LIVE_TRADING_URL  # ...live does not
        assert s.trading.get_account().status == "ACTIVE"
        assert {r.account for r in sim.requests} == {"paper"}


def test_a_live_order_is_priced_by_the_live_accounts_own_data_server() -> None:
    from alpaca_nb.trading import build_order_request

    keys = {"paper": ("PKPAPERKEY123456", "paper-secret-1"), "live": ("AKLIVEKEY1234567", "live-secret-1")}
    with (
        Simulator(seed=1, credentials=keys, hours="always") as paper,
        Simulator(seed=2, credentials=keys, hours="always") as live,
    ):
        where = {kind: Endpoints(sim.base_url, sim.base_url, sim.data_stream_url, sim.trading_stream_url)
                 for kind, sim in (("paper", paper), ("live", live))}  # fmt: skip
        s = anb.connect("paper", api_key=keys["paper"][0], secret_key=keys["paper"][1],
                        live_api_key=keys["live"][0], live_secret_key=keys["live"][1], allow_live=True,
                        endpoints=where, quiet=True)  # fmt: skip
        s.check(build_order_request("AAPL", qty=1), account="live")
        quoted = {name: [r for r in sim.requests if r.path == "/v2/stocks/quotes/latest"]
                  for name, sim in (("paper", paper), ("live", live))}  # fmt: skip
        assert len(quoted["live"]) == 1 and quoted["paper"] == []
        assert quoted["live"][0].account == "live"
        s.close()
