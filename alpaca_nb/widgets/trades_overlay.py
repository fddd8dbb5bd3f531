"""Your fills and open orders for the symbols a chart shows, kept current from trade updates — what
``BarChart`` and ``QuoteChart`` draw over prices.

Threads (the hub's rule): ``on_update`` runs on the engine thread and only records; ``reread`` and
``refresh`` run on the REST thread and only store what they fetched; the chart's pump takes both
(``take_fills``, ``take_orders``) and sets its traits. A reconnection of the trade-updates stream
re-reads the fills since the newest one shown (updates may have been missed meanwhile).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..session import Session

Fill = tuple[int, str, float, float, float]  # t_ns, symbol, price, side (+1 buy, -1 sell), qty


class TradesOverlay:
    def __init__(self, session: Session, symbols: list[str], account: str | None, since: Any = None) -> None:
        self.session, self.symbols, self.account = session, list(symbols), account
        self._lock = threading.Lock()
        self.enabled = session.has_accounts  # keyless crypto-data mode: no fills or orders to draw
        self.fills: list[Fill] = self._fetch_fills(since) if self.enabled else []
        self._new: list[Fill] = []
        self._orders: list[dict[str, Any]] | None = None  # fetched, not yet taken by the pump
        self.orders_due = True
        self.error = ""
        self._connections_seen = 0

    # ----- engine thread -------------------------------------------------------------------------
    def on_update(self, update: dict[str, Any]) -> None:
        order = update.get("order") or {}
        mine = update.get("account") in (None, self.account or self.session.default_account)
        if not mine or order.get("symbol") not in self.symbols:
            return
        if update.get("event") in ("fill", "partial_fill"):
            import pandas as pd

            t = pd.Timestamp(update.get("timestamp") or time.time_ns(), tz="UTC").value
            side = 1.0 if order.get("side") == "buy" else -1.0
            with self._lock:
                self._new.append(
                    (int(t), str(order["symbol"]), float(update["price"]), side, float(update["qty"]))
                )
        self.orders_due = True

    # ----- pump thread -------------------------------------------------------------------------
    def due(self, hub: Any, owner: int) -> None:
        """Ask the REST thread for what is due: the orders after an order event, the fills after a
        (re)connection of the trade-updates stream."""
        connections = hub.stats()["trading_connections"]
        if connections != self._connections_seen:
            self._connections_seen = connections
            hub.run_soon(("fills", owner), self.reread)
            self.orders_due = True
        if self.orders_due:
            self.orders_due = False
            hub.run_soon(("orders", owner), self.refresh)

    def take_fills(self) -> list[Fill]:
        with self._lock:
            new, self._new = self._new, []
            self.fills += new
        return new

    def take_orders(self) -> list[dict[str, Any]] | None:
        orders, self._orders = self._orders, None
        return orders

    # ----- REST thread (or the kernel's, at start) -----------------------------------------------
    def refresh(self) -> None:
        if not self.enabled:
            self._orders = []
            return
        try:
            rows = self.session.open_orders_raw(account=self.account)
        except Exception as err:
            self.error = f"{type(err).__name__}: {err}"
            return
        self._orders = [order_line(o) for o in rows if o.get("symbol") in self.symbols]

    def reread(self) -> None:
        """The fills since the newest one shown; those not shown yet are queued for the pump."""
        if not self.enabled:
            return
        with self._lock:
            seen = {(t, s, p, q) for t, s, p, _, q in self.fills + self._new}
            since = max((f[0] for f in self.fills), default=None)
        try:
            fresh = self._fetch_fills(since)
        except Exception as err:
            self.error = f"{type(err).__name__}: {err}"
            return
        with self._lock:
            self._new += [f for f in fresh if (f[0], f[1], f[2], f[4]) not in seen]

    def _fetch_fills(self, since: Any) -> list[Fill]:
        import pandas as pd

        start = pd.Timestamp(since, tz="UTC") if isinstance(since, int) else since  # t_ns, or a user's start
        frame = self.session.fills(self.symbols, start=start, account=self.account)
        stamps = frame.index.to_numpy("datetime64[ns]").astype(np.int64)
        rows = zip(stamps, frame.symbol, frame.price, frame.side, frame.qty, strict=True)
        return [(int(t), str(s), float(p), 1.0 if d == "buy" else -1.0, float(q)) for t, s, p, d, q in rows]


def order_line(raw: dict[str, Any]) -> dict[str, Any]:
    """An open order as a chart draws it: side, qty, type and its price levels."""

    def price(key: str) -> float | None:
        value = raw.get(key)
        return None if value in (None, "") else float(value)

    return {"id": raw["id"], "symbol": raw.get("symbol"), "side": raw.get("side"), "type": raw.get("type"),
            "qty": float(raw.get("qty") or 0), "limit_price": price("limit_price"),
            "stop_price": price("stop_price")}  # fmt: skip
