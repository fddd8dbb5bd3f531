"""``OrderTicket``: an order form on the session's one order path, with a bound live confirmation.

Rules, in the order they apply when Submit is pressed:

1. the fields are checked (``trading.build_order_request``: one line naming the problem, nothing sent);
2. the session's pre-trade policy (``Session.check``): the asset, a price the KERNEL knows (the
   stream's quote or a fresh REST one — never the browser's), buying power, and the ticket's
   ``max_notional``/``max_position`` on top of the session's own;
3. the live account needs the session's ``allow_live=True`` *and* a second, explicit confirmation
   that restates side, quantity, symbol and estimated notional. The confirmation is bound to exactly
   what it showed: it carries a one-time token, any change of a field cancels it, and a confirm that
   no review preceded (or with another token) is refused;
4. one ``client_order_id`` per intended order: a second click, or a resend after a lost answer, finds
   the same order (``trading.place_order``) instead of making another. Editing a field starts a new
   intended order.

The front end is untrusted: it may write only the form's fields (``FIELDS``); every other trait it
sends is dropped, and every message it sends is checked here. The ticket starts on paper every time.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ..errors import AlpacaNbError, OrderStateUnknownError, ValidationError
from .assets import STATIC, stylesheet
from .live import LiveWidget

if TYPE_CHECKING:
    from ..session import Session
    from ..trading import CheckedOrder, Limits

log = logging.getLogger("alpaca_nb.widgets")
FIELDS = ("symbol", "side", "qty", "notional", "order_type", "tif", "limit_price", "stop_price",
          "trail_price", "trail_percent", "extended_hours", "order_class", "take_profit", "stop_loss",
          "stop_loss_limit", "account")  # fmt: skip
OPEN_STATUSES = ("accepted", "new", "partially_filled", "pending_new", "held")


@dataclass(frozen=True, slots=True)
class _Review:
    """What a live confirmation showed, and the one token that confirms exactly that."""

    token: str
    fields: tuple[Any, ...]
    client_order_id: str
    text: str


class OrderTicket(LiveWidget, anywidget.AnyWidget):
    """An order form for one symbol at a time.

    Parameters
    ----------
    symbol:
        The symbol to start with.
    session:
        Default: the current session.
    max_notional:
        Refuse orders whose estimated value exceeds this (dollars; None: only the session's limit).
    max_position:
        Refuse orders that would take the position beyond this many shares either way.

    Examples
    --------
    >>> anb.OrderTicket("AAPL")
    >>> t = anb.OrderTicket("AAPL"); t.qty = "5"; t.submit()     # what the Submit button does
    """

    _esm = STATIC / "order_ticket.js"
    _css = stylesheet("order_ticket.css")
    _front_end_fields = {name: bool if name == "extended_hours" else str for name in FIELDS}  # noqa: RUF012

    # The form: the only traits the front end may write.
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
    order_class = traitlets.Unicode("simple").tag(sync=True)
    take_profit = traitlets.Unicode("").tag(sync=True)
    stop_loss = traitlets.Unicode("").tag(sync=True)
    stop_loss_limit = traitlets.Unicode("").tag(sync=True)
    account = traitlets.Unicode("paper").tag(sync=True)
    # What the kernel shows: written here only.
    live_allowed = traitlets.Bool(False).tag(sync=True)
    live_reason = traitlets.Unicode("").tag(sync=True)
    asset = traitlets.Unicode("").tag(sync=True)
    bid = traitlets.Float(0.0).tag(sync=True)
    ask = traitlets.Float(0.0).tag(sync=True)
    estimate = traitlets.Unicode("").tag(sync=True)
    confirming = traitlets.Bool(False).tag(sync=True)
    confirm_text = traitlets.Unicode("").tag(sync=True)
    review_token = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    order_id = traitlets.Unicode("").tag(sync=True)
    order_status = traitlets.Unicode("").tag(sync=True)
    status_line = traitlets.Unicode("").tag(sync=True)
    # What the symbol's asset class allows (the form shows only these; the checks enforce them anyway).
    choices = traitlets.Dict({}).tag(sync=True)
    # A multi-leg option order (kernel-written: add_leg / set_legs, or clicks in an OptionChain); with
    # legs the ticket sends one mleg order, ``limit_price`` its net price a share (negative: a credit).
    legs = traitlets.List(traitlets.Dict()).tag(sync=True)
    spread = traitlets.Dict({}).tag(sync=True)  # net, max gain/loss, breakevens, payoff points

    def __init__(
        self,
        symbol: str | None = None,
        session: Session | None = None,
        *,
        max_notional: float | None = 50_000.0,
        max_position: float | None = None,
    ) -> None:
        from ..session import current_session
        from ..trading import Limits

        session = session or current_session()
        limits = Limits(max_notional, max_position)  # checked before any widget exists
        super().__init__()
        self._session = session
        self._limits: Limits = limits
        self._lock = threading.Lock()
        self._intent: tuple[tuple[Any, ...], str] | None = None  # (fields, client_order_id)
        self._unsure: dict[tuple[Any, ...], str] = {}  # fields → id of an order sent with no answer
        self._sent: set[str] = set()  # client_order_ids already placed
        self._review: _Review | None = None
        self._order_account = "paper"
        # Following the order: the id it is sent with is known before the POST, so an update that
        # beats the answer is kept; updates (engine thread) and re-reads (REST thread) land in
        # _incoming, and only the pump thread shows them. _state guards the traits against the
        # kernel's thread setting them at the same time.
        self._expected = ""
        self._incoming: dict[str, Any] | None = None
        self._spread_ready: dict[str, Any] | None = None  # figures the REST thread made, for the pump
        self._shown_at = 0
        self._state = threading.RLock()

        self.live_allowed = session.live_unlocked
        self.live_reason = "" if self.live_allowed else (
            "live trading is locked: connect with allow_live=True and live keys")  # fmt: skip
        self.account = "paper"  # every new ticket starts on paper
        self._hub = hub = session.stream  # kept: close() must work after the session closed
        self._update_token = hub.on_trade_update(self._on_trade_update)
        self._attach_pump(self._pump, interval=0.5)
        self._class_key = "stock"  # the form's defaults are a stock's
        self._set_choices()
        self.observe(self._on_field, names=list(FIELDS))
        self.on_msg(self._on_front_end)
        if symbol:
            self.symbol = symbol.strip().upper()

    @property
    def max_notional(self) -> float | None:
        return self._limits.max_notional

    @property
    def max_position(self) -> float | None:
        return self._limits.max_position

    # ----- what the front end may do: write FIELDS (LiveWidget.set_state), send these messages ----------
    def _on_front_end(self, _: Any, content: Any, buffers: list[bytes]) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "submit":
            self.submit()
        elif kind == "confirm":
            token = content.get("token")
            self.confirm(token if isinstance(token, str) else "")
        elif kind == "back":
            self._clear_review()
        elif kind == "cancel-order":
            self.cancel_order()
        elif kind == "remove-leg":  # only a leg the kernel holds; the browser names it, adds nothing
            symbol = content.get("symbol")
            if isinstance(symbol, str) and any(leg["symbol"] == symbol for leg in self.legs):
                self.set_legs([leg for leg in self.legs if leg["symbol"] != symbol])
            else:
                self._refused += 1
        else:
            self._refused += 1

    # ----- fields -----------------------------------------------------------------------------
    def _fields(self) -> tuple[Any, ...]:
        legs = tuple(sorted((leg["symbol"], leg["side"], leg["ratio"]) for leg in self.legs))
        return (*(getattr(self, name) for name in FIELDS), legs)  # a confirmation is bound to the legs too

    # ----- legs (multi-leg option orders) ---------------------------------------------------------
    def add_leg(self, symbol: str, side: str = "buy", ratio: int = 1) -> None:
        """Add a leg (or, for a contract already in, set its side and ratio). Checked at once."""
        from ..trading.legs import Leg, check_legs

        leg = {"symbol": str(symbol).strip().upper(), "side": side, "ratio": ratio}
        if leg in self.legs:
            return  # the same leg again (a second click): the same intended order, the same id
        legs = [dict(x) for x in self.legs if x["symbol"] != leg["symbol"]] + [leg]
        if len(legs) > 1:
            check_legs([Leg(x["symbol"], x["side"], x["ratio"]) for x in legs])  # one-line error
        self.set_legs(legs)

    def use_strategy(
        self,
        name: str,
        underlying: str,
        *,
        expiration: Any = None,
        strike: float | None = None,
        width: int = 1,
    ) -> None:
        """Fill the legs from a template: ``call_vertical``, ``put_vertical``, ``straddle``, ``strangle``,
        ``iron_condor``, ``butterfly``, ``calendar`` — at the listed strike nearest ``strike`` (default:
        the underlying's price), on ``expiration`` (default: the nearest at least a week out).

        >>> t.use_strategy("iron_condor", "AAPL", width=2)
        """
        import datetime as dt

        from ..trading.strategies import strategy_legs

        session = self._session
        if strike is not None and (
            isinstance(strike, bool)
            or not isinstance(strike, int | float)
            or not math.isfinite(strike)
            or strike <= 0
        ):
            raise ValidationError(f"strike must be a positive number, not {strike!r}")
        if strike is None:
            quote, source = session.quote(underlying)
            if quote is None or not quote.bid or not quote.ask:
                raise ValidationError(f"no price for {underlying} ({source}): give strike=")
            strike = (quote.bid + quote.ask) / 2
        start = expiration or (dt.date.today() + dt.timedelta(days=7))
        window = dt.timedelta(days=70 if name == "calendar" else 0)
        import pandas as pd

        try:
            first = pd.Timestamp(start).date()
        except (ValueError, TypeError):
            raise ValidationError(f"expiration: cannot read {expiration!r} as a date") from None
        contracts = session.option_contracts(
            underlying, expiration_gte=first, expiration_lte=first + window + dt.timedelta(days=35)
        )
        if (
            expiration is None and not contracts.empty
        ):  # the nearest expiration (and the next, for a calendar)
            keep = sorted(set(contracts["expiration"]))[: 2 if name == "calendar" else 1]
            contracts = contracts[contracts["expiration"].isin(keep)]
        elif name != "calendar":
            contracts = contracts[contracts["expiration"] == pd.Timestamp(first)]
        legs = strategy_legs(name, contracts, strike=float(strike), width=width)
        self.set_legs([{"symbol": leg.symbol, "side": leg.side, "ratio": leg.ratio_qty} for leg in legs])

    def set_legs(self, legs: list[dict[str, Any]]) -> None:
        """Replace the legs (``[]``: back to a single-symbol order)."""
        first = not self.legs
        with self.hold_sync():
            self.legs = [
                {"symbol": x["symbol"], "side": x["side"], "ratio": int(x.get("ratio", 1))} for x in legs
            ]
            if self.legs:
                self.symbol = ""
                if first or self.order_type not in ("market", "limit"):
                    self.order_type = "limit"  # a spread is sent at a net price unless asked otherwise
                self.tif = "day"
        self._clear_review()  # the intended order (and its id) follows the fields: see _intended
        self._spread_due()

    def _spread_due(self) -> None:
        """The spread's figures need quotes and snapshots (REST): computed on the REST thread, once for
        any number of edits while it waits, and shown by the pump (``_pump``) — never on the comm or
        frame thread, and never more than the pump's rate."""
        if len(self.legs) < 2:
            self.spread, self._spread_ready = {}, None
            self._update_estimate()
            return
        if not self._hub.run_soon(("spread", id(self)), self._compute_spread):
            self._compute_spread()  # no REST thread (the hub closed): compute here

    def _compute_spread(self) -> None:
        self._spread_ready = self._spread_figures(
            tuple(dict(x) for x in self.legs), self.limit_price, self.qty
        )

    def _spread_figures(self, legs: tuple[dict[str, Any], ...], limit: str, qty: str) -> dict[str, Any]:
        """Net price, max gain and loss, breakevens and the payoff's points, from the kernel's own data."""
        if len(legs) < 2:
            return {}
        try:
            from ..trading.legs import Leg

            units = float(qty or 1)
            if not math.isfinite(units) or units <= 0 or units != int(units):
                raise ValidationError(f"qty must be a whole number of units, not {qty!r}")
            price = float(limit) if limit.strip() else self._natural_price(legs)
            if not math.isfinite(price):
                raise ValidationError(f"limit_price must be a finite number, not {limit!r}")
            pnl = self._session.payoff([Leg(x["symbol"], x["side"], x["ratio"]) for x in legs], price,
                                       qty=int(units))  # fmt: skip
        except (AlpacaNbError, ValueError, OverflowError) as err:
            return {"error": _one_line(err)}
        step = max(1, len(pnl) // 60)
        rows = zip(pnl.index[::step], pnl.at_expiry[::step], pnl.today[::step], strict=True)
        points = [[round(float(x), 2), round(float(a), 2), round(float(b), 2)] for x, a, b in rows]
        gain, loss = pnl.attrs["max_gain"], pnl.attrs["max_loss"]
        return {"net": price, "max_gain": None if gain == float("inf") else round(gain, 2),
                       "max_loss": None if loss == float("inf") else round(loss, 2),
                       "breakevens": list(pnl.attrs["breakevens"]), "points": points}  # fmt: skip

    def _natural_price(self, legs: tuple[dict[str, Any], ...]) -> float:
        """What the legs cost at the quotes now (buy at the ask, sell at the bid), per share."""
        total = 0.0
        for leg in legs:
            quote, source = self._session.quote(leg["symbol"])
            if quote is None:
                raise ValidationError(f"no quote for {leg['symbol']} ({source}): type a net limit price")
            total += (quote.ask if leg["side"] == "buy" else -quote.bid) * leg["ratio"]
        return round(total, 2)

    def _on_field(self, change: dict[str, Any]) -> None:
        self._clear_review()  # any change cancels a confirmation: it showed other fields
        if change["name"] == "account" and change["new"] not in ("paper", "live"):
            self.account = "paper"  # only the two words mean an account
            self.message = f"refused: account must be paper or live, not {change['new']!r}"
            return
        if change["name"] == "account" and change["new"] == "live" and not self.live_allowed:
            self.account = "paper"
            self.message = f"refused: {self.live_reason}"
            return
        if change["name"] == "symbol":
            self._check_symbol()
        if self.legs and change["name"] in ("limit_price", "qty"):
            self._spread_due()
        self._update_estimate()

    def _clear_review(self) -> None:
        self._review = None
        if self.confirming or self.review_token:
            with self.hold_sync():
                self.confirming, self.confirm_text, self.review_token = False, "", ""

    def _set_choices(self) -> None:
        """The symbol's asset class decides the form's choices: crypto takes gtc/ioc, market/limit/
        stop_limit, simple orders only, notional on market and limit. A field the class does not allow
        moves to its first allowed value (on the kernel side; the browser is only shown the lists)."""
        from .._wire import STOCK, asset_class

        try:
            cls = asset_class(self.symbol.strip().upper())
        except ValidationError:
            cls = STOCK
        classes = list(cls.order_classes)
        self.choices = {"order_type": list(cls.order_types), "tif": list(cls.time_in_force),
                        "order_class": classes, "notional_types": list(cls.notional[0]),
                        "extended_hours": cls.extended_hours, "unit": cls.unit}  # fmt: skip
        if cls.key == self._class_key:  # same class: the values are the user's (the checks judge them)
            return
        self._class_key = cls.key
        # Another class (stock ↔ crypto): a value it does not allow moves to its first allowed one.
        for name, allowed in (
            ("order_type", cls.order_types),
            ("tif", cls.time_in_force),
            ("order_class", classes),
        ):
            if getattr(self, name) not in allowed:
                setattr(self, name, allowed[0])
        if self.extended_hours and not cls.extended_hours:
            self.extended_hours = False

    def _check_symbol(self) -> None:
        self.asset = ""
        self._set_choices()
        if not self.symbol.strip():
            return
        try:
            info = self._session.asset(self.symbol)
        except AlpacaNbError as err:
            self.message = _one_line(err)
            return
        symbol = str(info.get("symbol", self.symbol)).upper()
        traits = [k for k in ("tradable", "fractionable", "shortable") if info.get(k)]
        self.asset = f"{info.get('name', symbol)} · {', '.join(traits) or 'not tradable'}"
        self.message = "" if info.get("tradable") else f"{symbol} is not tradable"
        self._follow_quotes(symbol)

    def _follow_quotes(self, symbol: str) -> None:
        hub = self._hub
        if self._quote_token is not None:
            hub.unsubscribe(self._quote_token)
        self._quote_token = hub.subscribe(quotes=[symbol])

    def _pump(self) -> None:
        """On the pump thread, twice a second: the order's news and the stream's latest quote (display
        only; never a price for checks), in one message."""
        if self._closed:
            return
        incoming, self._incoming = self._incoming, None
        ready, self._spread_ready = self._spread_ready, None
        if ready is not None:
            with self._state, self.hold_sync():
                self.spread = ready if self.legs else {}
                self._update_estimate()
        quote = self._hub.latest_quote(self.symbol.strip().upper()) if self.symbol else None
        moved = quote is not None and (quote.bid, quote.ask) != (self.bid, self.ask)
        if incoming is None and not moved:
            return
        with self._state, self.hold_sync():
            if incoming is not None:
                self._show_order(incoming)
            if moved and quote is not None:
                self.bid, self.ask = float(quote.bid or 0), float(quote.ask or 0)
                self._update_estimate()

    def _update_estimate(self) -> None:
        """A rough figure as the user types, from the kernel's own quote; the checks compute their own."""
        if self.legs:  # a spread: its net price a share × 100 × units
            net = self.spread.get("net") if self.spread else None
            try:
                units = float(self.qty or 1)
            except ValueError:
                units = 0.0
            self.estimate = (
                ""
                if net is None
                else f"≈ ${abs(float(net)) * 100 * units:,.2f} {'debit' if net >= 0 else 'credit'}"
            )
            return
        try:
            notional = float(self.notional) if self.notional.strip() else None
            price = float(self.limit_price or self.stop_price or 0) or (
                self.ask if self.side == "buy" else self.bid
            )
            value = notional or (float(self.qty) * price if self.qty.strip() and price else None)
        except ValueError:
            value = None
        self.estimate = "" if not value or value != value or value <= 0 else f"≈ ${value:,.2f}"

    # ----- submit -----------------------------------------------------------------------------
    def submit(self) -> Any:
        """What Submit does: paper → the order (or None); live → a review awaiting ``confirm``."""
        with self._lock:  # a double click waits here, then finds the order already placed
            return self._guarded(lambda: self._submit())

    def confirm(self, token: str) -> Any:
        """What Confirm does: sends the reviewed live order if ``token`` is the current review's."""
        with self._lock:
            return self._guarded(lambda: self._confirm(token))

    def _guarded(self, fn: Any) -> Any:
        """Run a button's action; any failure is shown on the ticket (a comm handler would hide it)."""
        try:
            return fn()
        except Exception as err:
            ours = isinstance(err, AlpacaNbError)
            if not ours:
                log.exception("order ticket: %s", type(err).__name__)
            self.message = _one_line(err) if ours else f"{type(err).__name__}: {_one_line(err)}"
            self._clear_review()
            return None

    def _intended(self) -> tuple[tuple[Any, ...], str]:
        from ..trading import new_client_order_id

        fields = self._fields()
        if self._intent is None or self._intent[0] != fields:
            # the same order as one whose fate is unknown is that order (found, not doubled), whatever
            # was submitted in between
            self._intent = (fields, self._unsure.get(fields) or new_client_order_id())
        return self._intent

    def _submit(self) -> Any:
        fields, coid = self._intended()
        if coid in self._sent:
            self.message = f"already submitted as {self.order_id[:8]}… (change a field for a new order)"
            return None
        request = self._request(coid)
        if self.account == "live":
            checked = self._session.check(request, account="live", limits=self._limits)
            self._show_review(fields, coid, checked)
            return None
        return self._place(request, "paper")

    def _show_review(self, fields: tuple[Any, ...], coid: str, checked: CheckedOrder) -> None:
        text = f"Send a LIVE order with real money: {checked.describe()}?"
        self._review = _Review(secrets.token_hex(16), fields, coid, text)
        with self._state, self.hold_sync():
            self.confirm_text, self.review_token, self.confirming = text, self._review.token, True
            self.message = ""

    def _confirm(self, token: str) -> Any:
        review = self._review
        if review is None:
            raise ValidationError("refused: nothing to confirm — press Review to see the live order first")
        if not token or not secrets.compare_digest(token, review.token):
            raise ValidationError("refused: this confirmation is not for the order last reviewed")
        if self._fields() != review.fields or self.account != "live":
            raise ValidationError("refused: the order changed since it was reviewed — review it again")
        self._review = None
        return self._place(self._request(review.client_order_id), "live")

    def _request(self, coid: str) -> Any:
        from ..trading import build_order_request

        if self.legs:
            from ..trading.legs import Leg, build_mleg_request

            limit = (self.limit_price.strip() or None) if self.order_type == "limit" else None
            legs = [Leg(x["symbol"], x["side"], x["ratio"]) for x in self.legs]
            qty = self.qty.strip() or None
            return build_mleg_request(
                legs,
                qty=qty,
                type=self.order_type,
                limit_price=limit,
                time_in_force=self.tif,
                client_order_id=coid,
            )
        klass = self.order_class.strip() or "simple"
        stop_loss: Any = None
        if self.stop_loss.strip():
            stop_loss = {"stop_price": self.stop_loss, "limit_price": self.stop_loss_limit.strip() or None}
        return build_order_request(
            self.symbol,
            qty=self.qty.strip() or None,
            notional=self.notional.strip() or None,
            side=self.side,
            type=self.order_type,
            time_in_force=self.tif,
            limit_price=self.limit_price.strip() or None,
            stop_price=self.stop_price.strip() or None,
            trail_price=self.trail_price.strip() or None,
            trail_percent=self.trail_percent.strip() or None,
            extended_hours=self.extended_hours,
            client_order_id=coid,
            order_class=klass,
            take_profit=self.take_profit.strip() or None,
            stop_loss=stop_loss,
        )

    def _place(self, request: Any, account: str) -> Any:
        self._expected, self._shown_at = str(request.client_order_id), 0  # before the POST: see above
        coid = str(request.client_order_id)
        try:
            order = self._session.place(request, account=account, limits=self._limits)
        except OrderStateUnknownError:
            self._unsure[self._fields()] = coid
            raise
        self._unsure = {k: v for k, v in self._unsure.items() if v != coid}
        self._sent.add(coid)
        self._order_account = account
        with self._state, self.hold_sync():
            self.confirming, self.confirm_text, self.review_token = False, "", ""
            self.order_id = str(order.id)
            self._show_order(order.model_dump(mode="json"))
            self.message = ""
        # A fill may have come before order_id was known, or while the stream reconnected: read it.
        self._hub.run_soon(("ticket", id(self), str(order.id)), self._reread)
        return order

    def _reread(self) -> None:
        """On the REST thread: the order as it is now, for the pump to show."""
        try:
            order = self._session.get_order(self.order_id, account=self._order_account)
        except AlpacaNbError:
            return
        self._offer(order.model_dump(mode="json"))

    def _offer(self, order: dict[str, Any]) -> None:
        """Keep ``order`` for the pump if it is this ticket's and newer than what it holds."""
        if order.get("client_order_id") != self._expected and order.get("id") != self.order_id:
            return
        held = self._incoming
        if held is None or _stamp(order) >= _stamp(held):
            self._incoming = order

    def _show_order(self, order: dict[str, Any]) -> None:
        at = _stamp(order)
        if at < self._shown_at or (self.order_id and order.get("id") not in (None, self.order_id)):
            return  # older than what is shown, or another order
        self._shown_at = at
        self.order_status = str(order.get("status", ""))
        self.status_line = _status_line(order)

    def cancel_order(self) -> None:
        """Cancel the order this ticket placed last (the kernel's id, never one the browser names)."""
        if not self.order_id:
            return
        try:
            self._session.cancel_order(self.order_id, account=self._order_account)
            self.message = "cancel requested"
        except AlpacaNbError as err:
            self.message = _one_line(err)

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
        """On the engine thread: keep it if it is about this ticket's order (the pump shows it)."""
        self._offer(update.get("order") or {})

    def __repr__(self) -> str:
        return f"<OrderTicket {self.symbol or '-'} {self.side} {self.account}>"


def _status_line(order: dict[str, Any]) -> str:
    """``buy 3 SPY: filled · 3 filled @ 500.01`` from an order (REST or trade_updates shape)."""
    side, symbol, status = order.get("side"), order.get("symbol"), order.get("status")
    if order.get("legs") and not symbol:  # a multi-leg order: its legs, and its net price
        legs = " / ".join(
            f"{leg.get('side')} {leg.get('ratio_qty') or 1} {leg.get('symbol')}" for leg in order["legs"]
        )
        line = f"{order.get('qty')} × [{legs}]: {status}"
        price = order.get("filled_avg_price")
        return line + (f" · net {float(price):,.2f}" if price not in (None, "") else "")
    line = f"{side} {order.get('qty') or ('$' + str(order.get('notional')))} {symbol}: {status}"
    filled, price = order.get("filled_qty"), order.get("filled_avg_price")
    if filled and float(filled) > 0 and price:
        line += f" · {float(filled):g} filled @ {float(price):,.2f}"
    return line


def _stamp(order: dict[str, Any]) -> int:
    """When ``order`` last changed (ns), from its ``updated_at`` (REST and trade_updates alike)."""
    import pandas as pd

    when = order.get("updated_at")
    try:
        return int(pd.Timestamp(str(when)).value) if when else 0
    except (TypeError, ValueError):
        return 0


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300] or type(err).__name__
