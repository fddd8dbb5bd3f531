"""The ONE pre-trade policy: every order, from every entry point, passes ``check_order`` before it is sent.

What it checks, in order (a refusal is one ``PreTradeRefusal`` line naming the rule; nothing is sent):

1. the asset: known, active and tradable; fractional quantities only if fractionable;
2. a price: the order's own limit (or stop) price, else a fresh quote — the stream's if it has one,
   else REST. An order whose price is unknown is refused, never estimated at $0. Prices never come
   from a front end;
3. the user's limits: ``max_notional`` (dollars) and ``max_position`` (shares either way, counting the
   open orders that could still fill on the same side);
4. shorting: a sell beyond the shares held needs a shortable asset and whole shares;
5. buying power: what the order could cost (a buy, or the short part of a sell) against the account's.

The broker checks most of this again; doing it here first means a live order that would be refused,
or that breaks the user's own limits, never leaves the kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from alpaca.trading.requests import OrderRequest

from .._wire import Quote, asset_class
from ..errors import PreTradeRefusal, ValidationError


class MarketView(Protocol):
    """What the policy needs to know, provided by the session (REST and the stream hub)."""

    def asset(self, symbol: str) -> dict[str, Any]: ...
    def quote(self, symbol: str) -> tuple[Quote | None, str]: ...  # (quote, where it came from)
    def buying_power(self, non_marginable: bool = False) -> float: ...
    def option_load(
        self, root: str
    ) -> tuple[float, float]: ...  # (short calls on root, $ securing short puts)
    def position_qty(self, symbol: str) -> float: ...
    def working_qty(self, symbol: str) -> tuple[float, float]: ...  # open (buy, sell) shares not yet filled


@dataclass(frozen=True, slots=True)
class Limits:
    """The user's own limits; ``None`` is no limit."""

    max_notional: float | None = None
    max_position: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_notional", "max_position"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
                or value <= 0
            ):  # fmt: skip
                raise ValidationError(f"{name} must be a positive number or None, not {value!r}")

    def tighter(self, other: Limits) -> Limits:
        """The stricter of two sets of limits (a ticket's and its session's)."""

        def pick(a: float | None, b: float | None) -> float | None:
            return a if b is None else b if a is None else min(a, b)

        return Limits(
            pick(self.max_notional, other.max_notional), pick(self.max_position, other.max_position)
        )


@dataclass(frozen=True, slots=True)
class CheckedOrder:
    """An order that passed the policy: the request, where it goes, and what the check saw."""

    request: OrderRequest
    account: str  # "paper" | "live"
    estimate: float  # dollars
    price: float | None  # the price the estimate used
    price_source: str  # "limit price", "stream ask", "REST bid", "notional"...

    def describe(self) -> str:
        """``BUY 3 shares KO limit 150.25, estimated $450.75`` — what a confirmation restates, with the
        exact quantity, notional and prices that will be sent (no rounding)."""
        r = self.request
        if getattr(r, "legs", None) and not r.symbol:
            return _describe_legs(self)
        side = getattr(r.side, "value", r.side)
        unit = asset_class(str(r.symbol)).unit
        amount = (
            f"{_exact(r.qty)}{' ' + unit if unit else ''}"
            if r.qty is not None
            else f"${_exact(r.notional)} of"
        )
        kind = getattr(r.type, "value", r.type)
        prices = "".join(
            f" {name} {_exact(v)}"
            for name, v in (
                ("limit", getattr(r, "limit_price", None)),
                ("stop", getattr(r, "stop_price", None)),
            )
            if v is not None
        )
        klass = getattr(r.order_class, "value", r.order_class) or "simple"
        extra = f" ({klass})" if klass not in ("simple", "") else ""
        return (
            f"{str(side).upper()} {amount} {r.symbol} {kind}{prices}{extra}, estimated ${self.estimate:,.2f}"
        )


def _describe_legs(self: CheckedOrder) -> str:
    """``1 × [BUY 1 AAPL261218C00200000, SELL 1 AAPL261218C00210000] limit 2.1 (net debit), estimated
    $210.00``."""
    from .legs import legs_of

    r = self.request
    legs = ", ".join(f"{leg.side.upper()} {leg.ratio_qty} {leg.symbol}" for leg in legs_of(r))
    kind = getattr(r.type, "value", r.type)
    limit = getattr(r, "limit_price", None)
    net = "" if limit is None else f" {_exact(limit)} ({'net credit' if limit < 0 else 'net debit'})"
    return f"{_exact(r.qty)} × [{legs}] {kind}{net} (mleg), estimated ${self.estimate:,.2f}"


def _exact(value: Any) -> str:
    """A number as it is sent (the request's float through its shortest repr), never ``1.23e+06``."""
    try:
        return f"{Decimal(repr(float(value))).normalize():f}"
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


def _value(request: OrderRequest, name: str) -> Any:
    value = getattr(request, name, None)
    return getattr(value, "value", value)


