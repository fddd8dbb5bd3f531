"""Orders Alpaca refuses: sub-penny prices and the rules of bracket, OCO and OTO orders (422 bodies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderStatus
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from alpaca_nb.sim import Simulator
from tests.conftest import trading_client, wait_until
from tests.schemas import SchemaChecker

SUB_PENNY = "sub-penny increment does not fulfill minimum pricing criteria"


@pytest.fixture(scope="module")
def quick() -> Iterator[Simulator]:
    """AAPL pinned at 100 (bid 99.99, ask 100.01), KO at 50: resting buys below 50 never fill."""
    with Simulator(seed=5, hours="always", rate_limit=None, tick_interval=0.02) as sim:
        sim.set_price("AAPL", 100.0)
        sim.set_price("KO", 50.0)
        yield sim


def _post(sim: Simulator, body: dict[str, Any]) -> requests.Response:
    key, secret = sim.credentials()
    return requests.post(
        sim.base_url + "/v2/orders",
        json=body,
        headers={"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret},
        timeout=5,
    )


def _refused(sim: Simulator, body: dict[str, Any], message: str, code: int = 42210000) -> None:
    before = len(sim.orders())
    answer = _post(sim, body)
    assert answer.status_code == 422, answer.text
    assert answer.json() == {"code": code, "message": message}
    assert len(sim.orders()) == before  # nothing was placed


LIMIT = {"symbol": "AAPL", "qty": 1, "side": "buy", "type": "limit", "time_in_force": "gtc"}
BRACKET = {"symbol": "AAPL", "qty": 2, "side": "buy", "type": "market", "time_in_force": "gtc"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**LIMIT, "limit_price": 290.123}, f"invalid limit_price 290.123. {SUB_PENNY}"),
        ({**LIMIT, "limit_price": "99.999"}, f"invalid limit_price 99.999. {SUB_PENNY}"),
        ({**LIMIT, "limit_price": 1.001}, f"invalid limit_price 1.001. {SUB_PENNY}"),
        ({**LIMIT, "limit_price": 0.12345}, f"invalid limit_price 0.12345. {SUB_PENNY}"),
        ({**LIMIT, "type": "stop", "stop_price": 120.005}, f"invalid stop_price 120.005. {SUB_PENNY}"),
        (
            {
                **BRACKET,
                "order_class": "bracket",
                "take_profit": {"limit_price": 110.001},
                "stop_loss": {"stop_price": 90},
            },
            f"invalid take_profit.limit_price 110.001. {SUB_PENNY}",
        ),
        (
            {
                **BRACKET,
                "order_class": "bracket",
                "take_profit": {"limit_price": 110},
                "stop_loss": {"stop_price": 90.125},
            },
            f"invalid stop_loss.stop_price 90.125. {SUB_PENNY}",
        ),
        (
            {
                **BRACKET,
                "order_class": "bracket",
                "take_profit": {"limit_price": 110},
                "stop_loss": {"stop_price": 90, "limit_price": 89.999},
            },
            f"invalid stop_loss.limit_price 89.999. {SUB_PENNY}",
        ),
        (
            {
                **LIMIT,
                "symbol": "KO",
                "side": "sell",
                "order_class": "oco",
                "take_profit": {"limit_price": 55.001},
                "stop_loss": {"stop_price": 45},
            },
            f"invalid take_profit.limit_price 55.001. {SUB_PENNY}",
        ),
    ],
    ids=[
        "limit",
        "limit-string",
        "just-above-1",
        "below-1-5dp",
        "stop",
        "tp",
        "sl-stop",
        "sl-limit",
        "oco-tp",
    ],
)
def test_sub_penny_prices_are_refused(quick: Simulator, body: dict[str, Any], message: str) -> None:
    _refused(quick, body, message)


@pytest.mark.parametrize("price", [1.00, 1.01, 0.9999, 0.5, 25.5], ids=str)
def test_allowed_increments_at_the_boundaries(quick: Simulator, checked: SchemaChecker, price: float) -> None:
    client = trading_client(quick, checked)
    order = client.submit_order(
        LimitOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="gtc", limit_price=price)
    )
    assert order.limit_price is not None and float(order.limit_price) == price
    client.cancel_order_by_id(order.id)


def test_sub_penny_replace_is_refused(quick: Simulator, checked: SchemaChecker) -> None:
    client = trading_client(quick, checked)
    order = client.submit_order(
        StopLimitOrderRequest(
            symbol="AAPL", qty=1, side="buy", time_in_force="gtc", stop_price=150, limit_price=151
        )
    )
    assert wait_until(lambda: client.get_order_by_id(order.id).status == OrderStatus.NEW)
    for change, message in [
        (ReplaceOrderRequest(limit_price=151.255), f"invalid limit_price 151.255. {SUB_PENNY}"),
        (ReplaceOrderRequest(stop_price=150.001), f"invalid stop_price 150.001. {SUB_PENNY}"),
    ]:
        with pytest.raises(APIError) as err:
            client.replace_order_by_id(order.id, change)
        assert (err.value.status_code, err.value.code, err.value.message) == (422, 42210000, message)
    assert client.get_order_by_id(order.id).status == OrderStatus.NEW  # untouched
    ok = client.replace_order_by_id(order.id, ReplaceOrderRequest(limit_price=151.25))
    assert ok.limit_price == "151.25"
    client.cancel_order_by_id(ok.id)


TP_SL = {"take_profit": {"limit_price": 110}, "stop_loss": {"stop_price": 90}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {**BRACKET, "order_class": "bracket", "take_profit": {"limit_price": 110}},
            "bracket orders require stop_loss.stop_price",
        ),
        (
            {**BRACKET, "order_class": "bracket", "stop_loss": {"stop_price": 90}},
            "bracket orders require take_profit.limit_price",
        ),
        ({**BRACKET, "order_class": "oto"}, "oto orders require exactly one of take_profit or stop_loss"),
        (
            {**BRACKET, "order_class": "oto", **TP_SL},
            "oto orders require exactly one of take_profit or stop_loss",
        ),
        (
            {
                **BRACKET,
                "order_class": "bracket",
                "take_profit": {"limit_price": 95},
                "stop_loss": {"stop_price": 96},
            },
            "take_profit.limit_price must be > stop_loss.stop_price",
        ),
        (
            {
                **BRACKET,
                "order_class": "bracket",
                "take_profit": {"limit_price": 110},
                "stop_loss": {"stop_price": 100},
            },
            "stop_loss.stop_price must be <= base_price - 0.01 (base_price: 100)",
        ),
        (
            {
                **BRACKET,
                "order_class": "bracket",
                "take_profit": {"limit_price": 100},
                "stop_loss": {"stop_price": 90},
            },
            "take_profit.limit_price must be >= base_price + 0.01 (base_price: 100)",
        ),
        (
            # a limit entry is its own base: 95 is the stop's limit
            {
                **BRACKET,
                "type": "limit",
                "limit_price": 95,
                "order_class": "bracket",
                "take_profit": {"limit_price": 110},
                "stop_loss": {"stop_price": 95},
            },
            "stop_loss.stop_price must be <= base_price - 0.01 (base_price: 95)",
        ),
        (
            {
                **BRACKET,
                "side": "sell",
                "order_class": "bracket",
                "take_profit": {"limit_price": 110},
                "stop_loss": {"stop_price": 90},
            },
            "take_profit.limit_price must be < stop_loss.stop_price",
        ),
        (
            {**BRACKET, "time_in_force": "ioc", "order_class": "bracket", **TP_SL},
            "bracket orders must be DAY or GTC",
        ),
        (
            {
                **BRACKET,
                "type": "limit",
                "limit_price": 100,
                "extended_hours": True,
                "order_class": "bracket",
                **TP_SL,
            },
            "bracket orders cannot trade in extended hours",
        ),
        (
            {**BRACKET, "qty": 1.5, "time_in_force": "day", "order_class": "bracket", **TP_SL},
            "fractional orders must be simple orders",
        ),
        (
            {
                "symbol": "AAPL",
                "notional": 500,
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
                "order_class": "bracket",
                **TP_SL,
            },
            "fractional orders must be simple orders",
        ),
        (
            {**BRACKET, "type": "stop", "stop_price": 101, "order_class": "bracket", **TP_SL},
            "bracket orders must be market or limit orders",
        ),
        (
            {**BRACKET, "type": "trailing_stop", "trail_price": 1, "order_class": "bracket", **TP_SL},
            "bracket orders must be market or limit orders",
        ),
        ({**BRACKET, "order_class": "oco", **TP_SL}, "oco orders must be limit orders"),
        (
            {**BRACKET, "type": "limit", "side": "sell", "order_class": "oco", **TP_SL},
            "oco orders must close an existing position",
        ),
        (
            {**BRACKET, "order_class": "mleg", **TP_SL},
            "mleg orders take their contracts in legs: symbol is not allowed",
        ),
    ],
    ids=[
        "no-stop-loss",
        "no-take-profit",
        "oto-none",
        "oto-both",
        "tp-below-sl",
        "stop-not-below-base",
        "tp-not-above-base",
        "limit-entry-base",
        "sell-bracket-order",
        "tif-ioc",
        "extended-hours",
        "fractional",
        "notional",
        "stop-entry",
        "trailing-entry",
        "oco-market",
        "oco-without-position",
        "mleg",
    ],
)
def test_advanced_order_rules(quick: Simulator, body: dict[str, Any], message: str) -> None:
    _refused(quick, body, message)


def test_bracket_sell_on_a_long_position_is_not_an_entry(fresh_sim: Simulator) -> None:
    fresh_sim.set_price("KO", 50.0)
    client = trading_client(fresh_sim)
    client.submit_order(MarketOrderRequest(symbol="KO", qty=5, side="buy", time_in_force="day"))
    assert wait_until(lambda: fresh_sim.orders()[0]["status"] == "filled")
    _refused(
        fresh_sim,
        {
            "symbol": "KO",
            "qty": 5,
            "side": "sell",
            "type": "market",
            "time_in_force": "day",
            "order_class": "bracket",
            "take_profit": {"limit_price": 45},
            "stop_loss": {"stop_price": 55},
        },
        "bracket orders must be entry orders",
    )


def test_alpaca_py_bracket_request_is_accepted_as_sent(quick: Simulator, checked: SchemaChecker) -> None:
    client: TradingClient = trading_client(quick, checked)
    order = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=3,
            side="buy",
            time_in_force="gtc",
            limit_price=90,  # rests: the ask is 100.01
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=120.5),
            stop_loss=StopLossRequest(stop_price=85, limit_price=84.5),
        )
    )
    assert order.order_class == OrderClass.BRACKET and order.legs is not None
    tp, sl = order.legs
    assert (tp.type, tp.side, tp.limit_price, tp.status) == ("limit", "sell", "120.5", OrderStatus.HELD)
    assert (sl.type, sl.stop_price, sl.limit_price, sl.status) == (
        "stop_limit",
        "85",
        "84.5",
        OrderStatus.HELD,
    )
    assert tp.qty == sl.qty == "3" and tp.client_order_id != sl.client_order_id != order.client_order_id
    client.cancel_order_by_id(order.id)
    assert {o["status"] for o in quick.orders() if o["id"] in {str(order.id), str(tp.id), str(sl.id)}} == {
        "canceled"
    }
