"""The simulator's crypto stream (/v1beta3/crypto/us): alpaca-py's unmodified CryptoDataStream, and the
raw protocol — acknowledgements, JSON and msgpack, auth, order-book snapshots and increments, faults,
and the benchmark replay."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import aiohttp
import msgpack
import requests
from alpaca.data.live import CryptoDataStream

from alpaca_nb.sim import Simulator
from tests.conftest import run_async, running, wait_until

CRYPTO_CHANNELS = {"trades", "quotes", "orderbooks", "bars", "updatedBars", "dailyBars"}


def _near_minute_end(seconds_left: float = 3.0, **kwargs: Any) -> Simulator:
    """A simulator (stock hours: calendar) whose current minute ends in ``seconds_left``."""
    now = time.time_ns()
    offset = (60 * 10**9 - now % (60 * 10**9)) - int(seconds_left * 1e9)
    return Simulator(
        seed=9, hours="calendar", rate_limit=None, clock=lambda: time.time_ns() + offset, **kwargs
    )


def test_crypto_data_stream_delivers_quotes_trades_bars_and_books() -> None:
    got: Counter[tuple[str, str]] = Counter()
    quotes: list[Any] = []
    bars: list[Any] = []
    books: list[Any] = []
    with _near_minute_end() as sim:
        key, secret = sim.credentials()
        stream = CryptoDataStream(key, secret, url_override=sim.crypto_stream_url)

        # Handlers only collect (alpaca-py swallows what they raise); the checks run below.
        async def on_quote(q: Any) -> None:
            quotes.append(q)
            got["q", q.symbol] += 1

        async def on_trade(t: Any) -> None:
            got["t", t.symbol] += 1

        async def on_bar(b: Any) -> None:
            bars.append(b)
            got["b", b.symbol] += 1

        async def on_daily(b: Any) -> None:
            got["d", b.symbol] += 1

        async def on_book(b: Any) -> None:
            books.append(b)
            got["o", b.symbol] += 1

        stream.subscribe_quotes(on_quote, "BTC/USD", "ETH/USD")
        stream.subscribe_trades(on_trade, "BTC/USD")
        stream.subscribe_bars(on_bar, "BTC/USD")
        stream.subscribe_daily_bars(on_daily, "BTC/USD")
        stream.subscribe_orderbooks(on_book, "ETH/USD")
        with running(stream):
            # (45 s: trades are random, and a busy CI machine once missed 15 s; say which was missing)
            assert wait_until(lambda: got["q", "BTC/USD"] >= 3 and got["q", "ETH/USD"] >= 3, timeout=45), got
            assert wait_until(lambda: got["t", "BTC/USD"] >= 1 and got["o", "ETH/USD"] >= 5, timeout=45), got
            assert wait_until(lambda: got["b", "BTC/USD"] >= 1 and got["d", "BTC/USD"] >= 1, timeout=45), got
    assert all(0 < q.bid_price < q.ask_price for q in quotes)
    bar = bars[0]
    assert bar.low <= bar.open <= bar.high and bar.vwap > 0 and isinstance(bar.volume, float)
    assert books[0].reset and len(books[0].bids) == len(books[0].asks) == 50
    assert not any(b.reset for b in books[1:])  # then increments only


async def _connect(session: aiohttp.ClientSession, sim: Simulator, binary: bool) -> Any:
    headers = {"Content-Type": "application/msgpack"} if binary else {}
    ws = await session.ws_connect(sim.crypto_stream_url, headers=headers)
    await _recv(ws)  # connected
    return ws


async def _send(ws: Any, payload: dict[str, Any], binary: bool) -> None:
    if binary:
        await ws.send_bytes(msgpack.packb(payload))
    else:
        await ws.send_str(json.dumps(payload))


async def _recv(ws: Any, timeout: float = 5) -> list[dict[str, Any]]:
    msg = await ws.receive(timeout)
    if msg.type == aiohttp.WSMsgType.BINARY:
        return msgpack.unpackb(msg.data, timestamp=3)  # type: ignore[no-any-return]
    if msg.type == aiohttp.WSMsgType.TEXT:
        return json.loads(msg.data)  # type: ignore[no-any-return]
    raise ConnectionError(f"stream closed: {msg.type}")


def _apply(book: dict[str, dict[float, float]], msg: dict[str, Any]) -> None:
    if msg.get("r"):
        book["b"], book["a"] = {}, {}
    for side in ("b", "a"):
        for level in msg[side]:
            if level["s"] == 0:
                del book[side][level["p"]]
            else:
                book[side][level["p"]] = level["s"]


def test_raw_protocol_ack_auth_json_and_books_rebuilt_from_increments() -> None:
    with Simulator(seed=4, hours="calendar", rate_limit=None, stream_connection_limit=None) as sim:
        key, secret = sim.credentials("live")  # the live account's keys work on data streams too

        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            async with aiohttp.ClientSession() as session:
                ws = await _connect(session, sim, binary=False)
                await _send(ws, {"action": "subscribe", "quotes": ["BTC/USD"]}, False)
                out["unauthenticated"] = await _recv(ws)
                await _send(ws, {"action": "auth", "key": key, "secret": secret}, False)
                out["auth"] = await _recv(ws)
                await _send(
                    ws, {"action": "subscribe", "orderbooks": ["SOL/USD"], "bars": ["BTC/USD"]}, False
                )
                out["ack"] = await _recv(ws)
                book: dict[str, dict[float, float]] = {"b": {}, "a": {}}
                messages: list[dict[str, Any]] = []
                while len(messages) < 12:
                    for msg in await _recv(ws):
                        if msg["T"] == "o":
                            messages.append(msg)
                            _apply(book, msg)
                            assert max(book["b"]) < min(book["a"]), "crossed book"
                out["messages"], out["book"] = messages, book
                await ws.close()
            return out

        out = run_async(scenario)
        assert out["unauthenticated"] == [{"T": "error", "code": 401, "msg": "not authenticated"}]
        assert out["auth"] == [{"T": "success", "msg": "authenticated"}]
        (ack,) = out["ack"]
        assert ack.pop("T") == "subscription" and set(ack) == CRYPTO_CHANNELS
        assert ack["orderbooks"] == ["SOL/USD"] and ack["bars"] == ["BTC/USD"] and ack["trades"] == []
        messages = out["messages"]
        assert messages[0]["r"] is True and not any("r" in m for m in messages[1:])
        assert all("b" in m and "a" in m and m["S"] == "SOL/USD" for m in messages)  # both sides, always
        assert any(level["s"] == 0 for m in messages[1:] for level in m["b"] + m["a"])  # deletions happen
        last_t = messages[-1]["t"]
        expected = sim.call(lambda: sim.orderbooks.at("SOL/USD", _ns(last_t)))
        assert out["book"]["b"] == dict(expected.bids) and out["book"]["a"] == dict(expected.asks)
        assert len(out["book"]["b"]) == len(out["book"]["a"]) == 50
        # A fresh REST snapshot is the same book for the same tick.
        rest = requests.get(sim.base_url + "/v1beta3/crypto/us/latest/orderbooks?symbols=SOL/USD", timeout=5)
        snap = rest.json()["orderbooks"]["SOL/USD"]
        again = sim.call(lambda: sim.orderbooks.at("SOL/USD", _ns(snap["t"])))
        assert {lv["p"]: lv["s"] for lv in snap["b"]} == dict(again.bids)


def _ns(stamp: str) -> int:
    """RFC 3339 with nanoseconds → ns since the epoch."""
    import datetime as dt

    base, _, frac = stamp.rstrip("Z").partition(".")
    seconds = int(dt.datetime.fromisoformat(base).replace(tzinfo=dt.UTC).timestamp())
    return seconds * 10**9 + int((frac or "0").ljust(9, "0"))


def test_crypto_streams_obey_faults_and_keys() -> None:
    with Simulator(seed=4, rate_limit=None, stream_connection_limit=None) as sim:
        key, secret = sim.credentials()

        async def scenario() -> tuple[Any, ...]:
            async with aiohttp.ClientSession() as session:
                bad = await _connect(session, sim, binary=True)
                await _send(bad, {"action": "auth", "key": key, "secret": "wrong"}, True)
                refused = await _recv(bad)
                ws = await _connect(session, sim, binary=True)
                await _send(ws, {"action": "auth", "key": key, "secret": secret}, True)
                await _recv(ws)
                await _send(ws, {"action": "subscribe", "quotes": ["BTCUSD"]}, True)
                slashless = await _recv(ws)
                await _send(ws, {"action": "subscribe", "quotes": ["*"]}, True)
                await _recv(ws)
                first = await _recv(ws)
                sim.faults.silence_streams(1.0)
                await asyncio.sleep(0.3)
                while True:  # drain what was queued before the silence
                    try:
                        await _recv(ws, timeout=0.5)
                    except TimeoutError:
                        break
                sim.faults.drop_streams()
                closed = await ws.receive(5)
                return refused, slashless, first, closed.type

        refused, slashless, first, closed = run_async(scenario)
        assert refused == [{"T": "error", "code": 402, "msg": "auth failed"}]
        assert slashless == [{"T": "error", "code": 400, "msg": "invalid syntax"}]
        assert {m["S"] for m in first} <= set(sim.crypto_market.universe) and first[0]["T"] == "q"
        assert set(first[0]) == {"T", "S", "bp", "bs", "ap", "as", "t"}
        assert closed in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)


def test_replay_blasts_crypto_quotes_and_coherent_book_increments() -> None:
    with Simulator(seed=4, rate_limit=None, stream_connection_limit=None) as sim:
        key, secret = sim.credentials()

        async def scenario() -> tuple[int, int, dict[str, Any], int]:
            async with aiohttp.ClientSession() as session:
                ws = await _connect(session, sim, binary=True)
                await _send(ws, {"action": "auth", "key": key, "secret": secret}, True)
                await _recv(ws)
                await _send(ws, {"action": "subscribe", "quotes": ["ETH/USD"]}, True)
                await _recv(ws)
                loop = asyncio.get_running_loop()
                sent, _ = await loop.run_in_executor(None, lambda: sim.replay(500, symbols=["ETH/USD"]))
                quotes = 0
                while quotes < sent:
                    quotes += sum(m["T"] == "q" and m.get("bp", 0) > 0 for m in await _recv(ws))
                books: dict[str, Any] = {}
                replay = loop.run_in_executor(
                    None, lambda: sim.replay(2000, symbols=["BTC/USD", "ETH/USD"], channel="orderbooks")
                )
                seen = 0
                while seen < 2002:  # two resets, then 2000 increments
                    for m in await _recv(ws):
                        if m["T"] == "o":
                            book = books.setdefault(m["S"], {"b": {}, "a": {}})
                            _apply(book, m)
                            assert max(book["b"]) < min(book["a"])
                            seen += 1
                book_sent, _ = await replay
                await ws.close()
                return sent, quotes, books, book_sent

        sent, quotes, books, book_sent = run_async(scenario)
        assert sent == 500 and quotes >= 500 and book_sent == 2000
        assert all(len(b["b"]) == len(b["a"]) == 50 for b in books.values())
