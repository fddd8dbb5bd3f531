"""Every notebook in JupyterLab: run all cells in a fresh kernel and find no error output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, error_outputs, open_notebook, run_all_cells, screenshot, wait_until_idle

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_clean_in_jupyterlab(browser: Any, jupyter_lab: str, name: str) -> None:
    page = open_notebook(browser, jupyter_lab, name)
    run_all_cells(page)
    wait_until_idle(page, timeout_ms=180_000)
    page.wait_for_timeout(1500)  # late widget renders
    # Cells tagged raises-exception show a failed %alpaca line on purpose: one line each, nothing else.
    cells = json.loads((ROOT / "notebooks" / name).read_text())["cells"]
    intended = sum("raises-exception" in c.get("metadata", {}).get("tags", []) for c in cells)
    shown = error_outputs(page)
    assert len(shown) == intended, (name, shown)
    assert all(text.strip().count("\n") == 0 for text in shown), shown
    assert page.locator(".jp-OutputArea-output").count() > 0
    if name.startswith("06"):
        page.locator(".anb-ticket").first.wait_for(timeout=30_000)
        page.locator(".anb-account-view .anb-card").first.wait_for(timeout=30_000)
        page.locator(".anb-chart .js-plotly-plot").first.wait_for(timeout=30_000)
        screenshot(page, "06_dashboard.png")
    page.context.close()
