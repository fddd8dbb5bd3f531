"""The simulated broker's books, checked against numbers computed by hand for a scripted session.

Prices are pinned (``Simulator.set_price``) so that every fill is known in advance: with a spread of
0.02, buys fill at price + 0.01 and sells at price - 0.01; positions are marked at the pinned price.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderStatus
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from alpaca_nb.sim import Simulator
from tests.conftest import trading_client, wait_until


@pytest.fixture
def book() -> Iterator[tuple[Simulator, TradingClient]]:
    with Simulator(seed=3, hours="always", rate_limit=None, starting_cash=100_000) as sim:
        yield sim, trading_client(sim)


def _fill(client: TradingClient, symbol: str, qty: int, side: str) -> None:
    order = client.submit_order(MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force="day"))
    assert wait_until(lambda: client.get_order_by_id(order.id).status == OrderStatus.FILLED)


def _account(client: TradingClient) -> dict[str, Decimal]:
    acct = client.get_account()
    fields = ("cash", "equity", "long_market_value", "short_market_value", "buying_power", "initial_margin")
    return {f: Decimal(getattr(acct, f)) for f in fields}


def _position(client: TradingClient, symbol: str) -> dict[str, Decimal]:
    pos = client.get_open_position(symbol)
    fields = ("qty", "avg_entry_price", "market_value", "cost_basis", "unrealized_pl", "current_price")
    return {f: Decimal(getattr(pos, f)) for f in fields}


def test_scripted_fills_match_hand_computed_books(book: tuple[Simulator, TradingClient]) -> None:
    sim, client = book

    # 1. AAPL at 100: buy 10 at the ask 100.01.  cash = 100000 - 1000.10
    sim.set_price("AAPL", 100.00)
    _fill(client, "AAPL", 10, "buy")
    assert _account(client)["cash"] == Decimal("98999.90")
    assert _position(client, "AAPL") == {
        "qty": Decimal(10),
        "avg_entry_price": Decimal("100.01"),
        "market_value": Decimal("1000"),
        "cost_basis": Decimal("1000.10"),
        "unrealized_pl": Decimal("-0.10"),
        "current_price": Decimal(100),
    }

    # 2. AAPL at 110: buy 10 more at 110.01.  avg = (1000.10 + 1100.10) / 20 = 105.01
    sim.set_price("AAPL", 110.00)
    _fill(client, "AAPL", 10, "buy")
    pos = _position(client, "AAPL")
    assert pos["avg_entry_price"] == Decimal("105.01") and pos["cost_basis"] == Decimal("2100.20")
    assert pos["market_value"] == Decimal(2200) and pos["unrealized_pl"] == Decimal("99.80")
    assert _account(client)["cash"] == Decimal("97899.80")  # 98999.90 - 1100.10

    # 3. Sell 5 at the bid 109.99: cash + 549.95; the average entry price does not change.
    _fill(client, "AAPL", 5, "sell")
    pos = _position(client, "AAPL")
    assert pos["qty"] == 15 and pos["avg_entry_price"] == Decimal("105.01")
    assert pos["cost_basis"] == Decimal("1575.15") and pos["unrealized_pl"] == Decimal("74.85")
    assert _account(client)["cash"] == Decimal("98449.75")

    # 4. Short 20 MSFT at 50 (sold at 49.99): cash + 999.80; short market value -1000.
    sim.set_price("MSFT", 50.00)
    _fill(client, "MSFT", 20, "sell")
    short = _position(client, "MSFT")
    assert short["qty"] == -20 and short["avg_entry_price"] == Decimal("49.99")
    assert short["market_value"] == Decimal(-1000) and short["unrealized_pl"] == Decimal("-0.20")
    acct = _account(client)
    assert acct["cash"] == Decimal("99449.55")
    assert acct["long_market_value"] == Decimal(1650) and acct["short_market_value"] == Decimal(-1000)
    assert acct["equity"] == Decimal("100099.55")  # cash + 1650 - 1000
    assert acct["initial_margin"] == Decimal("1325")  # 0.5 * (1650 + 1000)
    assert acct["buying_power"] == Decimal("197549.10")  # 2 * (equity - initial margin)

    # 5. A resting buy limit reserves its cost from buying power: 10 x 40.
    sim.set_price("KO", 50.00)
    resting = client.submit_order(
        LimitOrderRequest(symbol="KO", qty=10, side="buy", time_in_force="gtc", limit_price=40)
    )
    assert wait_until(lambda: client.get_order_by_id(resting.id).status == OrderStatus.NEW)
    assert _account(client)["buying_power"] == Decimal("197149.10")
    client.cancel_order_by_id(resting.id)

    # 6. Cover MSFT at the ask 50.01: cash - 1000.20; the position is gone.
    _fill(client, "MSFT", 20, "buy")
    acct = _account(client)
    assert acct["cash"] == Decimal("98449.35") and acct["equity"] == Decimal("100099.35")
    assert {p.symbol for p in client.get_all_positions()} == {"AAPL"}

    # 7. The market moves: equity and P&L follow the mark, cash does not.
    sim.set_price("AAPL", 120.00)
    pos = _position(client, "AAPL")
    assert pos["market_value"] == Decimal(1800) and pos["unrealized_pl"] == Decimal("224.85")
    assert _account(client)["equity"] == Decimal("100249.35")


def test_sell_more_than_held_is_refused(book: tuple[Simulator, TradingClient]) -> None:
    sim, client = book
    sim.set_price("AAPL", 100.00)
    _fill(client, "AAPL", 10, "buy")
    from alpaca.common.exceptions import APIError

    with pytest.raises(APIError) as err:
        client.submit_order(MarketOrderRequest(symbol="AAPL", qty=11, side="sell", time_in_force="day"))
    assert err.value.status_code == 403 and err.value.code == 40310000
    assert "insufficient qty available" in err.value.message
