"""Bracket, OCO, OTO and trailing-stop orders through alpaca-py, with books checked to the cent.

Prices are pinned with ``sim.set_price`` (spread 0.02: buys fill at price + 0.01, sells at price -
0.01). Where a test needs the market to touch a level for exactly one matching pass, it moves the
price, runs the pass and moves it back on the simulator's own thread (``sim.call``).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderStatus, QueryOrderStatus
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from alpaca_nb.sim import Simulator
from tests.conftest import trading_client, wait_until
from tests.schemas import SchemaChecker

START = Decimal(100_000)


@pytest.fixture
def quick(checked: SchemaChecker) -> Iterator[tuple[Simulator, TradingClient]]:
    with Simulator(seed=17, hours="always", rate_limit=None, tick_interval=0.02) as sim:
        sim.set_price("AAPL", 100.0)
        sim.set_price("KO", 50.0)
        yield sim, trading_client(sim, checked)


def _order(client: TradingClient, order_id: Any) -> Order:
    got = client.get_order_by_id(order_id)
    assert isinstance(got, Order)
    return got


def _status(client: TradingClient, order_id: Any) -> OrderStatus:
    return _order(client, order_id).status


def _wait_status(client: TradingClient, order_id: Any, status: OrderStatus) -> None:
    assert wait_until(lambda: _status(client, order_id) == status, timeout=5), (
        f"{order_id}: {_status(client, order_id)}, not {status}"
    )


def _cash(client: TradingClient) -> Decimal:
    return Decimal(client.get_account().cash)  # type: ignore[arg-type]


def _qty(client: TradingClient, symbol: str) -> Decimal:
    positions = {p.symbol: Decimal(p.qty) for p in client.get_all_positions()}  # type: ignore[union-attr,arg-type]
    return positions.get(symbol, Decimal(0))


def _touch_once(sim: Simulator, symbol: str, price: float, size: int, back: float) -> None:
    """The market touches ``price`` (``size`` shares a side) for one matching pass, then returns."""

    def run() -> None:
        sim.set_price(symbol, price, size=size)
        sim.broker.process(sim.market.now())
        sim.set_price(symbol, back)

    sim.call(run)


def _bracket(client: TradingClient, qty: int = 10, tp: float = 110, sl: float = 95, **kw: Any) -> Order:
    order = client.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=qty,
            side="buy",
            time_in_force="gtc",
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=tp),
            stop_loss=StopLossRequest(stop_price=sl, **kw),
        )
    )
    assert isinstance(order, Order) and order.legs is not None and len(order.legs) == 2
    return order


def test_bracket_take_profit_fills_and_cancels_the_stop(quick: tuple[Simulator, TradingClient]) -> None:
    sim, client = quick
    order = _bracket(client)
    assert order.status == OrderStatus.ACCEPTED and order.order_class == OrderClass.BRACKET
    tp, sl = order.legs  # type: ignore[misc]
    assert (tp.status, sl.status) == (OrderStatus.HELD, OrderStatus.HELD)
    assert (tp.side, tp.type, sl.type, tp.position_intent) == ("sell", "limit", "stop", "sell_to_close")
    _wait_status(client, order.id, OrderStatus.FILLED)
    assert (_status(client, tp.id), _status(client, sl.id)) == (OrderStatus.NEW, OrderStatus.HELD)
    assert _cash(client) == START - Decimal("1000.10")  # 10 x 100.01
    position = client.get_open_position("AAPL")
    assert (position.qty, position.avg_entry_price, position.qty_available) == ("10", "100.01", "0")  # type: ignore[union-attr]
    # The held stop neither holds shares nor reserves: 2 x (99,999.90 - 500) of buying power.
    assert client.get_account().buying_power == "198999.8"  # type: ignore[union-attr]

    sim.set_price("AAPL", 110.01)  # bid 110.00 reaches the take-profit
    _wait_status(client, tp.id, OrderStatus.FILLED)
    assert _status(client, sl.id) == OrderStatus.CANCELED
    assert _order(client, tp.id).filled_avg_price == "110"
    assert client.get_all_positions() == []
    assert _cash(client) == START - Decimal("1000.10") + Decimal("1100.00")


@pytest.mark.parametrize("stop_limit", [None, 94.0], ids=["stop", "stop-limit"])
def test_bracket_stop_fills_and_cancels_the_take_profit(
    quick: tuple[Simulator, TradingClient], stop_limit: float | None
) -> None:
    sim, client = quick
    order = _bracket(client, **({"limit_price": stop_limit} if stop_limit else {}))
    tp, sl = order.legs  # type: ignore[misc]
    assert sl.type == ("stop_limit" if stop_limit else "stop")
    _wait_status(client, order.id, OrderStatus.FILLED)
    sim.set_price("AAPL", 94.50)  # bid 94.49: below the 95 stop (and above the 94 limit)
    _wait_status(client, sl.id, OrderStatus.FILLED)
    assert _status(client, tp.id) == OrderStatus.CANCELED
    assert _order(client, sl.id).filled_avg_price == "94.49"
    assert client.get_all_positions() == []
    assert _cash(client) == START - Decimal("1000.10") + Decimal("944.90")


def test_partial_take_profit_resizes_the_stop(quick: tuple[Simulator, TradingClient]) -> None:
    sim, client = quick
    order = _bracket(client)
    tp, sl = order.legs  # type: ignore[misc]
    _wait_status(client, order.id, OrderStatus.FILLED)
    _touch_once(sim, "AAPL", 110.01, size=4, back=100.0)  # 4 of 10 sold at 110.00
    got_tp, got_sl = _order(client, tp.id), _order(client, sl.id)
    assert (got_tp.status, got_tp.filled_qty) == (OrderStatus.PARTIALLY_FILLED, "4")
    assert (got_sl.status, got_sl.qty) == (OrderStatus.HELD, "6")  # only what is left to protect
    assert _qty(client, "AAPL") == 6
    sim.set_price("AAPL", 94.50)
    _wait_status(client, sl.id, OrderStatus.FILLED)
    got_tp = _order(client, tp.id)
    assert (got_tp.status, got_tp.filled_qty) == (OrderStatus.CANCELED, "4")
    assert _order(client, sl.id).filled_qty == "6"
    assert client.get_all_positions() == []
    assert _cash(client) == START - Decimal("1000.10") + 4 * Decimal("110.00") + 6 * Decimal("94.49")


def test_nested_listing_open_held_legs_and_cancel_of_a_leg(quick: tuple[Simulator, TradingClient]) -> None:
    _, client = quick
    entry = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=10,
            side="buy",
            time_in_force="day",
            limit_price=90,  # rests below the 100.01 ask
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=110),
            stop_loss=StopLossRequest(stop_price=85),
        )
    )
    assert isinstance(entry, Order) and entry.legs is not None
    ids = {entry.id, *(leg.id for leg in entry.legs)}
    _wait_status(client, entry.id, OrderStatus.NEW)
    flat = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert {o.id for o in flat} == ids  # type: ignore[union-attr]
    assert {o.status for o in flat if o.id != entry.id} == {OrderStatus.HELD}  # type: ignore[union-attr]
    assert all(o.order_class == OrderClass.BRACKET and o.legs is None for o in flat)  # type: ignore[union-attr]
    nested = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True))
    assert [o.id for o in nested] == [entry.id]  # type: ignore[union-attr]
    assert [leg.id for leg in nested[0].legs] == [leg.id for leg in entry.legs]  # type: ignore[union-attr]
    one = client.get_order_by_id(entry.id, GetOrderByIdRequest(nested=True))
    assert [leg.status for leg in one.legs] == [OrderStatus.HELD, OrderStatus.HELD]  # type: ignore[union-attr]
    assert client.get_order_by_id(entry.id).legs is None  # type: ignore[union-attr]
    # Only the entry reserves buying power (10 x 90), not its two exits.
    assert Decimal(client.get_account().buying_power) == 2 * START - 900  # type: ignore[arg-type]

    client.cancel_order_by_id(entry.legs[1].id)  # cancel the stop-loss: the whole group goes
    assert {_status(client, i) for i in ids} == {OrderStatus.CANCELED}
    assert Decimal(client.get_account().buying_power) == 2 * START  # type: ignore[arg-type]


def test_cancel_of_an_exit_after_the_entry_cancels_the_other(quick: tuple[Simulator, TradingClient]) -> None:
    _, client = quick
    order = _bracket(client)
    tp, sl = order.legs  # type: ignore[misc]
    _wait_status(client, order.id, OrderStatus.FILLED)
    client.cancel_order_by_id(tp.id)
    assert (_status(client, tp.id), _status(client, sl.id)) == (OrderStatus.CANCELED, OrderStatus.CANCELED)
    assert _status(client, order.id) == OrderStatus.FILLED and _qty(client, "AAPL") == 10
    with pytest.raises(APIError) as err:
        client.cancel_order_by_id(order.id)  # a filled entry is not cancelable
    assert err.value.status_code == 422


@pytest.mark.parametrize("exit_price", [55.01, 44.50], ids=["take-profit", "stop-loss"])
def test_oco_exits_a_position(quick: tuple[Simulator, TradingClient], exit_price: float) -> None:
    sim, client = quick
    buy = client.submit_order(MarketOrderRequest(symbol="KO", qty=10, side="buy", time_in_force="day"))
    _wait_status(client, buy.id, OrderStatus.FILLED)
    oco = client.submit_order(
        LimitOrderRequest(  # no top-level limit_price: alpaca-py allows that for OCO
            symbol="KO",
            qty=10,
            side="sell",
            time_in_force="gtc",
            order_class=OrderClass.OCO,
            take_profit=TakeProfitRequest(limit_price=55),
            stop_loss=StopLossRequest(stop_price=45),
        )
    )
    assert isinstance(oco, Order) and oco.legs is not None and len(oco.legs) == 1
    stop = oco.legs[0]
    assert (oco.order_class, oco.type, oco.limit_price, oco.side) == (OrderClass.OCO, "limit", "55", "sell")
    assert (stop.order_class, stop.type, stop.stop_price, stop.status) == (
        OrderClass.OCO,
        "stop",
        "45",
        OrderStatus.HELD,
    )
    _wait_status(client, oco.id, OrderStatus.NEW)
    assert client.get_open_position("KO").qty_available == "0"  # type: ignore[union-attr]
    sim.set_price("KO", exit_price)
    filled, other = (oco, stop) if exit_price > 50 else (stop, oco)
    _wait_status(client, filled.id, OrderStatus.FILLED)
    assert _status(client, other.id) == OrderStatus.CANCELED
    proceeds = 10 * Decimal(str(exit_price)) - Decimal("0.10")  # sold at the bid
    assert client.get_all_positions() == []
    assert _cash(client) == START - Decimal("500.10") + proceeds


def test_replacing_an_oco_take_profit_keeps_its_stop(quick: tuple[Simulator, TradingClient]) -> None:
    sim, client = quick
    buy = client.submit_order(MarketOrderRequest(symbol="KO", qty=4, side="buy", time_in_force="day"))
    _wait_status(client, buy.id, OrderStatus.FILLED)
    oco = client.submit_order(
        LimitOrderRequest(
            symbol="KO",
            qty=4,
            side="sell",
            time_in_force="gtc",
            limit_price=55,
            order_class=OrderClass.OCO,
            take_profit=TakeProfitRequest(limit_price=55),
            stop_loss=StopLossRequest(stop_price=45),
        )
    )
    assert isinstance(oco, Order) and oco.legs is not None
    stop = oco.legs[0]
    _wait_status(client, oco.id, OrderStatus.NEW)
    parent = client.replace_order_by_id(oco.id, ReplaceOrderRequest(limit_price=56))
    assert isinstance(parent, Order) and parent.limit_price == "56" and parent.order_class == OrderClass.OCO
    assert [leg.id for leg in parent.legs or []] == [stop.id]  # the stop moved to the new parent
    listed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True))
    assert [(o.id, [leg.id for leg in o.legs or []]) for o in listed] == [(parent.id, [stop.id])]  # type: ignore[union-attr]
    sim.set_price("KO", 44.5)
    _wait_status(client, stop.id, OrderStatus.FILLED)
    assert (_status(client, parent.id), _status(client, oco.id)) == (
        OrderStatus.CANCELED,
        OrderStatus.REPLACED,
    )
    assert _cash(client) == START - 4 * Decimal("50.01") + 4 * Decimal("44.49")


def test_oto_exit_waits_for_its_entry(quick: tuple[Simulator, TradingClient]) -> None:
    sim, client = quick
    oto = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=5,
            side="buy",
            time_in_force="gtc",
            limit_price=90,
            order_class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=85),
        )
    )
    assert isinstance(oto, Order) and oto.legs is not None and len(oto.legs) == 1
    stop = oto.legs[0]
    _wait_status(client, oto.id, OrderStatus.NEW)
    assert _status(client, stop.id) == OrderStatus.HELD
    sim.set_price("AAPL", 89.00)  # the entry fills at the 89.01 ask; its lone exit becomes new
    _wait_status(client, oto.id, OrderStatus.FILLED)
    _wait_status(client, stop.id, OrderStatus.NEW)
    with pytest.raises(APIError) as err:
        client.replace_order_by_id(stop.id, ReplaceOrderRequest(stop_price=86))
    assert (err.value.status_code, err.value.message) == (
        422,
        "replacement of oto orders is not supported yet",
    )
    sim.set_price("AAPL", 84.50)
    _wait_status(client, stop.id, OrderStatus.FILLED)
    assert _cash(client) == START - 5 * Decimal("89.01") + 5 * Decimal("84.49")


def test_replace_bracket_legs(quick: tuple[Simulator, TradingClient]) -> None:
    sim, client = quick
    order = _bracket(client)
    tp, sl = order.legs  # type: ignore[misc]
    _wait_status(client, order.id, OrderStatus.FILLED)
    new_tp = client.replace_order_by_id(tp.id, ReplaceOrderRequest(limit_price=107.5))
    assert isinstance(new_tp, Order) and new_tp.id != tp.id and new_tp.replaces == tp.id
    assert (new_tp.order_class, new_tp.limit_price, new_tp.qty) == (OrderClass.BRACKET, "107.5", "10")
    assert _status(client, tp.id) == OrderStatus.REPLACED
    new_sl = client.replace_order_by_id(sl.id, ReplaceOrderRequest(stop_price=96))
    assert isinstance(new_sl, Order) and (new_sl.status, new_sl.stop_price) == (OrderStatus.HELD, "96")
    legs = client.get_order_by_id(order.id, GetOrderByIdRequest(nested=True)).legs  # type: ignore[union-attr]
    assert [leg.id for leg in legs] == [new_tp.id, new_sl.id]  # type: ignore[union-attr]
    refusals = [
        (
            new_sl.id,
            ReplaceOrderRequest(stop_price=108),
            "take_profit.limit_price must be > stop_loss.stop_price",
        ),
        (
            new_tp.id,
            ReplaceOrderRequest(qty=5),
            "only limit_price and stop_price of a bracket leg can be replaced",
        ),
    ]
    for order_id, change, message in refusals:
        with pytest.raises(APIError) as err:
            client.replace_order_by_id(order_id, change)
        assert (err.value.status_code, err.value.code, err.value.message) == (422, 42210000, message)
    sim.set_price("AAPL", 107.51)
    _wait_status(client, new_tp.id, OrderStatus.FILLED)
    assert _status(client, new_sl.id) == OrderStatus.CANCELED
    assert _cash(client) == START - Decimal("1000.10") + Decimal("1075.00")


def test_the_entry_of_a_resting_bracket_cannot_be_replaced(quick: tuple[Simulator, TradingClient]) -> None:
    _, client = quick
    entry = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=1,
            side="buy",
            time_in_force="gtc",
            limit_price=90,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=110),
            stop_loss=StopLossRequest(stop_price=85),
        )
    )
    _wait_status(client, entry.id, OrderStatus.NEW)
    with pytest.raises(APIError) as err:
        client.replace_order_by_id(entry.id, ReplaceOrderRequest(limit_price=91))
    assert err.value.status_code == 422 and err.value.code == 42210000
    assert _status(client, entry.id) == OrderStatus.NEW


def test_trailing_stop_follows_the_market_and_its_trail_can_change(
    quick: tuple[Simulator, TradingClient],
) -> None:
    sim, client = quick
    buy = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=10, side="buy", time_in_force="day"))
    _wait_status(client, buy.id, OrderStatus.FILLED)
    trail = client.submit_order(
        TrailingStopOrderRequest(symbol="AAPL", qty=10, side="sell", time_in_force="gtc", trail_price=1.0)
    )
    assert isinstance(trail, Order) and trail.status == OrderStatus.NEW  # answered new, not accepted
    assert (trail.hwm, trail.stop_price, trail.trail_price, trail.trail_percent) == (
        "99.99",
        "98.99",
        "1",
        None,
    )
    sim.set_price("AAPL", 105.0)  # the bid rises to 104.99: the mark and the stop follow
    assert wait_until(lambda: _order(client, trail.id).hwm == "104.99", timeout=5)
    assert _order(client, trail.id).stop_price == "103.99"
    sim.set_price("AAPL", 104.50)  # a dip that stays above the stop: nothing moves
    assert not wait_until(lambda: _order(client, trail.id).hwm != "104.99", timeout=0.3)
    wider = client.replace_order_by_id(trail.id, ReplaceOrderRequest(trail=2.0))
    assert isinstance(wider, Order) and wider.replaces == trail.id
    assert (wider.trail_price, wider.hwm, wider.stop_price) == ("2", "104.99", "102.99")
    with pytest.raises(APIError):
        client.replace_order_by_id(wider.id, ReplaceOrderRequest(limit_price=100))
    sim.set_price("AAPL", 103.0)  # bid 102.99 reaches the stop
    _wait_status(client, wider.id, OrderStatus.FILLED)
    assert _order(client, wider.id).filled_avg_price == "102.99"
    assert _cash(client) == START - Decimal("1000.10") + Decimal("1029.90")


def test_trailing_percent_and_its_limits(quick: tuple[Simulator, TradingClient]) -> None:
    _, client = quick
    buy = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=2, side="buy", time_in_force="day"))
    _wait_status(client, buy.id, OrderStatus.FILLED)
    trail = client.submit_order(
        TrailingStopOrderRequest(symbol="AAPL", qty=2, side="sell", time_in_force="day", trail_percent=0.5)
    )
    assert (trail.trail_percent, trail.trail_price, trail.hwm) == ("0.5", None, "99.99")  # type: ignore[union-attr]
    assert trail.stop_price == "99.49"  # type: ignore[union-attr]  # 99.99 x 0.995 = 99.48995
    with pytest.raises(APIError) as err:
        client.submit_order(
            TrailingStopOrderRequest(symbol="AAPL", qty=1, side="buy", time_in_force="ioc", trail_price=1)
        )
    assert (err.value.status_code, err.value.message) == (422, "trailing stop orders must be DAY or GTC")
