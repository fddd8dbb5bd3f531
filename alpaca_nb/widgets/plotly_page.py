"""plotly.js for the chart widgets: from the installed plotly package (no CDN), sent once per browser
page, and the one front-end loader every chart's ESM starts with (``static/plotly_loader.js``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from .assets import STATIC


@cache
def plotly_js() -> bytes:
    """plotly.min.js from the installed plotly package (read once per kernel)."""
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


def chart_esm(name: str) -> str:
    """A chart's front end: the shared loader, then ``static/<name>`` (which calls ``loadPlotly``)."""
    return (STATIC / "plotly_loader.js").read_text() + "\n" + (STATIC / name).read_text()


def answer_plotly(widget: Any, content: Any) -> bool:
    """Answer a view's ``need-plotly`` (the first chart on a page asks; later ones find it loaded)."""
    if isinstance(content, dict) and content.get("type") == "need-plotly":
        widget.send({"type": "plotly"}, [plotly_js()])
        return True
    return False
