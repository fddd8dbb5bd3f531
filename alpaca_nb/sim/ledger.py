"""The ledger: accounts, positions and cash, valued exactly in ``Decimal``.

* ``equity = cash + long_market_value + short_market_value`` (short market value is negative);
* ``initial_margin = 0.5 * (long_market_value + |short_market_value|)``;
* ``buying_power = max(0, 2 * (equity - initial_margin) - reserved)`` where ``reserved`` is what the
  working buy orders could cost (remaining qty x limit or stop price, or x the ask for market orders) —
  Reg-T, multiplier 2; with ``max_margin_multiplier="1"`` it is ``max(0, cash - reserved)``;
* ``held`` exit legs (a bracket's stop-loss, legs waiting for their entry) are not working orders:
  they reserve nothing and hold no shares, so a group never counts twice;
* a position's ``avg_entry_price`` is the quantity-weighted price of the fills that opened it; reducing
  a position leaves it unchanged; ``unrealized_pl = market_value - cost_basis``.

Marking uses the latest trade price (or a pinned price, see ``Market.pins``); option contracts are
marked at their quote's mid, and count ``multiplier`` (100) times their price and quantity in money.
Long options, like crypto, back no borrowing; a working ``mleg`` order reserves the cost basis it
was accepted with (``Order.reserve``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import calendar as cal
from .activities import Activities
from .configuration import AccountConfig
from .market.venues import Venues
from .orders import ZERO, Order, floor_qty, fmt
from .wire import ApiError

_ACCOUNT_NS = uuid.UUID("0b9a3c5e-7d41-4f6a-8e2b-5c1d9f0a7b34")
HALF = Decimal("0.5")


@dataclass(slots=True)
class Position:
    symbol: str
    qty: Decimal = ZERO
    avg_entry: Decimal = ZERO
    opened_day: dt.date | None = None


class Account:
    """One brokerage account ("paper" or "live"), its configuration and the demo keys that reach it."""

    def __init__(self, name: str, key_id: str, secret: str, seed: int, cash: Decimal, now: int) -> None:
        self.name = name
        self.key_id = key_id
        self.secret = secret
        self.id = str(uuid.uuid5(_ACCOUNT_NS, f"{seed}:{name}"))
        self.account_number = ("PA" if name == "paper" else "LA") + self.id.replace("-", "")[:10].upper()
        self.cash = cash
        self.last_equity = cash
        self.created_at = now
        self.config = AccountConfig()
        self.options_level = 3  # approved options level: paper accounts trade options up to level 3
        self.positions: dict[str, Position] = {}
        self.orders: dict[str, Order] = {}
        self.by_client_id: dict[str, Order] = {}
        self.activities = Activities(self.id)
        self.activities.cash(cash, now, "Initial deposit")
        self.watchlists: dict[str, dict[str, Any]] = {}

    def deposit(self, amount: Decimal, now: int) -> None:
        """Cash in (``amount`` > 0) or out: a CSD or CSW activity."""
        self.cash += amount
        self.activities.cash(amount, now)

    def __repr__(self) -> str:  # never the secret
        return f"<Account {self.name} {self.account_number}>"

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open]

    def working_orders(self) -> list[Order]:
        """Open orders that hold shares or buying power (``held`` legs do not)."""
        return [o for o in self.orders.values() if o.is_open and o.status != "held"]

    @property
    def options_trading_level(self) -> int:
        """The level orders are checked against: the approved one, capped by the configuration."""
        return min(self.options_level, self.config.max_options_trading_level)

    def position_qty(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.qty if pos else ZERO

    def add(self, order: Order) -> None:
        self.orders[order.id] = order
        self.by_client_id[order.client_order_id] = order


def mark(market: Venues, symbol: str, now: int) -> Decimal:
    price = market.mark(symbol, now)
    return ZERO if price is None else Decimal(str(price))


def reserved(market: Venues, order: Order, now: int) -> Decimal:
    """What a working buy order (or multi-leg order) could still cost."""
    if order.order_class == "mleg":
        return order.reserve if order.parent is None and order.filled_qty == 0 else ZERO
    if order.notional is not None:
        return order.notional - order.filled_value
    price = order.limit_price or order.stop_price
    if price is None:
        quote = market.quote_at(order.symbol, now)
        price = Decimal(str(quote[1])) if quote else ZERO
    return order.remaining() * price * market.multiplier(order.symbol)


def valuation(market: Venues, acct: Account, now: int) -> dict[str, Decimal]:
    long_mv = short_mv = unmarginable = ZERO
    for pos in acct.positions.values():
        value = pos.qty * mark(market, pos.symbol, now) * market.multiplier(pos.symbol)
        if pos.qty > 0:
            long_mv += value
        else:
            short_mv += value
        info = market.asset(pos.symbol)
        if info is not None and info.asset_class != "us_equity" and pos.qty > 0:
            unmarginable += value  # crypto and long options back no borrowing (100% margin)
    equity = acct.cash + long_mv + short_mv
    initial = HALF * (long_mv - short_mv) + HALF * unmarginable
    held = sum(
        (
            reserved(market, o, now)
            for o in acct.working_orders()
            if o.side == "buy" or o.order_class == "mleg"
        ),
        ZERO,
    )
    if acct.config.max_margin_multiplier == "1":
        buying_power = max(ZERO, acct.cash - held)
    else:
        buying_power = max(ZERO, 2 * (equity - initial) - held)
    return {
        "cash": acct.cash,
        "long_market_value": long_mv,
        "short_market_value": short_mv,
        "equity": equity,
        "initial_margin": initial,
        "maintenance_margin": Decimal("0.25") * (long_mv - unmarginable)
        + unmarginable
        - Decimal("0.3") * short_mv,
        "buying_power": buying_power,
        "non_marginable_buying_power": max(ZERO, acct.cash - held),
        "reserved": held,
    }


def apply_fill(
    acct: Account, symbol: str, signed: Decimal, price: Decimal, now: int, multiplier: int = 1
) -> Decimal:
    """Book a fill of ``signed`` shares or contracts (negative: sold) at ``price`` (per share: a
    contract costs ``multiplier`` times it); the position's qty after it."""
    acct.cash -= signed * price * multiplier
    pos = acct.positions.setdefault(symbol, Position(symbol))
    new_qty = pos.qty + signed
    if pos.qty == 0 or ((pos.qty > 0) != (new_qty > 0) and new_qty != 0):
        pos.avg_entry, pos.opened_day = price, cal.et_day_of(now)  # opened or flipped
    elif abs(new_qty) > abs(pos.qty):
        pos.avg_entry = (pos.qty * pos.avg_entry + signed * price) / new_qty
    pos.qty = new_qty
    if pos.qty == 0:
        del acct.positions[symbol]
    return new_qty


