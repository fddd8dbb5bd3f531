"""notebooks/01_quickstart.ipynb in real JupyterLab: the one-screen tour runs in demo mode."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import error_outputs, open_notebook, run_all_cells, screenshot, wait_until_idle


def test_quickstart_connects_in_demo_mode(browser: Any, jupyter_lab: str) -> None:
    page = open_notebook(browser, jupyter_lab, "01_quickstart.ipynb")
    run_all_cells(page)
    page.locator(".jp-OutputArea-output", has_text="alpaca_nb: demo mode").first.wait_for(timeout=120_000)
    wait_until_idle(page)
    page.locator(".anb-account-card").first.wait_for(timeout=30_000)  # the account card
    page.locator(".anb-chart .js-plotly-plot").first.wait_for(timeout=60_000)  # the live chart
    page.locator(".jp-OutputArea-output", has_text="buy 1 AAPL market (paper)").first.wait_for(timeout=30_000)
    page.locator(
        ".jp-OutputArea-output", has_text="orders go to  the simulator's paper account"
    ).first.wait_for(timeout=30_000)
    assert error_outputs(page) == []
    shot = screenshot(page, "01_quickstart.png")
    assert shot.stat().st_size > 10_000
