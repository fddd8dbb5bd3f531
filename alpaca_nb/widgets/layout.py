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


class StaticPicture:
    """Mixin for alpaca_nb widgets: display live with ``static_picture(self)`` as the ``text/html``
    fallback (what nbconvert shows without a kernel, since no widget state is saved), and on close
    leave that picture of the final state in the notebook."""

    _display_handle: Any = None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle: Any = self._repr_mimebundle_() or {}  # type: ignore[attr-defined]
        data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        data["text/html"] = static_picture(self)
        self._display_handle = display(data, raw=True, display_id=True)  # type: ignore[no-untyped-call]

    def _leave_picture(self) -> None:
        if self._display_handle is not None:
            self._display_handle.update(
                {"text/html": static_picture(self), "text/plain": repr(self)}, raw=True
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
