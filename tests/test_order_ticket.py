"""OrderTicket and the trading magics: bad input sends nothing, the live interlock, exactly-once submit."""

from __future__ import annotations

import re
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
from tests import front_end
from tests.conftest import wait_until


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
    return anb.connect(
        "demo", simulator=sim, allow_live=allow_live, rate_limit=None, quiet=True, current=False
    )


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


def test_bad_ticket_fields_send_nothing(ticket: OrderTicket, sim: Simulator) -> None:
    """1,000 generated bad forms, written as the browser writes them, then Submit pressed."""
    tried = 0

    @settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(fields=bad_ticket())
    def one(fields: dict[str, str]) -> None:
        nonlocal tried
        before = _order_count(sim)
        front_end.write(ticket, **fields)
        ticket.message = ""
        front_end.send(ticket, {"type": "submit"})
        assert ticket.message and "\n" not in ticket.message
        assert _order_count(sim) == before
        tried += 1

    one()
    print(f"\nbad ticket inputs tried: {tried}")
    assert tried >= 1000


words = st.sampled_from(
    ["AAPL", "aapl", "-1", "0", "abc", "--limit", "--stop", "--tif", "forever", "--notional", "nan", "1e999",
     "ZZZZ", "--live", "'", "--limit=-3", "x", "10", "--take-profit", "--stop-loss", "--trail-percent"]
)  # fmt: skip


