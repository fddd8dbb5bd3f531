"""``make dashboard``: notebooks/06_dashboard.ipynb as a Voilà app on 127.0.0.1 — widgets render and move,
no code is shown, no error; demo mode without keys."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS

ROOT = Path(__file__).resolve().parents[2]
POINTS = "() => { const p = document.querySelector('.anb-chart-plot'); return p && p.__anbChart ? p.__anbChart.points() : 0; }"


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as probe:  # Voilà prints port 0 as 0: choose one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")}  # demo mode
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "rt")
    log = open(tmp_path / "voila.log", "w+")  # noqa: SIM115 - kept for the server's lifetime
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(ROOT / "notebooks" / "06_dashboard.ipynb"), "--no-browser",
         "--Voila.ip=127.0.0.1", f"--Voila.port={port}", "--Voila.port_retries=0"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 90
        while time.time() < deadline and not re.search(
            rf"127\.0\.0\.1:{port}/", (tmp_path / "voila.log").read_text()
        ):
            assert proc.poll() is None, (tmp_path / "voila.log").read_text()
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
        log.close()


def test_the_dashboard_app_renders_and_moves_without_code(browser: Any, dashboard: str) -> None:
    page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(dashboard, timeout=120_000)
    for selector in (".anb-ticket", ".anb-account-view .anb-card", ".anb-chart .js-plotly-plot"):
        page.locator(selector).first.wait_for(timeout=120_000)
    page.wait_for_function(f"() => ({POINTS})() > 10", timeout=60_000)
    first = page.evaluate(POINTS)
    page.wait_for_function(f"() => ({POINTS})() > {first}", timeout=30_000)  # the chart moves
    assert "demo mode" in page.inner_text("body") and "DEMO" in page.locator(".anb-mode").first.inner_text()
    text = page.inner_text("body")
    assert "anb.OrderTicket" not in text and "import ipywidgets" not in text  # no code shown
    shown_errors = page.locator(
        '[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output pre.ansi'
    )
    assert shown_errors.count() == 0 and errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "06_dashboard_voila.png"))
