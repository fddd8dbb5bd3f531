"""notebooks/03_live_charts.ipynb in JupyterLab: charts render, points grow, a drop shows reconnecting → live."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import error_outputs, open_notebook, run_all_cells, screenshot, wait_until_idle

POINTS = "() => { const p = document.querySelector('.anb-chart-plot'); return p && p.__anbChart ? p.__anbChart.series[0].bid.n : 0; }"


INKED = """() => { const c = document.querySelector('.anb-chart-lines');
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i]) n++; return n; }"""


def _execute(page: Any, code: str) -> None:
    page.evaluate(
        "(code) => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.requestExecute({code})",
        code,
    )


def test_live_chart_renders_grows_and_survives_a_drop(browser: Any, jupyter_lab: str) -> None:
    page = open_notebook(browser, jupyter_lab, "03_live_charts.ipynb")
    run_all_cells(page)
    wait_until_idle(page)
    page.locator(".anb-chart .js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
    page.wait_for_function("() => [...document.querySelectorAll('.anb-badge')].every(b => b.textContent === 'live')",
                           timeout=30_000)  # fmt: skip
    page.wait_for_function(f"() => ({POINTS})() > 10", timeout=30_000)
    first = page.evaluate(POINTS)
    page.wait_for_function(f"() => ({POINTS})() > {first}", timeout=30_000)  # points keep arriving
    assert len(page.locator(".anb-chart").all()) == 2
    assert page.evaluate(INKED) > 500  # the lines are on the canvas, not only in the series
    page.evaluate(
        """() => { window.__badges = []; const b = document.querySelector('.anb-badge');
        new MutationObserver(() => window.__badges.push(b.textContent)).observe(b, {childList: true, characterData: true, subtree: true}); }"""
    )
    _execute(page, "import alpaca_nb as anb; anb.current_session().simulator.faults.drop_streams()")
    page.wait_for_function("() => window.__badges.includes('reconnecting')", timeout=30_000)
    page.wait_for_function("() => window.__badges.lastIndexOf('live') > window.__badges.indexOf('reconnecting')",
                           timeout=30_000)  # fmt: skip
    after = page.evaluate(POINTS)
    page.wait_for_function(f"() => ({POINTS})() > {after}", timeout=30_000)
    assert error_outputs(page) == []
    screenshot(page, "03_live_charts.png")


RANGE = "() => { const p = document.querySelector('.anb-chart-plot'); return p.layout.xaxis.range.map(v => new Date(v).getTime()); }"


def test_a_zoom_holds_while_data_streams_until_a_double_click(browser: Any, jupyter_lab: str) -> None:
    """bad0d12 set the x-range on every frame: a user could not zoom or pan a live chart."""
    page = open_notebook(browser, jupyter_lab, "03_live_charts.ipynb")
    run_all_cells(page)
    wait_until_idle(page)
    page.wait_for_function(f"() => ({POINTS})() > 10", timeout=60_000)
    drag = page.locator(".anb-chart .js-plotly-plot .nsewdrag").first
    box = drag.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)  # a zoom box over the middle of the window
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    page.mouse.up()
    page.wait_for_timeout(500)
    zoomed = page.evaluate(RANGE)
    before = page.evaluate(POINTS)
    page.wait_for_timeout(5000)
    assert page.evaluate(POINTS) > before  # data kept streaming in...
    assert page.evaluate(RANGE) == zoomed  # ...and the zoom held
    drag.dblclick(position={"x": box["width"] * 0.4, "y": box["height"] / 2})
    page.wait_for_timeout(1500)
    following = page.evaluate(RANGE)
    newest = page.evaluate(
        "() => document.querySelector('.anb-chart-plot').__anbChart.series[0].bid.newest()"
    )
    # back to the moving window, whose right edge runs ahead of the newest point by 5% of the window
    assert following != zoomed and 0 <= following[1] - newest <= 0.05 * 300_000 + 2000
    width = following[1] - following[0]
    assert abs(width - 300_000) < 1000  # the notebook's 5-minute window
