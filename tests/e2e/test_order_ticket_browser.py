"""notebooks/05_trading.ipynb in JupyterLab: fill in the ticket, submit, see "filled"; live is refused."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import error_outputs, open_notebook, run_all_cells, screenshot, wait_until_idle


def test_ticket_submits_and_refuses_live(browser: Any, jupyter_lab: str) -> None:
    page = open_notebook(browser, jupyter_lab, "05_trading.ipynb")
    run_all_cells(page)
    wait_until_idle(page)
    ticket = page.locator(".anb-ticket").first
    ticket.wait_for(timeout=60_000)
    live = ticket.locator("input[name='account'][value='live']")
    assert live.is_disabled()  # locked: the reason is shown beside it
    assert "allow_live" in ticket.locator(".anb-live-reason").inner_text()
    qty = ticket.locator("input[name='qty']")
    qty.fill("3")
    qty.dispatch_event("change")
    ticket.locator("select[name='order_type']").select_option("market")
    ticket.locator("button.anb-submit").click()
    ticket.locator(".anb-status[data-status='filled'], .anb-message").first.wait_for(timeout=15_000)
    assert ticket.locator(".anb-message").count() == 0, ticket.locator(".anb-message").inner_text()
    ticket.locator(".anb-status[data-status='filled']").wait_for(timeout=15_000)
    assert "filled @" in ticket.locator(".anb-status").inner_text()
    # Forcing the account to live from Python is refused too, and says why.
    page.evaluate(
        "(code) => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.requestExecute({code})",
        "ticket.account = 'live'",
    )
    ticket.locator(".anb-message", has_text="refused: live trading is locked").wait_for(timeout=10_000)
    assert ticket.locator("input[name='account'][value='paper']").is_checked()
    shown = error_outputs(page)  # the one cell that fails on purpose (raises-exception): one line
    assert len(shown) == 1 and "exceeds max_notional" in shown[0] and shown[0].strip().count("\n") == 0
    ticket.scroll_into_view_if_needed()
    screenshot(page, "05_trading.png")
