"""notebooks/03_live_charts.ipynb in JupyterLab: charts render, points grow, a drop shows reconnecting → live."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import error_outputs, open_notebook, run_all_cells, screenshot, wait_until_idle

POINTS = "() => { const p = document.querySelector('.anb-chart-plot'); return p && p.data ? p.data[0].x.length : 0; }"


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
