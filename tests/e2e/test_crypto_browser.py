"""notebooks/07_crypto.ipynb in JupyterLab: the crypto chart moves, the order-book ladder moves, a click on
a level puts that price into the ticket's limit field, Submit → filled; no error output but the one
refusal the notebook shows on purpose."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import error_outputs, open_notebook, run_all_cells, screenshot, wait_until_idle
from tests.e2e.test_live_chart_browser import POINTS


def test_crypto_notebook_chart_book_click_and_fill(browser: Any, jupyter_lab: str) -> None:
    page = open_notebook(browser, jupyter_lab, "07_crypto.ipynb")
    run_all_cells(page)
    wait_until_idle(page, timeout_ms=120_000)
    chart = page.locator(".anb-chart").first
    chart.wait_for(timeout=60_000)
    book = page.locator(".anb-book").first
    book.wait_for(timeout=30_000)
    ticket = page.locator(".anb-ticket").first

    # the ladder moves: frames arrive and the best prices change
    page.wait_for_function(
        "el => Number(el.dataset.frames || 0) >= 3", arg=book.element_handle(), timeout=30_000
    )
    first = (
        book.get_attribute("data-frames"),
        book.get_attribute("data-best-bid"),
        book.get_attribute("data-best-ask"),
    )
    page.wait_for_function(
        "([el, bid, ask]) => el.dataset.bestBid !== bid || el.dataset.bestAsk !== ask",
        arg=[book.element_handle(), first[1], first[2]], timeout=30_000,
    )  # fmt: skip
    assert (
        book.locator("td.anb-bid.anb-price").count() == 12
        and book.locator("td.anb-ask.anb-price").count() == 12
    )

    # the chart moves: its points grow
    page.wait_for_function(f"() => ({POINTS})() > 5", timeout=30_000)
    before = page.evaluate(POINTS)
    page.wait_for_function(f"() => ({POINTS})() > {before}", timeout=30_000)

    # a click on the third ask puts the kernel's price for that level into the ticket
    level = book.locator("td.anb-ask.anb-price").nth(2)
    level.click()
    limit = ticket.locator("input[name='limit_price']")
    page.wait_for_function("el => el.value !== ''", arg=limit.element_handle(), timeout=10_000)
    assert ticket.locator("select[name='order_type']").input_value() == "limit"
    price = float(limit.input_value())
    assert price > 1000  # a BTC/USD price, not an index
    assert ticket.locator("select[name='tif']").input_value() == "gtc"
    assert sorted(o.get_attribute("value") for o in ticket.locator("select[name='tif'] option").all()) == [
        "gtc",
        "ioc",
    ]

    # submit → filled (a buy limit at or above the ask fills at once)
    qty = ticket.locator("input[name='qty']")
    qty.fill("0.01")
    qty.dispatch_event("change")
    ticket.locator("button.anb-submit").click()
    ticket.locator(".anb-status[data-status='filled'], .anb-message").first.wait_for(timeout=20_000)
    assert ticket.locator(".anb-message").count() == 0, ticket.locator(".anb-message").inner_text()
    ticket.locator(".anb-status[data-status='filled']").wait_for(timeout=20_000)
    assert "0.01 BTC/USD" in ticket.locator(".anb-status").inner_text()

    shown = error_outputs(page)  # the one cell that fails on purpose: a short sale, one line
    assert len(shown) == 1 and "not shortable" in shown[0] and shown[0].strip().count("\n") == 0, shown
    book.scroll_into_view_if_needed()
    screenshot(page, "07_crypto.png")
    page.context.close()
