"""The notebooks as documents: small, exportable without a kernel, secret-free, runnable from Binder files."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_PICTURES = (
    "anb-account-card",
    "<polyline",
    "Order ticket",
    "anb-bar-chart-picture",
    "anb-order-book-picture",
)


def test_there_are_the_promised_notebooks() -> None:
    names = [p.stem for p in NOTEBOOKS]
    for prefix in (
        "01_quickstart",
        "02_market_data",
        "03_live_charts",
        "04_account",
        "05_trading",
        "06_dashboard",
        "10_research",
    ):
        assert prefix in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_notebooks_are_small_and_hold_no_widget_state(path: Path) -> None:
    assert path.stat().st_size < 1_000_000
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata  # no widget state (and so no plotly.js) saved
    assert all(c.get("outputs") is not None for c in nb.cells if c.cell_type == "code")
    assert sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code") > 0  # executed


# Static Plotly figures (notebook 02, plotly_mimetype) have no HTML form without plotly.js: nbconvert warns.
@pytest.mark.filterwarnings("ignore:Your element with mimetype")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_static_export_shows_pictures_not_widget_errors(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "Error displaying widget" not in html
    widget_outputs = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        and "bars" not in str(o.get("data"))
    ]  # tqdm's progress bar (a plain ipywidget, "... bars") is the one widget that is not ours
    for output in widget_outputs:  # every alpaca_nb widget leaves a picture for kernel-less viewers
        assert any(mark in output["data"].get("text/html", "") for mark in WIDGET_PICTURES)


def _execute(path: Path, env: dict[str, str], python: str | None = None) -> Any:
    """Run a notebook in a fresh kernel with ``env`` (and ``python``'s environment, if given)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    if python is None:
        client = NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=False,
                                resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return nb
    out = path.parent / f".binder-run-{path.name}"
    subprocess.run(
        [python, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", str(path),
         "--output", out.name, "--ExecutePreprocessor.timeout=300"],
        check=True, env={**os.environ, **env}, capture_output=True,
    )  # fmt: skip
    try:
        return nbformat.read(out, as_version=4)
    finally:
        out.unlink()


# Sentinel keys in every notebook, its widget state and its exports: tests/e2e/test_exports_browser.py
# (each notebook runs once there, in paper mode, and its exports are opened offline in Chromium).


@pytest.mark.slow
def test_binder_files_build_an_environment_that_runs_the_notebooks(tmp_path: Path) -> None:
    """A clean virtualenv from exactly binder/requirements.txt runs the quickstart in demo mode."""
    requirements = ROOT / "binder" / "requirements.txt"
    env_dir = tmp_path / "binder-env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "-r", str(requirements)], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")}
    clean["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    for name in ("01_quickstart.ipynb", "02_market_data.ipynb"):
        nb = _execute(ROOT / "notebooks" / name, {**clean, "VIRTUAL_ENV": str(env_dir)}, python=python)
        text = nbformat.writes(nb)
        assert "demo mode" in text and '"output_type": "error"' not in text
    version = subprocess.run([python, "-c", "import alpaca_nb; print(alpaca_nb.__file__)"], check=True,
                             capture_output=True, text=True, cwd=tmp_path).stdout  # fmt: skip
    assert str(env_dir) in version  # the notebooks ran on the Binder-built install, not this checkout's venv