def _price(request: OrderRequest, view: MarketView, side: str) -> tuple[float | None, str]:
    """The highest price the order may trade at, as far as the kernel can tell.

    A buy's limit caps what it pays. Anything else may trade at the market: a sell limit below the bid
    fills at the bid, a buy stop below the ask triggers at once and pays the ask. So the quote counts
    too, and the highest of the known prices is the one checked."""
    limit = getattr(request, "limit_price", None)
    take_profit = getattr(request, "take_profit", None)
    if limit is None and _value(request, "order_class") == "oco" and take_profit is not None:
        limit = take_profit.limit_price
    if side == "buy" and limit:
        return float(limit), "limit price"
    known = [(float(v), name) for v, name in ((limit, "limit price"),
             (getattr(request, "stop_price", None), "stop price")) if v]  # fmt: skip
    quote, source = view.quote(str(request.symbol))
    if quote is not None:
        touch, other = (quote.ask, quote.bid) if side == "buy" else (quote.bid, quote.ask)
        names = ("ask", "bid") if side == "buy" else ("bid", "ask")
        if touch and touch > 0:
            known.append((float(touch), f"{source} {names[0]}"))
        elif other and other > 0:
            known.append((float(other), f"{source} {names[1]} (no {names[0]})"))
    if not known:
        return None, source
    return max(known)


def check_order(request: OrderRequest, view: MarketView, limits: Limits, account: str) -> CheckedOrder:
    """Apply the policy to ``request``; the checked order, or ``PreTradeRefusal``."""
    if getattr(request, "legs", None) or _value(request, "order_class") == "mleg":  # a multi-leg order
        from .legs import check_legs, legs_of
        from .option_checks import check_mleg

        if request.symbol or _value(request, "order_class") != "mleg":  # judged as one, sent as the other
            raise PreTradeRefusal("refused: a multi-leg order is order_class mleg with legs and no symbol")
        check_legs(legs_of(request))  # 2-4 distinct contracts of one underlying, as build_mleg_request

        return check_mleg(request, view, limits, account)  # type: ignore[no-any-return]
    symbol, side = str(request.symbol), str(_value(request, "side"))
    cls = asset_class(symbol)
    asset = view.asset(symbol)
    real = str(asset.get("symbol") or symbol)
    if real != symbol or asset.get("class", cls.name) != cls.name:
        hint = f": write {real}" if "/" in real else ""
        raise PreTradeRefusal(
            f"refused: {symbol} is not a {cls.label} but {real} ({asset.get('class')}){hint}"
        )
    if asset.get("status", "active") != "active" or not asset.get("tradable"):
        raise PreTradeRefusal(f"refused: {symbol} is not tradable")
    qty, notional = request.qty, request.notional
    if (notional is not None or (qty is not None and qty != int(qty))) and not asset.get("fractionable"):
        raise PreTradeRefusal(f"refused: {symbol} is not fractionable: use a whole quantity")
    check_steps(request, asset, symbol)
    # A notional sell needs its quantity too: selling more than is held is a short sale.
    needs_price = qty is not None or limits.max_position is not None or side == "sell"
    price, source = _price(request, view, side) if needs_price else (None, "notional")
    if needs_price and price is None:
        raise PreTradeRefusal(
            f"refused: no price for {symbol} ({source}): the order's value cannot be checked — "
            "give a limit price, or try again when quotes arrive"
        )
    estimate = float(notional) if notional is not None else float(qty or 0) * (price or 0.0) * cls.multiplier
    shares = float(qty) if qty is not None else estimate / price if price else 0.0
    if limits.max_notional is not None and estimate > limits.max_notional:
        raise PreTradeRefusal(
            f"refused: estimated ${estimate:,.2f} exceeds max_notional ${limits.max_notional:,.2f}"
        )
    held = view.position_qty(symbol) if side == "sell" or limits.max_position is not None else 0.0
    after = held + (shares if side == "buy" else -shares)
    if limits.max_position is not None:
        buying, selling = view.working_qty(symbol)
        worst = after + buying if side == "buy" else after - selling  # if the resting ones fill too
        if abs(worst) > limits.max_position + 1e-9:
            pending = (
                f" with {buying if side == 'buy' else selling:g} more in open orders"
                if worst != after
                else ""
            )
            raise PreTradeRefusal(
                f"refused: the position would be {worst:g}{_unit(symbol)}{pending}, beyond max_position "
                f"{limits.max_position:g}"
            )
    short = max(0.0, -after) - max(0.0, -held) if side == "sell" else 0.0
    if cls.key == "stock" and side == "sell" and held > 0:  # shares that may be covering short calls
        from .option_checks import check_uncovering

        check_uncovering(symbol, after, view)
    if cls.multiplier != 1:  # options: the account's level, covered calls, cash-secured puts
        from .option_checks import check_option_order

        check_option_order(symbol, side, shares, held, short, view)
        short = 0.0  # judged above: a covered or cash-secured short is allowed
    if short > 1e-12:
        if not asset.get("shortable"):
            raise PreTradeRefusal(f"refused: {symbol} is not shortable (you hold {held:g})")
        if short != int(short):
            raise PreTradeRefusal("refused: fractional shares cannot be sold short")
    if cls.max_notional is not None and estimate > cls.max_notional:
        raise PreTradeRefusal(
            f"refused: estimated ${estimate:,.2f} exceeds Alpaca's ${cls.max_notional:,.0f} "
            f"per {cls.label} order"
        )
    cost = estimate if side == "buy" else short * (price or 0.0) * cls.multiplier
    if side == "buy" and held < 0:  # covering a short frees what it reserved
        cost = max(0.0, cost - min(-held, shares) * (price or 0.0))
    if cost > 0:
        buying_power = (
            view.buying_power()
            if cls.shortable and cls.multiplier == 1
            else view.buying_power(non_marginable=True)
        )
        if cost > buying_power + 1e-9:
            raise PreTradeRefusal(
                f"refused: estimated ${cost:,.2f} exceeds buying power ${buying_power:,.2f}"
            )
    return CheckedOrder(request, account, round(estimate, 2), price, source)


