"""What the adversarial review of the options work broke, each as a test that failed before its mend."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pandas as pd
import pytest

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session
from alpaca_nb.sim import Simulator
from tests import front_end
from tests.conftest import wait_until


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=61, hours="always", rate_limit=None, stream_connection_limit=None) as s:
        bid, ask, *_ = s.call(lambda: s.market.quote_at("AAPL"))
        s.set_price("AAPL", round((bid + ask) / 2, 2))
        yield s


@pytest.fixture
def session(sim: Simulator) -> Iterator[Session]:
    s = anb.connect("demo", simulator=sim, quiet=True, rate_limit=None, current=False)
    yield s
    s.close()


def _calls(session: Session, nth: int = 3) -> tuple[pd.DataFrame, float]:
    chain = session.option_chain("AAPL")
    expiry = sorted(set(chain.index.get_level_values("expiration")))[nth]
    q = session.latest_quotes("AAPL")
    return chain.xs((expiry, "call"), level=("expiration", "type")), float(
        (q.bid_price + q.ask_price).iloc[0] / 2
    )


def _near(calls: pd.DataFrame, spot: float, steps: int = 0) -> str:
    strikes = list(calls.index)
    i = min(range(len(strikes)), key=lambda k: abs(strikes[k] - spot)) + steps
    return str(calls.iloc[i].symbol)


def _debit(calls: pd.DataFrame, long: str, short: str) -> float:
    """A net limit at which the spread fills now (a little over the natural debit)."""
    ask = float(calls[calls.symbol == long].ask.iloc[0])
    bid = float(calls[calls.symbol == short].bid.iloc[0])
    return round(ask - bid + 0.05, 2)


def _sent(sim: Simulator) -> int:
    return sum(r.method == "POST" and r.path == "/v2/orders" for r in sim.requests)


def test_a_repeated_click_does_not_place_a_spread_twice(session: Session, sim: Simulator) -> None:
    calls, spot = _calls(session)
    ticket = anb.OrderTicket(session=session)
    try:
        ticket.add_leg(_near(calls, spot), "buy")
        ticket.add_leg(_near(calls, spot, 2), "sell")
        front_end.write(
            ticket, qty="1", limit_price=f"{_debit(calls, _near(calls, spot), _near(calls, spot, 2)):.2f}"
        )
        front_end.send(ticket, {"type": "submit"})
        assert ticket.order_id, ticket.message
        ticket.add_leg(_near(calls, spot), "buy")  # the same leg clicked again
        front_end.send(ticket, {"type": "submit"})
        assert "already submitted" in ticket.message
        assert sum(1 for o in sim.orders() if o.get("order_class") == "mleg" and o.get("legs")) == 1
    finally:
        ticket.close()


def test_short_puts_split_over_orders_stay_cash_secured(session: Session, sim: Simulator) -> None:
    chain = session.option_chain("AAPL")
    puts = chain[(chain.index.get_level_values("type") == "put") & (chain.delta > -0.15) & (chain.bid > 0)]
    put = puts.iloc[-1]  # out of the money: the premium it brings in is small
    strike = float(puts.index[-1][1])
    cash = float(session.account().cash)
    each = max(1, int(cash / (strike * 100) * 0.6))  # one order fits, two do not
    session.submit_order(str(put.symbol), qty=each, side="sell", type="limit", limit_price=0.01)
    before = _sent(sim)
    with pytest.raises(errors.PreTradeRefusal, match="cash-secured"):
        session.submit_order(str(put.symbol), qty=each, side="sell", type="limit", limit_price=0.01)
    assert _sent(sim) == before


def test_shares_cover_one_short_call_each_hundred_and_cannot_be_sold_from_under_it(
    session: Session, sim: Simulator
) -> None:
    calls, spot = _calls(session)
    session.submit_order("AAPL", qty=100)
    assert wait_until(lambda: "AAPL" in session.positions().index, timeout=10)
    high = _near(calls, spot, 4)
    sold = session.submit_order(high, qty=1, side="sell", type="limit", limit_price=0.01)
    assert wait_until(lambda: session.get_order(str(sold.id)).status.value == "filled", timeout=10)
    before = _sent(sim)
    with pytest.raises(errors.PreTradeRefusal, match="naked short call"):
        session.submit_order(_near(calls, spot, 5), qty=1, side="sell", type="limit", limit_price=0.01)
    with pytest.raises(errors.PreTradeRefusal, match="covered"):
        session.submit_order("AAPL", qty=100, side="sell")
    assert _sent(sim) == before


def test_a_short_leg_outliving_its_cover_is_refused_and_a_calendar_at_a_debit_is_not(
    session: Session, sim: Simulator
) -> None:
    near, spot = _calls(session, 1)
    far, _ = _calls(session, 6)
    before = _sent(sim)
    with pytest.raises(errors.PreTradeRefusal, match="expiring no earlier"):
        session.submit_order(legs=[anb.Leg(_near(near, spot), "buy"), anb.Leg(_near(far, spot, 2), "sell")],
                             qty=1, limit_price=1.0)  # fmt: skip
    assert _sent(sim) == before
    legs = [anb.Leg(_near(near, spot), "sell"), anb.Leg(_near(far, spot), "buy")]
    calendar = session.submit_order(legs=legs, qty=1, limit_price=20.0)
    assert calendar.order_class.value == "mleg"


def test_a_found_order_must_have_the_same_legs(session: Session) -> None:
    calls, spot = _calls(session)
    spread = [anb.Leg(_near(calls, spot), "buy"), anb.Leg(_near(calls, spot, 2), "sell")]
    other = [anb.Leg(_near(calls, spot, 1), "buy"), anb.Leg(_near(calls, spot, 3), "sell")]
    price = _debit(calls, _near(calls, spot), _near(calls, spot, 2))
    session.submit_order(legs=spread, qty=1, limit_price=price, client_order_id="same-id")
    with pytest.raises(errors.DuplicateClientOrderIdError, match="legs"):
        session.submit_order(legs=other, qty=1, limit_price=price, client_order_id="same-id")


def test_max_position_applies_to_each_leg(session: Session) -> None:
    calls, spot = _calls(session)
    session.max_position = 5
    with pytest.raises(errors.PreTradeRefusal, match="max_position"):
        legs = [anb.Leg(_near(calls, spot), "buy"), anb.Leg(_near(calls, spot, 2), "sell")]
        session.submit_order(legs=legs, qty=50, limit_price=1.0)


@pytest.mark.parametrize("ratio", [math.nan, math.inf])
def test_odd_ratios_and_quantities_are_one_line(session: Session, ratio: float) -> None:
    calls, spot = _calls(session)
    with pytest.raises(errors.ValidationError):
        legs = [anb.Leg(_near(calls, spot), "buy", ratio), anb.Leg(_near(calls, spot, 2), "sell")]  # type: ignore[arg-type]
        session.submit_order(legs=legs, qty=1, limit_price=1.0)
    ticket = anb.OrderTicket(session=session)
    try:
        ticket.add_leg(_near(calls, spot), "buy")
        ticket.add_leg(_near(calls, spot, 2), "sell")
        front_end.write(ticket, qty="inf")  # from the browser: shown as one line, not a traceback
        assert wait_until(lambda: "error" in ticket.spread, timeout=10), ticket.spread
        with pytest.raises(errors.ValidationError):
            ticket.use_strategy("straddle", "AAPL", expiration="junk")
    finally:
        ticket.close()


def test_chain_clicks_and_edits_do_not_flood_the_browser_or_the_api(session: Session, sim: Simulator) -> None:
    from tests import comm_capture

    ticket = anb.OrderTicket(session=session)
    view = anb.OptionChain("AAPL", session=session, ticket=ticket, strikes=6)
    try:
        assert wait_until(lambda: view.stats["frames"] >= 1, timeout=10)
        seq = max(view._recent)
        start, requests = len(comm_capture.CAPTURED), len(sim.requests)
        t0 = time.monotonic()
        for i in range(100):
            front_end.send(view, {"type": "pick", "row": i % 6, "side": "call", "field": "ask", "seq": seq})
        for i in range(50):
            front_end.write(ticket, limit_price=f"{1 + i / 100:.2f}")
        time.sleep(1.0)
        elapsed = time.monotonic() - t0
        sent = [m for m in comm_capture.CAPTURED[start:] if m["comm_id"] == view.comm.comm_id]
        assert len(sent) <= 12 * elapsed + 2  # its pump's rate, plus what answered the clicks taken
        assert len(sim.requests) - requests <= 30, len(sim.requests) - requests  # not a REST call per edit
    finally:
        view.close()
        ticket.close()
