"""What the adversarial review of crypto (15), options (16) and the stream shortcut broke, each as a test
that failed before its mend."""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session
from alpaca_nb.sim import Simulator
from tests import front_end
from tests.conftest import wait_until
from tests.test_review_mends_16 import _calls, _near, _sent
from tests.test_stream_frames import _kept, _pair, _take


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


def _quote(seconds: int, bid: float = 1.0) -> dict[str, Any]:
    return {"T": "q", "S": "AAPL", "t": msgpack.Timestamp(seconds, 0), "bp": bid, "bs": 1, "ap": 2.0, "as": 1}


# ----- the stream -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [5, "q", None, ["AAPL"], {"T": "q", "S": ["AAPL"], "t": msgpack.Timestamp(1, 0)},
     {"T": ["q"], "S": "AAPL"},
     {"T": "o", "S": "BTC/USD", "t": msgpack.Timestamp(1, 0), "b": [{"p": "x", "s": 1}]},
     {"T": "o", "S": "BTC/USD", "t": msgpack.Timestamp(1, 0), "b": 7}],
)  # fmt: skip
def test_a_message_no_record_can_be_made_of_does_not_half_apply_its_frame_or_stall_the_route(
    bad: Any,
) -> None:
    """A frame [good quote, junk]: the quote is kept and handed to its subscriber, the junk skipped (as a
    message missing a field is), and the next frame reaches the subscriber too (it used to raise midway,
    leaving the quote buffered but never delivered, and the route's pending batch non-empty for good:
    that symbol's charts froze while its undelivered records grew)."""
    fast, general, got_fast, got_general = _pair()
    for hub in (fast, general):
        with hub._lock:
            hub._buffers[("orderbooks", "BTC/USD")] = deque(maxlen=10)
            hub._tokens[2] = ([("orderbooks", "BTC/USD")], lambda batch: None)
            hub._index_callbacks()
    frame = msgpack.packb([_quote(1), bad], datetime=False)
    _, n = _take(fast, frame)
    assert n == general._ingest_frame(msgpack.unpackb(frame, timestamp=2)) == 1
    _take(fast, msgpack.packb([_quote(2, 1.5)], datetime=False))
    general._ingest_frame(msgpack.unpackb(msgpack.packb([_quote(2, 1.5)], datetime=False), timestamp=2))
    for got, hub in ((got_fast, fast), (got_general, general)):
        delivered = [r.t_ns // 10**9 for _, _, records in got for r in records]
        assert delivered == [1, 2]
        assert [q.t_ns // 10**9 for q in _kept(hub)["quotes:AAPL"]] == [1, 2]
        assert hub._routes["q"]["AAPL"][4] == []  # nothing left pending
        assert hub.stats()["messages"] == 2


def test_an_error_the_stream_server_sends_is_reported() -> None:
    """Subscribing to more option quotes than the plan allows (200 on basic) gets a stream message
    ``{"T": "error", "code": 405, "msg": "symbol limit exceeded"}``: it must reach ``last_error`` and the
    error count (since the two-level route look-up, a message with no route was dropped unseen)."""
    with Simulator(
        seed=61, hours="always", rate_limit=None, stream_connection_limit=None, plan="basic"
    ) as sim:
        s = anb.connect("demo", simulator=sim, quiet=True, rate_limit=None, current=False)
        try:
            s.stream.subscribe(quotes=list(s.option_chain("AAPL").symbol[:201]))
            assert wait_until(lambda: s.stream.last_error is not None, timeout=10)
            assert "405" in str(s.stream.last_error) and "symbol limit" in str(s.stream.last_error)
            assert s.stream.stats()["errors"] >= 1
        finally:
            s.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"\xd7\xff" + struct.pack(">Q", (1_000_000_005 << 34) | 1_700_000_000),  # 64-bit, ns field ≥ 10⁹
        b"\xc7\x0c\xff" + struct.pack(">Iq", 2_000_000_000, 1_700_000_000),  # 96-bit, ns field ≥ 10⁹
    ],
    ids=["timestamp64", "timestamp96"],
)
def test_a_timestamp_msgpack_refuses_is_refused_by_the_shortcut_too(raw: bytes) -> None:
    """Nanoseconds beyond 999,999,999 are no msgpack timestamp: the general path refuses the frame, and
    the shortcut must not keep a quote at a time of its own making from it."""
    placeholder = msgpack.packb(msgpack.ExtType(5, b""))
    frame = msgpack.packb([{**_quote(1), "t": msgpack.ExtType(5, b"")}], datetime=False).replace(
        placeholder, raw
    )
    assert frame != msgpack.packb([_quote(1)], datetime=False)
    with pytest.raises(ValueError):
        msgpack.unpackb(frame, timestamp=2)
    fast, _, got, _ = _pair()
    with pytest.raises(ValueError):
        _take(fast, frame)  # the shortcut falls back; the general path refuses the whole frame
    assert _kept(fast)["quotes:AAPL"] == [] and got == []


