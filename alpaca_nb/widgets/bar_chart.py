"""``BarChart``: candles and volume, your fills as buy/sell markers, your open orders as lines you can
drag to propose a replace — live from the streams.

What goes over the comm: a ``reset`` snapshot (candles and fills as float64 buffers) when a view
renders, then ``extend`` deltas (the candle that changed or began, new fills) at most 10 times a
second; open orders and a proposed replace are small synced traits. Minute bars from the stream are
folded into the chart's own timeframe (``1Min``…``1Day``); a minute that the REST history already held
is not counted twice.

Dragging an order's line is only a proposal: the kernel checks the order is one this chart shows and
the price is a price, then shows "Replace BUY 5 AAPL limit 150.00 → 148.50" with a one-time token; a
confirm carrying that token replaces the order once (``Session.replace_order``: never resent blindly).
On the live account the proposal is marked LIVE and is the bound confirmation: another drag replaces
it, a confirm without it or with an old token is refused.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets

from .assets import stylesheet
from .live import LiveWidget
from .plotly_page import answer_plotly, chart_esm
from .trades_overlay import TradesOverlay

if TYPE_CHECKING:
    import pandas as pd

    from ..session import Session

NS = 1_000_000_000
_UNIT_NS = {"Min": 60 * NS, "Hour": 3600 * NS}


class BarChart(LiveWidget, anywidget.AnyWidget):
    """Candles + volume for one symbol, with your fills and open orders on them.

    Parameters
    ----------
    symbol, timeframe, start, end:
        As ``Session.bars`` (default: daily bars of the last year).
    session:
        Default: the current session.
    account:
        Whose fills and orders to draw (default: where the session's orders go).
    live:
        Follow the stream: the last candle, new fills, order changes (``1Min``…``1Day`` timeframes).

    Examples
    --------
    >>> anb.BarChart("AAPL", "1Day", start="2024-01-01")
    >>> anb.BarChart("MSFT", "5Min", start="2024-10-14 09:30")   # drag an order's line to replace it
    """

    _esm = chart_esm("bar_chart.js")
    _css = stylesheet("bar_chart.css")
    _front_end_fields: dict[str, type] = {}  # noqa: RUF012 (the browser may write nothing)

    symbol = traitlets.Unicode().tag(sync=True)
    timeframe = traitlets.Unicode().tag(sync=True)
    title = traitlets.Unicode().tag(sync=True)
    status = traitlets.Unicode("live").tag(sync=True)
    orders = traitlets.List(traitlets.Dict()).tag(sync=True)  # open orders: id, side, qty, type, prices
    proposal = traitlets.Dict().tag(sync=True)  # {"text", "token", "live"} of a dragged order line
    message = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        symbol: str,
        timeframe: str = "1Day",
        start: Any = None,
        end: Any = None,
        session: Session | None = None,
        *,
        account: str | None = None,
        live: bool = True,
    ) -> None:
        import pandas as pd

        from .._wire import normalize_symbol
        from ..data import parse_timeframe
        from ..session import current_session

        symbol = normalize_symbol(symbol)
        timeframe = parse_timeframe(timeframe)
        session = session or current_session()
        if account is not None or session.has_accounts:
            session.client(account)  # the live interlock, before any widget exists
        if start is None and timeframe.endswith(("Day", "Week", "Month")):
            start = pd.Timestamp.now(tz="America/New_York").normalize() - pd.Timedelta(days=365)
        bars = session.bars(symbol, timeframe, start, end, progress=False)
        trades = TradesOverlay(session, [symbol], account, since=start)
        super().__init__(symbol=symbol, timeframe=timeframe, title=f"{symbol} · {timeframe}")
        self._session, self._account, self._trades = session, account, trades
        self._lock = threading.Lock()
        self._candles = _candle_rows(bars)  # [t_ns, o, h, l, c, v]
        self._since = time.time_ns()  # minute bars that ended before this are in the REST history
        self._changed: dict[int, list[float]] = {}  # candles to send: t_ns → row
        self._proposal: tuple[str, str, str, float] | None = None  # token, order id, field, price
        # keyless (crypto-data mode) the stream cannot carry bars: the chart is the REST history, not live
        self._bucket = _bucketer(timeframe) if live and session.has_accounts else None
        self._hub = hub = session.stream
        trades.refresh()
        self.orders = trades.take_orders() or []
        self.on_msg(self._on_front_end)
        if self._bucket is not None:
            self._quote_token = hub.subscribe(bars=[symbol], callback=self._on_batch)
            self._update_token = hub.on_trade_update(trades.on_update)
            self._attach_pump(self._flush, interval=0.1)

    # ----- data in (engine thread: cheap) -------------------------------------------------------
    def _on_batch(self, batch: list[tuple[str, str, list[tuple[Any, ...]]]]) -> None:
        bucket = self._bucket
        if bucket is None:
            return
        with self._lock:
            for bar in (b for channel, symbol, bars in batch if channel == "bars" and symbol == self.symbol
                        for b in bars):  # fmt: skip
                if bar[0] + 60 * NS <= self._since:
                    continue
                t = bucket(bar[0])
                last = self._candles[-1] if self._candles else None
                if last is not None and last[0] == t:
                    last[2], last[3] = max(last[2], bar[2]), min(last[3], bar[3])
                    last[4], last[5] = bar[4], last[5] + bar[5]
                elif last is None or t > last[0]:
                    self._candles.append([t, bar[1], bar[2], bar[3], bar[4], float(bar[5])])
                else:
                    continue  # a bar older than the last candle: not ours to move
                self._changed[t] = self._candles[-1]

    # ----- data out (pump thread) ---------------------------------------------------------------
    def _flush(self) -> None:
        """On the pump thread: what the REST thread fetched, the candle that changed, new fills."""
        if self._closed:
            return
        trades = self._trades
        trades.due(self._hub, id(self))
        orders = trades.take_orders()
        if orders is not None:
            self.orders = orders
        if trades.error:
            self.message, trades.error = trades.error, ""
        with self._lock:
            candles, self._changed = list(self._changed.values()), {}
        fills = _fill_rows(trades.take_fills())
        if candles or fills:
            self.send({"type": "extend", "candles": [0, len(candles)], "fills": [1, len(fills)]},
                      [_pack(candles, 6), _pack(fills, 4)])  # fmt: skip

    def _snapshot(self) -> tuple[dict[str, Any], list[bytes]]:
        with self._lock:
            candles = [list(c) for c in self._candles]
        fills = _fill_rows(self._trades.fills)
        message = {"type": "reset", "candles": [0, len(candles)], "fills": [1, len(fills)]}
        return message, [_pack(candles, 6), _pack(fills, 4)]

    # ----- the front end: plotly, ready, a dragged line, confirm --------------------------------
    def _on_front_end(self, _: Any, content: Any, buffers: list[bytes]) -> None:
        if answer_plotly(self, content) or not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "ready":
            self.send(*self._snapshot())
        elif kind == "drag":
            self._propose(content.get("id"), content.get("field"), content.get("price"))
        elif kind == "confirm":
            self._confirm(content.get("token"))
        elif kind == "dismiss":
            self._proposal, self.proposal = None, {}

    def _propose(self, order_id: Any, field: Any, price: Any) -> None:
        """A line was dragged: check it, and show what a confirm would send (nothing is sent)."""
        order = next((o for o in self.orders if o["id"] == order_id), None)
        new = _price_of(price)
        if (
            order is None
            or field not in ("limit_price", "stop_price")
            or order.get(field) is None
            or new is None
        ):
            self._proposal, self.proposal = None, {}
            self.message = "refused: that is not a line of an open order shown here, or not a price"
            return
        live = (self._account or self._session.default_account) == "live"
        kind = "limit" if field == "limit_price" else "stop"
        text = (f"Replace {order['side'].upper()} {order['qty']:g} {self.symbol} {kind} "
                f"{order[field]:.2f} → {new:.2f}{' on the LIVE account' if live else ''}?")  # fmt: skip
        token = secrets.token_hex(16)
        self._proposal = (token, order["id"], field, new)
        self.proposal = {
            "text": text,
            "token": token,
            "live": live,
            "id": order["id"],
            "field": field,
            "price": new,
        }
        self.message = ""

    def _confirm(self, token: Any) -> None:
        proposal, self._proposal = self._proposal, None  # one confirm per proposal, whatever happens
        self.proposal = {}
        if proposal is None or not isinstance(token, str) or not secrets.compare_digest(token, proposal[0]):
            self.message = "refused: there is no such proposal to confirm (drag a line again)"
            return
        _, order_id, field, price = proposal
        try:
            if field == "limit_price":
                replaced = self._session.replace_order(order_id, account=self._account, limit_price=price)
            else:
                replaced = self._session.replace_order(order_id, account=self._account, stop_price=price)
            self.message = f"replaced: {field.split('_')[0]} {price:.2f} (order {str(replaced.id)[:8]}…)"
        except Exception as err:
            self.message = f"{type(err).__name__}: {err}"
        self._trades.refresh()  # on the kernel's thread, like the confirm: then shown at once
        self.orders = self._trades.take_orders() or self.orders

    # ----- display and export -------------------------------------------------------------------
    def static_svg(self, width: int = 720, height: int = 300) -> str:
        """Candles, fills and order lines as a self-contained SVG (the export picture)."""
        from .bar_chart_picture import candles_svg

        with self._lock:
            candles = [list(c) for c in self._candles]
        return candles_svg(self.title, candles, _fill_rows(self._trades.fills), self.orders, width, height)

    def __repr__(self) -> str:
        fills = len(self._trades.fills)
        return f"<BarChart {self.symbol} {self.timeframe} candles={len(self._candles)} fills={fills}>"


def _candle_rows(bars: pd.DataFrame) -> list[list[float]]:
    stamps = bars.index.to_numpy("datetime64[ns]").astype(np.int64)
    cols = [bars[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")]
    return [[int(t), *(float(c[i]) for c in cols)] for i, t in enumerate(stamps)]


def _pack(rows: list[list[float]], width: int) -> bytes:
    """Rows as one float64 buffer, column by column (x in milliseconds, as JavaScript dates want)."""
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, width)
    arr[:, 0] /= 1e6
    return np.ascontiguousarray(arr.T).tobytes()


def _price_of(value: Any) -> float | None:
    """A price from the browser, on Alpaca's increments (cents from $1, 1/100 cent below), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        price = float(value)
    except OverflowError:  # JSON can carry a 400-digit integer
        return None
    if not math.isfinite(price) or not 0 < price < 1e7:
        return None
    rounded = round(price, 2 if price >= 1 else 4)
    return rounded if rounded > 0 else None


def _fill_rows(fills: list[Any]) -> list[list[float]]:
    """(t_ns, symbol, price, side, qty) → [t_ns, price, side, qty]: a chart of one symbol."""
    return [[t, price, side, qty] for t, _, price, side, qty in fills]


def _bucketer(timeframe: str) -> Any:
    """t_ns of a minute bar → t_ns of the candle it belongs to (Alpaca's alignment: New York midnight)."""
    import pandas as pd

    amount, unit = int("".join(ch for ch in timeframe if ch.isdigit())), timeframe.lstrip("0123456789")
    if unit not in ("Min", "Hour", "Day"):
        return None  # weeks and months are not followed live

    def bucket(t_ns: int) -> int:
        ny = pd.Timestamp(t_ns, tz="UTC").tz_convert("America/New_York")
        midnight = ny.normalize()
        if unit == "Day":
            return int(midnight.tz_convert("UTC").value)
        step = amount * _UNIT_NS[unit]
        into = ny.value - midnight.value
        return int(midnight.value + into // step * step)

    return bucket
