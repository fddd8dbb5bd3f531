"""Re-execute the notebooks in place (demo mode) and keep them small: no widget state is saved.

    .venv/bin/python tools/run_notebooks.py [notebooks/02_market_data.ipynb ...]

The saved outputs are what nbval compares for cells marked ``# NBVAL_CHECK_OUTPUT``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")}  # demo mode
    os.environ.clear()
    os.environ.update(env)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                   store_widget_state=False).execute()  # fmt: skip
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    targets = [Path(p).resolve() for p in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for target in targets:
        run(target)
