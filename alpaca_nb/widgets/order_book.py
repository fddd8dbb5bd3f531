"""``OrderBook``: a live depth ladder of a crypto pair, from the session's crypto feed.

Bids and asks, best first, with sizes drawn as bars, the spread and the mid. The hub keeps the book
(``stream.books.Book``: the ``r: true`` snapshot, then increments); this widget's pump (≤ 10/s, its own
schedule) sends a frame only when the book moved: one message with the levels as two binary buffers
(prices float64, sizes float32), ~1.3 KB for 50 levels a side (benchmarks/stream.py measures it).

A click on a level asks the kernel for *that level of the frame it sent*: the browser names a side and
an index, never a price, and the kernel looks the price up in what it sent last. With a ticket
(``OrderBook("BTC/USD", ticket=t)``) the price becomes the ticket's limit price.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets

from ..errors import ValidationError
from .assets import STATIC, stylesheet
from .live import LiveWidget

if TYPE_CHECKING:
    from ..session import Session
    from .order_ticket import OrderTicket

MAX_RATE = 10.0
MAX_DEPTH = 100
KEEP_FRAMES = 8


class OrderBook(LiveWidget, anywidget.AnyWidget):
    """A live order-book ladder for one crypto pair.

    Parameters
    ----------
    symbol:
        A crypto pair, e.g. ``"BTC/USD"``.
    depth:
        Levels shown on each side (default 20, at most 100).
    ticket:
        An ``OrderTicket``: clicking a level sets its symbol, a limit order and that level's price.
    max_rate:
        Frames per second at most (≤ 10).

    Examples
    --------
    >>> t = anb.OrderTicket("BTC/USD"); book = anb.OrderBook("BTC/USD", ticket=t)
    >>> book.levels()     # (bids, asks) as the widget last drew them
    """

    _esm = STATIC / "order_book.js"
    _css = stylesheet("order_book.css")

    symbol = traitlets.Unicode("").tag(sync=True)
    depth = traitlets.Int(20).tag(sync=True)
    status = traitlets.Unicode("connecting").tag(sync=True)
    picked = traitlets.Unicode("").tag(sync=True)  # what the last click did (kernel-written)

    def __init__(
        self,
        symbol: str,
        session: Session | None = None,
        *,
        depth: int = 20,
        ticket: OrderTicket | None = None,
        max_rate: float = MAX_RATE,
    ) -> None:
        from .._wire import asset_class, normalize_symbol
        from ..session import current_session

        sym = normalize_symbol(symbol)
        if asset_class(sym).key != "crypto":
            raise ValidationError(
                f"an order book is for a crypto pair, written with a slash (e.g. 'BTC/USD'), not {sym}"
            )
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
            raise ValidationError(f"depth must be a whole number from 1 to {MAX_DEPTH}, not {depth!r}")
        if isinstance(max_rate, bool) or not isinstance(max_rate, int | float) or not max_rate > 0:
            raise ValidationError("max_rate must be a positive number of updates per second")
        if ticket is not None and not hasattr(ticket, "limit_price"):
            raise ValidationError("ticket must be an OrderTicket")
        session = session or current_session()
        session.orderbook(sym, depth=1)  # an unknown pair fails here, in one line, before any widget
        super().__init__(symbol=sym, depth=depth)
        self._session = session
        self._ticket = ticket
        self._hub = hub = session.stream
        self._lock = threading.Lock()
        self._sent: tuple[list[tuple[float, float]], list[tuple[float, float]]] = ([], [])
        self._recent: dict[int, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {}
        self._seq = 0
        self._sent_version = -1
        self._resend = False  # a view asked for the book: the pump sends it (never the comm handler)
        self._frames = 0
        self._bytes = 0
        self.on_msg(self._on_front_end)
        self._quote_token = hub.subscribe(orderbooks=[sym])
        self._attach_pump(self._flush, interval=1.0 / min(float(max_rate), MAX_RATE))

    # ----- frames -------------------------------------------------------------------------------
    def _flush(self) -> None:
        """On the pump thread: the status, and one frame if the book moved since the last one."""
        if self._closed:
            return
        stats = self._hub.stats()
        state = stats["state"]
        status = "live" if state == "connected" else "closed" if state == "closed" else "reconnecting"
        if status != self.status:
            self.status = status
        book = self._hub.book(self.symbol)
        if book is None or (book.version == self._sent_version and not self._resend):
            return
        self._resend = False
        version = book.version
        bids, asks, t_ns = book.levels(self.depth)
        self._send_frame(bids, asks, t_ns)
        self._sent_version = version

    def _send_frame(
        self, bids: list[tuple[float, float]], asks: list[tuple[float, float]], t_ns: int
    ) -> None:
        with self._lock:
            self._sent = (bids, asks)
        message, buffers = encode_book(bids, asks, t_ns)
        self.send(message, buffers)
        self._frames += 1
        self._bytes += sum(len(b) for b in buffers)

    def _on_front_end(self, _: Any, content: Any, buffers: list[bytes]) -> None:
        if not isinstance(content, dict):
            self._refused += 1
            return
        kind = content.get("type")
        if kind == "ready":  # a view that just rendered: the pump sends the book on its next tick
            self._resend = True
        elif kind == "pick":
            self.pick(content.get("side"), content.get("index"), content.get("seq"))
        else:
            self._refused += 1

    def pick(self, side: Any, index: Any, seq: Any = None) -> float | None:
        """What a click on a level does: that level's price (from the frame the kernel sent) into the
        ticket as a limit price. ``side`` is "bid" or "ask", ``index`` the level (0 = best), ``seq`` the
        frame the click was on (one of the last few sent; None: the latest)."""
        with self._lock:
            if seq is None:
                frame: Any = self._sent
            elif isinstance(seq, int) and not isinstance(seq, bool):
                frame = self._recent.get(seq)
            else:
                frame = None
            levels = None
            if frame is not None and isinstance(side, str):
                levels = {"bid": frame[0], "ask": frame[1]}.get(side)
        if (
            levels is None
            or isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index < len(levels)
        ):
            self._refused += 1
            return None
        price = float(levels[index][0])
        self.picked = f"{side} {price:g}"
        ticket = self._ticket
        if ticket is not None and not getattr(ticket, "_closed", False):
            with ticket.hold_sync():
                if ticket.symbol.strip().upper() != self.symbol:
                    # another pair: the quantity typed meant other coins
                    ticket.symbol, ticket.qty, ticket.notional = self.symbol, "", ""
                if ticket.order_type not in ("limit", "stop_limit"):
                    ticket.order_type = "limit"
                ticket.limit_price = f"{price:.10g}"
        return price

    # ----- reading it back --------------------------------------------------------------------
    def levels(self) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """(bids, asks) as last sent to the browser, best first."""
        with self._lock:
            return list(self._sent[0]), list(self._sent[1])

    @property
    def stats(self) -> dict[str, int]:
        return {"frames": self._frames, "bytes": self._bytes}

    def static_html(self) -> str:
        """The ladder as plain HTML (no JavaScript) for exports."""
        import html

        bids, asks = self.levels()
        rows = max(len(bids), len(asks))
        biggest = max([s for _, s in bids + asks] or [1.0])

        def cell(level: tuple[float, float] | None, colour: str) -> str:
            if level is None:
                return "<td></td><td></td>"
            width = int(60 * level[1] / biggest) if biggest else 0
            bar = f'<span style="display:inline-block;height:8px;width:{width}px;background:{colour}"></span>'
            return f"<td style='text-align:right'>{level[1]:.4g} {bar}</td><td>{level[0]:,.6g}</td>"

        body = "".join(
            f"<tr>{cell(bids[i] if i < len(bids) else None, '#3fb95080')}"
            f"{cell(asks[i] if i < len(asks) else None, '#ff7b7280')}</tr>"
            for i in range(min(rows, 12))
        )
        spread = f"spread {asks[0][0] - bids[0][0]:,.6g}" if bids and asks else "no book yet"
        return (
            '<div class="anb-order-book-picture" '
            'style="font-family:sans-serif;font-size:12px;display:inline-block">'
            f"<b>{html.escape(self.symbol)}</b> order book · {spread}"
            f"<table><tr><th>bid size</th><th>bid</th><th>ask size</th><th>ask</th></tr>{body}</table></div>"
        )

    def __repr__(self) -> str:
        bids, asks = self.levels()
        return f"<OrderBook {self.symbol} {len(bids)}×{len(asks)} levels {self.status}>"


def encode_book(
    bids: list[tuple[float, float]], asks: list[tuple[float, float]], t_ns: int
) -> tuple[dict[str, Any], list[bytes]]:
    """One frame: counts in the message, prices (float64) and sizes (float32) in two buffers,
    bids then asks."""
    levels = bids + asks
    prices = np.array([p for p, _ in levels], dtype="<f8")
    sizes = np.array([s for _, s in levels], dtype="<f4")
    message = {"type": "book", "bids": len(bids), "asks": len(asks), "t": t_ns // 1_000_000}
    return message, [prices.tobytes(), sizes.tobytes()]