# ----- options policy --------------------------------------------------------------------------------
def test_a_diagonal_is_judged_by_its_strike_width_not_only_its_debit(
    session: Session, sim: Simulator
) -> None:
    """Short a near call at 110, long a far call at 130 for a 0.50 debit: if AAPL runs past 130 by the
    near expiry the short owes 20 more than the long is at least worth — $2,050 a unit, not the $50 paid.
    max_notional $1,000 must refuse it (it was judged by its debit alone and sent)."""
    near, spot = _calls(session, 1)
    far, _ = _calls(session, 6)
    short, long = _near(near, spot), _near(far, spot, 8)
    width = anb._wire.parse_occ(long).strike - anb._wire.parse_occ(short).strike
    assert width >= 10
    session.max_notional = 1000
    before = _sent(sim)
    with pytest.raises(errors.PreTradeRefusal, match="could lose"):
        session.submit_order(legs=[anb.Leg(short, "sell"), anb.Leg(long, "buy")], qty=1, limit_price=0.5)
    assert _sent(sim) == before
    session.max_notional = None
    same = [anb.Leg(_near(near, spot), "sell"), anb.Leg(_near(far, spot), "buy")]  # a calendar: its debit
    assert session.submit_order(legs=same, qty=1, limit_price=0.5).order_class.value == "mleg"


def test_replacing_an_option_order_counts_its_contracts_times_a_hundred(
    session: Session, sim: Simulator
) -> None:
    """A resting order for 1 call at 0.05, replaced by 5 at 3.00: $1,500, beyond max_notional $1,000 (the
    replacement was judged at $15, without the ×100 a contract, and sent)."""
    calls, spot = _calls(session)
    session.max_notional = 1000
    order = session.submit_order(_near(calls, spot), qty=1, type="limit", limit_price=0.05)
    with pytest.raises(errors.PreTradeRefusal, match=r"\$1,500\.00 exceeds max_notional"):
        session.replace_order(str(order.id), qty=5, limit_price=3.0)
    assert not any(r.method == "PATCH" for r in sim.requests)
    assert float(session.replace_order(str(order.id), qty=2).qty or 0) == 2  # $10: within


def test_replacing_a_spread_is_judged_as_the_spread_it_becomes(session: Session, sim: Simulator) -> None:
    """A bear call spread (short 10 wide for a 4.00 credit: $600 at risk a unit), replaced to 3 units ($1,800
    at risk) or to a 0.50 debit (more than the legs can ever be worth): both refused by the multi-leg rules
    (a replacement was judged as qty × price without the ×100 and without the legs, and both were sent)."""
    calls, spot = _calls(session)
    short, long = _near(calls, spot), _near(calls, spot, 4)
    session.max_notional = 1000
    spread = session.submit_order(
        legs=[anb.Leg(short, "sell"), anb.Leg(long, "buy")], qty=1, limit_price=-4.0
    )
    with pytest.raises(errors.PreTradeRefusal, match="could lose"):
        session.replace_order(str(spread.id), qty=3)
    with pytest.raises(errors.PreTradeRefusal, match="outside what these legs can be worth"):
        session.replace_order(str(spread.id), limit_price=0.5)
    assert not any(r.method == "PATCH" for r in sim.requests)


