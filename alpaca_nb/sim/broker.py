"""The simulated broker: a paper and a live account, their orders and positions, and trade_updates.

This is the facade the routes and streams use. The books live in ``ledger`` (exact ``Decimal``
accounting, see its docstring), matching in ``matching``, bracket/OCO/OTO rules in ``groups``,
order validation in ``order_rules`` and the Account/Position JSON in ``views``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from . import calendar as cal
from . import groups
from .crypto_rules import check_crypto_funds, floor_to_step, parse_crypto_order
from .ledger import Account, Position, check_funds, mark, valuation
from .market.occ import ContractInfo
from .market.pairs import PairInfo
from .market.venues import Asset, Venues
from .matching import Matcher, follow_trail
from .option_desk import OptionDesk
from .order_rules import ExitSpec, check_exit_prices, order_class_of, parse_exits, parse_order
from .orders import Order, fmt
from .views import account_json, position_json
from .wire import ApiError, iso_one

TradeUpdateSink = Callable[[Account, dict[str, Any]], None]

__all__ = ["Account", "Broker", "Position", "TradeUpdateSink"]


class Broker:
    """Orders and positions for the simulator's accounts; ``process(now)`` runs the matching."""

    def __init__(
        self,
        market: Venues,
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
        self.options = OptionDesk(
            market, self.accounts.values(), self.emit, lambda now: self._expiry("day", False, now)
        )
        self.matcher = Matcher(market, self.emit, self.options.process_mleg)

    def authenticate(self, key_id: str | None, secret: str | None) -> Account | None:
        for acct in self.accounts.values():
            if key_id == acct.key_id and secret == acct.secret:
                return acct
        return None

    # ----- prices and views -------------------------------------------------------------------
    def mark(self, symbol: str, now: int) -> Decimal:
        return mark(self.market, symbol, now)

    def asset(self, symbol: str) -> Asset:
        info = self.market.asset(symbol)
        if info is None:
            raise ApiError(422, 42210000, f'asset "{symbol}" not found')
        return info

    def valuation(self, acct: Account, now: int) -> dict[str, Decimal]:
        return valuation(self.market, acct, now)

    def account_json(self, acct: Account, now: int) -> dict[str, Any]:
        return account_json(self.market, acct, now)

    def position_json(self, acct: Account, pos: Position, now: int) -> dict[str, Any]:
        return position_json(self.market, acct, pos, now)

    # ----- submission -------------------------------------------------------------------------
    def submit(self, acct: Account, body: Any, now: int, *, closing: bool = False) -> Order:
        """Validate and accept an order (with its exit legs); matching starts on the next pass."""
        if acct.config.suspend_trade:
            raise ApiError(403, 40310000, "new orders are rejected by user request")
        if isinstance(body, dict) and body.get("order_class") == "mleg":
            return self.options.submit_mleg(acct, body, now)
        symbol = body.get("symbol") if isinstance(body, dict) else None
        if not symbol or not isinstance(symbol, str):
            raise ApiError(422, 40010001, "symbol is required")
        info = self.asset(symbol)
        if isinstance(info, PairInfo):
            return self._submit_crypto(acct, body, info, now, closing=closing)
        if isinstance(info, ContractInfo):
            return self.options.submit_single(acct, body, info, now, closing=closing)
        order_class = order_class_of(body)
        exits = parse_exits(body, order_class) if order_class else []  # first: an OCO's limit is its TP's
        fractional = closing or acct.config.fractional_trading
        fields = parse_order(body, fractionable=info.fractionable, fractional_enabled=fractional)
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
        held = acct.position_qty(order.symbol)
        if order.side == "buy":
            order.position_intent = "buy_to_close" if held < 0 else "buy_to_open"
        else:
            order.position_intent = "sell_to_close" if held > 0 else "sell_to_open"
        if order.order_class:
            self._check_group(order, exits, held, now)
        check_funds(self.market, acct, order, now, shortable=info.shortable)
        acct.add(order)
        for leg in groups.attach_exits(order, exits, now) if exits else ():
            acct.add(leg)
        if order.type == "trailing_stop":
            self._start_trailing(acct, order, now)
        return order

    def _submit_crypto(self, acct: Account, body: Any, info: PairInfo, now: int, *, closing: bool) -> Order:
        """A crypto order: simple, gtc/ioc, answered ``pending_new`` (crypto_rules has the rules)."""
        fields = parse_crypto_order(body, info, closing=closing)
        if fields["client_order_id"] in acct.by_client_id:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        order = Order(
            symbol=info.symbol,
            asset_id=info.asset_id,
            created_at=now,
            updated_at=now,
            expires_at=now + 90 * 86_400 * cal.NS,  # gtc; an ioc order ends at its first matching pass
            status="pending_new",
            asset_class="crypto",
            position_symbol=info.position_symbol,
            **fields,
        )
        order.position_intent = f"{order.side}_to_{'open' if order.side == 'buy' else 'close'}"
        check_crypto_funds(self.market, acct, order, info, now)
        acct.add(order)
        return order

    def _start_trailing(self, acct: Account, order: Order, now: int) -> None:
        """A trailing stop is answered ``new`` with its ``hwm`` and ``stop_price`` already set."""
        quote = self.market.quote_at(order.symbol, now)
        if quote is not None:
            follow_trail(order, Decimal(str(quote[1] if order.side == "buy" else quote[0])))
        if self.market.is_open(order.symbol, now):
            order.touch("new", now)
            self.emit(acct, "new", order, now)

    def _check_group(self, order: Order, exits: list[ExitSpec], position: Decimal, now: int) -> None:
        """An OCO closes a position; a bracket or OTO opens or adds to one; exits priced sensibly."""
        if order.order_class == "oco":
            if (position <= 0) if order.side == "sell" else (position >= 0):
                raise ApiError(422, 42210000, "oco orders must close an existing position")
            check_exit_prices(exits, order.side, None)
            return
        if (position < 0) if order.side == "buy" else (position > 0):
            raise ApiError(422, 42210000, f"{order.order_class} orders must be entry orders")
        base = order.limit_price or self.mark(order.symbol, now)
        check_exit_prices(exits, "sell" if order.side == "buy" else "buy", base)

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
            raise ApiError(422, 40010001, "order_id is missing") from None
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
        nested: bool = False,
    ) -> list[Order]:
        """Orders matching the filters; with ``nested`` a listed parent's legs are left out (its
        ``to_json(legs=True)`` carries them), while legs whose parent is not listed stay."""
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
        if nested:
            listed = {id(o) for o in out}
            out = [o for o in out if o.parent is None or id(o.parent) not in listed]
        out.sort(key=lambda o: o.created_at, reverse=direction == "desc")
        return out[:limit]

    # ----- changes ----------------------------------------------------------------------------
    def cancel(self, acct: Account, order_id: str, now: int) -> Order:
        """Cancel an open order, and with it every open member of its group."""
        order = self.get(acct, order_id)
        if order.is_mleg and order.parent is not None:
            raise ApiError(422, 42210000, "cannot cancel individual legs of a mleg order")
        if not order.is_open:
            raise ApiError(422, 42210000, f"order is not cancelable (status: {order.status})")
        groups.cancel_group(acct, order, now, self.emit)
        return order

    def cancel_all(self, acct: Account, now: int) -> list[dict[str, Any]]:
        done: list[Order] = []
        for order in acct.open_orders():
            if order.is_open:
                done += groups.cancel_group(acct, order, now, self.emit)
        return [{"id": o.id, "status": 200} for o in done]

    def replace(self, acct: Account, order_id: str, body: Any, now: int) -> Order:
        old = self.get(acct, order_id)
        if old.asset_class == "us_option" or old.is_mleg:
            return self.options.replace(acct, old, body, now)
        if not isinstance(body, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        leg_waiting = old.status == "held" and old.parent is not None
        if old.status not in ("new", "partially_filled") and not leg_waiting:
            raise ApiError(422, 42210000, f"cannot replace order in {old.status} status")
        if old.notional is not None:
            raise ApiError(422, 42210000, "notional orders cannot be replaced")
        if old.order_class:
            groups.check_replace(old, body)
        trailing = old.type == "trailing_stop"
        if body.get("trail") is not None and not trailing:
            raise ApiError(422, 40010001, "trail is only allowed for trailing_stop orders")
        merged: dict[str, Any] = {
            "symbol": old.symbol,
            "side": old.side,
            "type": old.type,
            "time_in_force": body.get("time_in_force", old.time_in_force),
            "qty": body.get("qty", fmt(old.remaining())),
            "limit_price": body.get("limit_price", fmt(old.limit_price)),
            # a trailing stop's stop_price is derived, not set: only a sent one is passed on (and refused)
            "stop_price": body.get("stop_price") if trailing else body.get("stop_price", fmt(old.stop_price)),
            "extended_hours": old.extended_hours,
            "client_order_id": body.get("client_order_id"),
        }
        if trailing:
            key = "trail_price" if old.trail_price is not None else "trail_percent"
            merged[key] = body.get("trail", fmt(getattr(old, key)))
        given = {k: v for k, v in merged.items() if v is not None}
        info = self.market.asset(old.symbol)
        crypto = isinstance(info, PairInfo)
        fields = (
            parse_crypto_order(given, info)
            if isinstance(info, PairInfo)
            else parse_order(given, fractionable=True)
        )
        if fields["client_order_id"] in acct.by_client_id:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        new = Order(
            symbol=old.symbol,
            asset_id=old.asset_id,
            created_at=now,
            updated_at=now,
            expires_at=(
                now + 90 * 86_400 * cal.NS
                if crypto
                else self._expiry(fields["time_in_force"], fields["extended_hours"], now)
            ),
            position_intent=old.position_intent,
            replaces=old.id,
            hwm=old.hwm,
            status="pending_new" if crypto else "accepted",
            asset_class=old.asset_class,
            position_symbol=old.position_symbol,
            **fields,
        )
        if old.order_class:
            groups.take_slot(old, new)
        if trailing:
            follow_trail(new, None)
        old.replaced_by, old.replaced_at = new.id, now
        old.touch("replaced", now)
        acct.add(new)
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
        info = self.market.asset(symbol)
        if pos is None or pos.qty == 0 or info is None:
            raise ApiError(404, 40410000, "position does not exist")
        if qty is not None and percentage is not None:
            raise ApiError(422, 40010001, "only one of qty or percentage may be given")
        size = abs(pos.qty)
        if percentage is not None:
            if not 0 < percentage <= 100:
                raise ApiError(422, 40010001, "percentage must be between 0 and 100")
            size = size * percentage / 100
            if isinstance(info, PairInfo):
                size = floor_to_step(size, info.qty_step)
            elif pos.qty == pos.qty.to_integral_value():
                size = size.quantize(Decimal(1))
        elif qty is not None:
            size = qty
        if size <= 0 or size > abs(pos.qty):
            raise ApiError(422, 40010001, f"invalid qty {fmt(size)} for a position of {fmt(pos.qty)}")
        body = {
            "symbol": info.symbol,  # the pair for crypto: the closing order carries BTC/USD
            "qty": fmt(size),
            "side": "sell" if pos.qty > 0 else "buy",
            "type": "market",
            "time_in_force": "gtc" if isinstance(info, PairInfo) else "day",
        }
        if isinstance(info, ContractInfo):
            body["position_intent"] = "sell_to_close" if pos.qty > 0 else "buy_to_close"
        return self.submit(acct, body, now, closing=True)

    def close_all(self, acct: Account, now: int, *, cancel_orders: bool = False) -> list[dict[str, Any]]:
        if cancel_orders:
            self.cancel_all(acct, now)
        results = []
        for symbol in list(acct.positions):
            try:
                order = self.close_position(acct, symbol, now)
                results.append({"symbol": symbol, "status": 200, "body": order.to_json()})
            except ApiError as err:
                body = {"code": err.code, "message": err.message, **err.extra}
                results.append({"symbol": symbol, "status": err.status, "body": body})
        return results

    # ----- matching and trade_updates ---------------------------------------------------------
    def process(self, now: int) -> None:
        """Activate, trigger, fill and expire open orders against the market at ``now``; settle
        expired option contracts."""
        self.matcher.process(self.accounts.values(), now)
        self.options.settle(now)

    def exercise(self, acct: Account, symbol_or_id: str, now: int) -> None:
        info = self.market.contract(symbol_or_id)
        if info is None:
            raise ApiError(422, 42210000, "invalid symbol")
        self.options.exercise(acct, info, now)

    def emit(self, acct: Account, event: str, order: Order, now: int, **extra: Any) -> None:
        """Publish one trade_updates event (a parent order carries its legs)."""
        data = {"event": event, "timestamp": iso_one(now), "order": order.to_json(legs=True), **extra}
        if event in ("canceled", "expired", "replaced") and "position_qty" not in data:
            data["position_qty"] = fmt(acct.position_qty(order.pos_key))
        message = {"stream": "trade_updates", "data": data}
        for sink in list(self.sinks):
            sink(acct, message)


def _digits(seed: int) -> str:
    return f"{seed % 10**10:010d}"
