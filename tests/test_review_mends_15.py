"""What the adversarial review of the crypto work broke, each as a test that failed before its mend."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session
from alpaca_nb.sim import Simulator
from alpaca_nb.widgets import OrderBook, OrderTicket
from tests import comm_capture, front_end
from tests.conftest import wait_until


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=41, hours="always", rate_limit=None, stream_connection_limit=None) as s:
        yield s


@pytest.fixture
def session(sim: Simulator) -> Iterator[Session]:
    s = anb.connect("demo", simulator=sim, quiet=True, rate_limit=None, timeout=1.0, current=False)
    yield s
    s.close()


def _posts(sim: Simulator) -> int:
    return sum(r.method in ("POST", "PATCH") and r.path.startswith("/v2/orders") for r in sim.requests)


def test_a_resend_after_an_unknown_outcome_finds_the_order_the_checks_would_count_twice(
    session: Session, sim: Simulator
) -> None:
    session.max_position = 0.001
    sim.faults.fail("POST", "/v2/orders", 504, after_apply=True, times=3)
    sim.faults.fail("GET", "/v2/orders:by_client_order_id", 500, times=30)
    with pytest.raises(errors.OrderStateUnknownError):
        session.submit_order("BTC/USD", qty="0.001", client_order_id="mine-1")
    sim.faults.clear()
    assert wait_until(lambda: "BTCUSD" in session.positions().index, timeout=10)
    order = session.submit_order("BTC/USD", qty="0.001", client_order_id="mine-1")  # found, not refused
    assert order.client_order_id == "mine-1"
    assert sum(o["client_order_id"] == "mine-1" for o in sim.orders()) == 1


def test_resting_notional_orders_count_against_max_position(session: Session, sim: Simulator) -> None:
    session.max_position = 0.01
    placed = 0
    with pytest.raises(errors.PreTradeRefusal, match="max_position"):
        for _ in range(5):  # $50 at $10,000 is 0.005 BTC each: the third would pass 0.01
            session.submit_order("BTC/USD", notional="50", type="limit", limit_price="10000")
            placed += 1
    assert placed == 2


def test_the_live_confirmation_restates_the_exact_quantity_and_price() -> None:
    with Simulator(seed=42, hours="always", rate_limit=None) as sim:
        s = anb.connect("demo", simulator=sim, allow_live=True, quiet=True, current=False)
        ticket = OrderTicket("DOGE/USD", session=s, max_notional=None)
        try:
            front_end.write(ticket, account="live", qty="1234567", order_type="limit", limit_price="0.05")
            front_end.send(ticket, {"type": "submit"})
            assert "1234567 DOGE/USD limit limit 0.05" in ticket.confirm_text.replace("BUY ", ""), (
                ticket.message
            )
            assert "e+" not in ticket.confirm_text
        finally:
            ticket.close()
            s.close()


def test_a_crafted_front_end_cannot_make_the_book_send_past_its_rate(session: Session) -> None:
    book = OrderBook("BTC/USD", session=session)
    try:
        assert wait_until(lambda: book.stats["frames"] >= 1, timeout=10)
        start = len(comm_capture.CAPTURED)
        for _ in range(300):
            front_end.send(book, {"type": "ready"})
        time.sleep(1.0)
        frames = [
            m
            for m in comm_capture.CAPTURED[start:]
            if m["comm_id"] == book.comm.comm_id and m["method"] == "custom"
        ]
        assert len(frames) <= 12, len(frames)  # its pump's ten a second, not three hundred
    finally:
        book.close()


@pytest.mark.parametrize("qty", ["1e30", "1e27", "99999999999999999999999999999"])
def test_a_huge_quantity_is_one_line_not_a_decimal_error(session: Session, sim: Simulator, qty: str) -> None:
    before = _posts(sim)
    with pytest.raises(errors.AlpacaNbError) as info:
        session.submit_order("BTC/USD", qty=qty)
    assert "\n" not in str(info.value) and "Decimal" not in str(info.value)
    assert _posts(sim) == before


def test_a_notional_sell_beyond_what_is_held_is_refused_here(session: Session, sim: Simulator) -> None:
    before = _posts(sim)
    with pytest.raises(errors.PreTradeRefusal, match="not shortable"):
        session.submit_order("ETH/USD", notional="500", side="sell")
    assert _posts(sim) == before


def test_an_unknown_pair_is_refused_by_the_order_book(session: Session) -> None:
    with pytest.raises(errors.SymbolNotFoundError):
        OrderBook("XYZ/USD", session=session)
    with pytest.raises(errors.ValidationError, match="slash"):
        OrderBook("BTCUSD", session=session)


def test_a_crypto_replace_follows_crypto_rules_before_it_is_sent(session: Session, sim: Simulator) -> None:
    order = session.submit_order("BTC/USD", qty="0.001", type="limit", limit_price="10000")
    before = _posts(sim)
    for change, pattern in [
        ({"limit_price": 10000.5}, "increment"),
        ({"time_in_force": "day"}, "time_in_force"),
    ]:
        with pytest.raises(errors.AlpacaNbError, match=pattern):
            session.replace_order(str(order.id), **change)  # type: ignore[arg-type]
    assert _posts(sim) == before
    assert float(session.replace_order(str(order.id), limit_price=10001).limit_price) == 10001


def test_the_ticket_accepts_only_the_two_account_words(session: Session) -> None:
    ticket = OrderTicket("BTC/USD", session=session)
    try:
        front_end.write(ticket, account="LIVE")
        assert ticket.account == "paper" and "paper or live" in ticket.message
    finally:
        ticket.close()


def test_a_pick_names_its_frame_and_a_pair_switch_clears_the_quantity(session: Session) -> None:
    ticket = OrderTicket("ETH/USD", session=session)
    book = OrderBook("BTC/USD", session=session, ticket=ticket)
    try:
        front_end.write(ticket, qty="20")
        assert wait_until(lambda: book.stats["frames"] >= 10, timeout=15)
        refused = book._refused
        front_end.send(book, {"type": "pick", "side": "bid", "index": 0, "seq": 1})  # long gone
        front_end.send(book, {"type": "pick", "side": "bid", "index": 0, "seq": "1"})
        assert book._refused == refused + 2 and ticket.limit_price == ""
        front_end.send(book, {"type": "pick", "side": "bid", "index": 0})
        assert ticket.symbol == "BTC/USD" and ticket.qty == "" and ticket.limit_price
    finally:
        book.close()
        ticket.close()


def test_charts_work_without_keys(sim: Simulator) -> None:
    k = anb.connect("crypto-data", data_url=sim.base_url, quiet=True, current=False)
    try:
        chart = anb.QuoteChart("BTC/USD", session=k)
        bars = anb.BarChart("BTC/USD", "1Min", start="2024-10-14", end="2024-10-14 01:00", session=k)
        assert wait_until(lambda: chart.stats["points"] > 0, timeout=10)
        assert "candles=61" in repr(bars)
        chart.close()
        bars.close()
    finally:
        k.close()