def test_a_credit_spread_can_be_repriced_to_another_credit(session: Session, sim: Simulator) -> None:
    """A spread's net limit is negative for a credit: a replacement at -3.90 is a price, not 'must be
    positive' (the replacement took only positive numbers, so a credit spread could not be repriced)."""
    calls, spot = _calls(session)
    short, long = _near(calls, spot), _near(calls, spot, 4)
    spread = session.submit_order(
        legs=[anb.Leg(short, "sell"), anb.Leg(long, "buy")], qty=1, limit_price=-4.0
    )
    assert float(session.replace_order(str(spread.id), limit_price=-3.9).limit_price or 0) == -3.9
    with pytest.raises(errors.ValidationError, match="finer than a cent"):
        session.replace_order(str(spread.id), limit_price=-3.905)


# ----- input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("symbol", "tif"), [("BTC/USD", "gtc"), ("AAPL", "day")])
@pytest.mark.parametrize("price", [1e-10, 4e-10])
def test_a_tiny_positive_price_is_refused_not_rounded_to_zero_and_sent(
    session: Session, sim: Simulator, symbol: str, tif: str, price: float
) -> None:
    """A limit of 1e-10 was 'float noise' away from 0 (an absolute 1e-9 tolerance): it went out as a limit
    of 0, estimated at $0 against every limit, and only the broker refused it."""
    with pytest.raises(errors.ValidationError, match="finer than"):
        session.submit_order(symbol, qty=1, type="limit", limit_price=price, time_in_force=tif)
    assert _sent(sim) == 0


# ----- crypto -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["reset", "504"])
def test_closing_a_crypto_position_after_a_lost_answer_finds_its_closing_order(
    session: Session, sim: Simulator, fault: str
) -> None:
    """The position is BTCUSD, its orders BTC/USD: the look-up after a lost answer asked for orders of
    BTCUSD, found none, and said the state was unknown although the position was closed (the same for
    close_all_positions)."""
    session.submit_order("BTC/USD", qty=0.001)
    assert wait_until(lambda: "BTCUSD" in session.positions().index, timeout=10)
    if fault == "reset":
        sim.faults.reset("DELETE", "/v2/positions/BTCUSD", after_apply=True)
    else:
        sim.faults.fail("DELETE", "/v2/positions/BTCUSD", 504, after_apply=True)
    order = session.close_position("BTC/USD")
    assert order.symbol == "BTC/USD" and order.side is not None and order.side.value == "sell"
    assert sum(o["side"] == "sell" for o in sim.orders()) == 1
    session.submit_order("BTC/USD", qty=0.001)
    assert wait_until(lambda: "BTCUSD" in session.positions().index, timeout=10)
    sim.faults.reset("DELETE", "/v2/positions", after_apply=True)
    closed = session.close_all_positions()
    assert [c["symbol"] for c in closed] == ["BTCUSD"]
    assert sum(o["side"] == "sell" for o in sim.orders()) == 2


# ----- entry points ---------------------------------------------------------------------------------------
def test_a_crafted_request_with_legs_is_judged_by_its_legs(session: Session, sim: Simulator) -> None:
    """``Session.place`` takes alpaca-py requests: an mleg request that also names a symbol (alpaca-py builds
    it) was judged as a 1-share KO buy while it carried two short calls (only the broker refused it). Legs of
    two underlyings, or a simple order with legs, are refused too; nothing is sent."""
    from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
    from alpaca.trading.requests import LimitOrderRequest, OptionLegRequest

    calls, spot = _calls(session)
    two = [OptionLegRequest(symbol=_near(calls, spot, k), ratio_qty=1, side=OrderSide.SELL) for k in (0, 2)]
    crafted = [
        ("KO", OrderClass.MLEG, two),
        (
            None,
            OrderClass.MLEG,
            [two[0], OptionLegRequest(symbol="MSFT" + two[1].symbol[4:], ratio_qty=1, side=OrderSide.BUY)],
        ),
        (_near(calls, spot), OrderClass.SIMPLE, two),
    ]
    for i, (symbol, klass, legs) in enumerate(crafted):
        request = LimitOrderRequest(symbol=symbol, qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                                    order_class=klass, limit_price=1.0, legs=legs,
                                    client_order_id=f"c-{i}")  # fmt: skip
        with pytest.raises((errors.PreTradeRefusal, errors.ValidationError)):
            session.place(request)
    assert _sent(sim) == 0