def check_funds(market: Venues, acct: Account, order: Order, now: int, *, shortable: bool) -> None:
    """Buying power for buys; shares available (or the right to short) for sells: 403 otherwise."""
    quote = market.quote_at(order.symbol, now)
    if quote is None:
        raise ApiError(422, 40010001, f"no market for {order.symbol}")
    bid, ask = Decimal(str(quote[0])), Decimal(str(quote[1]))
    pos_qty = acct.position_qty(order.pos_key)
    value = valuation(market, acct, now)
    if order.side == "buy":
        price = order.limit_price or order.stop_price or ask
        cost = order.notional if order.notional is not None else order.remaining() * price
        short_cover = min(max(-pos_qty, ZERO), order.qty or ZERO) * price
        if cost - short_cover > value["buying_power"]:
            raise _no_buying_power(value["buying_power"], cost)
        return
    qty = order.qty if order.qty is not None else floor_qty(order.notional or ZERO, bid)
    held_orders = [o for o in acct.working_orders() if o.side == "sell" and o.symbol == order.symbol]
    held = sum((o.remaining() for o in held_orders), ZERO)
    if pos_qty > 0:
        available = max(pos_qty - held, ZERO)
        if qty > available:
            raise ApiError(
                403,
                40310000,
                f"insufficient qty available for order (requested: {fmt(qty)}, available: {fmt(available)})",
                available=fmt(available),
                existing_qty=fmt(pos_qty),
                held_for_orders=fmt(held),
                related_orders=[o.id for o in held_orders],
                symbol=order.symbol,
            )
        return
    if acct.config.no_shorting or acct.config.max_margin_multiplier == "1":
        raise ApiError(403, 40310000, "account is not allowed to short")
    if not shortable:
        raise ApiError(403, 40310000, "asset is not shortable")
    if qty != qty.to_integral_value():
        raise ApiError(403, 40310000, "fractional orders cannot be sold short")
    cost = qty * (order.limit_price or bid)
    if cost > value["buying_power"]:
        raise _no_buying_power(value["buying_power"], cost)


def _no_buying_power(buying_power: Decimal, cost: Decimal) -> ApiError:
    return ApiError(
        403, 40310000, "insufficient buying power", buying_power=fmt(buying_power), cost_basis=fmt(cost)
    )
