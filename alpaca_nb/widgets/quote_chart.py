"""``QuoteChart``: live bid/ask (and trades, minute candles) with plotly.js, fed by the stream hub.

What goes over the comm, and why:

* The series is never widget state (state is saved into the notebook and re-sent whole): the front
  end asks for a ``reset`` snapshot when it renders, then receives ``extend`` deltas — only new points,
  as float64 buffers — at most ``max_rate`` times per second (default 10), so a chart never pushes
  jupyter_server toward its 1000 messages/s limit.
* plotly.js comes from the plotly package installed with us (no CDN) in one custom message, once per
  browser page: the first chart asks for it and every later chart reuses it. Nothing of it is saved.
* After the stream reconnects, the gap is filled from REST quotes (and bars); points are only ever
  appended with a timestamp later than the last one sent, so there are no duplicates or reversals.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets

from ..errors import ValidationError
from .assets import stylesheet
from .live import LiveWidget
from .plotly_page import answer_plotly, chart_esm, plotly_js  # noqa: F401 (plotly_js: for tests)
from .trades_overlay import TradesOverlay

if TYPE_CHECKING:
    from ..session import Session

STALE_AFTER_S = 10.0
MAX_RATE = 10.0  # frames per second per chart, at most
GAP_NS = {"quotes": 60 * 10**9, "trades": 300 * 10**9, "bars": 180 * 10**9}  # a break in the line


def parse_window(window: str | float | int) -> float:
    """``"5min"`` → 300.0 seconds; numbers are seconds."""
    if isinstance(window, int | float) and not isinstance(window, bool):
        seconds = float(window)
    else:
        import pandas as pd

        try:
            seconds = pd.Timedelta(str(window)).total_seconds()
        except ValueError:
            raise ValidationError(
                f"window must be a duration like '5min' or seconds, not {window!r}"
            ) from None
    if not 10 <= seconds <= 86_400:
        raise ValidationError("window must be between 10 seconds and 1 day")
    return seconds


CHANNELS = ("quotes", "trades", "bars")
HISTORY_CAP = 20_000  # points per channel per symbol kept for snapshots


class _Series:
    """One symbol's points: waiting to be sent (``pending``) and already sent (``history``)."""

    def __init__(self) -> None:
        self.pending: dict[str, list[tuple[Any, ...]]] = {c: [] for c in CHANNELS}
        self.history: dict[str, deque[tuple[Any, ...]]] = {c: deque(maxlen=HISTORY_CAP) for c in CHANNELS}
        self.last = dict.fromkeys(CHANNELS, 0)  # t_ns of the newest point accepted
        self.sent = dict.fromkeys(CHANNELS, 0)  # t_ns of the newest point sent to the browser

    def accept_all(self, channel: str, items: list[tuple[Any, ...]]) -> None:
        """Keep one frame's records of a channel as the chart's points, only those strictly newer than
        the newest accepted: no duplicate, no out-of-order point ever reaches the chart (the engine
        thread's hot path: one call per frame and channel, not one per record)."""
        last = self.last[channel]
        out = self.pending[channel]
        quotes = channel == "quotes"
        for item in items:
            t = item[0]
            if t > last:
                last = t
                out.append((t, item[1], item[3]) if quotes else _shape(channel, item))
        self.last[channel] = last


