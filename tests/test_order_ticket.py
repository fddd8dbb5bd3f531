"""OrderTicket and the trading magics: bad input sends nothing, the live interlock, exactly-once submit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from alpaca_nb.widgets import OrderTicket
from tests.conftest import wait_until

SEEN = {"ticket": 0, "magic": 0}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=21, hours="always", rate_limit=None) as s:
        yield s


@pytest.fixture(scope="module")
def session(sim: Simulator) -> Iterator[Session]:
    yield anb.connect("demo", simulator=sim, quiet=True, rate_limit=None)
    close_current()


@pytest.fixture(scope="module")
def ticket(session: Session) -> Iterator[OrderTicket]:
    t = OrderTicket("AAPL", session=session)
    yield t
    t.close()


def _private_session(sim: Simulator, allow_live: bool = False) -> Session:
    """A demo session on ``sim`` that does not replace the current one (the module's)."""
    from alpaca_nb.session import _demo_session

    return _demo_session(sim, seed=0, allow_live=allow_live, timeout=10, rate_limit=None)


def _order_count(sim: Simulator) -> int:
    return len(sim.orders("paper")) + len(sim.orders("live"))


# ----- generated bad inputs ---------------------------------------------------------------------
GOOD = {"symbol": "AAPL", "side": "buy", "qty": "1", "notional": "", "order_type": "limit", "tif": "day",
        "limit_price": "1.00", "stop_price": "", "trail_price": "", "trail_percent": ""}  # fmt: skip
junk_number = st.sampled_from(
    ["0", "-1", "-0.5", "nan", "inf", "-inf", "abc", "1e400", " ", "1,000", "0x10", "--5"]
)
BREAKERS: dict[str, Any] = {
    "symbol": st.one_of(st.sampled_from(["", "aapl!", "A A", "TOOLONGSYMBOL", "ZZZZ", "1ABC", "$AAPL"]),
                        st.text(alphabet="!@#$%^&*() abc", min_size=1, max_size=6)),
    "side": st.sampled_from(["", "hold", "BUYY", "short", "long"]),
    "qty": junk_number,
    "order_type": st.sampled_from(["", "limitt", "bracket", "oco", "MARKET!"]),
    "tif": st.sampled_from(["", "forever", "week", "gtd"]),
    "limit_price": junk_number,
    "both": st.just({"notional": "100"}),  # qty and notional together
    "notional_limit": st.just({"qty": "", "notional": "100"}),  # notional on a limit order
    "stop_on_limit": st.sampled_from(["5", "10"]).map(lambda p: {"stop_price": p}),
    "trail_on_limit": st.just({"trail_percent": "2"}),
    "too_big": st.just({"qty": "100000", "limit_price": "1"}),  # beyond max_notional / buying power
}  # fmt: skip


@st.composite
def bad_ticket(draw: Any) -> dict[str, str]:
    fields = dict(GOOD)
    for name in draw(st.lists(st.sampled_from(sorted(BREAKERS)), min_size=1, max_size=3, unique=True)):
        value = draw(BREAKERS[name])
        fields.update(value if isinstance(value, dict) else {name: value})
    return fields


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(fields=bad_ticket())
def test_bad_ticket_fields_send_nothing(ticket: OrderTicket, sim: Simulator, fields: dict[str, str]) -> None:
    before = _order_count(sim)
    with ticket.hold_trait_notifications():
        for name, value in fields.items():
            setattr(ticket, name, value)
    ticket.message = ""
    assert ticket.submit() is None
    assert ticket.message and "\n" not in ticket.message
    assert _order_count(sim) == before
    SEEN["ticket"] += 1


words = st.sampled_from(
    ["AAPL", "aapl", "-1", "0", "abc", "--limit", "--stop", "--tif", "forever", "--notional", "nan", "1e999",
     "ZZZZ", "--live", "'", "--limit=-3", "x", "10"]
)  # fmt: skip


@settings(max_examples=1100, deadline=None, suppress_health_check=list(HealthCheck))
@given(side=st.sampled_from(["buy", "sell"]), tokens=st.lists(words, min_size=0, max_size=5))
def test_bad_buy_sell_lines_send_nothing(
    session: Session, sim: Simulator, side: str, tokens: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    line = " ".join(tokens)
    valid = _plausibly_valid(tokens)
    if valid:
        return  # only lines that must be refused
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    before = _order_count(sim)
    capsys.readouterr()
    assert ip.run_line_magic("alpaca", f"{side} {line}") is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert _order_count(sim) == before
    SEEN["magic"] += 1


def _plausibly_valid(tokens: list[str]) -> bool:
    """A line that could legitimately place an order (the generator avoids testing those)."""
    positional = [t for t in tokens if not t.startswith("-")]
    return (
        len(positional) >= 2
        and positional[0] == "10"
        and positional[1].upper() == "AAPL"
        and "--live" not in tokens
    )


def test_enough_bad_inputs_were_tried() -> None:
    print(f"\nbad ticket inputs tried: {SEEN['ticket']}; bad buy/sell lines tried: {SEEN['magic']}")
    assert SEEN["ticket"] >= 1000 and SEEN["magic"] >= 1000  # the few valid generated lines are skipped


# ----- the live interlock -----------------------------------------------------------------------
def test_live_is_locked_without_allow_live(session: Session, sim: Simulator) -> None:
    ticket = OrderTicket("MSFT", session=session)
    assert ticket.account == "paper" and not ticket.live_allowed and "allow_live" in ticket.live_reason
    ticket.account = "live"
    assert ticket.account == "paper" and ticket.message.startswith("refused: live trading is locked")
    before = [r for r in sim.requests if r.account == "live"]
    with pytest.raises(errors.LiveTradingLockedError):
        session.submit_order("MSFT", qty=1, account="live")
    assert [r for r in sim.requests if r.account == "live"] == before == []
    ticket.close()


def test_live_needs_the_confirmation_step() -> None:
    with Simulator(seed=22, hours="always", rate_limit=None) as sim:
        session = _private_session(sim, allow_live=True)
        ticket = OrderTicket("KO", session=session)
        assert ticket.account == "paper" and ticket.live_allowed  # paper every time, even when unlocked
        ticket.account = "live"
        ticket.qty, ticket.order_type = "3", "market"
        assert ticket.submit() is None and ticket.confirming
        assert "LIVE" in ticket.confirm_text and "BUY 3 shares KO" in ticket.confirm_text
        assert "estimated $" in ticket.confirm_text
        assert sim.orders("live") == []  # nothing reached the live account yet
        ticket._on_front_end(None, {"type": "back"}, [])
        assert not ticket.confirming and sim.orders("live") == []
        ticket.submit()
        order = ticket.submit(confirmed=True)
        assert order is not None and [o["id"] for o in sim.orders("live")] == [str(order.id)]
        assert sim.orders("paper") == []
        ticket.close()
        session.close()


# ----- exactly once ---------------------------------------------------------------------------------
def test_double_click_and_resend_after_504_make_one_order() -> None:
    with Simulator(seed=23, hours="always", rate_limit=None) as sim:
        session = _private_session(sim)
        sim.set_price("SPY", 500.0)
        ticket = OrderTicket("SPY", session=session)
        ticket.qty = "2"
        first = ticket.submit()
        second = ticket.submit()  # the second click
        assert first is not None and second is None and "already submitted" in ticket.message
        assert len(sim.orders()) == 1
        ticket.qty = "3"  # a new intended order
        sim.faults.fail("POST", "/v2/orders", 504, after_apply=True)
        third = ticket.submit()
        assert third is not None and float(third.qty) == 3
        assert len(sim.orders()) == 2  # the 504'd order exists once, found by its client_order_id
        assert wait_until(lambda: ticket.order_status == "filled", 5)
        assert "filled" in ticket.status_line and "@" in ticket.status_line
        ticket.close()
        session.close()


def test_pre_trade_limits_name_the_limit(session: Session, sim: Simulator) -> None:
    ticket = OrderTicket("NFLX", session=session, max_notional=1_000, max_position=5)
    before = _order_count(sim)
    ticket.qty, ticket.order_type, ticket.limit_price = "10", "limit", "150"
    ticket.submit()
    assert "max_notional $1,000.00" in ticket.message
    ticket.qty, ticket.limit_price = "6", "1"
    ticket.submit()
    assert "max_position 5" in ticket.message
    assert _order_count(sim) == before
    ticket.close()


def test_trading_magics(
    session: Session, sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    sim.set_price("JPM", 200.0)
    order = ip.run_line_magic("alpaca", "buy 4 JPM")
    assert order is not None and "buy 4 JPM market (paper)" in capsys.readouterr().out
    assert wait_until(lambda: session.get_order(str(order.id)).status == "filled", 5)
    resting = ip.run_line_magic("alpaca", "sell 1 JPM --limit 999 --tif gtc")
    assert resting is not None and float(resting.limit_price) == 999
    ip.run_line_magic("alpaca", "cancel all")
    assert "cancel requested for 1" in capsys.readouterr().out
    closed = ip.run_line_magic("alpaca", "close JPM")
    assert closed is not None and float(closed.qty) == 4
    assert ip.run_line_magic("alpaca", "buy 1 JPM --live") is None
    assert "LiveTradingLockedError" in capsys.readouterr().err
    ticket = ip.run_line_magic("alpaca", "order KO")
    assert isinstance(ticket, OrderTicket) and ticket.symbol == "KO" and ticket.account == "paper"
    ticket.close()
    time.sleep(0.2)


def test_close_all_on_live_asks_first(monkeypatch: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module: it connects a session of its own (allow_live) as the current one."""
    with Simulator(seed=24, hours="always", rate_limit=None) as sim:
        session = anb.connect("demo", simulator=sim, allow_live=True, quiet=True, rate_limit=None)
        session.submit_order("KO", qty=2, account="live")
        assert wait_until(lambda: len(session.positions(account="live")) == 1, 5)
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "alpaca_nb")
        answers = iter(["no", "yes"])
        monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
        assert ip.run_line_magic("alpaca", "close all --live") is None
        assert "not closed" in capsys.readouterr().out
        assert len(session.positions(account="live")) == 1  # nothing sent on "no"
        assert ip.run_line_magic("alpaca", "close all --live") is not None
        assert wait_until(lambda: session.positions(account="live").empty, 5)
        close_current()
