"""``AccountView``: the account card, positions and open orders, kept current from trade updates.

State is plain numbers and strings (no keys, no ids of keys): what Jupyter saves into a notebook is
what the card shows. Order events from every account's stream mark the view dirty; its pump asks the
hub's REST thread for a refresh at most every ``min_refresh_s`` (three requests) and applies the
result when it is there — a spent rate budget delays the refresh, never another widget's frames — so
a fill shows within a second. Between refreshes, unrealized P&L follows live quotes.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
import time
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from .._wire import quoted_symbol
from ..errors import ValidationError
from ..trading.account import Account, account_card_html
from .account_history import BLOTTER, curve_svg, fill_rows, follow, history_html, jsonable, update_row
from .assets import STATIC, stylesheet
from .live import LiveWidget

if TYPE_CHECKING:
    from ..session import Session

CURVES = {
    "1D": ("1D", "5Min"),
    "1W": ("1W", "1H"),
    "1M": ("1M", "1D"),
    "3M": ("3M", "1D"),
    "1A": ("1A", "1D"),
}
HISTORY_EVERY_S = 60.0  # the equity curve is fetched at most this often; its last point follows the account


def _opt(raw: dict[str, Any], key: str) -> float | None:
    value = raw.get(key)
    return None if value in (None, "") else float(value)


def _position_row(raw: dict[str, Any]) -> dict[str, Any]:
    def num(key: str) -> float | None:
        return _opt(raw, key)

    plpc = num("unrealized_plpc")
    return {
        "symbol": raw["symbol"],
        "quoted": quoted_symbol(raw),  # what its quotes come under (crypto: BTC/USD for BTCUSD)
        "multiplier": 100 if raw.get("asset_class") == "us_option" else 1,
        "qty": num("qty"),
        "side": raw.get("side"),
        "avg_entry_price": num("avg_entry_price"),
        "current_price": num("current_price"),
        "market_value": num("market_value"),
        "cost_basis": num("cost_basis"),
        "unrealized_pl": num("unrealized_pl"),
        "unrealized_plpc": None if plpc is None else round(plpc * 100, 4),
        **(
            {
                "delta": raw["greeks"].get("delta"),
                "gamma": raw["greeks"].get("gamma"),
                "theta": raw["greeks"].get("theta"),
                "vega": raw["greeks"].get("vega"),
            }
            if raw.get("greeks")
            else {}
        ),
    }


def _order_row(raw: dict[str, Any]) -> dict[str, Any]:
    def num(key: str) -> float | None:
        return _opt(raw, key)

    return {
        "id": raw["id"],
        "symbol": raw.get("symbol"),
        "side": raw.get("side"),
        "type": raw.get("type"),
        "qty": num("qty"),
        "notional": num("notional"),
        "filled_qty": num("filled_qty"),
        "limit_price": num("limit_price"),
        "stop_price": num("stop_price"),
        "status": raw.get("status"),
        "submitted_at": raw.get("submitted_at"),
    }


class AccountView(LiveWidget, anywidget.AnyWidget):
    """The account card, positions (with colour-coded P&L) and open orders (with a cancel button each).

    Examples
    --------
    >>> view = anb.AccountView()     # the current session's default account
    >>> view                          # updates live; view.close() stops it
    """

    _esm = STATIC / "account_view.js"
    _css = stylesheet("account_view.css")

    account = traitlets.Dict().tag(sync=True)
    positions = traitlets.List(traitlets.Dict()).tag(sync=True)
    orders = traitlets.List(traitlets.Dict()).tag(sync=True)
    status = traitlets.Unicode("loading").tag(sync=True)
    updated = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    curve = traitlets.List(traitlets.List()).tag(sync=True)  # [[t_ms, equity, drawdown], …]
    curve_period = traitlets.Unicode("1D").tag(sync=True)
    fills = traitlets.List(traitlets.Dict()).tag(sync=True)  # the blotter: newest first, ≤ BLOTTER
    pnl = traitlets.List(traitlets.Dict()).tag(sync=True)  # P&L by symbol

    def __init__(
        self,
        session: Session | None = None,
        *,
        account: str | None = None,
        curve: str = "1D",
        min_refresh_s: float = 0.25,
        idle_refresh_s: float = 15.0,
    ) -> None:
        from ..session import current_session

        if curve not in CURVES:
            raise ValidationError(f"curve must be one of {', '.join(CURVES)}, not {curve!r}")
        session = session or current_session()
        session.client(account)  # raises at once if live is locked: before any widget exists
        super().__init__(curve_period=curve)
        self._fills_due = True  # fetch the fills (blotter, P&L) on the next refresh
        self._history_at = 0.0  # when the equity curve was last fetched
        self._new_fills: list[dict[str, Any]] = []  # from trade updates, for the pump
        self._session = session
        self._kind = account
        self._shown = account or session.default_account
        self._min_refresh_s = min_refresh_s
        self._idle_refresh_s = idle_refresh_s
        self._dirty = threading.Event()
        self._last_refresh = 0.0
        self._last_quote_pass = 0.0
        self._refresh_ok = False
        self._fresh: tuple[Any, ...] | None = None  # a refresh the REST thread finished, for the pump

        self._quoted: tuple[str, ...] = ()

        self._connections_seen = 0
        self._hub = hub = self._session.stream  # kept: close() must work after the session closed
        self._refresh()
        self._update_token = hub.on_trade_update(self._on_trade_update)
        self._attach_pump(self._pump, interval=0.1)
        self.on_msg(self._on_front_end)

    # ----- updates ----------------------------------------------------------------------------
    def _on_trade_update(self, update: dict[str, Any]) -> None:
        if update.get("account") in (None, self._shown):
            if update.get("event") in ("fill", "partial_fill"):
                self._new_fills.append(update_row(update))  # the blotter shows it at the next tick
                self._fills_due = True
            self._dirty.set()  # on the engine thread: just flag it

    def _pump(self) -> None:
        """On the pump thread: apply a finished refresh, ask for one when due, else mark to quotes."""
        if self._closed:
            return
        fresh, self._fresh = self._fresh, None
        if fresh is not None:
            self._apply(fresh)
            return
        if self._new_fills:
            rows, self._new_fills = self._new_fills, []
            self.fills = (rows[::-1] + self.fills)[:BLOTTER]
        now = time.monotonic()
        connections = self._hub.stats()["trading_connections"]
        if connections != self._connections_seen:  # (re)connected: events may have been missed
            self._connections_seen = connections
            self._fills_due = True
            self._dirty.set()
        due = self._dirty.is_set() and now - self._last_refresh >= self._min_refresh_s
        if due or now - self._last_refresh >= self._idle_refresh_s:
            self._dirty.clear()
            self._last_refresh = now
            self._hub.run_soon(("account", id(self)), self._fetch_soon)  # REST: never on this thread
        elif now - self._last_quote_pass >= 1.0:
            self._last_quote_pass = now
            self._mark_to_quotes()

    def _fetch_soon(self) -> None:
        """On the REST thread: fetch, and leave the result for the pump to apply."""
        self._fresh = self._fetch()

    def _refresh(self) -> None:
        """Account, positions and open orders from REST, applied at once (the kernel's own thread)."""
        self._last_refresh = time.monotonic()
        self._apply(self._fetch())

    def _fetch(self) -> tuple[Any, ...]:
        """Account, positions, open orders; then the look back (the equity curve at most once a minute,
        the fills for the blotter and P&L after a fill): a failure there is a note, not a stale view."""
        session, kind = self._session, self._kind
        try:
            raw_account, raw_positions = session.account_raw(account=kind)
            orders = session.open_orders_raw(account=kind)
        except Exception as err:  # shown in the view, kept on the session
            return (err,)
        greeks: dict[str, dict[Any, Any]] = {}
        if any(p.get("asset_class") == "us_option" for p in raw_positions):
            try:  # option positions carry their greeks (position totals), as s.option_greeks() gives them
                frame = session.option_greeks(account=kind)
                greeks = {str(sym): {k: jsonable(v) for k, v in row.items() if k != "underlying"}
                          for sym, row in frame.iterrows()}  # fmt: skip
            except Exception:
                greeks = {}
        raw_positions = [
            dict(p, greeks=greeks.get(p["symbol"])) if p["symbol"] in greeks else p for p in raw_positions
        ]
        try:
            curve, fills, pnl = self._look_back(raw_positions)
            note = ""
        except Exception as err:
            curve = fills = pnl = None
            note = f"equity curve or fills not updated: {type(err).__name__}: {err}"
        return raw_account, raw_positions, orders, curve, fills, pnl, note

    def _look_back(self, raw_positions: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
        from ..trading.history import fills_frame, pnl_frame

        session, kind = self._session, self._kind
        curve: list[list[float]] | None = None
        if time.monotonic() - self._history_at >= HISTORY_EVERY_S:
            period, timeframe = CURVES[self.curve_period]
            history = session.portfolio_history(period, timeframe, account=kind)
            self._history_at = time.monotonic()
            curve = [
                [t.value // 1_000_000, float(e), float(d)]
                for t, e, d in zip(history.index, history.equity, history.drawdown, strict=True)
            ]
        fills = pnl = None
        if self._fills_due:
            self._fills_due = False
            try:
                raw_fills = session.trading_activities("FILL", account=kind)
            except Exception:
                self._fills_due = True  # try again at the next refresh
                raise
            fills = fill_rows(fills_frame(raw_fills))
            prices = {p["symbol"]: float(p["current_price"] or 0) for p in raw_positions}
            frame = pnl_frame(raw_fills, prices)
            pnl = [
                {"symbol": str(sym), **{k: jsonable(v) for k, v in row.items()}}
                for sym, row in frame.iterrows()
            ]
        return curve, fills, pnl

    def _apply(self, fetched: tuple[Any, ...]) -> None:
        if len(fetched) == 1:
            err = fetched[0]
            self._refresh_ok = False
            with self.hold_sync():
                self.status, self.message = "stale", f"{type(err).__name__}: {err}"
            return
        raw_account, raw_positions, raw_orders, curve, fills, pnl, note = fetched
        mode = self._session.mode if (self._kind or self._session.default_account) != "live" else "live"
        card = Account.from_alpaca(raw_account, "live" if mode == "live" else mode).to_dict()
        with self.hold_sync():
            self.account = card
            self.positions = [_position_row(p) for p in raw_positions]
            self.orders = [_order_row(o) for o in raw_orders]
            self.curve = follow(curve if curve is not None else self.curve, card["equity"])
            if fills is not None:
                self.fills, self.pnl = fills, pnl or []
            self.updated = dt.datetime.now().strftime("%H:%M:%S")
            self.status = "live"
            if note or self.message.startswith("equity curve or fills not updated"):
                self.message = note
        self._refresh_ok = True
        self._follow_quotes(tuple(sorted(quoted_symbol(p) for p in raw_positions)))

    def _follow_quotes(self, symbols: tuple[str, ...]) -> None:
        if symbols == self._quoted:
            return
        hub = self._hub
        if self._quote_token is not None:
            hub.unsubscribe(self._quote_token)
            self._quote_token = None
        if symbols:
            self._quote_token = hub.subscribe(quotes=symbols)
        self._quoted = symbols

    def _mark_to_quotes(self) -> None:
        """Re-mark positions at the live mid price (between REST refreshes)."""
        hub = self._hub
        changed = False
        rows = []
        for row in self.positions:
            quote = hub.latest_quote(row.get("quoted") or row["symbol"])
            if quote is not None and row.get("qty") and row.get("cost_basis") is not None:
                price = round((quote.bid + quote.ask) / 2, 4)
                if price != row.get("current_price"):
                    value = row["qty"] * price * row.get("multiplier", 1)  # an option: 100 shares a contract
                    upl = value - row["cost_basis"]
                    base = abs(row["cost_basis"]) or 1.0
                    row = {
                        **row,
                        "current_price": price,
                        "market_value": round(value, 2),
                        "unrealized_pl": round(upl, 2),
                        "unrealized_plpc": round(upl / base * 100, 4),
                    }
                    changed = True
            rows.append(row)
        if changed:
            self.positions = rows

    def _on_front_end(self, _: Any, content: Any, buffers: list[bytes]) -> None:
        """The front end may ask to cancel an order this view shows; nothing else."""
        if not isinstance(content, dict) or content.get("type") != "cancel":
            return
        order_id = content.get("id")
        if not isinstance(order_id, str) or order_id not in {o["id"] for o in self.orders}:
            self.message = "refused: that order is not among the open orders shown"
            return
        try:
            self._session.cancel_order(order_id, account=self._kind)
            self.message = f"cancel requested for {order_id[:8]}…"
        except Exception as err:
            self.message = f"{type(err).__name__}: {err}"
        self._dirty.set()

    # ----- display and export -----------------------------------------------------------------
    def static_html(self) -> str:
        """The card and tables as plain HTML (what an export without a kernel shows)."""
        parts = [account_card_html(self.account)] if self.account else []
        parts.append(curve_svg(self.curve, self.curve_period))
        rows = "".join(
            f"<tr><td>{html.escape(p['symbol'])}</td><td>{p['qty']:g}</td><td>{p['avg_entry_price']:.2f}</td>"
            f"<td>{(p['current_price'] or 0):.2f}</td><td>{(p['market_value'] or 0):,.2f}</td>"
            f"<td>{(p['unrealized_pl'] or 0):+,.2f}</td></tr>"
            for p in self.positions
        )
        parts.append(
            "<h4>Positions</h4>"
            + (
                f"<table><tr><th>Symbol</th><th>Qty</th><th>Avg entry</th><th>Last</th>"
                f"<th>Market value</th><th>Unrealized P&amp;L</th></tr>{rows}</table>"
                if rows
                else "<p>No positions.</p>"
            )
        )
        orders = "".join(
            f"<tr><td>{html.escape(str(o['symbol']))}</td><td>{o['side']}</td><td>{o['type']}</td>"
            f"<td>{o['qty'] if o['qty'] is not None else ''}</td><td>{o['status']}</td></tr>"
            for o in self.orders
        )
        parts.append(
            "<h4>Open orders</h4>"
            + (
                f"<table><tr><th>Symbol</th><th>Side</th><th>Type</th><th>Qty</th>"
                f"<th>Status</th></tr>{orders}</table>"
                if orders
                else "<p>No open orders.</p>"
            )
        )
        parts.append(history_html(self.fills, self.pnl))
        return "".join(parts)

    def __repr__(self) -> str:
        equity = self.account.get("equity")
        return (
            f"<AccountView {self.account.get('mode', '?')} equity={equity} positions={len(self.positions)}>"
        )
