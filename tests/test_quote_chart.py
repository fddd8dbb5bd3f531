"""QuoteChart without a browser: what it sends (captured at the comm), how often, and after drops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from alpaca_nb.widgets import QuoteChart
from alpaca_nb.widgets.quote_chart import parse_window, plotly_js
from tests import front_end
from tests.conftest import wait_until


@pytest.fixture
def session() -> Iterator[Session]:
    with Simulator(seed=9, hours="always", rate_limit=None) as sim:
        yield anb.connect("demo", simulator=sim, quiet=True)
        close_current()


class Recorder:
    """Wraps chart.send: decodes every frame into per-(symbol, channel) x series (ms)."""

    def __init__(self, chart: QuoteChart) -> None:
        self.frames: list[tuple[float, dict[str, Any], int]] = []
        self.x: dict[tuple[str, str], list[float]] = {}
        self._send = chart.send
        chart.send = self.send  # type: ignore[method-assign]

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        size = sum(len(b) for b in buffers or ())
        self.frames.append((time.monotonic(), content, size))
        if content.get("type") == "extend":
            for entry in content["series"]:
                for channel in ("quotes", "trades", "bars"):
                    ref = entry.get(channel)
                    if ref and buffers:
                        x = np.frombuffer(buffers[ref[0]], dtype=np.float64)[: ref[1]]
                        self.x.setdefault((entry["symbol"], channel), []).extend(x.tolist())
        self._send(content, buffers)


def test_frames_are_deltas_at_most_ten_a_second(session: Session) -> None:
    chart = QuoteChart(["AAPL", "MSFT", "SPY"], window="2min", session=session)
    rec = Recorder(chart)
    time.sleep(4)
    chart.close()
    extends = [f for f in rec.frames if f[1]["type"] == "extend"]
    assert len(extends) >= 5
    stamps = [f[0] for f in extends]
    per_second = max(sum(1 for t in stamps if s <= t < s + 1) for s in stamps)
    assert per_second <= 11  # max_rate 10/s (+1 for timer jitter)
    assert all(f[2] < 2000 for f in extends[1:])  # small deltas (the first carries the seeded window)
    for series in rec.x.values():
        assert all(b > a for a, b in pairwise(series))


def test_snapshot_for_a_new_view_and_plotly_once(session: Session) -> None:
    chart = QuoteChart("AAPL", window="1min", session=session)
    rec = Recorder(chart)
    assert wait_until(lambda: chart.stats["points"] > 0, 5)
    front_end.send(chart, {"type": "ready"})
    reset = next(f for f in rec.frames if f[1]["type"] == "reset")
    assert reset[1]["series"][0]["symbol"] == "AAPL" and reset[1]["series"][0]["quotes"][1] > 0
    front_end.send(chart, {"type": "need-plotly"})
    plotly = [f for f in rec.frames if f[1]["type"] == "plotly"]
    assert len(plotly) == 1 and plotly[0][2] == len(plotly_js()) > 1_000_000
    state = chart.get_state()  # what Jupyter saves into a notebook: our small ESM, no plotly.js, no series
    assert sum(len(str(v)) for v in state.values()) < 40_000  # our ESM and CSS (~23 KB), nothing big
    chart.close()


def test_close_unsubscribes_and_stops_sending(session: Session) -> None:
    chart = QuoteChart(["AAPL", "KO"], session=session)
    rec = Recorder(chart)
    assert session.stream.subscriptions()["quotes"] == ["AAPL", "KO"]
    assert wait_until(lambda: len(rec.frames) >= 2, 5)  # it was sending
    chart.close()
    chart.close()
    assert session.stream.subscriptions()["quotes"] == []
    sent = len(rec.frames)
    time.sleep(0.5)
    assert len(rec.frames) == sent  # nothing more after close
    session.close()  # the hub's threads end with the session, joined
    alive = [t.name for t in threading.enumerate() if t.name in ("alpaca-nb-stream", "alpaca-nb-pump")]
    assert alive == []


def test_bad_arguments() -> None:
    assert parse_window("5min") == 300 and parse_window(90) == 90
    for bad in ("forever", 1, "2D"):
        with pytest.raises(errors.ValidationError):
            parse_window(bad)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_minute_of_drops_every_five_seconds() -> None:
    """Drops every 5 s for 60 s: ≥ 10 reconnects, strictly increasing series, the gaps backfilled."""
    with Simulator(seed=4, hours="always", rate_limit=None) as sim:
        session = anb.connect("demo", simulator=sim, quiet=True)
        chart = QuoteChart(["AAPL", "SPY"], window="5min", session=session, bars=True)
        rec = Recorder(chart)
        assert wait_until(lambda: session.stream.state.value == "connected", 10)
        start_ns = time.time_ns()
        sim.faults.drop_streams_every(5)
        time.sleep(60)
        sim.faults.drop_streams_every(None)
        assert wait_until(lambda: session.stream.state.value == "connected", 15)
        time.sleep(1.0)
        end_ns = time.time_ns() - 1_500_000_000  # what the chart must hold by now
        reconnects = session.stream.stats()["reconnects"]
        chart.close()
        # Every quote the market made in [start, end] must be in the chart, once, in order.
        missing = 0
        for symbol in ("AAPL", "SPY"):
            series = rec.x[(symbol, "quotes")]
            assert all(b > a for a, b in pairwise(series)), "duplicate or out of order"
            expected = _rest_quote_ms(session, symbol, start_ns, end_ns)
            have = {round(x, 3) for x in series}
            missing += sum(1 for x in expected if round(x, 3) not in have)
            bars = rec.x[(symbol, "bars")]
            assert all(b > a for a, b in pairwise(bars))
            expected_bars = _rest_bar_ms(session, symbol, start_ns, end_ns)
            assert set(expected_bars) <= set(bars), "a minute bar from the gap is missing"
        print(
            f"\nreconnects survived: {reconnects}; frames: {len(rec.frames)}; "
            f"points backfilled from REST: {chart.stats['backfilled']}; quotes missing: {missing}"
        )
        assert reconnects >= 10
        assert missing == 0
        session.close()


def _rest_quote_ms(session: Session, symbol: str, start_ns: int, end_ns: int) -> list[float]:
    import orjson

    from alpaca_nb.data import parse_timestamps

    params = {"symbols": symbol, "start": f"{start_ns / 1e9:.9f}", "limit": 10_000}
    import pandas as pd

    params["start"] = pd.Timestamp(start_ns, unit="ns", tz="UTC").isoformat()
    params["end"] = pd.Timestamp(end_ns, unit="ns", tz="UTC").isoformat()
    rows = orjson.loads(session.market_data.get_raw("/stocks/quotes", params))["quotes"].get(symbol, [])
    return (parse_timestamps([r["t"] for r in rows]) / 1e6).tolist()


def _rest_bar_ms(session: Session, symbol: str, start_ns: int, end_ns: int) -> list[float]:
    """Minute bars that began after ``start_ns`` and were complete by ``end_ns``."""
    last_start = end_ns - 60_000_000_000
    if last_start <= start_ns:
        return []
    frame = session.bars(symbol, "1Min", start=_ts(start_ns), end=_ts(last_start))
    return (frame.index.as_unit("ns").asi8 / 1e6).tolist() if len(frame) else []


def _ts(ns: int) -> Any:
    import pandas as pd

    return pd.Timestamp(ns, unit="ns", tz="UTC")


def test_export_without_a_kernel_shows_a_picture(tmp_path: Any) -> None:
    """nbconvert --to html of an executed notebook: the chart is an SVG, not 'Error displaying widget'."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext alpaca_nb\n%alpaca connect demo --seed 3"),
        nbformat.v4.new_code_cell(
            "import alpaca_nb as anb\nchart = anb.QuoteChart(['AAPL', 'MSFT'], window='2min')\nchart"
        ),
        nbformat.v4.new_code_cell("import time; time.sleep(2); chart.close()"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False).execute()
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "Error displaying widget" not in html
    assert html.count("<polyline") >= 4  # bid and ask for two symbols
    outputs = nb.cells[1].outputs
    assert outputs and "application/vnd.jupyter.widget-view+json" not in outputs[0].get(
        "data", {}
    )  # closed → picture