class QuoteChart(LiveWidget, anywidget.AnyWidget):
    """A live quote chart.

    Parameters
    ----------
    symbols:
        One symbol or a list.
    window:
        How much history the chart shows, e.g. ``"5min"`` (default), ``"1h"``, or seconds.
    session:
        Default: the current session.
    trades, bars:
        Also draw trades (markers) and 1-minute candles.
    max_rate:
        Updates per second sent to the browser (default and most: 10; a higher value is capped).

    Examples
    --------
    >>> chart = anb.QuoteChart(["AAPL", "MSFT"], window="5min")
    >>> chart            # displays; updates live; chart.close() unsubscribes
    """

    _esm = chart_esm("quote_chart.js")
    _css = stylesheet("quote_chart.css")

    symbols = traitlets.List(traitlets.Unicode()).tag(sync=True)
    window_s = traitlets.Float(300.0).tag(sync=True)
    status = traitlets.Unicode("connecting").tag(sync=True)
    show_trades = traitlets.Bool(False).tag(sync=True)
    show_bars = traitlets.Bool(False).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    orders = traitlets.List(traitlets.Dict()).tag(sync=True)  # your open orders on these symbols: lines

    def __init__(
        self,
        symbols: str | list[str],
        window: str | float = "5min",
        session: Session | None = None,
        *,
        trades: bool = False,
        bars: bool = False,
        max_rate: float = 10.0,
    ) -> None:
        from .._wire import normalize_symbols
        from ..session import current_session

        syms, _ = normalize_symbols(symbols)
        window_s = parse_window(window)
        if isinstance(max_rate, bool) or not isinstance(max_rate, int | float) or not max_rate > 0:
            raise ValidationError("max_rate must be a positive number of updates per second")
        max_rate = min(float(max_rate), MAX_RATE)
        session = session or current_session()
        # REST first (the window's history, your fills and orders): a failure leaves no widget open.
        start = time.time_ns() - int(window_s * 1e9)
        channels = ["quotes", *(["bars"] if bars else [])]
        seeded = {c: session.records(c, dict.fromkeys(syms, start)) for c in channels}
        import pandas as pd

        overlay = TradesOverlay(session, syms, None, since=pd.Timestamp(start, tz="UTC"))
        overlay.refresh()
        super().__init__(
            symbols=syms, window_s=window_s, show_trades=trades, show_bars=bars,
            title=", ".join(syms) + " · bid/ask",
        )  # fmt: skip
        self._session = session
        self._hub = self._session.stream
        self._series = {s: _Series() for s in syms}
        self._lock = threading.Lock()  # the series
        self._send_lock = threading.Lock()  # a snapshot and a delta never interleave
        self._sent_points = 0
        self._backfilled = 0
        self._frames = 0
        self._reconnects_seen = self._hub.stats()["reconnects"]
        self._backfilling = threading.Event()  # set while a gap is fetched: newer points wait for it
        for channel, fetched in seeded.items():
            self._on_batch([(channel, symbol, points) for symbol, points in fetched.items()])
        self._trades = overlay  # your fills and orders
        self.orders = overlay.take_orders() or []
        self._update_token = self._hub.on_trade_update(overlay.on_update)
        self.on_msg(self._on_front_end)
        self._quote_token = self._hub.subscribe(
            quotes=syms, trades=syms if trades else (), bars=syms if bars else (), callback=self._on_batch
        )
        self._attach_pump(self._flush, interval=1.0 / max_rate)

    # ----- data in ----------------------------------------------------------------------------
    def _on_batch(self, batch: list[tuple[str, str, list[tuple[Any, ...]]]]) -> None:
        """On the engine thread, once per frame: keep the points for the next flush (cheap)."""
        series = self._series
        with self._lock:
            for channel, symbol, items in batch:
                one = series.get(symbol)
                if one is not None:
                    one.accept_all(channel, items)

    def _rest_channels(self) -> list[str]:
        return ["quotes", *(["bars"] if self.show_bars else [])]

    # ----- data out ---------------------------------------------------------------------------
    def _flush(self) -> None:
        """On the pump thread, ≤ max_rate times a second: status, and at most one delta message.

        After a reconnect the gap is fetched on the REST thread; until it is merged, newer points
        wait, so the chart never draws past a hole it is about to fill."""
        if self._closed:
            return
        stats = self._hub.stats()
        self._update_status(stats)
        if stats["reconnects"] > self._reconnects_seen and stats["state"] == "connected":
            self._reconnects_seen = stats["reconnects"]
            self._backfilling.set()
            if not self._hub.run_soon(("backfill", id(self)), self._backfill):
                self._backfilling.clear()
        trades = self._trades
        trades.due(self._hub, id(self))
        orders = trades.take_orders()
        if orders is not None:
            self.orders = orders
        if self._backfilling.is_set():
            return
        with self._send_lock:
            message, buffers, points = self._take_delta()
            fills = _fill_marks(trades.take_fills())
            if points or fills:
                message["fills"] = fills
                self.send(message, buffers)
                self._frames += 1
                self._sent_points += points

    def _backfill(self) -> None:
        """On the REST thread: fetch what was missed since the last point sent, merge it in order.

        The new connection's points are still pending, so the gap's points go in between, sorted
        and de-duplicated by timestamp."""
        try:
            for channel in self._rest_channels():
                with self._lock:
                    since = {sym: s.sent[channel] or s.last[channel] for sym, s in self._series.items()}
                fetched = self._session.records(channel, since)
                with self._lock:
                    for symbol, records in fetched.items():
                        series = self._series[symbol]
                        shaped = [_shape(channel, p) for p in records]
                        merged = {
                            p[0]: p for p in shaped + series.pending[channel] if p[0] > series.sent[channel]
                        }
                        series.pending[channel] = [merged[t] for t in sorted(merged)]
                        if merged:
                            series.last[channel] = max(series.last[channel], max(merged))
                        self._backfilled += len(shaped)
        finally:
            self._backfilling.clear()

    def _update_status(self, stats: dict[str, Any]) -> None:
        state, age = stats["state"], stats["last_message_age_s"]
        status = (
            "reconnecting"
            if state in ("connecting", "reconnecting")
            else "closed"
            if state == "closed"
            else "live"
        )
        if status == "live" and (age is None or age > STALE_AFTER_S):
            status = "stale"
        if status != self.status:
            self.status = status

    def _take_delta(self) -> tuple[dict[str, Any], list[bytes], int]:
        with self._lock:
            taken = {}
            for sym, series in self._series.items():
                taken[sym] = tuple(_with_breaks(series.pending[c], series.sent[c], c) for c in CHANNELS)
                for c in CHANNELS:
                    if series.pending[c]:
                        series.sent[c] = series.pending[c][-1][0]
                    series.history[c].extend(series.pending[c])
                    series.pending[c] = []
        return _encode(taken, "extend")  # type: ignore[arg-type]

    def _on_front_end(self, _: Any, content: Any, buffers: list[bytes]) -> None:
        if not isinstance(content, dict) or answer_plotly(self, content):
            return
        if content.get("type") == "ready":
            with self._send_lock:
                self.send(*self._snapshot()[:2])

    def _snapshot(self) -> tuple[dict[str, Any], list[bytes], int]:
        """What a view that just rendered should show: the points already sent, within the window."""
        cutoff = time.time_ns() - int(self.window_s * 1e9)
        with self._lock:
            taken = {
                sym: tuple([p for p in series.history[c] if p[0] >= cutoff] for c in CHANNELS)
                for sym, series in self._series.items()
            }
        message, buffers, points = _encode(taken, "reset")  # type: ignore[arg-type]
        message["fills"] = _fill_marks([f for f in self._trades.fills if f[0] >= cutoff])
        return message, buffers, points

    # ----- display and export -----------------------------------------------------------------
    def static_svg(self, width: int = 720, height_per_symbol: int = 150) -> str:
        """The chart's current bid/ask as a self-contained SVG (no JavaScript)."""
        with self._lock:
            series = {
                sym: [p for p in list(s.history["quotes"]) + s.pending["quotes"]]
                for sym, s in self._series.items()
            }
        return _svg(series, self.window_s, width, height_per_symbol)

    # ----- lifecycle --------------------------------------------------------------------------
    @property
    def stats(self) -> dict[str, int]:
        """Frames and points sent to the browser so far, and points backfilled from REST."""
        return {"frames": self._frames, "points": self._sent_points, "backfilled": self._backfilled}

    def __repr__(self) -> str:
        return f"<QuoteChart {', '.join(self.symbols)} window={self.window_s:g}s {self.status}>"


