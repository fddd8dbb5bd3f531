"""The pre-trade policy's option rules (``checks`` calls them; there is no other place for them).

Levels as Alpaca grants them: 0 no options; 1 covered calls and cash-secured puts; 2 also buying calls
and puts; 3 also multi-leg orders (spreads, straddles). Closing what is held is allowed at any level.
A short call is covered by 100 shares of the underlying a contract (single leg) or by a long call in
the same multi-leg order; a short put alone is cash-secured (strike × 100 a contract of buying power).
"""

from __future__ import annotations

import math
from typing import Any

from .._wire import OPTION, parse_occ
from ..errors import PreTradeRefusal


def _level(view: Any) -> int:
    level = view.options_level()
    return level if isinstance(level, int) else 0


def check_option_order(symbol: str, side: str, qty: float, held: float, short: float, view: Any) -> None:
    """One contract bought or sold: the level, and a short sale covered or cash-secured."""
    level = _level(view)
    closing = (side == "sell" and held >= qty - 1e-9) or (side == "buy" and held <= -qty + 1e-9)
    if level < 1 and not closing:
        raise PreTradeRefusal("refused: options trading is not enabled on this account (level 0)")
    if closing:
        return
    if side == "buy":
        if level < 2:
            raise PreTradeRefusal(f"refused: buying options needs options level 2 (this account: {level})")
        return
    parts = parse_occ(symbol)
    contracts = short if short > 0 else qty
    short_calls, put_cash = view.option_load(parts.root)  # what is already short, held or working
    if parts.type == "call":
        shares = view.position_qty(parts.root) - short_calls * OPTION.multiplier  # shares not yet covering
        if shares < contracts * OPTION.multiplier - 1e-9:
            raise PreTradeRefusal(
                f"refused: a naked short call ({contracts:g} {symbol}) — hold "
                f"{contracts * OPTION.multiplier:g} shares of {parts.root} to cover it "
                f"(you hold {shares:g}), or sell it in a spread"
            )
    else:
        needed = parts.strike * OPTION.multiplier * contracts
        power = view.buying_power(non_marginable=True) - put_cash  # the cash other short puts stand on
        if needed > power + 1e-9:
            raise PreTradeRefusal(
                f"refused: a cash-secured put needs ${needed:,.2f} of buying power (you have ${power:,.2f} "
                f"not already securing short puts)"
            )


def check_uncovering(symbol: str, shares_after: float, view: Any) -> None:
    """A stock sale may not leave short calls on it uncovered (100 shares a contract)."""
    load = getattr(view, "option_load", None)  # a view that knows no options has none to uncover
    short_calls = load(symbol)[0] if load is not None else 0.0
    if short_calls and shares_after < short_calls * OPTION.multiplier - 1e-9:
        raise PreTradeRefusal(
            f"refused: {short_calls:g} short {symbol} call(s) need {short_calls * OPTION.multiplier:g} "
            f"shares to stay covered; after this sale you would hold {shares_after:g}"
        )


