"""Every notebook, exported three ways and opened offline in Chromium, shows each alpaca_nb widget's
picture: the saved notebook (no widget state, as JupyterLab saves it by default), the executed notebook
with widget state (as JupyterLab's "save widget state" and ``nbconvert --execute`` store it), and the
same without it; plus ``jupyter nbconvert --execute --to html`` itself on the dashboard.

Each notebook runs once, in paper mode with sentinel keys against a simulator that accepts them: no
trace of the keys may be in the notebook, its widget state or any export."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbconvert import HTMLExporter

from alpaca_nb.sim import Simulator
from tests.e2e.conftest import ARTIFACTS

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KEY, SECRET = "PKSENTINELNB1234", "s3cret-SENTINEL-notebook"
VISIBLE_PICTURES = """() => [...document.querySelectorAll('.anb-picture, .anb-picture-backup')]
  .filter((e) => e.checkVisibility() && e.getBoundingClientRect().height > 20).length"""


def _our_widget_outputs(nb: Any) -> int:
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        and "anb-picture" in output.get("data", {}).get("text/html", "")
    )


def _execute(path: Path, env: dict[str, str]) -> Any:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update(env)
    try:  # store_widget_state: what JupyterLab's "save widget state" and nbconvert --execute keep
        NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def _offline(browser: Any, html: Path) -> Any:
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    context.route(
        "**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort()
    )
    page = context.new_page()
    page.goto(html.as_uri(), wait_until="load", timeout=60_000)
    page.wait_for_timeout(500)
    return page


def _check(browser: Any, html_text: str, out: Path, expected: int, label: str) -> None:
    out.write_text(html_text)
    page = _offline(browser, out)
    shown = page.evaluate(VISIBLE_PICTURES)
    page.evaluate("() => { const p = [...document.querySelectorAll('.anb-picture, .anb-picture-backup')]"
                  ".find((e) => e.checkVisibility()); if (p) p.scrollIntoView(); }")  # fmt: skip
    page.screenshot(path=str(ARTIFACTS / f"export_{out.stem}.png"), full_page=False)
    page.context.close()
    assert shown == expected, f"{label}: {shown} pictures visible offline, {expected} alpaca_nb widgets"


@pytest.mark.filterwarnings("ignore:Your element with mimetype")
def test_every_export_shows_every_widget_picture_offline_and_no_key(browser: Any, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()
    with Simulator(seed=7, hours="always", rate_limit=None, credentials={"paper": (KEY, SECRET)}) as sim:
        env = {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET, "ALPACA_NB_BASE_URL": sim.base_url}
        for path in NOTEBOOKS:
            saved = nbformat.read(path, as_version=4)
            _check(browser, exporter.from_notebook_node(saved)[0], tmp_path / f"{path.stem}-saved.html",
                   _our_widget_outputs(saved), f"{path.name} as saved (no widget state)")  # fmt: skip
            run = _execute(path, env)
            widgets = _our_widget_outputs(run)
            with_state = exporter.from_notebook_node(run)[0]
            stateless = copy.deepcopy(run)
            stateless.metadata.pop("widgets", None)
            without_state = exporter.from_notebook_node(stateless)[0]
            text = nbformat.writes(run)
            for blob in (text, with_state, without_state):
                assert KEY not in blob and SECRET not in blob and "SENTINEL" not in blob, path.name
            if not path.stem.startswith("00"):  # 00 drives a simulator of its own with its demo keys
                assert "paper mode" in text  # connected with the sentinel keys, not in demo mode
            if widgets:
                assert "application/vnd.jupyter.widget-state+json" in str(run.metadata.get("widgets", {}))
            _check(browser, with_state, tmp_path / f"{path.stem}-with-state.html", widgets,
                   f"{path.name} executed, with widget state")  # fmt: skip
            _check(browser, without_state, tmp_path / f"{path.stem}-without-state.html", widgets,
                   f"{path.name} executed, without widget state")  # fmt: skip


def test_nbconvert_execute_to_html_shows_the_dashboard_offline(browser: Any, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")}  # demo mode
    out = tmp_path / "dashboard.html"
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "html", "--output", str(out),
         str(ROOT / "notebooks" / "06_dashboard.ipynb"), "--ExecutePreprocessor.timeout=300"],
        check=True, env=env, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    page = _offline(browser, out)
    shown = page.evaluate(VISIBLE_PICTURES)
    ticket = page.locator(".anb-picture-backup", has_text="Order ticket").first
    ticket.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "export_nbconvert_06_dashboard.png"))
    assert shown == 1 and ticket.is_visible()  # one picture: the layout of ticket, account view and chart
    assert page.locator(".anb-picture-backup .anb-account-card").first.is_visible()
    assert page.locator(".anb-picture-backup svg polyline").count() >= 3  # the chart's bid/ask lines
    page.context.close()
