"""The simulator's option stream (/v1beta1/indicative, /v1beta1/opra): alpaca-py's unmodified
OptionDataStream, msgpack only (JSON refused with 412), no star on quotes (413), and the benchmark
replay of option quotes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import msgpack
from alpaca.data.live.option import OptionDataStream

from alpaca_nb.sim import Simulator
from tests.conftest import run_async, running, wait_until


def _contracts(sim: Simulator, n: int) -> list[str]:
    symbols = sim.option_contracts("AAPL")
    middle = len(symbols) // 2
    return symbols[middle : middle + n]


def test_option_data_stream_delivers_quotes_priced_from_the_underlying() -> None:
    quotes: list[Any] = []
    with Simulator(seed=4, hours="always", rate_limit=None, tick_interval=0.05) as sim:
        key, secret = sim.credentials()
        symbols = _contracts(sim, 2)
        stream = OptionDataStream(key, secret, url_override=sim.option_stream_url)

        async def on_quote(q: Any) -> None:  # collects only: alpaca-py swallows what handlers raise
            quotes.append(q)

        stream.subscribe_quotes(on_quote, *symbols)
        with running(stream):
            assert wait_until(lambda: {q.symbol for q in quotes} == set(symbols), timeout=15)
    assert all(0 <= q.bid_price < q.ask_price and q.bid_size > 0 for q in quotes)
    assert all(isinstance(q.conditions, str) for q in quotes)


def test_json_refused_star_refused_and_replay_blasts_msgpack_quotes() -> None:
    with Simulator(seed=4, hours="always", rate_limit=None, tick_interval=0.05) as sim:
        key, secret = sim.credentials()
        symbols = _contracts(sim, 4)

        async def session() -> dict[str, Any]:
            out: dict[str, Any] = {}
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(sim.option_stream_url) as ws:  # no msgpack header: JSON
                    out["json"] = await ws.receive_json(timeout=5)
                headers = {"Content-Type": "application/msgpack"}
                async with http.ws_connect(
                    sim.option_stream_url.replace("indicative", "opra"), headers=headers
                ) as ws:

                    async def receive() -> list[dict[str, Any]]:
                        return msgpack.unpackb((await ws.receive(timeout=5)).data, timestamp=3)  # type: ignore[no-any-return]

                    assert (await receive())[0]["msg"] == "connected"
                    await ws.send_bytes(msgpack.packb({"action": "auth", "key": key, "secret": secret}))
                    assert (await receive())[0]["msg"] == "authenticated"
                    await ws.send_bytes(msgpack.packb({"action": "subscribe", "quotes": ["*"]}))
                    out["star"] = (await receive())[0]
                    await ws.send_bytes(msgpack.packb({"action": "subscribe", "quotes": symbols}))
                    while (ack := await receive())[0]["T"] != "subscription":
                        pass
                    out["ack"] = ack[0]
                    loop = asyncio.get_running_loop()
                    blast = loop.run_in_executor(None, lambda: sim.replay(20_000, batch=10, symbols=symbols))
                    got, started = 0, time.perf_counter()
                    while got < 20_000 and time.perf_counter() - started < 30:
                        frame = msgpack.unpackb((await ws.receive(timeout=10)).data, timestamp=3)
                        got += sum(1 for m in frame if m.get("T") == "q" and m["S"] in symbols)
                    out["sent"], out["seconds"] = await blast
                    out["got"] = got
            return out

        out = run_async(session)
    assert out["json"] == [
        {"T": "error", "code": 412, "msg": "option messages are only available in MsgPack format"}
    ]
    assert out["star"] == {
        "T": "error",
        "code": 413,
        "msg": "star subscription is not allowed for option quotes",
    }
    assert out["ack"]["quotes"] == sorted(symbols) and out["ack"]["trades"] == []
    rate = out["sent"] / out["seconds"]
    print(
        f"replayed {out['sent']} option quotes in {out['seconds']:.3f} s ({rate:,.0f}/s);"
        f" received {out['got']}"
    )
    assert out["sent"] == 20_000 and out["got"] >= 20_000
