"""``LiveWidget``: what alpaca_nb's widgets share as consumers of the session's stream hub."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .layout import StaticPicture


class LiveWidget(StaticPicture):
    """A widget fed by the stream hub: one pump, optional trade updates, optional quotes.

    ``close()`` detaches all of it (idempotent; it also works after the session itself closed, since
    the hub is kept) and leaves a static picture of the final state in the notebook.
    """

    _hub: Any
    _closed = False
    _pump_callback: Callable[[], None] | None = None
    _update_token: int | None = None
    _quote_token: int | None = None

    def _attach_pump(self, fn: Callable[[], None], interval: float) -> None:
        self._pump_callback = fn
        self._hub.add_pump(fn, interval=interval)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            hub = self._hub
            if self._pump_callback is not None:
                hub.remove_pump(self._pump_callback)
            if self._update_token is not None:
                hub.remove_trade_callback(self._update_token)
            if self._quote_token is not None:
                hub.unsubscribe(self._quote_token)
            self._leave_picture()  # the final state stays in the notebook as a picture
        super().close()  # type: ignore[misc]
