"""``OptionChain``: one underlying's chain as a live table — calls | strike | puts — for one expiration.

The kernel loads the chain (``Session.option_chain``: quotes, IV, greeks), shows the strikes centred on
the underlying's price, and subscribes to the option stream for the visible rows only (changing the
expiration swaps the subscription). Its own pump (≤ 10/s) sends the rows when a quote moved; IV and
delta follow the live quotes (``data.greeks``, from the mid and the underlying's price).

A click on a bid or an ask names a row, a side and a frame; the kernel looks the contract up in what it
sent and adds a leg to the ticket (an ask: buy, a bid: sell) — the browser never names a contract or a
price. ``ticket=`` is an ``OrderTicket``; without one, the click is shown in ``picked``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets

from ..errors import AlpacaNbError, ValidationError
from .assets import STATIC, stylesheet
from .live import LiveWidget

if TYPE_CHECKING:
    from ..session import Session
    from .order_ticket import OrderTicket

KEEP_FRAMES = 8


class OptionChain(LiveWidget, anywidget.AnyWidget):
    """A live option chain for one underlying.

    Parameters
    ----------
    underlying:
        The stock, e.g. ``"AAPL"``.
    expiration:
        The expiration shown first (default: the nearest at least a week out); tabs switch it.
    strikes:
        Rows shown, centred on the underlying's price (default 12).
    ticket:
        An ``OrderTicket``: a click on a quote adds a leg to it.

    Examples
    --------
    >>> t = anb.OrderTicket(); anb.OptionChain("AAPL", ticket=t)
    """

    _esm = STATIC / "option_chain.js"
    _css = stylesheet("option_chain.css")
    _front_end_fields = {"expiration": str}  # noqa: RUF012 — the tab the user picks (checked below)

    underlying = traitlets.Unicode("").tag(sync=True)
    expirations = traitlets.List(traitlets.Unicode()).tag(sync=True)
    expiration = traitlets.Unicode("").tag(sync=True)
    spot = traitlets.Float(0.0).tag(sync=True)
    status = traitlets.Unicode("connecting").tag(sync=True)
    picked = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        underlying: str,
        session: Session | None = None,
        *,
        expiration: Any = None,
        strikes: int = 12,
        ticket: OrderTicket | None = None,
        max_rate: float = 10.0,
    ) -> None:
        from ..session import current_session

        if isinstance(strikes, bool) or not isinstance(strikes, int) or not 2 <= strikes <= 60:
            raise ValidationError(f"strikes must be a whole number from 2 to 60, not {strikes!r}")
        if ticket is not None and not hasattr(ticket, "add_leg"):
            raise ValidationError("ticket must be an OrderTicket")
        session = session or current_session()
        chain = session.option_chain(underlying)  # every expiration: the tabs (one-line errors here)
        if chain.empty:
            raise ValidationError(f"{underlying}: no option contracts listed")
        dates = sorted({d.date().isoformat() for d in chain.index.get_level_values("expiration")})
        first = _first(dates, expiration)
        root = str(chain.symbol.iloc[0])[:-15]
        quote, _ = session.quote(root)
        mid = (quote.bid + quote.ask) / 2 if quote and quote.bid and quote.ask else 0.0
        super().__init__(underlying=root, expirations=dates, expiration=first, spot=mid)
        self._session, self._ticket, self._n = session, ticket, strikes
        self._chain = chain
        self._hub = session.stream
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []
        self._recent: dict[int, list[dict[str, Any]]] = {}
        self._seq = 0
        self._last_pick = 0.0
        self._dirty = True
        self._frames = 0
        self._underlying_token = self._hub.subscribe(quotes=[self.underlying], callback=self._on_batch)
        self._show(first)
        self.observe(self._on_expiration, names=["expiration"])
        self.on_msg(self._on_front_end)
        self._attach_pump(self._flush, interval=1.0 / min(max(float(max_rate), 0.1), 10.0))

    # ----- which rows -------------------------------------------------------------------------------
    def _show(self, expiration: str) -> None:
        """Rows for ``expiration``, centred on the price; the stream follows exactly their contracts."""
        import pandas as pd

        chain = self._chain
        day = chain[chain.index.get_level_values("expiration") == pd.Timestamp(expiration)]
        strikes = np.array(sorted(set(day.index.get_level_values("strike"))), dtype=float)
        centre = int(np.abs(strikes - (self.spot or strikes.mean())).argmin()) if len(strikes) else 0
        lo = max(0, min(centre - self._n // 2, len(strikes) - self._n))
        rows = []
        for k in strikes[lo : lo + self._n]:
            row: dict[str, Any] = {"strike": float(k)}
            for kind in ("call", "put"):
                key: Any = (pd.Timestamp(expiration), float(k), kind)
                if key in day.index:
                    r = day.loc[key]
                    row[kind] = {"symbol": str(r.symbol), "bid": _num(r.bid), "ask": _num(r.ask),
                                 "iv": _num(r.iv), "delta": _num(r.delta)}  # fmt: skip
            rows.append(row)
        symbols = [row[k]["symbol"] for row in rows for k in ("call", "put") if k in row]
        old = self._quote_token
        self._quote_token = self._hub.subscribe(quotes=symbols, callback=self._on_batch) if symbols else None
        if old is not None:
            self._hub.unsubscribe(old)
        with self._lock:
            self._rows = rows
            self._dirty = True

    def _on_expiration(self, change: dict[str, Any]) -> None:
        if change["new"] not in self.expirations:  # the front end may only pick a listed date
            self._refused += 1
            self.expiration = change["old"]
            return
        self._show(change["new"])

    # ----- data in (engine thread) and out (pump) ---------------------------------------------------
    def _on_batch(self, batch: list[tuple[str, str, list[tuple[Any, ...]]]]) -> None:
        with self._lock:
            for channel, symbol, quotes in batch:
                if channel != "quotes" or not quotes:
                    continue
                quote = quotes[-1]  # the newest of this frame is what the row shows
                if symbol == self.underlying:
                    self._spot_now = (quote[1] + quote[3]) / 2
                    continue
                for row in self._rows:
                    for kind in ("call", "put"):
                        leg = row.get(kind)
                        if leg and leg["symbol"] == symbol:
                            leg["bid"], leg["ask"] = float(quote[1]), float(quote[3])
                            self._dirty = True

    _spot_now = 0.0

    def _flush(self) -> None:
        if self._closed:
            return
        state = self._hub.stats()["state"]
        status = "live" if state == "connected" else "closed" if state == "closed" else "reconnecting"
        if status != self.status:
            self.status = status
        if self._spot_now and abs(self._spot_now - self.spot) > 1e-9:
            self.spot = self._spot_now
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            _live_greeks(self._rows, self.spot, self.expiration)
            self._seq += 1
            frame = [
                dict(row, call=dict(row.get("call") or {}), put=dict(row.get("put") or {}))
                for row in self._rows
            ]
            self._recent[self._seq] = frame
            self._recent.pop(self._seq - KEEP_FRAMES, None)
            seq = self._seq
        self.send({"type": "rows", "seq": seq, "rows": _wire(frame)})
        self._frames += 1

    def _on_front_end(self, _: Any, content: Any, buffers: list[bytes]) -> None:
        if not isinstance(content, dict):
            self._refused += 1
        elif content.get("type") == "ready":
            self._dirty = True  # the pump sends the rows on its next tick
        elif content.get("type") == "pick":
            self.pick(content.get("row"), content.get("side"), content.get("field"), content.get("seq"))
        else:
            self._refused += 1

    def pick(self, row: Any, side: Any, field: Any, seq: Any = None) -> str | None:
        """What a click does: the contract of that row and side, bought at the ask or sold at the bid,
        as a leg of the ticket. Returns the contract's symbol (None if refused)."""
        with self._lock:
            frame = self._recent.get(seq) if isinstance(seq, int) and not isinstance(seq, bool) else None
            if seq is None and self._recent:
                frame = self._recent[max(self._recent)]
        index_ok = (
            isinstance(row, int) and not isinstance(row, bool) and frame is not None and 0 <= row < len(frame)
        )
        ok = index_ok and side in ("call", "put") and field in ("bid", "ask")
        contract = frame[row].get(side) if ok and frame is not None else None
        if not contract or not contract.get("symbol"):
            self._refused += 1
            return None
        now = time.monotonic()
        if now - self._last_pick < 0.1:  # a click is a person's: at most ten a second are taken
            self._refused += 1
            return None
        self._last_pick = now
        action = "buy" if field == "ask" else "sell"
        symbol = str(contract["symbol"])
        ticket = self._ticket
        if ticket is not None and not getattr(ticket, "_closed", False):
            try:
                ticket.add_leg(symbol, action)
            except AlpacaNbError as err:  # a fifth leg, legs that do not go together: one line, on the ticket
                ticket.message = " ".join(str(err).split())
                self.picked = ""
                return None
        self.picked = f"{action} {symbol}"
        return symbol

    # ----- export ------------------------------------------------------------------------------------
    def static_html(self) -> str:
        import html

        with self._lock:
            rows = list(self._rows)

        def cell(leg: dict[str, Any] | None, key: str) -> str:
            value = (leg or {}).get(key)
            return "" if value is None or value != value else f"{value:.2f}"

        body = "".join(
            f"<tr><td>{cell(r.get('call'), 'bid')}</td><td>{cell(r.get('call'), 'ask')}</td>"
            f"<td><b>{r['strike']:g}</b></td><td>{cell(r.get('put'), 'bid')}</td>"
            f"<td>{cell(r.get('put'), 'ask')}</td></tr>"
            for r in rows
        )
        return (
            '<div class="anb-option-chain-picture" '
            'style="font-family:sans-serif;font-size:12px;display:inline-block">'
            f"<b>{html.escape(self.underlying)}</b> options · {html.escape(self.expiration)}"
            "<table><tr><th>call bid</th><th>call ask</th><th>strike</th><th>put bid</th>"
            "<th>put ask</th></tr>"
            f"{body}</table></div>"
        )

    @property
    def stats(self) -> dict[str, int]:
        return {"frames": self._frames}

    def close(self) -> None:
        hub = getattr(self, "_hub", None)
        token = getattr(self, "_underlying_token", None)
        if hub is not None and token is not None and not self._closed:
            hub.unsubscribe(token)
        super().close()

    def __repr__(self) -> str:
        return f"<OptionChain {self.underlying} {self.expiration} {len(self._rows)} strikes {self.status}>"


