"""BarChart without a browser: what it sends, the live last candle, and the replace a dragged order line
proposes — driven by the comm messages its front end sends (crafted ones included)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from alpaca_nb.widgets import BarChart
from alpaca_nb.widgets.bar_chart import _bucketer
from tests import front_end
from tests.conftest import wait_until


@pytest.fixture
def world() -> Iterator[tuple[Simulator, Session]]:
    with Simulator(seed=31, hours="always", rate_limit=None, tick_interval=0.05) as sim:
        yield sim, anb.connect("demo", simulator=sim, rate_limit=None, quiet=True, allow_live=True)
        close_current()


class Sent:
    def __init__(self, chart: BarChart) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes]]] = []
        original = chart.send
        chart.send = lambda content, buffers=None: (self.messages.append((content, buffers or [])),  # type: ignore[method-assign]
                                                    original(content, buffers))  # fmt: skip

    def last(self, kind: str) -> tuple[dict[str, Any], list[bytes]]:
        return next(m for m in reversed(self.messages) if m[0].get("type") == kind)


def _columns(message: dict[str, Any], buffers: list[bytes], name: str, width: int) -> np.ndarray:
    index, n = message[name]
    return np.frombuffer(buffers[index], dtype=np.float64).reshape(width, n)


def _fill(s: Session, symbol: str, qty: int, side: str) -> None:
    order = s.submit_order(symbol, qty=qty, side=side)
    assert wait_until(lambda: s.get_order(str(order.id)).status.value == "filled", 10)


def _patches(sim: Simulator, account: str = "paper") -> int:
    return sum(1 for r in sim.requests if r.method == "PATCH" and r.path.startswith("/v2/orders/")
               and r.account == account)  # fmt: skip


def test_snapshot_fills_and_a_small_live_frame(world: tuple[Simulator, Session]) -> None:
    sim, s = world
    sim.set_price("AAPL", 100)
    _fill(s, "AAPL", 10, "buy")
    chart = BarChart("AAPL", "1Day", session=s)
    sent = Sent(chart)
    front_end.send(chart, {"type": "ready"})
    reset, buffers = sent.last("reset")
    candles = _columns(reset, buffers, "candles", 6)
    assert candles.shape[1] >= 250  # a year of daily bars
    assert (np.diff(candles[0]) > 0).all()
    fills = _columns(reset, buffers, "fills", 4)
    assert fills[:, 0].tolist()[1:] == [100.01, 1.0, 10.0]  # price, buy, qty
    sim.set_price("AAPL", 104)
    _fill(s, "AAPL", 3, "sell")
    assert wait_until(lambda: any(m[0]["type"] == "extend" for m in sent.messages), 5)
    extend, buffers = sent.last("extend")
    size = sum(len(b) for b in buffers)
    assert _columns(extend, buffers, "fills", 4)[:, -1].tolist()[1:] == [103.99, -1.0, 3.0]
    assert size <= 2048  # a live frame: the new fill only
    picture = chart.static_svg()
    assert picture.startswith("<svg") and picture.count("<polygon") == 2  # the buy and the sell
    chart.close()


def test_minute_bars_fold_into_the_last_candle(world: tuple[Simulator, Session]) -> None:
    _, s = world
    chart = BarChart("MSFT", "5Min", start=pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=2), session=s)
    sent = Sent(chart)
    hub = s.stream
    assert wait_until(lambda: hub.state.value == "connected", 10)
    bucket = _bucketer("5Min")
    now = pd.Timestamp.now(tz="UTC").floor("min") + pd.Timedelta(minutes=1)
    frames = [{"T": "b", "S": "MSFT", "t": int((now + pd.Timedelta(minutes=k)).value), "o": 10.0 + k,
               "h": 20.0 + k, "l": 5.0 - k, "c": 11.0 + k, "v": 100, "n": 3, "vw": 10.5}
              for k in range(3)]  # fmt: skip
    hub._ingest_frame(frames)  # as the socket would hand them over
    assert wait_until(lambda: any(m[0]["type"] == "extend" for m in sent.messages), 5)
    candles = [list(c) for c in chart._candles if c[0] >= bucket(frames[0]["t"])]
    by_bucket: dict[int, list[dict[str, Any]]] = {}
    for f in frames:
        by_bucket.setdefault(bucket(f["t"]), []).append(f)
    for candle in candles:
        bars = by_bucket[int(candle[0])]
        assert candle[2] >= max(b["h"] for b in bars) and candle[3] <= min(b["l"] for b in bars)
        assert candle[4] == bars[-1]["c"]
    assert all(int(t) % (5 * 60 * 10**9) == 0 for t, *_ in chart._candles[-2:])  # aligned on 5 minutes
    chart.close()


def test_a_dragged_line_proposes_and_one_confirm_replaces_once(world: tuple[Simulator, Session]) -> None:
    sim, s = world
    sim.set_price("KO", 60)
    order = s.submit_order("KO", qty=5, side="buy", type="limit", limit_price=55, time_in_force="gtc")
    chart = BarChart("KO", "1Day", session=s)
    assert [o["id"] for o in chart.orders] == [str(order.id)]
    before = _patches(sim)
    for crafted in (
        {"type": "drag", "id": "not-an-order", "field": "limit_price", "price": 50},
        {"type": "drag", "id": str(order.id), "field": "qty", "price": 50},
        {"type": "drag", "id": str(order.id), "field": "stop_price", "price": 50},  # it has no stop line
        {"type": "drag", "id": str(order.id), "field": "limit_price", "price": math.nan},
        {"type": "drag", "id": str(order.id), "field": "limit_price", "price": -3},
        {"type": "drag", "id": str(order.id), "field": "limit_price", "price": True},
        {"type": "drag", "id": str(order.id), "field": "limit_price", "price": "54"},
        {"type": "confirm", "token": "made-up"},
        {"type": "confirm"},
    ):
        front_end.send(chart, crafted)
        assert chart.proposal == {} and chart.message.startswith("refused"), crafted
    front_end.send(chart, {"type": "drag", "id": str(order.id), "field": "limit_price", "price": 54.126})
    assert chart.proposal["text"] == "Replace BUY 5 KO limit 55.00 → 54.13?" and not chart.proposal["live"]
    token = chart.proposal["token"]
    front_end.send(chart, {"type": "drag", "id": str(order.id), "field": "limit_price", "price": 53.5})
    front_end.send(chart, {"type": "confirm", "token": token})  # the first proposal's token: stale
    assert chart.message.startswith("refused") and _patches(sim) == before
    front_end.send(chart, {"type": "drag", "id": str(order.id), "field": "limit_price", "price": 53.5})
    token = chart.proposal["token"]
    front_end.send(chart, {"type": "confirm", "token": token})
    front_end.send(chart, {"type": "confirm", "token": token})  # a double click
    assert _patches(sim) == before + 1
    open_orders = s.orders("open", symbols=["KO"])
    assert len(open_orders) == 1 and open_orders.limit_price.iloc[0] == 53.5
    assert [o["limit_price"] for o in chart.orders] == [53.5]
    state = chart.get_state()
    front_end.write(chart, orders=[], proposal={"token": "x", "text": "y"})  # the browser may write nothing
    assert chart.get_state()["orders"] == state["orders"] and chart.proposal == {}
    chart.close()


def test_live_orders_need_the_unlock_and_show_a_live_proposal(world: tuple[Simulator, Session]) -> None:
    sim, s = world
    sim.set_price("KO", 60)
    live = s.submit_order(
        "KO", qty=2, side="buy", type="limit", limit_price=50, time_in_force="gtc", account="live"
    )
    chart = BarChart("KO", "1Day", session=s, account="live")
    front_end.send(chart, {"type": "drag", "id": str(live.id), "field": "limit_price", "price": 49})
    assert chart.proposal["live"] and "LIVE" in chart.proposal["text"]
    front_end.send(chart, {"type": "confirm", "token": chart.proposal["token"]})
    assert _patches(sim, "live") == 1 and _patches(sim, "paper") == 0
    chart.close()
    locked = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
    with pytest.raises(errors.LiveTradingLockedError):
        BarChart("KO", "1Day", session=locked, account="live")


def test_plot_magic(world: tuple[Simulator, Session]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    chart = ip.run_line_magic("alpaca", "plot SPY 1Day --start 2024-01-02 --end 2024-03-01")
    expected = world[1].bars("SPY", "1Day", "2024-01-02", "2024-03-01")
    assert (
        isinstance(chart, BarChart) and chart.title == "SPY · 1Day" and len(chart._candles) == len(expected)
    )
    chart.close()
