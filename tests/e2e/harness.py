"""JupyterLab on 127.0.0.1 (port 0) and headless Chromium pages on it: for the browser tests and
benchmarks/browser_frames.py alike."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


@contextmanager
def lab(root: Path, tmp: Path) -> Iterator[str]:
    """JupyterLab serving ``root`` (state under ``tmp``) in demo mode; yields its URL."""
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp / "rt"),
        "JUPYTER_CONFIG_DIR": str(tmp / "cfg"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "ws"),
        "IPYTHONDIR": str(tmp / "ipy"),
    }
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        env.pop(name, None)  # demo mode
    settings = tmp / "settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('{"checkForUpdates": false, "fetchNews": "false", "doNotDisturbMode": true}')
    log = open(tmp / "lab.log", "w")  # noqa: SIM115 - kept open for the server's lifetime
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=0", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
            "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        url, ok, deadline = None, False, time.time() + 90
        while not ok and time.time() < deadline:  # port 0: read the real URL from jpserver-<pid>.json
            assert proc.poll() is None, (tmp / "lab.log").read_text()
            try:
                url = url or json.loads((tmp / "rt" / f"jpserver-{proc.pid}.json").read_text())["url"]
                urllib.request.urlopen(url + "api/status", timeout=2)
                ok = True
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        assert ok and url, (tmp / "lab.log").read_text()
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # lab and its kernels
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:  # a busy machine, a dozen kernels: none may outlive the tests
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def open_notebook(browser: Any, base: str, path: str) -> Any:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{base}lab/tree/{path}?reset", wait_until="domcontentloaded")
    page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }")
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
        return k && k.status === 'idle'; }""",
        timeout=60_000,
    )
    return page


def run_all_cells(page: Any) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def wait_until_idle(page: Any, timeout_ms: int = 120_000) -> None:
    """All cells executed: no [*] prompt left and the kernel idle."""
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
        const busy = [...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));
        return k && k.status === 'idle' && !busy; }""",
        timeout=timeout_ms,
    )
