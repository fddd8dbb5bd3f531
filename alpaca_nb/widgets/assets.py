"""The widgets' front-end files: each stylesheet starts with the shared ``static/common.css`` (theme
variables, the status badge, up/down colours), so a rule common to the widgets lives in one place."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def stylesheet(name: str) -> str:
    """``static/common.css`` followed by ``static/<name>``."""
    return (STATIC / "common.css").read_text() + "\n" + (STATIC / name).read_text()
