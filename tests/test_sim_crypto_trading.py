"""Crypto trading in the simulator through alpaca-py's unmodified TradingClient and raw requests: crypto
assets, orders (qty and notional), positions keyed BTCUSD, closes, refusals, faults and trade_updates
— on a Sunday at 3 a.m. New York time with stock hours following the calendar (crypto is 24/7)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, AssetExchange, OrderStatus
from alpaca.trading.requests import GetAssetsRequest, LimitOrderRequest, MarketOrderRequest

from alpaca_nb.sim import Simulator
from tests.conftest import run_async, wait_until
from tests.schemas import SchemaChecker

SUNDAY_3AM_NEW_YORK = int(dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.UTC).timestamp()) * 10**9
# The spec's Exchange enums predate crypto; Alpaca sends "CRYPTO" and alpaca-py needs it (WIRE_MORE A3).
SPEC_GAP = "'CRYPTO' is not one of"


@pytest.fixture
def wsim() -> Iterator[Simulator]:
    t0 = time.time_ns()
    clock = lambda: SUNDAY_3AM_NEW_YORK + time.time_ns() - t0  # noqa: E731
    with Simulator(seed=8, hours="calendar", rate_limit=None, stream_connection_limit=None, clock=clock) as s:
        s.set_price("BTC/USD", 60_000, spread=2, size=5)
        s.set_price("ETH/USD", 3_000, spread=0.2, size=100)
        yield s


@pytest.fixture
def spec(checked: SchemaChecker) -> Iterator[SchemaChecker]:
    """``checked``, with raw slashes in asset paths matched to the spec's one segment, and the one known
    gap between the spec and Alpaca (the CRYPTO exchange) forgiven."""
    yield checked
    checked.failures[:] = [f for f in checked.failures if SPEC_GAP not in f]


def client(sim: Simulator, spec: SchemaChecker, account: str = "paper") -> TradingClient:
    key, secret = sim.credentials(account)  # type: ignore[arg-type]
    tc = TradingClient(key, secret, url_override=sim.base_url)

    def hook(response: Any, *args: Any, **kwargs: Any) -> Any:
        path = response.request.path_url.split("?")[0]
        if path.startswith("/v2/assets/") and path.count("/") == 4:
            path = "/v2/assets/" + path.split("/", 3)[3].replace("/", "%2F")
        spec.check(response.request.method, path, response.status_code, response.content)
        return response

    tc._session.hooks["response"].append(hook)
    return tc


def raw(sim: Simulator, method: str, path: str, account: str = "paper", **kwargs: Any) -> requests.Response:
    key, secret = sim.credentials(account)  # type: ignore[arg-type]
    headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
    return requests.request(method, sim.base_url + path, headers=headers, timeout=10, **kwargs)


def filled(tc: TradingClient, order_id: Any) -> Any:
    assert wait_until(lambda: tc.get_order_by_id(order_id).status == OrderStatus.FILLED, timeout=10)
    return tc.get_order_by_id(order_id)


def test_crypto_assets_resolve_by_pair_encoded_pair_old_symbol_and_id(
    wsim: Simulator, spec: SchemaChecker
) -> None:
    tc = client(wsim, spec)
    crypto = tc.get_all_assets(GetAssetsRequest(asset_class=AssetClass.CRYPTO))
    assert sorted(a.symbol for a in crypto) == sorted(wsim.crypto_market.universe)
    assert {(a.asset_class, a.exchange, a.tradable, a.shortable, a.fractionable) for a in crypto} == {
        (AssetClass.CRYPTO, AssetExchange.CRYPTO, True, False, True)}  # fmt: skip
    assert all(a.asset_class == AssetClass.US_EQUITY for a in tc.get_all_assets())  # Alpaca's default class
    btc = tc.get_asset("BTC/USD")  # alpaca-py sends /v2/assets/BTC/USD, slash unescaped
    assert (btc.symbol, btc.min_order_size, btc.min_trade_increment, btc.price_increment) == (
        "BTC/USD", 0.0001, 0.0001, 1.0)  # fmt: skip
    for key in ("BTC%2FUSD", "BTCUSD", str(btc.id)):
        body = raw(wsim, "GET", f"/v2/assets/{key}").json()
        assert body["id"] == str(btc.id) and body["symbol"] == "BTC/USD"
        assert all(
            isinstance(body[k], str) for k in ("min_order_size", "min_trade_increment", "price_increment")
        )
    assert raw(wsim, "GET", "/v2/assets/NOPE/USD").status_code == 404


def test_crypto_orders_fill_24_7_into_positions_keyed_without_the_slash(
    wsim: Simulator, spec: SchemaChecker
) -> None:
    tc = client(wsim, spec)
    stock = tc.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side="buy", time_in_force="day"))
    order = tc.submit_order(MarketOrderRequest(symbol="BTC/USD", qty=0.0125, side="buy", time_in_force="gtc"))
    assert order.status == OrderStatus.PENDING_NEW and order.asset_class == AssetClass.CRYPTO
    assert float(filled(tc, order.id).filled_avg_price) == 60_001  # the pinned ask, on a Sunday night
    answer = raw(
        wsim,
        "POST",
        "/v2/orders",
        json={
            "symbol": "BTC/USD",
            "qty": "0.0125",
            "side": "buy",
            "type": "limit",
            "limit_price": "50000",
            "time_in_force": "gtc",
        },
    )
    first = answer.json()  # fmt: skip
    assert (first["status"], first["order_class"], first["asset_class"], first["qty"]) == (
        "pending_new", "", "crypto", "0.0125")  # fmt: skip
    replaced = raw(wsim, "PATCH", f"/v2/orders/{first['id']}", json={"qty": "0.02", "limit_price": "50001"})
    new = replaced.json()
    assert replaced.status_code == 200, new
    assert (new["qty"], new["limit_price"], new["asset_class"], new["replaces"]) == (
        "0.02",
        "50001",
        "crypto",
        first["id"],
    )
    assert raw(wsim, "DELETE", f"/v2/orders/{new['id']}").status_code == 204
    eth = filled(tc, tc.submit_order(MarketOrderRequest(symbol="ETH/USD", notional=1000, side="buy",
                                                        time_in_force="ioc")).id)  # fmt: skip
    assert (eth.filled_qty, eth.filled_avg_price) == ("0.333", "3000.1")  # floored to the 0.001 increment
    tc.submit_order(
        LimitOrderRequest(symbol="SOL/USD", qty=1.5, limit_price=1, side="buy", time_in_force="gtc")
    )
    assert tc.get_order_by_id(stock.id).status == OrderStatus.ACCEPTED  # stocks keep the calendar
    positions = {p.symbol: p for p in tc.get_all_positions()}
    assert set(positions) == {"BTCUSD", "ETHUSD"}
    btc = positions["BTCUSD"]
    assert (btc.qty, btc.side.value) == ("0.0125", "long")
    assert (btc.asset_class, btc.exchange) == (AssetClass.CRYPTO, AssetExchange.CRYPTO)
    assert tc.get_open_position("BTCUSD").qty == "0.0125"
    assert tc.get_open_position(str(btc.asset_id)).symbol == "BTCUSD"
    for method in ("GET", "DELETE"):
        assert raw(wsim, method, "/v2/positions/BTC/USD").status_code == 404  # as on Alpaca
    account = tc.get_account()
    aapl_ask = wsim.call(lambda: wsim.market.quote_at("AAPL"))[1]  # the waiting AAPL order holds its cost
    spent = 0.0125 * 60_001 + 0.333 * 3000.1 + 1.5 * 1 + aapl_ask  # ... as does the open SOL limit order
    assert float(account.non_marginable_buying_power) == pytest.approx(100_000 - spent)
    close = tc.close_position("BTCUSD")
    closing = (close.symbol, close.side.value, close.qty, close.time_in_force.value)
    assert closing == ("BTC/USD", "sell", "0.0125", "gtc")  # the order carries the pair
    filled(tc, close.id)
    everything = tc.close_all_positions(cancel_orders=True)
    assert [(r.symbol, r.status, r.body.symbol) for r in everything] == [("ETHUSD", 200, "ETH/USD")]
    assert wait_until(lambda: tc.get_all_positions() == [], timeout=10)
    fills = raw(wsim, "GET", "/v2/account/activities/FILL", params={"direction": "asc"}).json()
    assert [(f["symbol"], f["side"]) for f in fills] == [("BTCUSD", "buy"), ("ETHUSD", "buy"),
                                                         ("BTCUSD", "sell"), ("ETHUSD", "sell")]  # fmt: skip
    spec.check("GET", "/v2/account/activities/FILL", 200, json.dumps(fills).encode())
    history = raw(wsim, "GET", "/v2/account/portfolio/history", params={"period": "1W", "timeframe": "1D"})
    spec.check("GET", "/v2/account/portfolio/history", history.status_code, history.content)
    assert history.status_code == 200


REFUSALS = [
    ({"qty": "0.00005"}, 422, 40010001, "below the minimum order size 0.0001"),
    ({"qty": "0.00015"}, 422, 40010001, "not a multiple of the minimum trade increment 0.0001"),
    ({"qty": "0.0000000001"}, 422, 40010001, "at most 9 decimal places"),
    ({"time_in_force": "day"}, 422, 42210000, "invalid crypto time_in_force"),
    ({"time_in_force": "fok"}, 422, 42210000, "invalid crypto time_in_force"),
    ({"type": "stop", "stop_price": "59000"}, 422, 40010001, "invalid type for crypto"),
    ({"order_class": "bracket"}, 422, 42210000, "only simple orders"),
    ({"type": "limit", "limit_price": "60000.5"}, 422, 42210000, "price increment for BTC/USD is 1"),
    ({"qty": "5"}, 422, 40010001, "exceeds the maximum of 200000"),
    ({"qty": "3"}, 403, 40310000, "insufficient balance for USD (requested: 180003"),
    ({"side": "sell"}, 403, 40310000, "insufficient balance for BTC (requested: 0.001, available: 0)"),
    ({"notional": "0.5", "qty": None}, 422, 40010001, "cost basis must be >= 1"),
]


def test_crypto_order_rules_refuse_as_alpaca_does(wsim: Simulator, spec: SchemaChecker) -> None:
    base = {"symbol": "BTC/USD", "qty": "0.001", "side": "buy", "type": "market", "time_in_force": "gtc"}
    for change, status, code, words in REFUSALS:
        body = {k: v for k, v in {**base, **change}.items() if v is not None}
        answer = raw(wsim, "POST", "/v2/orders", json=body)
        got = answer.json()
        assert (answer.status_code, got["code"]) == (status, code) and words in got["message"], (change, got)
        spec.check("POST", "/v2/orders", answer.status_code, answer.content)
    assert wsim.orders() == []
    # A stop_loss without order_class is ignored, as Alpaca ignores it; the order is a simple one.
    ok = raw(
        wsim,
        "POST",
        "/v2/orders",
        json={**base, "stop_loss": {"stop_price": "50000"}, "client_order_id": "a"},
    )
    assert ok.status_code == 200 and ok.json()["order_class"] == "" and ok.json()["legs"] is None
    again = raw(wsim, "POST", "/v2/orders", json={**base, "client_order_id": "a"})
    assert (again.status_code, again.json()["code"]) == (422, 40010001)  # duplicate client_order_id


def test_faults_and_trade_updates_reach_the_right_account(wsim: Simulator, spec: SchemaChecker) -> None:
    live = client(wsim, spec, "live")
    coid = str(uuid.uuid4())
    wsim.faults.fail("POST", "/v2/orders", 504, after_apply=True)

    async def scenario() -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        async with aiohttp.ClientSession() as session:
            streams = {}
            for account in ("paper", "live"):
                key, secret = wsim.credentials(account)  # type: ignore[arg-type]
                ws = await session.ws_connect(wsim.trading_stream_url)
                await ws.send_str(json.dumps({"action": "auth", "key": key, "secret": secret}))
                await ws.receive(5)
                await ws.send_str(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
                await ws.receive(5)
                streams[account] = ws
            loop = asyncio.get_running_loop()
            body = {"symbol": "ETH/USD", "qty": "0.5", "side": "buy", "type": "market"}
            body |= {"time_in_force": "gtc", "client_order_id": coid}
            status = await loop.run_in_executor(
                None, lambda: raw(wsim, "POST", "/v2/orders", "live", json=body)
            )
            events: dict[str, list[dict[str, Any]]] = {"paper": [], "live": []}
            while not any(e["event"] == "fill" for e in events["live"]):
                events["live"].append(json.loads((await streams["live"].receive(5)).data)["data"])
            with_timeout = streams["paper"].receive(0.3)
            with contextlib.suppress(TimeoutError):
                events["paper"].append(json.loads((await with_timeout).data)["data"])
            for ws in streams.values():
                await ws.close()
            return status.status_code, events["live"], events["paper"]

    status, live_events, paper_events = run_async(scenario)
    assert status == 504  # the gateway failed after the order was accepted
    order = live.get_order_by_client_id(coid)
    assert order.symbol == "ETH/USD" and order.status == OrderStatus.FILLED
    assert [e["event"] for e in live_events][-1] == "fill" and live_events[-1]["order"]["symbol"] == "ETH/USD"
    assert live_events[-1]["position_qty"] == "0.5" and paper_events == []
    assert [p.symbol for p in live.get_all_positions()] == ["ETHUSD"]
    assert raw(wsim, "GET", "/v2/positions").json() == []  # the paper account holds nothing
