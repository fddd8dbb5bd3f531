"""notebooks/04_account.ipynb in JupyterLab: card and tables render; a fill adds a position; cancel works."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import error_outputs, open_notebook, run_all_cells, screenshot, wait_until_idle


def test_account_view_renders_and_follows_fills(browser: Any, jupyter_lab: str) -> None:
    page = open_notebook(browser, jupyter_lab, "04_account.ipynb")
    run_all_cells(page)
    wait_until_idle(page)
    view = page.locator(".anb-account-view")
    view.locator(".anb-card .anb-mode[data-mode='demo']").wait_for(timeout=60_000)
    view.locator(".anb-position[data-symbol='AAPL']").wait_for(timeout=30_000)
    view.locator(".anb-position[data-symbol='SPY']").wait_for(timeout=30_000)
    view.locator(".anb-order").first.wait_for(timeout=30_000)  # the resting MSFT limit order
    page.evaluate(
        "(code) => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.requestExecute({code})",
        "s.submit_order('NFLX', qty=1)",
    )
    view.locator(".anb-position[data-symbol='NFLX']").wait_for(timeout=10_000)
    view.locator(".anb-order .anb-cancel").first.click()
    page.wait_for_function(
        "() => document.querySelectorAll('.anb-account-view .anb-order').length === 0", timeout=10_000
    )
    assert error_outputs(page) == []
    view.scroll_into_view_if_needed()
    screenshot(page, "04_account.png")