def _first(dates: list[str], wanted: Any) -> str:
    if wanted is not None:
        import pandas as pd

        try:
            day = pd.Timestamp(wanted).date().isoformat()
        except (ValueError, TypeError):
            raise ValidationError(f"expiration: cannot read {wanted!r} as a date") from None
        if day not in dates:
            raise ValidationError(f"no contracts expire on {day} (listed: {', '.join(dates[:6])}…)")
        return day
    week = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    return next((d for d in dates if d >= week), dates[-1])


def _num(x: Any) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if value == value else None


def _live_greeks(rows: list[dict[str, Any]], spot: float, expiration: str) -> None:
    """IV and delta from each quote's mid and the underlying's price (our Black-Scholes)."""
    from .. import blackscholes as bs

    if not spot:
        return
    close = dt.datetime.fromisoformat(expiration + "T20:00:00+00:00")
    years = max((close - dt.datetime.now(dt.UTC)).total_seconds() / (365 * 86400), 1e-6)
    for row in rows:
        for kind in ("call", "put"):
            leg = row.get(kind)
            if not leg or not leg.get("bid") or not leg.get("ask"):
                continue
            mid = (leg["bid"] + leg["ask"]) / 2
            iv = float(bs.implied_vol(mid, spot, row["strike"], years, kind == "call"))
            if iv == iv:
                leg["iv"] = iv
                leg["delta"] = float(bs.greeks(spot, row["strike"], years, iv, kind == "call")["delta"])


def _wire(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows as plain lists: strike, then bid, ask, iv, delta of the call and of the put (None: none)."""
    out = []
    for row in rows:
        line: list[Any] = [row["strike"]]
        for kind in ("call", "put"):
            leg = row.get(kind) or {}
            line += [
                None if leg.get(k) is None else round(float(leg[k]), 4) for k in ("bid", "ask", "iv", "delta")
            ]
        out.append(line)
    return out
