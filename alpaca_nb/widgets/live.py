"""``LiveWidget``: what alpaca_nb's widgets share as consumers of the session's stream hub."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .layout import StaticPicture


class LiveWidget(StaticPicture):
    """A widget fed by the stream hub: one pump, optional trade updates, optional quotes.

    The front end is untrusted input: of the state it sends, only the traits named in
    ``_front_end_fields`` (with their types) are accepted; everything else is dropped and counted in
    ``_refused``. ``close()`` detaches all of it (idempotent; it also works after the session itself
    closed, since the hub is kept) and leaves a static picture of the final state in the notebook.
    """

    _hub: Any
    _closed = False
    _front_end_fields: dict[str, type] = {}  # noqa: RUF012 (read-only class data)
    _refused = 0
    _pump_token: int | None = None
    _update_token: int | None = None
    _quote_token: int | None = None

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """State from the front end: only ``_front_end_fields``, each of its own type (≤ 64 chars)."""
        allowed = {}
        for name, value in sync_data.items():
            kind = self._front_end_fields.get(name)
            if kind is not None and isinstance(value, kind) and len(str(value)) <= 64:
                allowed[name] = value
            else:
                self._refused += 1
        if allowed:
            super().set_state(allowed)  # type: ignore[misc]

    def _attach_pump(self, fn: Callable[[], None], interval: float) -> None:
        """``fn`` on the pump thread every ``interval`` s (≥ 0.1): this widget's own schedule."""
        self._pump_token = self._hub.add_pump(fn, interval=interval)

    def close(self) -> None:
        hub = getattr(self, "_hub", None)  # None when __init__ failed early (close runs from __del__)
        if not self._closed and hub is not None:
            self._closed = True
            if self._pump_token is not None:
                hub.remove_pump(self._pump_token)
            if self._update_token is not None:
                hub.remove_trade_callback(self._update_token)
            if self._quote_token is not None:
                hub.unsubscribe(self._quote_token)
            self._leave_picture()  # the final state stays in the notebook as a picture
        super().close()  # type: ignore[misc]
