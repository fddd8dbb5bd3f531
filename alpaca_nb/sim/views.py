"""JSON views of the ledger: Alpaca's Account and Position objects (decimals as strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import calendar as cal
from .ledger import Account, Position, mark, valuation
from .market.venues import Venues
from .orders import ZERO, fmt
from .wire import iso_one

_MONEY = (
    "cash",
    "long_market_value",
    "short_market_value",
    "equity",
    "initial_margin",
    "maintenance_margin",
    "buying_power",
    "non_marginable_buying_power",
)


def account_json(market: Venues, acct: Account, now: int) -> dict[str, Any]:
    v = valuation(market, acct, now)
    money = {k: fmt(v[k]) for k in _MONEY}
    config = acct.config
    cash_only = config.max_margin_multiplier == "1"
    return {
        "id": acct.id,
        "account_number": acct.account_number,
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
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
        "multiplier": "1" if cash_only else "2",
        "intraday_adjustments": "0",
        "pending_reg_taf_fees": "0",
        "daytrade_count": 0,
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": config.suspend_trade,
        "shorting_enabled": not (config.no_shorting or cash_only),
        "options_approved_level": acct.options_level,
        "options_trading_level": acct.options_trading_level,
        "balance_asof": cal.et_day_of(now).isoformat(),
        "created_at": iso_one(acct.created_at),
    }


def position_json(market: Venues, acct: Account, pos: Position, now: int) -> dict[str, Any]:
    info = market.asset(pos.symbol)
    assert info is not None
    price = mark(market, pos.symbol, now)
    prev = market.previous_close(pos.symbol, now)
    lastday = Decimal(str(prev)) if prev is not None else price
    size = pos.qty * info.multiplier  # contracts count 100 times their (per-share) prices
    market_value = size * price
    cost_basis = size * pos.avg_entry
    upl = market_value - cost_basis
    opened_today = pos.opened_day == cal.et_day_of(now)
    intraday = upl if opened_today else size * (price - lastday)
    intraday_base = abs(cost_basis) if opened_today else abs(size * lastday)
    closing_side = "sell" if pos.qty > 0 else "buy"
    held = sum(
        (o.remaining() for o in acct.working_orders() if o.pos_key == pos.symbol and o.side == closing_side),
        ZERO,
    )
    return {
        "asset_id": info.asset_id,
        "symbol": pos.symbol,
        "exchange": info.exchange,
        "asset_class": info.asset_class,
        "asset_marginable": info.asset_class != "crypto",
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
