"""Real JupyterLab (127.0.0.1, port 0) and headless Debian Chromium driven by Python Playwright.

The notebooks are copied to a temporary root so a run never rewrites the repository's copies.
Screenshots go to ``test-artifacts/`` (the README's pictures come from there).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, lab, open_notebook, run_all_cells, wait_until_idle  # noqa: F401 (the tests import them here)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "test-artifacts"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} not found: install Debian's chromium (`make test` does, as root)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI the browser tests must run
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root, tmp = tmp_path_factory.mktemp("root"), tmp_path_factory.mktemp("state")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, root / nb.name)
    with lab(root, tmp) as url:
        yield url


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def error_outputs(page: Any) -> list[str]:
    selector = ", ".join(
        f'.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.{kind}"]'
        for kind in ("stderr", "error")
    )
    texts: list[str] = page.evaluate(
        f"() => [...document.querySelectorAll('{selector}')].map(e => e.textContent)"
    )
    return texts


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=False)
    return path