def check_steps(request: OrderRequest, asset: dict[str, Any], symbol: str) -> None:
    """An asset's own increments (crypto: ``min_order_size``, ``min_trade_increment``,
    ``price_increment``, decimal strings): a quantity below the minimum or off its step, a price off
    its step, is refused here rather than by the broker."""
    try:
        _steps(request, asset, symbol)
    except (InvalidOperation, OverflowError):  # beyond Decimal's precision: no real order is that big
        raise PreTradeRefusal(f"refused: the quantity or price of this {symbol} order is too large") from None


def _unit(symbol: str) -> str:
    unit = asset_class(symbol).unit
    return f" {unit}" if unit else f" {symbol}"


def _steps(request: OrderRequest, asset: dict[str, Any], symbol: str) -> None:
    smallest, step, tick = (
        _dec(asset.get(k)) for k in ("min_order_size", "min_trade_increment", "price_increment")
    )
    qty = None if request.qty is None else Decimal(repr(float(request.qty)))
    if qty is not None and smallest and qty < smallest:
        raise PreTradeRefusal(
            f"refused: {qty.normalize():f} {symbol} is below its minimum order size {smallest:f}"
        )
    if qty is not None and step and qty % step:
        raise PreTradeRefusal(
            f"refused: {qty.normalize():f} {symbol} is not a multiple of its increment {step:f}"
        )
    for name in ("limit_price", "stop_price"):
        value = getattr(request, name, None)
        if value is not None and tick and Decimal(repr(float(value))) % tick:
            raise PreTradeRefusal(
                f"refused: {name} {value:g} is not a multiple of {symbol}'s price increment {tick:f}"
            )
    if request.notional is not None and float(request.notional) < 1 and smallest:
        raise PreTradeRefusal(f"refused: a {symbol} order must be worth at least $1")


def _dec(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


def check_replace(
    order: Any, qty: float | None, limit_price: float | None, stop_price: float | None, view: MarketView,
    limits: Limits,
) -> None:  # fmt: skip
    """The same limits for a replacement as for a new order: its estimated value against
    ``max_notional``, and a larger quantity against ``max_position`` (with what is already working).
    A multi-leg parent is judged as a new multi-leg order of its legs at the new quantity and price."""
    if order.legs and not order.symbol:
        from types import SimpleNamespace

        from .option_checks import check_mleg

        units = qty if qty is not None else _num(order.qty)
        net = limit_price if limit_price is not None else _num(order.limit_price)
        request = SimpleNamespace(legs=order.legs, qty=units, limit_price=net)
        check_mleg(request, view, Limits(limits.max_notional), "")  # the order itself is still working:
        grows = float(units or 0) - float(_num(order.qty) or 0.0)  # max_position is judged by its growth
        if limits.max_position is not None and grows > 0:
            for leg in order.legs:
                ratio = float(leg.ratio_qty or 1)
                _check_growth(str(leg.symbol), str(_value(leg, "side")), grows * ratio, view, limits)
        return
    price = limit_price or stop_price or _num(order.limit_price) or _num(order.stop_price)
    shares = float(qty if qty is not None else _num(order.qty) or 0.0)
    estimate = shares * float(price or 0.0) * asset_class(str(order.symbol)).multiplier  # options: ×100
    if limits.max_notional is not None and estimate > limits.max_notional:
        raise PreTradeRefusal(
            f"refused: the replacement's estimated ${estimate:,.2f} exceeds max_notional "
            f"${limits.max_notional:,.2f}"
        )
    grows = shares - float(_num(order.qty) or 0.0)
    if limits.max_position is not None and grows > 0:
        _check_growth(str(order.symbol), str(_value(order, "side")), grows, view, limits)


def _check_growth(symbol: str, side: str, grows: float, view: MarketView, limits: Limits) -> None:
    """A replacement ``grows`` a working order on ``symbol``: the position if everything working fills."""
    if limits.max_position is not None:
        buying, selling = view.working_qty(symbol)
        held = view.position_qty(symbol)
        worst = held + buying + grows if side == "buy" else held - selling - grows
        if abs(worst) > limits.max_position + 1e-9:
            raise PreTradeRefusal(
                f"refused: the position could reach {worst:g}{_unit(symbol)}, beyond max_position "
                f"{limits.max_position:g}"
            )


def _num(value: Any) -> float | None:
    return None if value in (None, "") else float(value)