def test_chart_magic(session: Session) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    chart = ip.run_line_magic("alpaca", "chart AAPL,MSFT --window 2min --trades")
    assert isinstance(chart, QuoteChart) and chart.symbols == ["AAPL", "MSFT"] and chart.window_s == 120
    assert chart.show_trades and session.stream.subscriptions()["trades"] == ["AAPL", "MSFT"]
    chart.close()


def test_your_fills_and_open_orders_are_on_the_chart(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    sim.set_price("KO", 60)
    order = session.submit_order("KO", qty=3, side="buy", type="limit", limit_price=55, time_in_force="gtc")
    chart = QuoteChart(["KO", "AAPL"], window="5min", session=session)
    assert [(o["id"], o["limit_price"]) for o in chart.orders] == [(str(order.id), 55.0)]
    rec = Recorder(chart)
    front_end.send(chart, {"type": "ready"})
    assert next(f for f in rec.frames if f[1]["type"] == "reset")[1]["fills"] == []
    start = time.monotonic()
    session.submit_order("KO", qty=2, side="sell")  # fills at 59.99
    assert wait_until(lambda: any(f[1].get("fills") for f in rec.frames if f[1]["type"] == "extend"), 5)
    took = time.monotonic() - start
    fill = next(f for f in rec.frames if f[1].get("fills"))[1]["fills"][0]
    assert fill[1:] == ["KO", 59.99, -1.0, 2.0] and took < 1.0
    session.cancel_order(str(order.id))
    assert wait_until(lambda: chart.orders == [], 5)  # the line goes with the order
    front_end.send(chart, {"type": "ready"})  # a new view gets the fill in its snapshot
    assert [f[1:] for f in next(f for f in reversed(rec.frames) if f[1]["type"] == "reset")[1]["fills"]] == [
        ["KO", 59.99, -1.0, 2.0]
    ]
    chart.close()
