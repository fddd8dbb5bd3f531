"""Displaying layouts of alpaca_nb widgets (ipywidgets boxes) with a static picture for exports."""

from __future__ import annotations

from typing import Any


def static_picture(widget: Any) -> str:
    """HTML for ``widget`` and its children: each alpaca_nb widget's static picture, boxes as flex rows."""
    if hasattr(widget, "static_html"):
        return str(widget.static_html())
    if hasattr(widget, "static_svg"):
        return str(widget.static_svg())
    children = getattr(widget, "children", ())
    direction = "row" if type(widget).__name__ == "HBox" else "column"
    inner = "".join(f"<div>{static_picture(child)}</div>" for child in children)
    return (
        f'<div style="display:flex;flex-direction:{direction};gap:12px;align-items:flex-start">{inner}</div>'
    )


def show(widget: Any) -> None:
    """Display ``widget`` live, with ``static_picture(widget)`` as the fallback an export without a kernel
    shows (no widget state is saved in alpaca_nb notebooks).

    Examples
    --------
    >>> show(ipywidgets.VBox([ipywidgets.HBox([ticket, account]), chart]))
    """
    from IPython.display import display

    bundle: Any = widget._repr_mimebundle_() or {}
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
    data["text/html"] = static_picture(widget)
    display(data, raw=True)  # type: ignore[no-untyped-call]
