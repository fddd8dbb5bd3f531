"""notebooks/08_options.ipynb in JupyterLab: the chain's quotes arrive and move, a click on an ask and a
click on a bid build a spread in the ticket whose breakeven is the right one, Submit → filled; no error
output but the one refusal the notebook shows on purpose."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import error_outputs, open_notebook, run_all_cells, screenshot, wait_until_idle


def test_chain_click_builds_a_spread_with_its_payoff_and_fills(browser: Any, jupyter_lab: str) -> None:
    page = open_notebook(browser, jupyter_lab, "08_options.ipynb")
    run_all_cells(page)
    wait_until_idle(page, timeout_ms=120_000)
    chain = page.locator(".anb-chain").first
    chain.wait_for(timeout=60_000)
    page.wait_for_function(
        "el => Number(el.dataset.frames || 0) >= 1", arg=chain.element_handle(), timeout=30_000
    )
    rows = chain.locator("tbody tr")
    assert rows.count() == 10
    ticket = chain.locator("xpath=ancestor::div[contains(@class,'widget-hbox')]").locator(".anb-ticket").first
    # the quotes move: a later frame arrives (the rows follow the option stream)
    frames = int(chain.get_attribute("data-frames") or 0)
    page.wait_for_function(
        f"el => Number(el.dataset.frames) > {frames}", arg=chain.element_handle(), timeout=60_000
    )

    # buy the call in row 4 (its ask), sell the call in row 6 (its bid): a bull call spread
    strikes = [float(rows.nth(i).locator("td.anb-strike").inner_text()) for i in (4, 6)]
    rows.nth(4).locator("td.anb-call[data-field='ask']").click()
    page.wait_for_function("el => el.dataset.legs === '1'", arg=ticket.element_handle(), timeout=10_000)
    rows.nth(6).locator("td.anb-call[data-field='bid']").click()
    page.wait_for_function("el => el.dataset.legs === '2'", arg=ticket.element_handle(), timeout=10_000)
    facts = ticket.locator(".anb-spread-facts")
    facts.wait_for(timeout=15_000)
    text = facts.inner_text()
    debit = float(text.split("net debit ")[1].split(" ")[0])
    breakeven = float(ticket.locator(".anb-breakevens").inner_text())
    assert abs(breakeven - (strikes[0] + debit)) < 0.011, (text, strikes)  # long strike + net debit
    assert ticket.locator("svg.anb-payoff polyline").count() == 2  # at expiry and today

    # a net limit a little above the natural debit fills at once
    limit = ticket.locator("input[name='limit_price']")
    limit.fill(f"{debit + 0.05:.2f}")
    limit.dispatch_event("change")
    ticket.locator("button.anb-submit").click()
    ticket.locator(".anb-status[data-status='filled'], .anb-message").first.wait_for(timeout=20_000)
    assert ticket.locator(".anb-message").count() == 0, ticket.locator(".anb-message").inner_text()
    ticket.locator(".anb-status[data-status='filled']").wait_for(timeout=20_000)
    assert "×" in ticket.locator(".anb-status").inner_text()

    shown = error_outputs(page)  # the one cell that fails on purpose: a naked short call, one line
    assert len(shown) == 1 and "naked short call" in shown[0] and shown[0].strip().count("\n") == 0, shown
    chain.scroll_into_view_if_needed()
    screenshot(page, "08_options.png")
    page.context.close()
