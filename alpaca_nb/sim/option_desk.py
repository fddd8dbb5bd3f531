"""The broker's option desk: option orders (single-leg and ``mleg``), their matching, exercise and
expiry (ALPACA_WIRE_MORE B4). Validation rules live in ``option_rules``.

* Orders are answered ``pending_new`` and become ``new`` at the next matching pass in a session.
* A multi-leg order fills **all legs at once or not at all**: at a pass where every leg's contract
  trades and the net price of the legs (asks bought, bids sold, times their ratios; positive: a
  debit) is at or better than its limit, each leg fills its ``ratio_qty x qty`` at its own quote.
  Its legs cannot be canceled or replaced on their own (422 ``42210000``); its parent can.
* **Exercise** (``POST /v2/positions/{symbol}/exercise``) delivers every held contract at once:
  100 shares per contract bought (call) or sold (put) at the strike; the contracts leave the account
  (their premium was paid when bought). Activities: ``OPEXC`` (qty -n, net 0) and ``OPTRD``.
* **Expiry**: when a contract expires (its expiration day's close, or ``Simulator.expire_options``),
  positions in-the-money by at least $0.01 against the underlying's mark are exercised (long,
  ``OPEXC``) or assigned (short, ``OPASN``); the others expire worthless (``OPEXP``). Open orders in
  it expire.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from . import calendar as cal
from .groups import Emit
from .ledger import Account, apply_fill, valuation
from .market.occ import MULTIPLIER, ContractInfo
from .market.venues import Venues
from .option_rules import HUNDRED, LegSpec, check_coverage, max_loss, not_eligible, parse_mleg, parse_single
from .orders import ZERO, Order, fmt
from .wire import ApiError

DayEnd = Callable[[int], int]  # the end of the trading day an order placed at ``now`` lives until
CENT = Decimal("0.01")


class OptionDesk:
    def __init__(self, venues: Venues, accounts: Iterable[Account], emit: Emit, day_end: DayEnd) -> None:
        self.venues = venues
        self.accounts = list(accounts)
        self.emit = emit
        self.day_end = day_end

    # ----- helpers ------------------------------------------------------------------------------
    def _intent(self, acct: Account, symbol: str, side: str, intent: str | None) -> str:
        if intent is not None:
            return intent
        held = acct.position_qty(symbol)
        if side == "buy":
            return "buy_to_close" if held < 0 else "buy_to_open"
        return "sell_to_close" if held > 0 else "sell_to_open"

    def _check_closing(self, acct: Account, symbol: str, side: str, qty: Decimal) -> None:
        held = acct.position_qty(symbol)
        pending = sum(
            (o.remaining() for o in acct.working_orders() if o.symbol == symbol and o.side == side), ZERO
        )
        owned = held if side == "sell" else -held
        available = max(owned - pending, ZERO)
        if qty > available:
            raise ApiError(
                403, 40310000,
                f"insufficient qty available for order (requested: {fmt(qty)}, available: {fmt(available)})",
                available=fmt(available), symbol=symbol,
            )  # fmt: skip

    def _buying_power(self, acct: Account, now: int) -> Decimal:
        return valuation(self.venues, acct, now)["non_marginable_buying_power"]

    def _quote(self, symbol: str, now: int) -> tuple[Decimal, Decimal]:
        quote = self.venues.quote_at(symbol, now)
        if quote is None:
            raise ApiError(422, 40010001, f"no market for {symbol}")
        return Decimal(str(quote[0])), Decimal(str(quote[1]))

    def _no_power(self, acct: Account, now: int, cost: Decimal) -> ApiError:
        power = self._buying_power(acct, now)
        return ApiError(403, 40310000, "insufficient options buying power",
                        options_buying_power=fmt(power), cost_basis=fmt(cost))  # fmt: skip

    def _new_order(self, info: ContractInfo, fields: dict[str, Any], now: int, **extra: Any) -> Order:
        return Order(
            symbol=info.symbol, asset_id=info.asset_id, created_at=now, updated_at=now,
            expires_at=min(self.day_end(now), self.venues.options.expiry_ns(info)),
            status="pending_new", asset_class="us_option", **fields, **extra,
        )  # fmt: skip

    # ----- single-leg ---------------------------------------------------------------------------
    def submit_single(
        self, acct: Account, body: Any, info: ContractInfo, now: int, *, closing: bool
    ) -> Order:
        fields = parse_single(body)
        if fields["client_order_id"] in acct.by_client_id:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        if self.venues.options.expired(info, now):
            raise ApiError(422, 42210000, f"option contract {info.symbol} has expired")
        side, qty = fields["side"], fields["qty"]
        fields["position_intent"] = intent = self._intent(acct, info.symbol, side, fields["position_intent"])
        if intent.endswith("_close"):
            self._check_closing(acct, info.symbol, side, qty)
        elif not closing:
            _check_cutoff(info, now)
            self._check_opening(acct, info, side, qty, fields["limit_price"], now)
        order = self._new_order(info, fields, now)
        acct.add(order)
        return order

    def _check_opening(
        self, acct: Account, info: ContractInfo, side: str, qty: Decimal, limit: Decimal | None, now: int
    ) -> None:
        level = acct.options_trading_level
        if side == "buy":
            if level < 2:
                raise not_eligible(2)
            cost = (limit if limit is not None else self._quote(info.symbol, now)[1]) * qty * HUNDRED
            if cost > self._buying_power(acct, now):
                raise self._no_power(acct, now, cost)
            return
        if level < 1:
            raise not_eligible(1)
        if info.kind == "call":
            self._check_covered_call(acct, info, qty)
            return
        required = info.strike * qty * HUNDRED
        power = self._buying_power(acct, now)
        if required > power:
            raise ApiError(
                403, 40310000,
                f"insufficient options buying power for cash-secured put (required: {fmt(required)}, "
                f"available: {fmt(power)})",
                buying_power=fmt(power), required_options_buying_power=fmt(required),
            )  # fmt: skip

    def _check_covered_call(self, acct: Account, info: ContractInfo, qty: Decimal) -> None:
        """A short call needs 100 free shares a contract: shares held, less those other sell orders
        and other short calls on the same underlying already spoke for."""
        under = info.underlying
        committed = sum(
            (o.remaining() for o in acct.working_orders() if o.symbol == under and o.side == "sell"), ZERO
        )
        for pos in acct.positions.values():
            other = self.venues.contract(pos.symbol)
            if other is not None and other.underlying == under and other.kind == "call" and pos.qty < 0:
                committed += -pos.qty * HUNDRED
        for o in acct.working_orders():
            other = self.venues.contract(o.symbol) if o.parent is None else None
            if (
                other is not None
                and other.underlying == under
                and other.kind == "call"
                and o.position_intent == "sell_to_open"
            ):
                committed += o.remaining() * HUNDRED
        available = max(acct.position_qty(under) - committed, ZERO)
        required = qty * HUNDRED
        if required > available:
            raise ApiError(
                403, 40310000,
                f"insufficient underlying qty available for covered call (required: {fmt(required)}, "
                f"available: {fmt(available)})", available_qty=fmt(available), required_qty=fmt(required),
                symbol=under, underlying_asset_id=info.underlying_asset_id,
            )  # fmt: skip

    # ----- multi-leg ----------------------------------------------------------------------------
    def submit_mleg(self, acct: Account, body: Any, now: int) -> Order:
        fields, specs = parse_mleg(body, self.venues)
        if fields["client_order_id"] in acct.by_client_id:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        if acct.options_trading_level < 3:
            raise not_eligible(3)
        qty: Decimal = fields["qty"]
        specs = [
            LegSpec(s.info, s.ratio, s.side, self._intent(acct, s.info.symbol, s.side, s.intent))
            for s in specs
        ]
        for s in specs:
            if self.venues.options.expired(s.info, now):
                raise ApiError(422, 42210000, f"option contract {s.info.symbol} has expired")
            if s.intent and s.intent.endswith("_close"):
                self._check_closing(acct, s.info.symbol, s.side, s.ratio * qty)
        opening = [s for s in specs if s.intent and s.intent.endswith("_open")]
        for s in opening:
            _check_cutoff(s.info, now)
        check_coverage(opening)
        premium = fields["limit_price"]
        if premium is None:
            quotes = [self._quote(s.info.symbol, now) for s in specs]
            premium = sum(
                (
                    s.sign * s.ratio * (q[1] if s.sign > 0 else q[0])
                    for s, q in zip(specs, quotes, strict=True)
                ),
                ZERO,
            )
        cost = ((max_loss(opening) if opening else ZERO) + premium) * qty * HUNDRED
        if cost > self._buying_power(acct, now):
            raise self._no_power(acct, now, cost)
        first = specs[0].info
        parent = self._new_order(first, fields, now, side="", order_class="mleg", reserve=max(cost, ZERO))
        parent.symbol = parent.asset_id = parent.position_intent = ""
        for s in specs:
            leg = self._new_order(
                s.info,
                {**fields, "qty": s.ratio * qty, "limit_price": None, "client_order_id": str(uuid.uuid4())},
                now, side=s.side, position_intent=s.intent, order_class="mleg", ratio_qty=s.ratio,
                parent=parent,
            )  # fmt: skip
            leg.expires_at = parent.expires_at = min(parent.expires_at, leg.expires_at)
            parent.legs.append(leg)
        acct.add(parent)
        for leg in parent.legs:
            acct.add(leg)
        return parent

    def replace(self, acct: Account, old: Order, body: Any, now: int) -> Order:
        """Replace a single-leg option order or a multi-leg parent (never a leg alone)."""
        if not isinstance(body, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        if old.is_mleg and old.parent is not None:
            raise ApiError(422, 42210000, "cannot replace individual legs of a mleg order")
        if old.status not in ("new", "accepted", "pending_new") or old.filled_qty > 0:
            raise ApiError(422, 42210000, f"cannot replace order in {old.status} status")
        merged: dict[str, Any] = {
            "type": old.type, "time_in_force": body.get("time_in_force") or old.time_in_force,
            "qty": body.get("qty", fmt(old.remaining())), "client_order_id": body.get("client_order_id"),
            "limit_price": body.get("limit_price", fmt(old.limit_price)),
        }  # fmt: skip
        members = old.members() if old.is_mleg else [old]
        statuses = [m.status for m in members]
        for m in members:  # out of the books while the new one is checked against them
            m.status = "replaced"
        try:
            if old.is_mleg:
                legs = [{"symbol": leg.symbol, "ratio_qty": fmt(leg.ratio_qty), "side": leg.side,
                         "position_intent": leg.position_intent} for leg in old.legs]  # fmt: skip
                new = self.submit_mleg(acct, {**merged, "order_class": "mleg", "legs": legs}, now)
            else:
                info = self.venues.contract(old.symbol)
                assert info is not None
                body = {
                    **merged,
                    "symbol": old.symbol,
                    "side": old.side,
                    "position_intent": old.position_intent,
                }
                new = self.submit_single(acct, body, info, now, closing=False)
        except ApiError:
            for m, status in zip(members, statuses, strict=True):
                m.status = status
            raise
        for m in members:
            m.replaced_at, m.updated_at = now, now
        old.replaced_by, new.replaces = new.id, old.id
        self.emit(acct, "replaced", old, now)
        return new

    def process_mleg(self, acct: Account, parent: Order, now: int) -> None:
        """One matching pass over a multi-leg order: all legs fill together, or none does."""
        if not parent.is_open:
            return
        if now >= parent.expires_at:
            for m in parent.members():
                m.expired_at = now
                m.touch("expired", now)
            self.emit(acct, "expired", parent, now)
            return
        if not all(self.venues.is_open(leg.symbol, now) for leg in parent.legs):
            return
        if parent.status in ("accepted", "pending_new"):
            for m in parent.members():
                m.touch("new", now)
            self.emit(acct, "new", parent, now)
        quotes = [q for leg in parent.legs if (q := self.venues.quote_at(leg.symbol, now)) is not None]
        if len(quotes) < len(parent.legs):
            return
        prices = [
            Decimal(str(q[1] if leg.side == "buy" else q[0]))
            for leg, q in zip(parent.legs, quotes, strict=True)
        ]
        net = sum(
            (
                (1 if leg.side == "buy" else -1) * (leg.ratio_qty or ZERO) * p
                for leg, p in zip(parent.legs, prices, strict=True)
            ),
            ZERO,
        )
        if parent.type == "limit" and parent.limit_price is not None and net > parent.limit_price:
            return
        qty = parent.qty or ZERO
        for leg, price in zip(parent.legs, prices, strict=True):
            self._fill(acct, leg, leg.remaining(), price, now)
        parent.filled_qty, parent.filled_value, parent.filled_at = qty, net * qty, now
        parent.touch("filled", now)
        positions = {leg.symbol: fmt(acct.position_qty(leg.symbol)) for leg in parent.legs}
        self.emit(acct, "fill", parent, now, execution_id=str(uuid.uuid4()), price=fmt(net), qty=fmt(qty),
                  position_qtys=positions)  # fmt: skip

    def _fill(self, acct: Account, order: Order, qty: Decimal, price: Decimal, now: int) -> None:
        signed = qty if order.side == "buy" else -qty
        apply_fill(acct, order.symbol, signed, price, now, MULTIPLIER)
        order.filled_qty += qty
        order.filled_value += qty * price
        order.filled_at = now
        order.touch("filled", now)
        acct.activities.fill(at=now, symbol=order.symbol, side=order.side, qty=qty, price=price,
                             order_id=order.id,
                             cum_qty=order.filled_qty, leaves_qty=ZERO, status=order.status)  # fmt: skip

    # ----- exercise and expiry ------------------------------------------------------------------
    def exercise(self, acct: Account, info: ContractInfo, now: int) -> None:
        pos = acct.positions.get(info.symbol)
        if pos is None or pos.qty == 0:
            raise ApiError(403, 40310000, "no available position for the specified contract")
        if pos.qty < 0:
            raise ApiError(403, 40310001, "cannot exercise short position")
        self._deliver(acct, info, pos.qty, "OPEXC", now)

    def _deliver(self, acct: Account, info: ContractInfo, contracts: Decimal, kind: str, now: int) -> None:
        """Exercise (``contracts`` > 0) or assignment (< 0): shares change hands at the strike."""
        shares = contracts * HUNDRED * (1 if info.kind == "call" else -1)
        acct.positions.pop(info.symbol, None)
        words = {"OPEXC": "exercise", "OPASN": "assignment"}[kind]
        acct.activities.option_event(
            kind, now, info.symbol, -contracts, ZERO, ZERO, f"Option {words}: {info.name}"
        )
        apply_fill(acct, info.underlying, shares, info.strike, now)
        text = f"Option {words}: {fmt(abs(shares))} {info.underlying} at {fmt(info.strike)}"
        acct.activities.option_event(
            "OPTRD", now, info.underlying, shares, info.strike, -shares * info.strike, text
        )
        self._end_orders(acct, info, now, "canceled")

    def _end_orders(self, acct: Account, info: ContractInfo, now: int, status: str) -> None:
        for order in acct.open_orders():
            if order.symbol == info.symbol and order.is_open:
                root = order.root
                for m in root.members():
                    if m.is_open:
                        m.touch(status, now)
                        m.canceled_at = now if status == "canceled" else m.canceled_at
                        m.expired_at = now if status == "expired" else m.expired_at
                self.emit(acct, status, root, now)

    def settle(self, now: int) -> None:
        """Exercise, assign or expire the positions (and end the orders) of expired contracts."""
        options = self.venues.options
        for acct in self.accounts:
            for symbol, pos in list(acct.positions.items()):
                info = self.venues.contract(symbol) if len(symbol) > 15 else None
                if info is None or not options.expired(info, now):
                    continue
                spot = Decimal(str(self.venues.mark(info.underlying, now) or 0))
                intrinsic = spot - info.strike if info.kind == "call" else info.strike - spot
                if intrinsic >= CENT:
                    self._deliver(acct, info, pos.qty, "OPEXC" if pos.qty > 0 else "OPASN", now)
                    continue
                acct.positions.pop(symbol)
                acct.activities.option_event(
                    "OPEXP", now, symbol, -pos.qty, ZERO, ZERO, f"Option expiry: {info.name}"
                )
            for order in acct.open_orders():
                info = (
                    self.venues.contract(order.symbol)
                    if order.asset_class == "us_option" and order.symbol
                    else None
                )
                if info is not None and options.expired(info, now):
                    self._end_orders(acct, info, now, "expired")


CUTOFF_MINUTE = 15 * 60 + 30  # 3:30 pm ET


def _check_cutoff(info: ContractInfo, now: int) -> None:
    """From 3:30 pm ET on its expiration day, a contract takes no order that opens or extends a
    position (ALPACA_WIRE_MORE.md B4); closing stays possible until the close."""
    day = cal.et_day_of(now)
    if info.expiration == day and now >= cal.et_minute_ns(day, CUTOFF_MINUTE):
        raise ApiError(
            403, 40310000,
            f"{info.symbol} expires today: orders opening or extending a position in it are not accepted "
            "after 3:30 pm ET",
        )  # fmt: skip
