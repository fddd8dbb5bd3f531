"""notebooks/09_review.ipynb in JupyterLab: the BarChart draws your fills and orders, a new fill shows as
a marker and a blotter row within a second, dragging an order line and confirming replaces it once; and
a year of daily bars with 500 fills renders within a second (measured in the page)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import nbformat

from tests.e2e.conftest import error_outputs, open_notebook, run_all_cells, screenshot, wait_until_idle

CHART = "document.querySelector('.anb-bar-chart .anb-chart-plot').__anbChart"
KERNEL_PRINT = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code}); let out = "";
  future.onIOPub = (msg) => { if (msg.header.msg_type === "stream") out += msg.content.text; };
  await future.done; return out.trim(); }"""


def _kernel(page: Any, code: str) -> str:
    return str(page.evaluate(KERNEL_PRINT, code))


def test_fills_orders_and_a_dragged_replace_on_the_bar_chart(browser: Any, jupyter_lab: str) -> None:
    page = open_notebook(browser, jupyter_lab, "09_review.ipynb")
    run_all_cells(page)
    wait_until_idle(page)
    page.locator(".anb-bar-chart .js-plotly-plot").first.wait_for(timeout=60_000)
    page.wait_for_function(f"() => {CHART} && {CHART}.candles.t.length > 200", timeout=30_000)
    before = page.evaluate(f"() => {CHART}.fills.t.length")
    assert before >= 2  # the scripted day's AAPL buy and sell
    assert page.evaluate(f"() => {CHART}.lines.length") == 1  # the resting limit order
    rows = page.locator(".anb-account-view tr.anb-fill").count()

    start = time.monotonic()
    _kernel(page, "s.submit_order('AAPL', qty=1, side='buy')")
    page.wait_for_function(f"(n) => {CHART}.fills.t.length > n", arg=before, timeout=5_000)
    marker_s = time.monotonic() - start
    page.wait_for_function(
        "(n) => document.querySelectorAll('.anb-account-view tr.anb-fill').length > n",
        arg=rows,
        timeout=5_000,
    )
    blotter_s = time.monotonic() - start
    print(f"\nfill → chart marker {marker_s:.2f} s, → blotter row {blotter_s:.2f} s")
    assert marker_s < 1.0 and blotter_s < 1.0

    # The chart redraws as orders and candles change, replacing the line's element: scroll the (stable)
    # chart into view and read where the line is now, in the page, rather than holding an element handle.
    page.locator(".anb-bar-chart .anb-chart-plot").first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = page.evaluate(
        "() => { const r = document.querySelector('.anb-bar-chart .shapelayer path').getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; }"
    )
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y - 30, steps=8)
    page.mouse.up()
    proposal = page.locator(".anb-proposal")
    proposal.wait_for(state="visible", timeout=5_000)
    assert proposal.inner_text().startswith("Replace BUY 5 AAPL limit 100.00 →")
    patches = "print(sum(1 for r in s.simulator.requests if r.method == 'PATCH'))"
    assert _kernel(page, patches) == "0"
    proposal.locator("button.anb-confirm").dblclick()  # a double click: still one replace
    page.locator(".anb-bar-chart .anb-message", has_text="replaced").wait_for(timeout=10_000)
    assert _kernel(page, patches) == "1"
    new_price = float(_kernel(page, "print(s.orders('open', symbols=['AAPL']).limit_price.iloc[0])"))
    assert new_price > 100.0
    assert error_outputs(page) == []
    page.locator(".anb-bar-chart").first.scroll_into_view_if_needed()
    screenshot(page, "09_review.png")


def test_a_year_of_daily_bars_and_500_fills_render_within_a_second(browser: Any, jupyter_lab: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import alpaca_nb as anb, time\n"
            "sim = anb.Simulator(seed=5, hours='always', rate_limit=None, tick_interval=0.05).start()\n"
            "s = anb.connect('demo', simulator=sim, quiet=True, rate_limit=None)\n"
            "ids = [s.submit_order('SPY', qty=1, side='buy' if i % 2 else 'sell').id for i in range(500)]\n"
            "while len(s.fills('SPY')) < 500: time.sleep(0.2)"
        ),
        nbformat.v4.new_code_cell("chart = anb.BarChart('SPY', '1Day', session=s)\nchart"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    body = json.dumps({"type": "notebook", "format": "json", "content": nb}).encode()
    request = urllib.request.Request(f"{jupyter_lab}api/contents/bar_chart_load.ipynb", data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(request, timeout=30)
    page = open_notebook(browser, jupyter_lab, "bar_chart_load.ipynb")
    run_all_cells(page)
    wait_until_idle(page, timeout_ms=240_000)
    page.wait_for_function(f"() => {CHART} && {CHART}.lastDrawMs !== undefined", timeout=60_000)
    shown = page.evaluate(f"() => [{CHART}.candles.t.length, {CHART}.fills.t.length, {CHART}.firstDrawMs]")
    print(f"\n{shown[0]} daily bars and {shown[1]} fills: first render {shown[2]:.0f} ms in the page")
    assert shown[0] >= 250 and shown[1] == 500
    assert shown[2] <= 1000
