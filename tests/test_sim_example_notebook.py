"""The order calls of alpaca-py's own example notebook (examples/stocks/stocks-trading-basic.ipynb),
replayed against the simulator in the notebook's order, every answer checked against the spec.

The notebook's "oto" and "oco" cells pass ``Class=OrderClass.OTO`` (sic): pydantic drops the unknown
keyword, so alpaca-py sends simple limit orders (with a ``stop_loss`` Alpaca ignores). The replay keeps
that, then sends the orders those cells meant to send.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import (
    AssetExchange,
    AssetStatus,
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderType,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetAssetsRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from alpaca_nb.sim import Simulator
from tests.conftest import trading_client, wait_until
from tests.schemas import SchemaChecker

symbol = "SPY"


@pytest.fixture
def trade_client(checked: SchemaChecker) -> Iterator[tuple[Simulator, TradingClient]]:
    with Simulator(seed=23, hours="always", rate_limit=None, tick_interval=0.02) as sim:
        sim.set_price(symbol, 550.0)  # the notebook's prices (550.25, 600, 300) make sense around 550
        yield sim, trading_client(sim, checked)


def _filled(client: TradingClient, order: Order) -> Order:
    assert wait_until(lambda: client.get_order_by_id(order.id).status == OrderStatus.FILLED)  # type: ignore[union-attr]
    got = client.get_order_by_id(order.id)
    assert isinstance(got, Order)
    return got


def test_stocks_trading_basic_notebook(trade_client: tuple[Simulator, TradingClient]) -> None:
    _, client = trade_client
    acct = client.get_account()
    assert acct.status == "ACTIVE"

    acct_config = client.get_account_configurations()
    req = acct_config
    req.fractional_trading = not req.fractional_trading  # toggle fractional trading
    acct_config_new = client.set_account_configurations(req)
    assert acct_config_new.fractional_trading is False
    req = acct_config_new
    req.fractional_trading = not req.fractional_trading
    acct_config_reverted = client.set_account_configurations(req)
    assert acct_config_reverted.fractional_trading is True

    assets = client.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE, exchange=AssetExchange.NASDAQ))
    assert assets and all(a.exchange == AssetExchange.NASDAQ for a in assets)  # type: ignore[union-attr]

    # simple, market order, fractional qty
    res = client.submit_order(
        MarketOrderRequest(
            symbol=symbol, qty=5.5, side=OrderSide.BUY, type=OrderType.MARKET, time_in_force=TimeInForce.DAY
        )
    )
    assert _filled(client, res).filled_qty == "5.5"  # type: ignore[arg-type]
    # simple, market order, notional
    res = client.submit_order(
        MarketOrderRequest(
            symbol=symbol,
            notional=1.11,
            side=OrderSide.BUY,
            type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
        )
    )
    notional_fill = _filled(client, res)  # type: ignore[arg-type]
    assert notional_fill.filled_qty == "0.002018145"  # 1.11 / 550.01, floored to 9 places
    # simple, limit order, fractional qty
    res = client.submit_order(
        LimitOrderRequest(
            symbol=symbol,
            qty=0.01,
            limit_price=550.25,
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY,
        )
    )
    assert _filled(client, res).filled_avg_price == "550.01"  # type: ignore[arg-type]
    # stop order, stop limit order: both rest (the ask is 550.01)
    stop = client.submit_order(
        StopOrderRequest(
            symbol=symbol, qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, stop_price=600
        )
    )
    stop_limit = client.submit_order(
        StopLimitOrderRequest(
            symbol=symbol,
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=550,
            stop_price=600,
        )
    )
    # bracket order with both stop loss and take profit
    bracket = client.submit_order(
        MarketOrderRequest(
            symbol=symbol,
            qty=5,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=600),
            stop_loss=StopLossRequest(stop_price=300),
        )
    )
    assert bracket.order_class == OrderClass.BRACKET and len(bracket.legs or []) == 2  # type: ignore[union-attr]
    _filled(client, bracket)  # type: ignore[arg-type]
    # "oto order with stop loss" and "oco limit order", as the notebook writes them (Class=...)
    oto_as_written = client.submit_order(
        LimitOrderRequest(
            symbol=symbol,
            qty=1,
            limit_price=500,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            Class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=300),
        )
    )
    oco_as_written = client.submit_order(
        LimitOrderRequest(
            symbol=symbol,
            qty=1,
            limit_price=500,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            Class=OrderClass.OCO,
        )
    )
    for order in (oto_as_written, oco_as_written):
        assert order.order_class == OrderClass.SIMPLE and order.legs is None  # type: ignore[union-attr]
    # ... and as meant
    oto = client.submit_order(
        LimitOrderRequest(
            symbol=symbol,
            qty=1,
            limit_price=500,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            order_class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=300),
        )
    )
    assert oto.order_class == OrderClass.OTO and [leg.status for leg in oto.legs] == [OrderStatus.HELD]  # type: ignore[union-attr]
    # trailing stop order
    trailing = client.submit_order(
        TrailingStopOrderRequest(
            symbol=symbol, qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, trail_percent=0.20
        )
    )
    assert (trailing.trail_percent, trailing.hwm, trailing.stop_price) == ("0.2", "549.99", "548.89")  # type: ignore[union-attr]

    orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=[symbol]))
    assert len(orders) == 13  # 10 sent + 2 bracket legs + 1 OTO leg
    open_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=[symbol]))
    open_ids = {o.id for o in open_orders}  # type: ignore[union-attr]
    assert {stop.id, stop_limit.id, oto_as_written.id, oco_as_written.id, oto.id, trailing.id} <= open_ids  # type: ignore[union-attr]
    assert {leg.id for leg in bracket.legs} <= open_ids  # type: ignore[union-attr]  # take-profit new, stop held
    canceled = client.cancel_orders()
    assert {c.id for c in canceled} == open_ids and all(c.status == 200 for c in canceled)  # type: ignore[union-attr]
    assert client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN)) == []

    positions = client.get_all_positions()
    position = client.get_open_position(symbol_or_asset_id=symbol)
    assert positions == [position]
    held = Decimal("5.5") + Decimal(notional_fill.filled_qty) + Decimal("0.01") + 5  # type: ignore[arg-type]
    assert Decimal(position.qty) == held  # type: ignore[union-attr,arg-type]
    assert client.get_open_position(symbol_or_asset_id=position.asset_id) == position  # type: ignore[union-attr]
    close = client.close_position(symbol_or_asset_id=symbol, close_options=ClosePositionRequest(qty="0.01"))
    _filled(client, close)  # type: ignore[arg-type]
    assert Decimal(client.get_open_position(symbol).qty) == held - Decimal("0.01")  # type: ignore[union-attr,arg-type]
