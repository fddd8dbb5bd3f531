"""alpaca-py's StockDataStream and TradingStream against the simulator, and the raw protocols."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import aiohttp
import msgpack
import pytest
from alpaca.data.live import StockDataStream
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from alpaca.trading.stream import TradingStream

from alpaca_nb.sim import Simulator
from tests.conftest import run_async, running, trading_client, wait_until


def _near_minute_end(seconds_left: float = 4.0) -> Simulator:
    """A simulator whose clock is shifted so that the current minute ends in ``seconds_left``."""
    now = time.time_ns()
    offset = (60 * 10**9 - now % (60 * 10**9)) - int(seconds_left * 1e9)
    return Simulator(seed=7, hours="always", rate_limit=None, clock=lambda: time.time_ns() + offset)


def test_data_stream_delivers_quotes_trades_and_minute_bars() -> None:
    with _near_minute_end() as sim:
        _stream_all_channels(sim)


def _stream_all_channels(sim: Simulator) -> None:
    key, secret = sim.credentials()
    got: Counter[tuple[str, str]] = Counter()
    quotes: list[Any] = []
    bars: list[Any] = []
    stream = StockDataStream(key, secret, url_override=sim.data_stream_url)

    # Handlers only collect: alpaca-py catches and logs whatever a handler raises, so an assert
    # in here could never fail the test. The checks run below, in the test's own thread.
    async def on_quote(q: Any) -> None:
        quotes.append(q)
        got["q", q.symbol] += 1

    async def on_trade(t: Any) -> None:
        got["t", t.symbol] += 1

    async def on_bar(b: Any) -> None:
        bars.append(b)
        got["b", b.symbol] += 1

    stream.subscribe_quotes(on_quote, "AAPL", "MSFT")
    stream.subscribe_trades(on_trade, "AAPL", "SPY")
    stream.subscribe_bars(on_bar, "AAPL")
    with running(stream):
        assert wait_until(lambda: got["q", "AAPL"] >= 3 and got["q", "MSFT"] >= 3, timeout=15)
        assert wait_until(lambda: got["t", "AAPL"] >= 1 and got["t", "SPY"] >= 1, timeout=30)
        # A minute bar arrives once the current minute closes.
        assert wait_until(lambda: got["b", "AAPL"] >= 1, timeout=15)
    assert not any(kind == "q" and sym not in ("AAPL", "MSFT") for kind, sym in got)
    bad_quotes = [q for q in quotes if not 0 < q.bid_price < q.ask_price]
    assert bad_quotes == [], f"{len(bad_quotes)} of {len(quotes)} quotes are crossed or empty"
    bad_bars = [b for b in bars if not (b.low <= b.open <= b.high and b.trade_count > 0)]
    assert bad_bars == [], f"{len(bad_bars)} of {len(bars)} bars are inconsistent"


def test_trading_stream_follows_an_order(fresh_sim: Simulator) -> None:
    key, secret = fresh_sim.credentials()
    events: list[Any] = []
    stream = TradingStream(key, secret, url_override=fresh_sim.trading_stream_url)

    async def on_update(update: Any) -> None:
        events.append(update)

    stream.subscribe_trade_updates(on_update)
    trading = trading_client(fresh_sim)
    with running(stream):
        assert wait_until(lambda: _listening(fresh_sim), timeout=10)
        fresh_sim.set_price("AAPL", 100.0, size=400)  # 1000 shares fill as 400 + 400 + 200
        order = trading.submit_order(
            MarketOrderRequest(symbol="AAPL", qty=1000, side="buy", time_in_force="day")
        )
        assert wait_until(lambda: any(e.event == "fill" for e in events), timeout=10)
        resting = trading.submit_order(
            LimitOrderRequest(symbol="AAPL", qty=5, side="buy", time_in_force="gtc", limit_price=100)
        )
        assert wait_until(lambda: any(e.event == "new" and e.order.id == resting.id for e in events))
        trading.cancel_order_by_id(resting.id)
        assert wait_until(lambda: any(e.event == "canceled" for e in events))
    mine = [e for e in events if e.order.id == order.id]
    assert [e.event for e in mine] == ["new", "partial_fill", "partial_fill", "fill"]
    assert [e.order.status for e in mine] == ["new", "partially_filled", "partially_filled", "filled"]
    assert [e.qty for e in mine[1:]] == [400, 400, 200]
    assert [e.position_qty for e in mine[1:]] == [400, 800, 1000]
    assert all(e.price == 100.01 for e in mine[1:])  # buys fill at the ask
    assert [float(e.order.filled_qty) for e in mine[1:]] == [400, 800, 1000]
    canceled = next(e for e in events if e.event == "canceled")
    assert (
        canceled.order.id == resting.id and canceled.order.status == "canceled" and canceled.order.canceled_at
    )


def _listening(sim: Simulator) -> bool:
    return sim.call(lambda: any(c.listening for c in sim.streams.trading_clients))


async def _raw_session(url: str, headers: dict[str, str], key: str, secret: str, binary: bool) -> list[Any]:
    frames: list[Any] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:

        async def recv() -> Any:
            msg = await asyncio.wait_for(ws.receive(), 10)
            return msgpack.unpackb(msg.data) if binary else json.loads(msg.data)

        frames.append(await recv())
        auth = {"action": "auth", "key": key, "secret": secret}
        await (ws.send_bytes(msgpack.packb(auth)) if binary else ws.send_json(auth))
        frames.append(await recv())
        sub = {"action": "subscribe", "quotes": ["FAKEPACA"]}
        await (ws.send_bytes(msgpack.packb(sub)) if binary else ws.send_json(sub))
        frames.append(await recv())
        frames.append(await recv())  # data
    return frames


@pytest.mark.parametrize("binary", [True, False], ids=["msgpack", "json"])
def test_raw_protocol_and_test_feed(sim: Simulator, binary: bool) -> None:
    key, secret = sim.credentials()
    headers = {"Content-Type": "application/msgpack"} if binary else {}
    frames = run_async(lambda: _raw_session(sim.test_stream_url, headers, key, secret, binary))
    assert frames[0] == [{"T": "success", "msg": "connected"}]
    assert frames[1] == [{"T": "success", "msg": "authenticated"}]
    ack = frames[2][0]
    assert ack["T"] == "subscription" and ack["quotes"] == ["FAKEPACA"]
    assert {
        "trades",
        "bars",
        "updatedBars",
        "dailyBars",
        "statuses",
        "lulds",
        "corrections",
        "cancelErrors",
    } <= set(ack)
    quote = frames[3][0]
    assert next(iter(quote)) == "T" and quote["T"] == "q" and quote["S"] == "FAKEPACA"
    if binary:
        assert isinstance(quote["t"], msgpack.Timestamp)
    else:
        assert isinstance(quote["t"], str) and quote["t"].endswith("Z")


def test_auth_errors_and_connection_limit() -> None:
    async def scenario(sim: Simulator) -> list[Any]:
        key, secret = sim.credentials()
        out = []
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(sim.data_stream_url) as ws:
                await ws.receive()
                await ws.send_json({"action": "subscribe", "quotes": ["AAPL"]})
                out.append((await ws.receive_json())[0])
                await ws.send_json({"action": "auth", "key": key, "secret": "nope"})
                out.append((await ws.receive_json())[0])
            async with (
                http.ws_connect(sim.data_stream_url) as first,
                http.ws_connect(sim.data_stream_url) as second,
            ):
                for ws in (first, second):
                    await ws.receive()
                    await ws.send_json({"action": "auth", "key": key, "secret": secret})
                    out.append((await ws.receive_json())[0])
        return out

    with Simulator(seed=2) as sim:  # Alpaca's default: one connection per key
        frames = run_async(lambda: scenario(sim))
    assert frames[0] == {"T": "error", "code": 401, "msg": "not authenticated"}
    assert frames[1] == {"T": "error", "code": 402, "msg": "auth failed"}
    assert frames[2] == {"T": "success", "msg": "authenticated"}
    assert frames[3] == {"T": "error", "code": 406, "msg": "connection limit exceeded"}


def test_drop_streams_reconnects_alpaca_py(fresh_sim: Simulator) -> None:
    key, secret = fresh_sim.credentials()
    quotes: list[float] = []
    stream = StockDataStream(key, secret, url_override=fresh_sim.data_stream_url)

    async def on_quote(q: Any) -> None:
        quotes.append(time.monotonic())

    stream.subscribe_quotes(on_quote, "SPY", "AAPL", "MSFT")
    stream._reconnect_min_backoff = 0.2  # alpaca-py's own knob; the default first wait is ~1 s
    with running(stream):
        assert wait_until(lambda: len(quotes) >= 3, timeout=15)
        for _ in range(2):
            fresh_sim.faults.drop_streams()
            dropped_at = time.monotonic()
            assert wait_until(lambda t=dropped_at: any(q > t + 0.05 for q in quotes), timeout=20)
        assert fresh_sim.streams.drops == 2


def test_silence_keeps_socket_open_without_data(fresh_sim: Simulator) -> None:
    async def scenario() -> tuple[int, int, bool]:
        key, secret = fresh_sim.credentials()
        async with aiohttp.ClientSession() as http, http.ws_connect(fresh_sim.data_stream_url) as ws:
            await ws.receive()
            await ws.send_json({"action": "auth", "key": key, "secret": secret})
            await ws.receive()
            await ws.send_json({"action": "subscribe", "quotes": ["*"]})
            await ws.receive()
            fresh_sim.faults.silence_streams(2.0)
            await asyncio.sleep(0.3)  # let frames already queued drain
            while True:  # discard anything sent before the silence took effect
                try:
                    await asyncio.wait_for(ws.receive(), 0.05)
                except TimeoutError:
                    break
            silent = 0
            try:
                await asyncio.wait_for(ws.receive(), 1.2)
                silent = 1
            except TimeoutError:
                pass
            await ws.ping()
            await asyncio.sleep(1.0)
            after = 0
            for _ in range(5):
                msg = await asyncio.wait_for(ws.receive(), 5)
                after += msg.type == aiohttp.WSMsgType.TEXT
            return silent, after, ws.closed

    frames_during, frames_after, closed = run_async(scenario)
    assert frames_during == 0 and frames_after == 5 and not closed


def test_trading_stream_auth_forms(fresh_sim: Simulator) -> None:
    async def scenario() -> list[Any]:
        key, secret = fresh_sim.credentials("live")
        out = []
        async with aiohttp.ClientSession() as http, http.ws_connect(fresh_sim.trading_stream_url) as ws:
            await ws.send_json({"action": "listen", "data": {"streams": ["trade_updates"]}})
            out.append(json.loads((await ws.receive()).data))
            await ws.send_json({"action": "auth", "key": key, "secret": secret})
            out.append(json.loads((await ws.receive()).data))
            await ws.send_json({"action": "listen", "data": {"streams": ["trade_updates"]}})
            out.append(json.loads((await ws.receive()).data))
        return out

    frames = run_async(scenario)
    assert frames[0]["data"] == {"status": "unauthorized", "action": "listen"}
    assert frames[1] == {"stream": "authorization", "data": {"status": "authorized", "action": "auth"}}
    assert frames[2] == {"stream": "listening", "data": {"streams": ["trade_updates"]}}


def test_live_updates_go_only_to_live_listeners(fresh_sim: Simulator) -> None:
    paper_key, paper_secret = fresh_sim.credentials("paper")
    events: list[Any] = []
    stream = TradingStream(paper_key, paper_secret, url_override=fresh_sim.trading_stream_url)

    async def on_update(update: Any) -> None:
        events.append(update)

    stream.subscribe_trade_updates(on_update)
    live = TradingClient(*fresh_sim.credentials("live"), url_override=fresh_sim.base_url)
    with running(stream):
        assert wait_until(lambda: _listening(fresh_sim), timeout=10)
        live.submit_order(MarketOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="day"))
        time.sleep(1.0)
    assert events == []
