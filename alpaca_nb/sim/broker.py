"""The simulated broker: a paper and a live account, order matching, positions, P&L, trade_updates.

Bookkeeping uses ``Decimal`` so every figure is exact and hand-computable:

* ``equity = cash + long_market_value + short_market_value`` (short market value is negative);
* ``initial_margin = 0.5 * (long_market_value + |short_market_value|)``;
* ``buying_power = max(0, 2 * (equity - initial_margin) - reserved)`` where ``reserved`` is the cost of
  open buy orders (remaining qty x limit price, or x the ask for market orders) — Reg-T, multiplier 2;
* a position's ``avg_entry_price`` is the quantity-weighted price of the fills that opened it; reducing
  a position leaves it unchanged; ``unrealized_pl = market_value - cost_basis``.

Marking uses the latest trade price (or a pinned price, see ``Market.pins``); fills use the current
quote: buys at the ask, sells at the bid, at most the quoted size per matching pass, so large orders
fill partially over several passes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import calendar as cal
from .market import Market
from .orders import ZERO, Order, floor_qty, fmt, parse_order
from .wire import ApiError, iso_one

TradeUpdateSink = Callable[["Account", dict[str, Any]], None]
_ACCOUNT_NS = uuid.UUID("0b9a3c5e-7d41-4f6a-8e2b-5c1d9f0a7b34")
HALF = Decimal("0.5")


@dataclass(slots=True)
class Position:
    symbol: str
    qty: Decimal = ZERO
    avg_entry: Decimal = ZERO
    opened_day: dt.date | None = None


class Account:
    """One brokerage account ("paper" or "live") and the demo keys that reach it."""

    def __init__(self, name: str, key_id: str, secret: str, seed: int, cash: Decimal, now: int) -> None:
        self.name = name
        self.key_id = key_id
        self.secret = secret
        self.id = str(uuid.uuid5(_ACCOUNT_NS, f"{seed}:{name}"))
        self.account_number = ("PA" if name == "paper" else "LA") + self.id.replace("-", "")[:10].upper()
        self.cash = cash
        self.last_equity = cash
        self.created_at = now
        self.positions: dict[str, Position] = {}
        self.orders: dict[str, Order] = {}
        self.by_client_id: dict[str, Order] = {}

    def __repr__(self) -> str:  # never the secret
        return f"<Account {self.name} {self.account_number}>"

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open]


class Broker:
    """Orders and positions for the simulator's accounts; ``process(now)`` runs the matching."""

    def __init__(
        self,
        market: Market,
        *,
        seed: int = 0,
        starting_cash: float = 100_000,
        credentials: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.market = market
        now = market.now()
        cash = Decimal(str(starting_cash))
        keys = {
            "paper": ("PKSIMPAPER" + _digits(seed), "sim-paper-secret-" + _digits(seed)),
            "live": ("AKSIMLIVE0" + _digits(seed), "sim-live-secret-" + _digits(seed)),
            **(credentials or {}),
        }
        self.accounts = {name: Account(name, *keys[name], seed, cash, now) for name in ("paper", "live")}
        self.sinks: list[TradeUpdateSink] = []

    def authenticate(self, key_id: str | None, secret: str | None) -> Account | None:
        for acct in self.accounts.values():
            if key_id == acct.key_id and secret == acct.secret:
                return acct
        return None

    # ----- prices -----------------------------------------------------------------------------
    def mark(self, symbol: str, now: int) -> Decimal:
        last = self.market.last_trade(symbol, now)
        return ZERO if last is None else Decimal(str(last[0]))

    def asset(self, symbol: str) -> Any:
        info = self.market.universe.get(symbol)
        if info is None:
            raise ApiError(422, 40010001, f"asset {symbol} not found")
        return info

    # ----- valuation --------------------------------------------------------------------------
    def valuation(self, acct: Account, now: int) -> dict[str, Decimal]:
        long_mv = short_mv = ZERO
        for pos in acct.positions.values():
            value = pos.qty * self.mark(pos.symbol, now)
            if pos.qty > 0:
                long_mv += value
            else:
                short_mv += value
        equity = acct.cash + long_mv + short_mv
        initial = HALF * (long_mv - short_mv)
        reserved = sum((self._reserved(o, now) for o in acct.open_orders() if o.side == "buy"), ZERO)
        buying_power = max(ZERO, 2 * (equity - initial) - reserved)
        return {
            "cash": acct.cash,
            "long_market_value": long_mv,
            "short_market_value": short_mv,
            "equity": equity,
            "initial_margin": initial,
            "maintenance_margin": Decimal("0.25") * long_mv - Decimal("0.3") * short_mv,
            "buying_power": buying_power,
            "non_marginable_buying_power": max(ZERO, acct.cash - reserved),
            "reserved": reserved,
        }

    def _reserved(self, order: Order, now: int) -> Decimal:
        if order.notional is not None:
            return order.notional - order.filled_value
        price = order.limit_price or order.stop_price
        if price is None:
            quote = self.market.quote_at(order.symbol, now)
            price = Decimal(str(quote[1])) if quote else ZERO
        return order.remaining() * price

    # ----- submission -------------------------------------------------------------------------
    def submit(self, acct: Account, body: Any, now: int) -> Order:
        symbol = body.get("symbol") if isinstance(body, dict) else None
        if not symbol or not isinstance(symbol, str):
            raise ApiError(422, 40010001, "symbol is required")
        info = self.asset(symbol.upper() if symbol.upper() in self.market.universe else symbol)
        fields = parse_order(body, fractionable=info.fractionable)
        if fields["client_order_id"] in acct.by_client_id:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        order = Order(
            symbol=info.symbol,
            asset_id=info.asset_id,
            created_at=now,
            updated_at=now,
            expires_at=self._expiry(fields["time_in_force"], fields["extended_hours"], now),
            **fields,
        )
        self._check_funds(acct, order, now)
        pos = acct.positions.get(order.symbol)
        held = pos.qty if pos else ZERO
        if order.side == "buy":
            order.position_intent = "buy_to_close" if held < 0 else "buy_to_open"
        else:
            order.position_intent = "sell_to_close" if held > 0 else "sell_to_open"
        acct.orders[order.id] = order
        acct.by_client_id[order.client_order_id] = order
        return order

    def _check_funds(self, acct: Account, order: Order, now: int) -> None:
        quote = self.market.quote_at(order.symbol, now)
        if quote is None:
            raise ApiError(422, 40010001, f"no market for {order.symbol}")
        bid, ask = Decimal(str(quote[0])), Decimal(str(quote[1]))
        pos = acct.positions.get(order.symbol)
        pos_qty = pos.qty if pos else ZERO
        value = self.valuation(acct, now)
        if order.side == "buy":
            price = order.limit_price or order.stop_price or ask
            cost = order.notional if order.notional is not None else order.qty * price  # type: ignore[operator]
            short_cover = min(max(-pos_qty, ZERO), order.qty or ZERO) * price
            if cost - short_cover > value["buying_power"]:
                raise ApiError(
                    403,
                    40310000,
                    "insufficient buying power",
                    buying_power=fmt(value["buying_power"]),
                    cost_basis=fmt(cost),
                )
            return
        qty = order.qty if order.qty is not None else floor_qty(order.notional, bid)  # type: ignore[arg-type]
        held_orders = [o for o in acct.open_orders() if o.side == "sell" and o.symbol == order.symbol]
        held = sum((o.remaining() for o in held_orders), ZERO)
        if pos_qty > 0:
            available = max(pos_qty - held, ZERO)
            if qty > available:
                raise ApiError(
                    403,
                    40310000,
                    "insufficient qty available for order "
                    f"(requested: {fmt(qty)}, available: {fmt(available)})",
                    available=fmt(available),
                    existing_qty=fmt(pos_qty),
                    held_for_orders=fmt(held),
                    related_orders=[o.id for o in held_orders],
                    symbol=order.symbol,
                )
            return
        info = self.asset(order.symbol)
        if not info.shortable:
            raise ApiError(403, 40310000, "asset is not shortable")
        if qty != qty.to_integral_value():
            raise ApiError(403, 40310000, "fractional orders cannot be sold short")
        cost = qty * (order.limit_price or bid)
        if cost > value["buying_power"]:
            raise ApiError(
                403,
                40310000,
                "insufficient buying power",
                buying_power=fmt(value["buying_power"]),
                cost_basis=fmt(cost),
            )

    def _expiry(self, tif: str, extended: bool, now: int) -> int:
        day = cal.et_day_of(now)
        if tif in ("gtc",):
            return now + 90 * 86_400 * cal.NS
        if self.market.hours == "always" and day >= self.market.live_from:
            return cal.et_midnight_ns(day + dt.timedelta(days=1))
        for _ in range(15):
            sess = cal.session(day)
            if sess is not None:
                end = cal.et_minute_ns(day, cal.POST_CLOSE if extended else sess.close_minute)
                if end > now:
                    return end
            day += dt.timedelta(days=1)
        return now + 86_400 * cal.NS

    # ----- lookups ----------------------------------------------------------------------------
    def get(self, acct: Account, order_id: str) -> Order:
        try:
            uuid.UUID(order_id)
        except ValueError:
            raise ApiError(422, 40010001, "order_id is missing or invalid") from None
        order = acct.orders.get(order_id)
        if order is None:
            raise ApiError(404, 40410000, "order not found")
        return order

    def get_by_client_id(self, acct: Account, client_order_id: str) -> Order:
        order = acct.by_client_id.get(client_order_id)
        if order is None:
            raise ApiError(404, 40410000, "order not found")
        return order

    def list_orders(
        self,
        acct: Account,
        *,
        status: str = "open",
        limit: int = 50,
        after: int | None = None,
        until: int | None = None,
        direction: str = "desc",
        symbols: Iterable[str] | None = None,
        side: str | None = None,
    ) -> list[Order]:
        wanted = set(symbols) if symbols else None
        out = [
            o
            for o in acct.orders.values()
            if (status == "all" or (status == "open") == o.is_open)
            and (after is None or o.created_at > after)
            and (until is None or o.created_at < until)
            and (wanted is None or o.symbol in wanted)
            and (side is None or o.side == side)
        ]
        out.sort(key=lambda o: o.created_at, reverse=direction == "desc")
        return out[:limit]

    # ----- changes ----------------------------------------------------------------------------
    def cancel(self, acct: Account, order_id: str, now: int) -> Order:
        order = self.get(acct, order_id)
        if not order.is_open:
            raise ApiError(422, 42210000, f"order is not cancelable (status: {order.status})")
        order.canceled_at = now
        order.touch("canceled", now)
        self.emit(acct, "canceled", order, now)
        return order

    def cancel_all(self, acct: Account, now: int) -> list[dict[str, Any]]:
        return [{"id": self.cancel(acct, o.id, now).id, "status": 200} for o in acct.open_orders()]

    def replace(self, acct: Account, order_id: str, body: Any, now: int) -> Order:
        old = self.get(acct, order_id)
        if not isinstance(body, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        if old.status not in ("new", "partially_filled"):
            raise ApiError(422, 42210000, f"order is not replaceable (status: {old.status})")
        if old.notional is not None:
            raise ApiError(422, 42210000, "notional orders cannot be replaced")
        merged: dict[str, Any] = {
            "symbol": old.symbol,
            "side": old.side,
            "type": old.type,
            "time_in_force": body.get("time_in_force", old.time_in_force),
            "qty": body.get("qty", fmt(old.remaining())),
            "limit_price": body.get("limit_price", fmt(old.limit_price)),
            "stop_price": body.get("stop_price", fmt(old.stop_price)),
            "extended_hours": old.extended_hours,
            "client_order_id": body.get("client_order_id"),
        }
        if old.type == "trailing_stop":
            key = "trail_price" if old.trail_price is not None else "trail_percent"
            merged[key] = body.get("trail", fmt(getattr(old, key)))
        fields = parse_order({k: v for k, v in merged.items() if v is not None}, fractionable=True)
        if fields["client_order_id"] in acct.by_client_id:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        new = Order(
            symbol=old.symbol,
            asset_id=old.asset_id,
            created_at=now,
            updated_at=now,
            expires_at=self._expiry(fields["time_in_force"], fields["extended_hours"], now),
            position_intent=old.position_intent,
            replaces=old.id,
            **fields,
        )
        old.replaced_by, old.replaced_at = new.id, now
        old.touch("replaced", now)
        acct.orders[new.id] = new
        acct.by_client_id[new.client_order_id] = new
        self.emit(acct, "replaced", old, now)
        return new

    def close_position(
        self,
        acct: Account,
        symbol: str,
        now: int,
        *,
        qty: Decimal | None = None,
        percentage: Decimal | None = None,
    ) -> Order:
        pos = acct.positions.get(symbol)
        if pos is None or pos.qty == 0:
            raise ApiError(404, 40410000, "position does not exist")
        if qty is not None and percentage is not None:
            raise ApiError(422, 40010001, "only one of qty or percentage may be given")
        size = abs(pos.qty)
        if percentage is not None:
            if not 0 < percentage <= 100:
                raise ApiError(422, 40010001, "percentage must be between 0 and 100")
            size = size * percentage / 100
            size = size.quantize(Decimal(1)) if pos.qty == pos.qty.to_integral_value() else size
        elif qty is not None:
            size = qty
        if size <= 0 or size > abs(pos.qty):
            raise ApiError(422, 40010001, f"invalid qty {fmt(size)} for a position of {fmt(pos.qty)}")
        body = {
            "symbol": symbol,
            "qty": fmt(size),
            "side": "sell" if pos.qty > 0 else "buy",
            "type": "market",
            "time_in_force": "day",
        }
        return self.submit(acct, body, now)

    def close_all(self, acct: Account, now: int, *, cancel_orders: bool = False) -> list[dict[str, Any]]:
        if cancel_orders:
            self.cancel_all(acct, now)
        results = []
        for symbol in list(acct.positions):
            try:
                order = self.close_position(acct, symbol, now)
                results.append({"symbol": symbol, "status": 200, "body": order.to_json()})
            except ApiError as err:
                results.append(
                    {
                        "symbol": symbol,
                        "status": err.status,
                        "body": {"code": err.code, "message": err.message, **err.extra},
                    }
                )
        return results

    # ----- matching ---------------------------------------------------------------------------
    def process(self, now: int) -> None:
        """Activate, trigger, fill and expire open orders against the market at ``now``."""
        for acct in self.accounts.values():
            for order in acct.open_orders():
                self._process_order(acct, order, now)

    def _process_order(self, acct: Account, order: Order, now: int) -> None:
        if now >= order.expires_at:
            order.expired_at = now
            order.touch("expired", now)
            self.emit(acct, "expired", order, now)
            return
        if not self.market.is_open(order.symbol, now, order.extended_hours):
            return
        if order.status == "accepted":
            order.touch("new", now)
            self.emit(acct, "new", order, now)
        quote = self.market.quote_at(order.symbol, now)
        if quote is None:
            return
        bid, ask = Decimal(str(quote[0])), Decimal(str(quote[1]))
        touch, size = (ask, Decimal(quote[3])) if order.side == "buy" else (bid, Decimal(quote[2]))
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
            order.qty = qty
        else:
            qty = min(order.remaining(), size)
            if order.time_in_force == "fok" and qty < order.remaining():
                self._end_unfilled(acct, order, now)
                return
        if qty > 0:
            self._fill(acct, order, qty, touch, now)
        if order.is_open:
            self._end_unfilled(acct, order, now)

    def _triggered(self, order: Order, touch: Decimal) -> bool:
        if order.type in ("stop", "stop_limit") and not order.triggered:
            stop = order.stop_price
            assert stop is not None
            order.triggered = touch >= stop if order.side == "buy" else touch <= stop
            return order.triggered
        if order.type == "trailing_stop" and not order.triggered:
            hwm = order.hwm if order.hwm is not None else touch
            hwm = max(hwm, touch) if order.side == "sell" else min(hwm, touch)
            order.hwm = hwm
            if order.trail_price is not None:
                offset = order.trail_price
            else:
                offset = hwm * (order.trail_percent or ZERO) / 100
            stop = hwm - offset if order.side == "sell" else hwm + offset
            order.stop_price = stop.quantize(Decimal("0.01"))
            order.triggered = touch <= stop if order.side == "sell" else touch >= stop
            return order.triggered
        return True

    def _end_unfilled(self, acct: Account, order: Order, now: int) -> None:
        """IOC/FOK leftovers are canceled at once; other orders keep resting."""
        if order.time_in_force in ("ioc", "fok") and order.is_open:
            order.canceled_at = now
            order.touch("canceled", now)
            self.emit(acct, "canceled", order, now)

    def _fill(self, acct: Account, order: Order, qty: Decimal, price: Decimal, now: int) -> None:
        signed = qty if order.side == "buy" else -qty
        acct.cash -= signed * price
        pos = acct.positions.setdefault(order.symbol, Position(order.symbol))
        new_qty = pos.qty + signed
        if pos.qty == 0 or ((pos.qty > 0) != (new_qty > 0) and new_qty != 0):
            pos.avg_entry, pos.opened_day = price, cal.et_day_of(now)  # opened or flipped
        elif abs(new_qty) > abs(pos.qty):
            pos.avg_entry = (pos.qty * pos.avg_entry + signed * price) / new_qty
        pos.qty = new_qty
        if pos.qty == 0:
            del acct.positions[order.symbol]
        order.filled_qty += qty
        order.filled_value += qty * price
        done = order.remaining() <= 0
        if done:
            order.filled_at = now
        order.touch("filled" if done else "partially_filled", now)
        self.emit(
            acct,
            "fill" if done else "partial_fill",
            order,
            now,
            execution_id=str(uuid.uuid4()),
            price=fmt(price),
            qty=fmt(qty),
            position_qty=fmt(new_qty),
        )

    # ----- trade_updates ----------------------------------------------------------------------
    def emit(self, acct: Account, event: str, order: Order, now: int, **extra: Any) -> None:
        data = {"event": event, "timestamp": iso_one(now), "order": order.to_json(), **extra}
        if event in ("canceled", "expired", "replaced") and "position_qty" not in data:
            pos = acct.positions.get(order.symbol)
            data["position_qty"] = fmt(pos.qty if pos else ZERO)
        message = {"stream": "trade_updates", "data": data}
        for sink in list(self.sinks):
            sink(acct, message)

    # ----- views ------------------------------------------------------------------------------
    def account_json(self, acct: Account, now: int) -> dict[str, Any]:
        v = self.valuation(acct, now)
        money = {
            k: fmt(v[k])
            for k in (
                "cash",
                "long_market_value",
                "short_market_value",
                "equity",
                "initial_margin",
                "maintenance_margin",
                "buying_power",
                "non_marginable_buying_power",
            )
        }
        return {
            "id": acct.id,
            "account_number": acct.account_number,
            "status": "ACTIVE",
            "crypto_status": "INACTIVE",
            "currency": "USD",
            **money,
            "regt_buying_power": money["buying_power"],
            "daytrading_buying_power": "0",
            "effective_buying_power": money["buying_power"],
            "options_buying_power": money["non_marginable_buying_power"],
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "pending_transfer_out": "0",
            "portfolio_value": money["equity"],
            "position_market_value": fmt(v["long_market_value"] - v["short_market_value"]),
            "last_equity": fmt(acct.last_equity),
            "last_maintenance_margin": "0",
            "sma": "0",
            "multiplier": "2",
            "intraday_adjustments": "0",
            "pending_reg_taf_fees": "0",
            "daytrade_count": 0,
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "trade_suspended_by_user": False,
            "shorting_enabled": True,
            "options_approved_level": 0,
            "options_trading_level": 0,
            "balance_asof": cal.et_day_of(now).isoformat(),
            "created_at": iso_one(acct.created_at),
        }

    def position_json(self, acct: Account, pos: Position, now: int) -> dict[str, Any]:
        info = self.market.universe[pos.symbol]
        price = self.mark(pos.symbol, now)
        prev = self.market.previous_close(pos.symbol, now)
        lastday = Decimal(str(prev)) if prev is not None else price
        market_value = pos.qty * price
        cost_basis = pos.qty * pos.avg_entry
        upl = market_value - cost_basis
        opened_today = pos.opened_day == cal.et_day_of(now)
        intraday = upl if opened_today else pos.qty * (price - lastday)
        intraday_base = abs(cost_basis) if opened_today else abs(pos.qty * lastday)
        held = sum(
            (
                o.remaining()
                for o in acct.open_orders()
                if o.symbol == pos.symbol and (o.side == "sell") == (pos.qty > 0)
            ),
            ZERO,
        )
        return {
            "asset_id": info.asset_id,
            "symbol": pos.symbol,
            "exchange": info.exchange,
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": fmt(pos.avg_entry),
            "qty": fmt(pos.qty),
            "qty_available": fmt(pos.qty - held if pos.qty > 0 else pos.qty + held),
            "side": "long" if pos.qty > 0 else "short",
            "market_value": fmt(market_value),
            "cost_basis": fmt(cost_basis),
            "unrealized_pl": fmt(upl),
            "unrealized_plpc": fmt(upl / abs(cost_basis)) if cost_basis else "0",
            "unrealized_intraday_pl": fmt(intraday),
            "unrealized_intraday_plpc": fmt(intraday / intraday_base) if intraday_base else "0",
            "current_price": fmt(price),
            "lastday_price": fmt(lastday),
            "change_today": fmt(price / lastday - 1) if lastday else "0",
        }


def _digits(seed: int) -> str:
    return f"{seed % 10**10:010d}"