def _svg(series: dict[str, list[tuple[Any, ...]]], window_s: float, width: int, band: int) -> str:
    """Bid (blue) and ask (orange) polylines, one band per symbol, with min/max labels."""
    import html

    height = band * max(1, len(series))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'style="font:11px sans-serif;background:#fff">']  # fmt: skip
    all_t = [p[0] for points in series.values() for p in points]
    t1 = max(all_t, default=0)
    t0 = t1 - window_s * 1e9
    for i, (symbol, points) in enumerate(series.items()):
        points = [p for p in points if p[0] >= t0]
        top = i * band
        parts.append(f'<text x="4" y="{top + 14}">{html.escape(symbol)}</text>')
        if len(points) < 2:
            parts.append(f'<text x="60" y="{top + 14}" fill="#888">no data</text>')
            continue
        lo = min(min(p[1], p[2]) for p in points)
        hi = max(max(p[1], p[2]) for p in points)
        span_y, span_t = (hi - lo) or 1.0, (t1 - t0) or 1.0

        def xy(
            t: float, v: float, top: int = top, lo: float = lo, span_y: float = span_y, span_t: float = span_t
        ) -> str:
            x = 60 + (t - t0) / span_t * (width - 70)
            y = top + 20 + (1 - (v - lo) / span_y) * (band - 30)
            return f"{x:.1f},{y:.1f}"

        for column, color in ((1, "#1f77b4"), (2, "#ff7f0e")):
            coords = " ".join(xy(p[0], p[column]) for p in points[-2000:])
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1" points="{coords}"/>')
        parts.append(f'<text x="4" y="{top + 30}" fill="#555">{hi:.2f}</text>')
        parts.append(f'<text x="4" y="{top + band - 8}" fill="#555">{lo:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fill_marks(fills: list[Any]) -> list[list[Any]]:
    """Fills as the front end draws them: [t_ms, symbol, price, side ±1, qty] (a few, as JSON)."""
    return [[t / 1e6, symbol, price, side, qty] for t, symbol, price, side, qty in fills]


def _shape(channel: str, item: tuple[Any, ...]) -> tuple[Any, ...]:
    """Stream tuples → what the chart keeps: quotes (t, bid, ask), trades (t, price), bars (t, o, h, l, c)."""
    if channel == "quotes":
        return (item[0], item[1], item[3])
    return item[:2] if channel == "trades" else item[:5]


def _with_breaks(points: list[tuple[Any, ...]], after: int, channel: str) -> list[tuple[Any, ...]]:
    """``points`` with a row of NaNs (drawn as a break) wherever more than ``GAP_NS`` passed between two
    points — a hole in the data shows as a hole, not as a flat line drawn across it."""
    gap = GAP_NS[channel]
    out: list[tuple[Any, ...]] = []
    last = after
    for point in points:
        if last and point[0] - last > gap:
            out.append((last + 1_000_000, *([float("nan")] * (len(point) - 1))))
        out.append(point)
        last = point[0]
    return out


def _encode(
    taken: dict[str, tuple[list[Any], list[Any], list[Any]]], kind: str
) -> tuple[dict[str, Any], list[bytes], int]:
    """A message with, per symbol, counts; the numbers go as float64 buffers (x in ms since epoch)."""
    meta: list[dict[str, Any]] = []
    buffers: list[bytes] = []
    points = 0
    for symbol, (quotes, trades, bars) in taken.items():
        entry: dict[str, Any] = {"symbol": symbol}
        for channel, rows, width in (("quotes", quotes, 3), ("trades", trades, 2), ("bars", bars, 5)):
            if rows or kind == "reset":
                arr = np.asarray(rows, dtype=np.float64).reshape(-1, width)
                arr[:, 0] /= 1e6  # ns → ms for JavaScript dates
                entry[channel] = [len(buffers), len(arr)]
                buffers.append(np.ascontiguousarray(arr.T).tobytes())
                points += len(arr)
        meta.append(entry)
    return {"type": kind, "series": meta}, buffers, points