def check_mleg(request: Any, view: Any, limits: Any, account: str) -> Any:
    """A multi-leg order: level 3, every contract tradable, a loss that is bounded, a limit the legs
    can be worth, and its maximum loss against ``max_notional`` and buying power."""
    from .legs import legs_of, shapes
    from .payoff import payoff

    level = _level(view)
    if level < 3:
        raise PreTradeRefusal(f"refused: multi-leg orders need options level 3 (this account: {level})")
    legs = legs_of(request)
    for leg in legs:
        asset = view.asset(leg.symbol)
        if asset.get("status", "active") != "active" or not asset.get("tradable"):
            raise PreTradeRefusal(f"refused: {leg.symbol} is not tradable")
    _check_cover(legs)
    qty = float(request.qty)
    for leg in legs:  # closing what is not held; the user's max_position, leg by leg
        held = view.position_qty(leg.symbol)
        moved = qty * leg.ratio_qty * (1 if leg.side == "buy" else -1)
        if (
            leg.position_intent
            and leg.position_intent.endswith("_to_close")
            and not ((moved < 0 and held >= -moved - 1e-9) or (moved > 0 and held <= -moved + 1e-9))
        ):
            raise PreTradeRefusal(f"refused: {leg.position_intent} {leg.symbol}, but you hold {held:g}")
        if limits.max_position is not None:  # if the resting orders fill too, as for a single leg
            buying, selling = view.working_qty(leg.symbol)
            pending = buying if moved > 0 else -selling
            if abs(held + moved + pending) > limits.max_position + 1e-9:
                more = f" with {abs(pending):g} more in open orders" if pending else ""
                raise PreTradeRefusal(
                    f"refused: {leg.symbol} would be {held + moved + pending:g} contracts{more}, beyond "
                    f"max_position {limits.max_position:g}"
                )
    limit = getattr(request, "limit_price", None)
    if limit is not None:
        price, source = float(limit), "limit price"
    else:
        price, source = 0.0, "quotes"
        for leg in legs:
            quote, where = view.quote(leg.symbol)
            touch = None if quote is None else (quote.ask if leg.side == "buy" else quote.bid)
            if not touch or touch <= 0:
                raise PreTradeRefusal(f"refused: no price for {leg.symbol} ({where}): give a limit price")
            price += (1 if leg.side == "buy" else -1) * leg.ratio_qty * float(touch)
    expiries = {parse_occ(leg.symbol).expiration for leg in legs}
    if len(expiries) > 1:  # a calendar or a diagonal: no single expiry to judge it at
        if price < 0:
            raise PreTradeRefusal(
                "refused: a net credit across expirations has no loss the legs bound at one expiry — "
                "send it for a debit, or use legs of one expiration"
            )
        # at the first expiration a later long leg is worth at least its intrinsic value: the loss there is
        # at most the debit plus what the legs' intrinsic values can owe (a diagonal's strike width)
        worst = qty * OPTION.multiplier * max(price, payoff(shapes(legs), price).max_loss)
        paid = qty * OPTION.multiplier * price
        return _within_limits(request, view, limits, account, worst, paid, price, source)
    pay = payoff(shapes(legs), price)
    if math.isinf(pay.min_value):
        raise PreTradeRefusal(
            "refused: unbounded loss — a short call in this order is not covered by a long call in it"
        )
    if limit is not None and not pay.min_value - 1e-9 <= price <= pay.max_value + 1e-9:
        top = "unlimited" if math.isinf(pay.max_value) else f"{pay.max_value:g}"
        raise PreTradeRefusal(
            f"refused: a net {price:g} a share is outside what these legs can be worth at expiry "
            f"({pay.min_value:g} to {top})"
        )
    worst = qty * OPTION.multiplier * pay.max_loss
    estimate = qty * OPTION.multiplier * abs(price)
    return _within_limits(request, view, limits, account, worst, estimate, price, source)


def _within_limits(
    request: Any,
    view: Any,
    limits: Any,
    account: str,
    worst: float,
    estimate: float,
    price: float,
    source: str,
) -> Any:
    from .checks import CheckedOrder

    if limits.max_notional is not None and max(estimate, worst) > limits.max_notional:
        raise PreTradeRefusal(
            f"refused: the spread could lose ${worst:,.2f} (net ${estimate:,.2f}), beyond max_notional "
            f"${limits.max_notional:,.2f}"
        )
    power = view.buying_power(non_marginable=True)
    if worst > power + 1e-9:
        raise PreTradeRefusal(
            f"refused: the spread's maximum loss ${worst:,.2f} exceeds buying power ${power:,.2f}"
        )
    return CheckedOrder(request, account, round(estimate, 2), price, source)


def _check_cover(legs: list[Any]) -> None:
    """Every short leg covered inside the order by long legs of its type expiring no earlier (Alpaca's
    rule for multi-leg orders): a ratio spread's extra short call, a short call over a long put, a short
    leg outliving its cover — each a naked short, refused."""
    expiry = {leg.symbol: parse_occ(leg.symbol).expiration for leg in legs}
    kind = {leg.symbol: parse_occ(leg.symbol).type for leg in legs}
    for option_type in ("call", "put"):
        shorts = sorted(
            (expiry[x.symbol], x.ratio_qty)
            for x in legs
            if x.side == "sell" and kind[x.symbol] == option_type
        )
        longs = [
            (expiry[x.symbol], x.ratio_qty) for x in legs if x.side == "buy" and kind[x.symbol] == option_type
        ]
        if not shorts:
            continue
        need = 0
        for when, ratio in sorted(shorts, reverse=True):  # the latest short first: it needs the latest cover
            need += ratio
            cover = sum(r for w, r in longs if w >= when)
            if cover < need:
                raise PreTradeRefusal(
                    f"refused: a short {option_type} in this order is not covered by a long {option_type} "
                    "expiring no earlier (a naked short)"
                )