def test_bad_buy_sell_lines_send_nothing(
    session: Session, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """≥ 1,000 generated bad lines: each fails its cell with one line and sends nothing."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    tried = 0

    @settings(max_examples=1100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(side=st.sampled_from(["buy", "sell"]), tokens=st.lists(words, min_size=0, max_size=5))
    def one(side: str, tokens: list[str]) -> None:
        nonlocal tried
        if _plausibly_valid(tokens):
            return  # only lines that must be refused
        before = _order_count(sim)
        capsys.readouterr()
        result = ip.run_cell(f"%alpaca {side} {' '.join(tokens)}")
        shown = capsys.readouterr()
        assert result.error_in_exec is not None  # the cell failed
        text = (shown.out + shown.err).strip()
        assert text.count("\n") == 0 and ("Error: " in text), text
        assert _order_count(sim) == before
        tried += 1

    one()
    print(f"\nbad buy/sell lines tried: {tried}")
    assert tried >= 1000


def _plausibly_valid(tokens: list[str]) -> bool:
    """A line that could legitimately place an order (the generator avoids testing those)."""
    positional = [t for t in tokens if not t.startswith("-")]
    return (
        len(positional) >= 2
        and positional[0] == "10"
        and positional[1].upper() == "AAPL"
        and "--live" not in tokens
    )


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
        front_end.write(ticket, account="live", qty="3", order_type="market")
        front_end.send(ticket, {"type": "submit"})
        assert ticket.confirming and ticket.review_token
        assert "LIVE" in ticket.confirm_text and "BUY 3 shares KO" in ticket.confirm_text
        assert "estimated $" in ticket.confirm_text and "estimated $0.00" not in ticket.confirm_text
        assert sim.orders("live") == []  # nothing reached the live account yet
        front_end.send(ticket, {"type": "back"})
        assert not ticket.confirming and sim.orders("live") == []
        front_end.send(ticket, {"type": "submit"})
        front_end.send(ticket, {"type": "confirm", "token": ticket.review_token})
        orders = sim.orders("live")
        assert len(orders) == 1 and orders[0]["id"] == ticket.order_id and float(orders[0]["qty"]) == 3
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
    front_end.write(ticket, qty="10", order_type="limit", limit_price="150")
    front_end.send(ticket, {"type": "submit"})
    assert "max_notional $1,000.00" in ticket.message
    front_end.write(ticket, qty="6", limit_price="1")
    front_end.send(ticket, {"type": "submit"})
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
    with pytest.raises(errors.LiveTradingLockedError):
        ip.run_line_magic("alpaca", "buy 1 JPM --live")
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


# ----- what the review found (each failed on bad0d12) -------------------------------------------------
def test_a_confirm_no_review_preceded_is_refused() -> None:
    with Simulator(seed=25, hours="always", rate_limit=None) as sim:
        session = _private_session(sim, allow_live=True)
        ticket = OrderTicket("KO", session=session)
        front_end.write(ticket, account="live", qty="1")
        for crafted in ({"type": "confirm"}, {"type": "confirm", "token": "0" * 32},
                        {"type": "confirm", "token": None}):  # fmt: skip
            front_end.send(ticket, crafted)
            assert ticket.message.startswith("refused: nothing to confirm")
        assert sim.orders("live") == []
        ticket.close()
        session.close()


def test_the_confirmation_is_bound_to_what_it_showed() -> None:
    with Simulator(seed=26, hours="always", rate_limit=None) as sim:
        session = _private_session(sim, allow_live=True)
        ticket = OrderTicket("KO", session=session)
        front_end.write(ticket, account="live", qty="1")
        front_end.send(ticket, {"type": "submit"})
        shown, token = ticket.confirm_text, ticket.review_token
        assert "BUY 1 shares KO" in shown and token
        front_end.write(ticket, qty="40")  # changed after the review
        assert not ticket.confirming and ticket.review_token == ""
        front_end.send(ticket, {"type": "confirm", "token": token})
        assert ticket.message.startswith("refused:") and sim.orders("live") == []
        front_end.send(ticket, {"type": "submit"})  # a new review shows 40 shares...
        assert "BUY 40 shares KO" in ticket.confirm_text and ticket.review_token != token
        front_end.send(ticket, {"type": "confirm", "token": token})  # ...the old token does not confirm it
        assert sim.orders("live") == [] and not ticket.confirming  # and a wrong token ends the review
        front_end.send(ticket, {"type": "submit"})
        front_end.send(ticket, {"type": "confirm", "token": ticket.review_token})
        assert [float(o["qty"]) for o in sim.orders("live")] == [40]
        ticket.close()
        session.close()


def test_an_unknown_price_is_never_zero_and_prices_never_come_from_the_browser() -> None:
    with Simulator(seed=27, hours="always", rate_limit=None) as sim:
        session = _private_session(sim, allow_live=True)
        ticket = OrderTicket("AAPL", session=session, max_notional=50_000)
        assert ticket.bid == 0 and ticket.ask == 0  # no quote has streamed in yet
        front_end.write(ticket, qty="400", bid=0.01, ask=0.01)  # the browser's prices are dropped
        assert ticket.ask != 0.01
        quote, source = session.quote("AAPL")
        assert quote is not None and source == "REST" and 400 * quote.ask > 50_000
        front_end.send(ticket, {"type": "submit"})  # 400 shares at the ask: over the limit
        assert "exceeds max_notional $50,000.00" in ticket.message, ticket.message
        assert sim.orders("paper") == []
        front_end.write(ticket, qty="10", account="live")
        front_end.send(ticket, {"type": "submit"})
        shown = re.search(r"estimated \$([\d,.]+)", ticket.confirm_text)
        assert shown and float(shown.group(1).replace(",", "")) == pytest.approx(10 * quote.ask, rel=0.02)
        ticket.close()
        session.close()


def test_the_browser_may_write_only_the_form() -> None:
    with Simulator(seed=28, hours="always", rate_limit=None) as sim:
        session = _private_session(sim)
        ticket = OrderTicket("KO", session=session)
        front_end.write(ticket, live_allowed=True, confirming=True, order_id="x", review_token="t",
                        qty=5, symbol="A" * 500)  # fmt: skip
        assert not ticket.live_allowed and not ticket.confirming and ticket.order_id == ""
        assert ticket.review_token == "" and ticket.qty == "1" and ticket.symbol == "KO"
        front_end.write(ticket, account="live")  # refused: live is locked in this session
        assert ticket.account == "paper" and "live trading is locked" in ticket.message
        front_end.send(ticket, ["not", "a", "dict"])
        front_end.send(ticket, {"type": "cancel-order"})  # nothing placed yet: nothing to cancel
        assert sim.orders() == []
        ticket.close()
        session.close()