# ----- the ticket ------------------------------------------------------------------------------------------
def test_the_ticket_finds_an_order_of_unknown_fate_after_another_submit_in_between(
    session: Session, sim: Simulator
) -> None:
    """KO 1 @ 10.00 is sent and its answer lost (the ticket says: send it again, it will be found). The user
    first submits a typo (qty 1000, refused), then the order again: it must be found, not placed twice
    (the typo's submit replaced the ticket's intent, and the order came back with a new id)."""
    ticket = anb.OrderTicket("KO", session=session, max_notional=1000)
    try:
        front_end.write(ticket, qty="1", order_type="limit", limit_price="10.00", tif="day")
        sim.faults.reset("POST", "/v2/orders", after_apply=True)
        sim.faults.fail("GET", "/v2/orders:by_client_order_id", 500, times=20)
        front_end.send(ticket, {"type": "submit"})
        assert "could not check" in ticket.message
        sim.faults.clear()
        front_end.write(ticket, qty="1000")
        front_end.send(ticket, {"type": "submit"})
        assert "max_notional" in ticket.message
        front_end.write(ticket, qty="1")
        front_end.send(ticket, {"type": "submit"})
        assert ticket.order_id, ticket.message
        assert [o["qty"] for o in sim.orders()] == ["1"]
        front_end.write(ticket, qty="2")  # a new order is still a new order
        front_end.send(ticket, {"type": "submit"})
        assert sorted(o["qty"] for o in sim.orders()) == ["1", "2"]
    finally:
        ticket.close()


def test_max_position_counts_spreads_still_working(session: Session, sim: Simulator) -> None:
    """max_position 5: a resting spread of 5 units, then the same spread again — 10 contracts a leg if both
    fill; refused, as a single-leg order is (the spread's check looked at positions only). Repricing the
    resting spread does not grow it and is allowed; growing it is not."""
    calls, spot = _calls(session)
    legs = [anb.Leg(_near(calls, spot), "buy"), anb.Leg(_near(calls, spot, 2), "sell")]
    session.max_position = 5
    first = session.submit_order(legs=legs, qty=5, limit_price=0.05)
    with pytest.raises(errors.PreTradeRefusal, match="5 more in open orders"):
        session.submit_order(legs=legs, qty=5, limit_price=0.05)
    assert _sent(sim) == 1
    again = session.replace_order(str(first.id), limit_price=0.06)
    with pytest.raises(errors.PreTradeRefusal, match="max_position"):
        session.replace_order(str(again.id), qty=6)


def test_a_replacement_keeps_to_what_the_order_takes(session: Session, sim: Simulator) -> None:
    """A spread is a day limit order of options: a replacement to gtc, or with a stop price or a trail, is
    one line and nothing is sent (tif was judged by stock rules and sent; a stop price on the limit spread
    was sent and taken)."""
    calls, spot = _calls(session)
    legs = [anb.Leg(_near(calls, spot), "buy"), anb.Leg(_near(calls, spot, 2), "sell")]
    spread = session.submit_order(legs=legs, qty=1, limit_price=0.05)
    single = session.submit_order(_near(calls, spot), qty=1, type="limit", limit_price=0.05)
    for order_id, change in [(spread.id, {"time_in_force": "gtc"}), (spread.id, {"stop_price": 1.0}),
                             (spread.id, {"trail": 1.0}), (single.id, {"stop_price": 1.0})]:  # fmt: skip
        with pytest.raises(errors.ValidationError, match=r"time_in_force|does not apply"):
            session.replace_order(str(order_id), **change)  # type: ignore[arg-type]
    assert not any(r.method == "PATCH" for r in sim.requests)
