"""``OrderTicket``: an order form with pre-trade checks, idempotent submit and a live interlock.

Rules, in the order they apply when Submit is pressed:

1. the fields are checked (``trading.build_order_request``: one line naming the problem, nothing sent);
2. pre-trade checks: buying power, ``max_notional`` and ``max_position`` (a refusal names the limit);
3. the live account needs the session's ``allow_live=True`` *and* a second, explicit confirmation that
   restates side, quantity, symbol and estimated notional;
4. one ``client_order_id`` per intended order: a second click, or a resend after a lost answer, finds
   the same order (``trading.place_order``) instead of making another. Editing a field starts a new
   intended order.

The ticket starts on the paper account every time it is created.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ..errors import AlpacaNbError, ValidationError
from .live import LiveWidget

if TYPE_CHECKING:
    from ..session import Session

STATIC = Path(__file__).parent / "static"
FIELDS = ("symbol", "side", "qty", "notional", "order_type", "tif", "limit_price", "stop_price",
          "trail_price", "trail_percent", "extended_hours", "account")  # fmt: skip


class OrderTicket(LiveWidget, anywidget.AnyWidget):
    """An order form for one symbol at a time.

    Parameters
    ----------
    symbol:
        The symbol to start with.
    session:
        Default: the current session.
    max_notional:
        Refuse orders whose estimated value exceeds this (dollars; None: no limit).
    max_position:
        Refuse orders that would take the position beyond this many shares either way (None: no limit).

    Examples
    --------
    >>> anb.OrderTicket("AAPL")
    """

    _esm = STATIC / "order_ticket.js"
    _css = STATIC / "order_ticket.css"

    symbol = traitlets.Unicode("").tag(sync=True)
    side = traitlets.Unicode("buy").tag(sync=True)
    qty = traitlets.Unicode("1").tag(sync=True)
    notional = traitlets.Unicode("").tag(sync=True)
    order_type = traitlets.Unicode("market").tag(sync=True)
    tif = traitlets.Unicode("day").tag(sync=True)
    limit_price = traitlets.Unicode("").tag(sync=True)
    stop_price = traitlets.Unicode("").tag(sync=True)
    trail_price = traitlets.Unicode("").tag(sync=True)
    trail_percent = traitlets.Unicode("").tag(sync=True)
    extended_hours = traitlets.Bool(False).tag(sync=True)
    account = traitlets.Unicode("paper").tag(sync=True)
    live_allowed = traitlets.Bool(False).tag(sync=True)
    live_reason = traitlets.Unicode("").tag(sync=True)
    asset = traitlets.Unicode("").tag(sync=True)
    bid = traitlets.Float(0.0).tag(sync=True)
    ask = traitlets.Float(0.0).tag(sync=True)
    estimate = traitlets.Unicode("").tag(sync=True)
    confirming = traitlets.Bool(False).tag(sync=True)
    confirm_text = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    order_id = traitlets.Unicode("").tag(sync=True)
    order_status = traitlets.Unicode("").tag(sync=True)
    status_line = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        symbol: str | None = None,
        session: Session | None = None,
        *,
        max_notional: float | None = 50_000.0,
        max_position: float | None = None,
    ) -> None:
        from ..session import current_session

        super().__init__()
        self._session = session or current_session()
        self.max_notional = max_notional
        self.max_position = max_position
        self._lock = threading.Lock()
        self._intent: tuple[tuple[Any, ...], str] | None = None  # (fields, client_order_id)
        self._sent: set[str] = set()  # client_order_ids already placed
        self._assets: dict[str, dict[str, Any]] = {}

        live = self._session.allow_live and "live" in self._session._accounts
        self.live_allowed = live
        self.live_reason = (
            "" if live else "live trading is locked: connect with allow_live=True and live keys"
        )
        self.account = "paper"  # every new ticket starts on paper
        self._hub = hub = self._session.stream  # kept: close() must work after the session closed
        self._update_token = hub.on_trade_update(self._on_trade_update)
        self._attach_pump(self._pump, interval=0.5)
        self.observe(self._on_field, names=list(FIELDS))
        self.on_msg(self._on_front_end)
        if symbol:
            self.symbol = symbol.strip().upper()

    # ----- fields -----------------------------------------------------------------------------
    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in FIELDS)

    def _on_field(self, change: dict[str, Any]) -> None:
        self.confirming = False
        if change["name"] == "account" and change["new"] == "live" and not self.live_allowed:
            self.account = "paper"
            self.message = f"refused: {self.live_reason}"
            return
        if change["name"] == "symbol":
            self._check_symbol()
        self._update_estimate()

    def _check_symbol(self) -> None:
        symbol = self.symbol.strip().upper()
        self.asset = ""
        if not symbol:
            return
        try:
            info = self._asset(symbol)
        except AlpacaNbError as err:
            self.message = _one_line(err)
            return
        traits = [k for k in ("tradable", "fractionable", "shortable") if info.get(k)]
        self.asset = f"{info.get('name', symbol)} · {', '.join(traits) or 'not tradable'}"
        self.message = "" if info.get("tradable") else f"{symbol} is not tradable"
        self._follow_quotes(symbol)

    def _asset(self, symbol: str) -> dict[str, Any]:
        if symbol not in self._assets:
            from ..trading import SYMBOL_RE

            if not SYMBOL_RE.match(symbol):
                raise ValidationError(f"not a valid stock symbol: {symbol!r}")
            client = self._session.client("paper" if "paper" in self._session._accounts else None)
            self._assets[symbol] = client._exchange("GET", f"/assets/{symbol}").json()
        return self._assets[symbol]

    def _follow_quotes(self, symbol: str) -> None:
        hub = self._hub
        if self._quote_token is not None:
            hub.unsubscribe(self._quote_token)
        self._quote_token = hub.subscribe(quotes=[symbol])

    def _pump(self) -> None:
        if self._closed or not self.symbol:
            return
        quotes = self._hub.quotes(self.symbol)
        if quotes:
            _, bid, _, ask, _ = quotes[-1]
            if (bid, ask) != (self.bid, self.ask):
                with self.hold_sync():
                    self.bid, self.ask = float(bid), float(ask)
                self._update_estimate()

    def _price(self) -> float | None:
        for text in (self.limit_price, self.stop_price):
            value = _float(text)
            if value:
                return value
        touch = self.ask if self.side == "buy" else self.bid
        return touch or None

    def _estimated_notional(self) -> float | None:
        notional = _float(self.notional)
        if notional:
            return notional
        qty, price = _float(self.qty), self._price()
        return qty * price if qty and price else None

    def _update_estimate(self) -> None:
        value = self._estimated_notional()
        self.estimate = "" if value is None else f"≈ ${value:,.2f}"

    # ----- submit -----------------------------------------------------------------------------
    def _on_front_end(self, _: Any, content: dict[str, Any], buffers: list[bytes]) -> None:
        kind = content.get("type")
        if kind == "submit":
            self.submit()
        elif kind == "confirm":
            self.submit(confirmed=True)
        elif kind == "back":
            self.confirming = False
        elif kind == "cancel-order" and self.order_id:
            try:
                self._session.cancel_order(self.order_id, account=self.account)
                self.message = "cancel requested"
            except AlpacaNbError as err:
                self.message = _one_line(err)

    def submit(self, *, confirmed: bool = False) -> Any:
        """What the Submit (and, for live, Confirm) button does; returns the order or None."""
        with self._lock:  # a double click waits here, then finds the order already placed
            try:
                return self._submit(confirmed)
            except AlpacaNbError as err:
                self.message = _one_line(err)
                self.confirming = False
                return None

    def _submit(self, confirmed: bool) -> Any:
        from ..trading import build_order_request, new_client_order_id, place_order

        fields = self._fields()
        if self._intent is None or self._intent[0] != fields:
            self._intent = (fields, new_client_order_id())
        coid = self._intent[1]
        if coid in self._sent:
            self.message = f"already submitted as {self.order_id[:8]}… (change a field for a new order)"
            return None
        qty_text, notional_text = self.qty.strip(), self.notional.strip()
        request = build_order_request(
            self.symbol,
            qty=_field_number(qty_text, "qty") if qty_text else None,
            notional=_field_number(notional_text, "notional") if notional_text else None,
            side=self.side,
            type=self.order_type,
            time_in_force=self.tif,
            limit_price=_maybe(self.limit_price, "limit_price"),
            stop_price=_maybe(self.stop_price, "stop_price"),
            trail_price=_maybe(self.trail_price, "trail_price"),
            trail_percent=_maybe(self.trail_percent, "trail_percent"),
            extended_hours=self.extended_hours,
            client_order_id=coid,
        )
        symbol, side = str(request.symbol), str(self.side)
        asset = self._asset(symbol)
        if not asset.get("tradable"):
            raise ValidationError(f"{symbol} is not tradable")
        if request.qty is not None and request.qty != int(request.qty) and not asset.get("fractionable"):
            raise ValidationError(f"{symbol} is not fractionable: use a whole quantity")
        client = self._session.client(self.account)  # raises LiveTradingLockedError if locked
        estimate = self._pre_trade_checks(client, symbol, side, request.qty)
        if self.account == "live" and not confirmed:
            qty = (
                f"{request.qty:g} shares" if request.qty is not None else f"${request.notional or 0:,.2f} of"
            )
            restated = f"{side.upper()} {qty} {symbol}, estimated ${estimate:,.2f}"
            self.confirm_text = f"Send a LIVE order with real money: {restated}?"
            self.confirming = True
            self.message = ""
            return None
        self.confirming = False
        order = place_order(client, request)
        self._sent.add(coid)
        with self.hold_sync():
            self.order_id = str(order.id)
            self.order_status = str(order.status.value)
            self.status_line = _status_line(order.model_dump(mode="json"))
            self.message = ""
        return order

    def _pre_trade_checks(self, client: Any, symbol: str, side: str, qty: float | None) -> float:
        """Buying power, max_notional, max_position: a refusal names the limit."""
        estimate = self._estimated_notional() or 0.0
        if self.max_notional is not None and estimate > self.max_notional:
            limit = f"${self.max_notional:,.2f}"
            raise ValidationError(
                f"refused: estimated ${estimate:,.2f} exceeds the ticket's max_notional {limit}"
            )
        account = client._exchange("GET", "/account").json()
        buying_power = float(account.get("buying_power") or 0)
        if side == "buy" and estimate > buying_power:
            raise ValidationError(
                f"refused: estimated ${estimate:,.2f} exceeds buying power ${buying_power:,.2f}"
            )
        if self.max_position is not None and qty is not None:
            try:
                held = float(client._exchange("GET", f"/positions/{symbol}").json()["qty"])
            except AlpacaNbError:
                held = 0.0
            after = held + (qty if side == "buy" else -qty)
            if abs(after) > self.max_position:
                limit = f"{self.max_position:g}"
                raise ValidationError(
                    f"refused: the position would be {after:g} shares, beyond max_position {limit}"
                )
        return estimate

    # ----- display and export -----------------------------------------------------------------
    def static_html(self) -> str:
        import html as html_

        price = " ".join(f"{k} {v}" for k, v in (("limit", self.limit_price), ("stop", self.stop_price)) if v)
        what = f"{self.side} {self.qty or '$' + self.notional} {self.symbol or '—'} {self.order_type} {price}"
        status = f"<div>{html_.escape(self.status_line)}</div>" if self.status_line else ""
        return (
            '<div style="font-family:sans-serif;border:1px solid #ddd;border-radius:6px;padding:6px 10px;'
            f'display:inline-block"><b>Order ticket</b> ({html_.escape(self.account.upper())}): '
            f"{html_.escape(what.strip())}{status}</div>"
        )

    # ----- following the order ------------------------------------------------------------------
    def _on_trade_update(self, update: dict[str, Any]) -> None:
        order = update.get("order") or {}
        if not self.order_id or order.get("id") != self.order_id:
            return
        with self.hold_sync():
            self.order_status = str(order.get("status", ""))
            self.status_line = _status_line(order)

    def __repr__(self) -> str:
        return f"<OrderTicket {self.symbol or '-'} {self.side} {self.account}>"


def _status_line(order: dict[str, Any]) -> str:
    """``buy 3 SPY: filled · 3 filled @ 500.01`` from an order (REST or trade_updates shape)."""
    side, symbol, status = order.get("side"), order.get("symbol"), order.get("status")
    line = f"{side} {order.get('qty') or ('$' + str(order.get('notional')))} {symbol}: {status}"
    filled, price = order.get("filled_qty"), order.get("filled_avg_price")
    if filled and float(filled) > 0 and price:
        line += f" · {float(filled):g} filled @ {float(price):,.2f}"
    return line


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _field_number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValidationError(f"{name} must be a number, not {text!r}") from None
    return value


def _maybe(text: str, name: str) -> float | None:
    return _field_number(text.strip(), name) if text.strip() else None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300] or type(err).__name__
