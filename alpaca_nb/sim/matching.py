"""Order matching: activation, triggers (stops, trailing stops), fills, expiry, IOC/FOK leftovers.

Fills use the current quote: buys at the ask, sells at the bid, at most the quoted size per matching
pass, so large orders fill partially over several passes. Group rules (bracket/OCO/OTO) are applied
after each fill or expiry by ``groups``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal

from . import groups
from .groups import Emit
from .ledger import Account, apply_fill
from .market.venues import Venues
from .orders import ZERO, Order, floor_qty, fmt

CENT = Decimal("0.01")


def follow_trail(order: Order, touch: Decimal | None) -> None:
    """Move a trailing stop's high-water mark with ``touch`` and derive its ``stop_price`` from it.

    The mark is the highest bid seen for a sell, the lowest ask for a buy (ALPACA_WIRE_MORE §C4).
    """
    if touch is not None:
        hwm = order.hwm if order.hwm is not None else touch
        order.hwm = max(hwm, touch) if order.side == "sell" else min(hwm, touch)
    if order.hwm is None:
        return
    offset = (
        order.trail_price
        if order.trail_price is not None
        else order.hwm * (order.trail_percent or ZERO) / 100
    )
    stop = order.hwm - offset if order.side == "sell" else order.hwm + offset
    order.stop_price = stop.quantize(CENT)


class Matcher:
    """Runs one matching pass over accounts; every transition goes out through ``emit``."""

    def __init__(self, market: Venues, emit: Emit, multi_leg: Callable[[Account, Order, int], None]) -> None:
        self.market = market
        self.emit = emit
        self.multi_leg = multi_leg  # the option desk matches mleg orders: all legs at once

    def process(self, accounts: Iterable[Account], now: int) -> None:
        for acct in accounts:
            for order in acct.open_orders():
                self.process_order(acct, order, now)

    def process_order(self, acct: Account, order: Order, now: int) -> None:
        if not order.is_open:  # e.g. canceled by its group earlier in this pass
            return
        if order.is_mleg:
            if order.parent is None:  # its legs are matched with it
                self.multi_leg(acct, order, now)
            return
        if now >= order.expires_at:
            order.expired_at = now
            order.touch("expired", now)
            self.emit(acct, "expired", order, now)
            groups.after_entry_end(acct, order, now, self.emit)
            return
        if groups.waiting(order) or not self.market.is_open(order.symbol, now, order.extended_hours):
            return
        if order.status in ("accepted", "pending_new"):
            order.touch("new", now)
            self.emit(acct, "new", order, now)
        quote = self.market.quote_at(order.symbol, now)
        if quote is None:
            return
        bid, ask = Decimal(str(quote[0])), Decimal(str(quote[1]))
        touch, size = (ask, Decimal(str(quote[3]))) if order.side == "buy" else (bid, Decimal(str(quote[2])))
        if not self._triggered(order, touch):
            return
        limit = order.limit_price
        if order.type in ("limit", "stop_limit") and limit is not None:
            marketable = touch <= limit if order.side == "buy" else touch >= limit
            if not marketable:
                self._end_unfilled(acct, order, now)
                return
        if order.notional is not None:
            qty = floor_qty(order.notional, touch)
            info = self.market.asset(order.symbol)
            if info is not None and info.asset_class == "crypto":
                qty = (qty // info.qty_step) * info.qty_step  # type: ignore[union-attr]
            order.qty = qty
        else:
            qty = min(order.remaining(), size)
            if order.time_in_force == "fok" and qty < order.remaining():
                self._end_unfilled(acct, order, now)
                return
        if qty > 0:
            self.fill(acct, order, qty, touch, now)
        if order.is_open:
            self._end_unfilled(acct, order, now)

    @staticmethod
    def _triggered(order: Order, touch: Decimal) -> bool:
        if order.triggered:
            return True
        if order.type in ("stop", "stop_limit"):
            stop = order.stop_price
            assert stop is not None
            order.triggered = touch >= stop if order.side == "buy" else touch <= stop
            return order.triggered
        if order.type == "trailing_stop":
            follow_trail(order, touch)
            stop = order.stop_price
            assert stop is not None
            order.triggered = touch <= stop if order.side == "sell" else touch >= stop
            return order.triggered
        return True

    def _end_unfilled(self, acct: Account, order: Order, now: int) -> None:
        """IOC/FOK leftovers are canceled at once; other orders keep resting."""
        if order.time_in_force in ("ioc", "fok") and order.is_open:
            groups.cancel(acct, order, now, self.emit)

    def fill(self, acct: Account, order: Order, qty: Decimal, price: Decimal, now: int) -> None:
        signed = qty if order.side == "buy" else -qty
        position_qty = apply_fill(
            acct, order.pos_key, signed, price, now, self.market.multiplier(order.symbol)
        )
        order.filled_qty += qty
        order.filled_value += qty * price
        done = order.remaining() <= 0
        if done:
            order.filled_at = now
        order.touch("filled" if done else "partially_filled", now)
        acct.activities.fill(at=now, symbol=order.pos_key, side=order.side, qty=qty, price=price,
                             order_id=order.id, cum_qty=order.filled_qty,
                             leaves_qty=max(order.remaining(), ZERO), status=order.status)  # fmt: skip
        self.emit(
            acct,
            "fill" if done else "partial_fill",
            order,
            now,
            execution_id=str(uuid.uuid4()),
            price=fmt(price),
            qty=fmt(qty),
            position_qty=fmt(position_qty),
        )
        groups.after_fill(acct, order, now, self.emit)
