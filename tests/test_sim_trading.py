"""alpaca-py's TradingClient, unmodified, against the simulator's trading REST API."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)

from alpaca_nb.sim import Simulator
from tests.conftest import trading_client, wait_until
from tests.schemas import SchemaChecker


def _status(client: TradingClient, order_id: object) -> OrderStatus:
    return client.get_order_by_id(order_id).status  # type: ignore[union-attr,arg-type]


def test_account_clock_calendar_assets(trading: TradingClient, checked: SchemaChecker) -> None:
    account = trading.get_account()
    assert account.status == "ACTIVE"
    assert float(account.cash) == 100_000  # type: ignore[arg-type]
    clock = trading.get_clock()
    assert clock.is_open  # "always" hours
    assert clock.next_close > clock.timestamp  # type: ignore[operator]
    days = trading.get_calendar(GetCalendarRequest(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31)))
    assert len(days) == 252  # NYSE 2024
    by_date = {d.date: d for d in days}
    assert dt.date(2024, 7, 4) not in by_date and dt.date(2024, 3, 29) not in by_date  # holiday, Good Friday
    assert by_date[dt.date(2024, 11, 29)].close.time() == dt.time(13, 0)  # day after Thanksgiving
    assets = trading.get_all_assets()
    symbols = {a.symbol for a in assets}
    assert {"AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "TSLA", "META", "SPY", "QQQ"} <= symbols
    aapl = trading.get_asset("AAPL")
    assert aapl.tradable and aapl.fractionable and aapl.exchange == "NASDAQ"
    assert trading.get_asset(str(aapl.id)).symbol == "AAPL"
    with pytest.raises(APIError) as err:
        trading.get_asset("ZZZZ")
    assert err.value.status_code == 404 and err.value.code == 40410000
    assert ("GET", "/v2/account", 200) in checked.seen


@pytest.mark.parametrize(
    "request_",
    [
        MarketOrderRequest(symbol="AAPL", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY),
        MarketOrderRequest(symbol="MSFT", notional=250.5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY),
        MarketOrderRequest(symbol="NVDA", qty=0.5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY),
    ],
    ids=["market-qty", "market-notional", "market-fractional"],
)
def test_market_orders_fill(trading: TradingClient, request_: MarketOrderRequest) -> None:
    order = trading.submit_order(request_)
    assert order.status == OrderStatus.ACCEPTED and order.client_order_id
    assert wait_until(lambda: _status(trading, order.id) == OrderStatus.FILLED)
    filled = trading.get_order_by_id(order.id)
    assert float(filled.filled_qty) > 0 and float(filled.filled_avg_price) > 0  # type: ignore[arg-type]
    if request_.notional:
        # qty = notional / ask, floored to 9 places: the cost never exceeds the notional
        assert float(filled.filled_qty) * float(filled.filled_avg_price) <= 250.5 + 1e-6  # type: ignore[arg-type]
    position = trading.get_open_position(request_.symbol)
    assert float(position.qty) >= float(filled.filled_qty)  # type: ignore[arg-type]


def test_limit_stop_and_stop_limit_orders(sim: Simulator, trading: TradingClient) -> None:
    quote = sim.market.quote_at("GOOGL")
    assert quote is not None
    bid, ask = quote[0], quote[1]
    far_below = round(bid * 0.5, 2)
    resting = trading.submit_order(
        LimitOrderRequest(symbol="GOOGL", qty=2, side="buy", time_in_force="gtc", limit_price=far_below)
    )
    marketable = trading.submit_order(
        LimitOrderRequest(
            symbol="GOOGL", qty=1, side="buy", time_in_force="day", limit_price=round(ask * 1.05, 2)
        )
    )
    stop = trading.submit_order(
        StopOrderRequest(symbol="GOOGL", qty=1, side="buy", time_in_force="gtc", stop_price=round(ask * 2, 2))
    )
    stop_limit = trading.submit_order(
        StopLimitOrderRequest(
            symbol="GOOGL",
            qty=1,
            side="buy",
            time_in_force="gtc",
            stop_price=round(ask * 2, 2),
            limit_price=round(ask * 2.01, 2),
        )
    )
    assert wait_until(lambda: _status(trading, marketable.id) == OrderStatus.FILLED)
    assert float(trading.get_order_by_id(marketable.id).filled_avg_price) <= round(ask * 1.05, 2)  # type: ignore[arg-type]
    for order in (resting, stop, stop_limit):
        assert _status(trading, order.id) == OrderStatus.NEW
    got = trading.get_order_by_id(stop_limit.id)
    assert float(got.stop_price) == round(ask * 2, 2) and float(got.limit_price) == round(ask * 2.01, 2)  # type: ignore[arg-type]
    # A stop that the market crosses triggers and fills.
    triggered = trading.submit_order(
        StopOrderRequest(
            symbol="GOOGL", qty=1, side="sell", time_in_force="gtc", stop_price=round(bid * 1.5, 2)
        )
    )
    assert wait_until(lambda: _status(trading, triggered.id) == OrderStatus.FILLED)
    for order in (resting, stop, stop_limit):
        trading.cancel_order_by_id(order.id)
        assert _status(trading, order.id) == OrderStatus.CANCELED


def test_list_get_replace_cancel(sim: Simulator, trading: TradingClient) -> None:
    quote = sim.market.quote_at("AMZN")
    assert quote is not None
    low = round(quote[0] * 0.5, 2)
    coid = f"test-{uuid.uuid4()}"
    order = trading.submit_order(
        LimitOrderRequest(
            symbol="AMZN", qty=4, side="buy", time_in_force="gtc", limit_price=low, client_order_id=coid
        )
    )
    assert trading.get_order_by_client_id(coid).id == order.id
    assert wait_until(lambda: _status(trading, order.id) == OrderStatus.NEW)
    open_ids = {o.id for o in trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500))}
    assert order.id in open_ids
    replaced = trading.replace_order_by_id(
        order.id, ReplaceOrderRequest(qty=5, limit_price=round(low - 1, 2))
    )
    assert replaced.id != order.id and replaced.replaces == order.id
    old = trading.get_order_by_id(order.id)
    assert old.status == OrderStatus.REPLACED and old.replaced_by == replaced.id
    assert float(replaced.qty) == 5 and float(replaced.limit_price) == round(low - 1, 2)  # type: ignore[arg-type]
    assert wait_until(lambda: _status(trading, replaced.id) == OrderStatus.NEW)
    trading.cancel_order_by_id(replaced.id)
    closed = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED, limit=500, symbols=["AMZN"]))
    assert {order.id, replaced.id} <= {o.id for o in closed}
    assert all(o.status not in (OrderStatus.NEW, OrderStatus.ACCEPTED) for o in closed)
    everything = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500, direction="asc"))
    stamps = [o.submitted_at for o in everything]
    assert stamps == sorted(stamps)
    with pytest.raises(APIError) as err:
        trading.cancel_order_by_id(replaced.id)
    assert err.value.status_code == 422
    with pytest.raises(APIError) as err:
        trading.get_order_by_id(uuid.uuid4())
    assert err.value.status_code == 404 and err.value.code == 40410000


def test_cancel_all_is_207(fresh_sim: Simulator, checked: SchemaChecker) -> None:
    trading = trading_client(fresh_sim, checked)
    ids = set()
    for price in (10, 11, 12):
        ids.add(
            trading.submit_order(
                LimitOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="gtc", limit_price=price)
            ).id
        )
    result = trading.cancel_orders()
    assert {r.id for r in result} == ids and all(r.status == 200 for r in result)
    assert ("DELETE", "/v2/orders", 207) in checked.seen
    assert trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN)) == []


def test_positions_close_one_and_all(fresh_sim: Simulator, checked: SchemaChecker) -> None:
    trading = trading_client(fresh_sim, checked)
    for symbol in ("SPY", "QQQ", "AAPL"):
        order = trading.submit_order(
            MarketOrderRequest(symbol=symbol, qty=10, side="buy", time_in_force="day")
        )
        assert wait_until(lambda o=order: _status(trading, o.id) == OrderStatus.FILLED)
    assert {p.symbol for p in trading.get_all_positions()} == {"SPY", "QQQ", "AAPL"}
    partial = trading.close_position("SPY", ClosePositionRequest(qty="4"))
    assert float(partial.qty) == 4 and partial.side == OrderSide.SELL  # type: ignore[arg-type]
    assert wait_until(lambda: float(trading.get_open_position("SPY").qty) == 6)  # type: ignore[arg-type]
    half = trading.close_position("QQQ", ClosePositionRequest(percentage="50"))
    assert float(half.qty) == 5  # type: ignore[arg-type]
    results = trading.close_all_positions(cancel_orders=True)
    assert {r.symbol for r in results} == {"SPY", "QQQ", "AAPL"} and all(r.status == 200 for r in results)
    assert ("DELETE", "/v2/positions", 207) in checked.seen
    assert wait_until(lambda: trading.get_all_positions() == [])
    with pytest.raises(APIError) as err:
        trading.get_open_position("SPY")
    assert err.value.status_code == 404 and err.value.code == 40410000


def test_errors_match_alpaca(fresh_sim: Simulator, checked: SchemaChecker) -> None:
    trading = trading_client(fresh_sim, checked)
    bad = TradingClient("PKWRONG", "wrong", url_override=fresh_sim.base_url)
    checked.attach(bad)
    with pytest.raises(APIError) as err:
        bad.get_account()
    assert err.value.status_code == 401 and err.value.code == 40110000
    with pytest.raises(APIError) as err:
        trading.submit_order(MarketOrderRequest(symbol="NFLX", qty=1000, side="buy", time_in_force="day"))
    assert err.value.status_code == 403 and err.value.code == 40310000
    assert "insufficient buying power" in err.value.message
    coid = "same-id"
    trading.submit_order(
        MarketOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="day", client_order_id=coid)
    )
    with pytest.raises(APIError) as err:
        trading.submit_order(
            MarketOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="day", client_order_id=coid)
        )
    assert err.value.status_code == 422 and err.value.code == 40010001
    assert err.value.message == "client_order_id must be unique"
    raw = requests.post(
        fresh_sim.base_url + "/v2/orders",
        json={"symbol": "KO", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day"},
        headers=_headers(fresh_sim),
        timeout=5,
    )
    assert (
        raw.status_code == 422 and raw.json()["code"] == 40010001 and "limit_price" in raw.json()["message"]
    )
    assert len(fresh_sim.orders()) == 1  # only the first KO order exists


def _headers(sim: Simulator, account: str = "paper") -> dict[str, str]:
    key, secret = sim.credentials(account)  # type: ignore[arg-type]
    return {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}


def test_rate_limit_headers_and_429() -> None:
    with Simulator(seed=1, rate_limit=5) as sim:
        headers = _headers(sim)
        answers = [requests.get(sim.base_url + "/v2/clock", headers=headers, timeout=5) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[0].headers["X-RateLimit-Limit"] == "5"
        assert [a.headers["X-RateLimit-Remaining"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
        assert int(answers[0].headers["X-RateLimit-Reset"]) > dt.datetime.now().timestamp()
        assert answers[5].json() == {"code": 42910000, "message": "rate limit exceeded"}
        assert 1 <= int(answers[5].headers["Retry-After"]) <= 60
        # The live key has its own budget.
        live = requests.get(sim.base_url + "/v2/clock", headers=_headers(sim, "live"), timeout=5)
        assert live.status_code == 200


def test_live_account_is_separate(fresh_sim: Simulator) -> None:
    paper, live = trading_client(fresh_sim), trading_client(fresh_sim, account="live")
    assert paper.get_account().id != live.get_account().id
    paper.submit_order(MarketOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="day"))
    assert live.get_orders() == [] and len(fresh_sim.orders("live")) == 0
    assert {r.account for r in fresh_sim.requests if (r.method, r.path) == ("POST", "/v2/orders")} == {
        "paper"
    }
