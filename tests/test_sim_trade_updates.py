"""trade_updates for order groups, as alpaca-py's TradingStream receives them: every leg event once."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderStatus
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)
from alpaca.trading.stream import TradingStream

from alpaca_nb.sim import Simulator
from tests.conftest import trading_client, wait_until


@contextlib.contextmanager
def _listening(sim: Simulator, updates: list[Any]) -> Iterator[None]:
    """An alpaca-py TradingStream in a thread, collecting into ``updates`` (handlers only collect:
    alpaca-py swallows what they raise). On exit it is stopped and joined without alpaca-py's
    5-second receive timeout: a harmless control frame wakes its receive loop."""
    key, secret = sim.credentials()
    stream = TradingStream(key, secret, url_override=sim.trading_stream_url)

    async def on_update(update: Any) -> None:
        updates.append(update)

    stream.subscribe_trade_updates(on_update)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    clients = sim.streams.trading_clients
    try:
        assert wait_until(lambda: sim.call(lambda: any(c.listening for c in clients)), timeout=10)
        yield
    finally:
        stream.stop()
        nudge = b'{"stream":"listening","data":{"streams":["trade_updates"]}}'
        sim.call(lambda: [c.send(nudge) for c in clients])
        thread.join(10)
        assert not thread.is_alive(), "alpaca-py stream thread did not stop"


def _bracket(client: TradingClient, symbol: str, tp: float, sl: float) -> Order:
    order = client.submit_order(
        MarketOrderRequest(
            symbol=symbol,
            qty=3,
            side="buy",
            time_in_force="gtc",
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=tp),
            stop_loss=StopLossRequest(stop_price=sl),
        )
    )
    assert isinstance(order, Order) and order.legs is not None
    return order


def _status(client: TradingClient, order_id: Any) -> OrderStatus:
    return client.get_order_by_id(order_id).status  # type: ignore[union-attr]


def test_every_leg_event_arrives_once() -> None:
    updates: list[Any] = []
    with Simulator(seed=19, hours="always", rate_limit=None, tick_interval=0.02) as sim:
        for symbol in ("AAPL", "MSFT", "KO"):
            sim.set_price(symbol, 100.0)
        client = trading_client(sim)
        with _listening(sim, updates):
            # A: the take-profit, moved once, fills.  B: the stop fills.  C: an OTO's exit.
            a, b = _bracket(client, "AAPL", 110, 95), _bracket(client, "MSFT", 110, 95)
            c = client.submit_order(
                LimitOrderRequest(
                    symbol="KO",
                    qty=2,
                    side="buy",
                    time_in_force="day",
                    limit_price=99,
                    order_class=OrderClass.OTO,
                    take_profit=TakeProfitRequest(limit_price=105),
                )
            )
            assert isinstance(c, Order) and c.legs is not None
            for entry in (a, b):
                assert wait_until(lambda e=entry: _status(client, e.id) == OrderStatus.FILLED)
            a_tp2 = client.replace_order_by_id(a.legs[0].id, ReplaceOrderRequest(limit_price=108))
            assert wait_until(lambda: _status(client, a_tp2.id) == OrderStatus.NEW)
            sim.set_price("AAPL", 108.01)
            sim.set_price("MSFT", 94.0)
            sim.set_price("KO", 98.5)  # the OTO entry fills at 98.51 ...
            assert wait_until(lambda: _status(client, c.legs[0].id) == OrderStatus.NEW)  # type: ignore[index]
            sim.set_price("KO", 105.01)  # ... and its take-profit at 105.00
            last = {(a.legs[1].id, "canceled"), (b.legs[0].id, "canceled"), (c.legs[0].id, "fill")}
            assert wait_until(lambda: last <= {(u.order.id, u.event) for u in updates}, timeout=5)
            time.sleep(0.2)  # time for a duplicate, if one were coming
    names = {
        a.id: "A.entry",
        a.legs[0].id: "A.tp",
        a_tp2.id: "A.tp2",  # type: ignore[union-attr]
        a.legs[1].id: "A.sl",
        b.id: "B.entry",
        b.legs[0].id: "B.tp",
        b.legs[1].id: "B.sl",
        c.id: "C.entry",
        c.legs[0].id: "C.tp",
    }
    seen = [(names[u.order.id], u.event) for u in updates]
    assert Counter(seen).most_common(1)[0][1] == 1, f"an event arrived twice: {seen}"

    def of(prefix: str) -> list[tuple[str, str]]:
        return [(who, event) for who, event in seen if who.startswith(prefix)]

    assert of("A") == [
        ("A.entry", "new"),
        ("A.entry", "fill"),
        ("A.tp", "new"),
        ("A.tp", "replaced"),
        ("A.tp2", "new"),
        ("A.tp2", "fill"),
        ("A.sl", "canceled"),
    ]
    assert of("B") == [
        ("B.entry", "new"),
        ("B.entry", "fill"),
        ("B.tp", "new"),
        ("B.sl", "fill"),
        ("B.tp", "canceled"),
    ]
    assert of("C") == [("C.entry", "new"), ("C.entry", "fill"), ("C.tp", "new"), ("C.tp", "fill")]
    by_event = {(names[u.order.id], u.event): u for u in updates}
    assert by_event["A.tp2", "fill"].price == 108.0 and by_event["A.tp2", "fill"].position_qty == 0
    assert by_event["B.sl", "fill"].price == 93.99 and by_event["B.sl", "fill"].qty == 3
    assert by_event["B.tp", "canceled"].order.status == OrderStatus.CANCELED
    assert by_event["C.entry", "fill"].order.legs is not None  # a parent carries its legs
    assert {u.order.order_class for u in updates if names[u.order.id][0] in "AB"} == {OrderClass.BRACKET}
    assert {u.order.order_class for u in updates if names[u.order.id][0] == "C"} == {OrderClass.OTO}
