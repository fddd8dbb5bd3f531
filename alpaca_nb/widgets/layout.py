"""Displaying alpaca_nb widgets (and ipywidgets boxes of them) with a static picture for exports.

A widget is displayed as two outputs: the live view with its picture as the ``text/html`` fallback
(``.anb-picture``), and a second output holding the same picture again (``.anb-picture-backup``).
Why two: an export *without* widget state shows the fallback; an export *with* widget state
(``nbconvert --execute``, JupyterLab's "save widget state") renders the widget through an online
widget manager instead and drops the fallback — offline, the cell would be blank — so the backup shows
there. The backup hides itself when the output before it shows the picture (CSS ``:has``), and every
live widget's stylesheet hides it (``common.css``): one picture in every case, none under a live view.
"""

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
    _backup_handle: Any = None

    def _ipython_display_(self) -> None:
        self._display_handle, self._backup_handle = _display_with_picture(self)

    def _leave_picture(self) -> None:
        if self._display_handle is not None:
            picture = static_picture(self)
            self._display_handle.update({"text/html": _framed(picture), "text/plain": repr(self)}, raw=True)
            if self._backup_handle is not None:
                self._backup_handle.update({"text/html": _backup(picture)}, raw=True)


def show(widget: Any) -> None:
    """Display ``widget`` live, with ``static_picture(widget)`` as the fallback an export without a kernel
    shows (no widget state is saved in alpaca_nb notebooks).

    Examples
    --------
    >>> show(ipywidgets.VBox([ipywidgets.HBox([ticket, account]), chart]))
    """
    _display_with_picture(widget)


BACKUP_STYLE = (
    "<style>.jp-OutputArea-child:has(.anb-picture) + .jp-OutputArea-child .anb-picture-backup,"
    ".jp-OutputArea-child:has(.anb-picture) + .jp-OutputArea-child .jp-OutputPrompt{display:none}</style>"
)


def _framed(picture: str) -> str:
    return f'<div class="anb-picture">{picture}</div>'


def _backup(picture: str) -> str:
    return f'{BACKUP_STYLE}<div class="anb-picture-backup">{picture}</div>'


def _display_with_picture(widget: Any) -> tuple[Any, Any]:
    """The live view (its picture as the fallback), then the backup picture; their display handles."""
    from IPython.display import display

    bundle: Any = widget._repr_mimebundle_() or {}
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
    picture = static_picture(widget)
    data["text/html"] = _framed(picture)
    live = display(data, raw=True, display_id=True)  # type: ignore[no-untyped-call]
    backup = display({"text/html": _backup(picture)}, raw=True, display_id=True)  # type: ignore[no-untyped-call]
    return live, backup
