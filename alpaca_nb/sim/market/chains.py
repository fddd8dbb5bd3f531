"""Option chains: which contracts each optionable underlying lists, and its volatility smile.

Chains are listed once, from the day the simulator's market was created (so they are the same for
a seed and a start day), lazily per underlying:

* **expirations**: the next 8 weekly Fridays and the monthly third Fridays of the next 12 months (a
  holiday moves an expiration to the trading day before); about 18 dates out to a year;
* **strikes**: centred on the underlying's level that day, at a realistic increment ($0.50 under
  $25, $1 under $100, $2.50 under $250, $5 under $1,000, $10 above), 20 a side for weeklies, 30 for
  monthlies; a call and a put at each (about 2,000 contracts for a $230 stock).

The smile is seeded per underlying: ``sigma = atm(T) + skew * z + curve * z**2`` with the normalised
moneyness ``z = ln(K/S) / sqrt(max(T, 1 week))`` (equity skew: ``skew < 0``) and an ATM term
structure that is richer at the short end, ``atm(T) = base * (1 + 0.15 * exp(-T / 0.15))``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import calendar as cal
from ..universe import SymbolInfo
from .common import F64, I64
from .occ import ContractInfo, occ_symbol

WEEKLIES, MONTHLIES = 8, 12
WEEKLY_STRIKES, MONTHLY_STRIKES = 20, 30  # a side
YEAR_NS = 365 * 86_400 * cal.NS
MIN_T = 60 * cal.NS / YEAR_NS  # a minute: prices at expiry are (nearly) intrinsic
_WEEK = 7 / 365
_INCREMENTS = ((25.0, "0.5"), (100.0, "1"), (250.0, "2.5"), (1000.0, "5"), (float("inf"), "10"))


def strike_increment(price: float) -> Decimal:
    return next(Decimal(step) for bound, step in _INCREMENTS if price < bound)


def _expiration_day(friday: dt.date) -> dt.date:
    day = friday
    while cal.session(day) is None:  # Good Friday and the like: the trading day before
        day -= dt.timedelta(days=1)
    return day


def expirations(today: dt.date) -> dict[dt.date, bool]:
    """Expiration dates from ``today`` on, each mapped to whether it is a monthly."""
    out: dict[dt.date, bool] = {}
    friday = today + dt.timedelta(days=(4 - today.weekday()) % 7)
    for k in range(WEEKLIES):
        out[_expiration_day(friday + dt.timedelta(weeks=k))] = False
    year, month = today.year, today.month
    for _ in range(MONTHLIES + 1):
        first = dt.date(year, month, 1)
        third = first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)
        day = _expiration_day(third)
        if day >= today and len([d for d, m in out.items() if m]) < MONTHLIES:
            out[day] = True
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return dict(sorted(out.items()))


def expiry_ns(day: dt.date) -> int:
    """When a contract expiring on ``day`` stops trading: that session's close."""
    sess = cal.session(day)
    return cal.et_minute_ns(day, sess.close_minute if sess else cal.REGULAR_CLOSE)


@dataclass(frozen=True, slots=True)
class Smile:
    base: float
    skew: float
    curve: float

    def sigma(self, k: F64, s: F64, t: F64) -> F64:
        z = moneyness(k, s, t)
        atm = self.base * (1.0 + 0.15 * np.exp(-t / 0.15))
        return np.asarray(np.maximum(0.05, atm + self.skew * z + self.curve * z * z), dtype=np.float64)


def moneyness(k: F64, s: F64, t: F64) -> F64:
    return np.asarray(np.log(k / s) / np.sqrt(np.maximum(t, _WEEK)), dtype=np.float64)


@dataclass(slots=True)
class Chain:
    """One underlying's contracts (sorted by symbol) and the same facts as arrays, in that order."""

    underlying: str
    contracts: list[ContractInfo]
    by_symbol: dict[str, ContractInfo]
    strike: F64
    call: npt.NDArray[np.bool_]
    expires: I64  # ns of each contract's last trading moment
    day: I64  # ordinal of each contract's expiration date
    strike_milli: I64  # the strike in thousandths of a dollar (as in the symbol): exact comparisons
    keys: npt.NDArray[np.uint64]
    smile: Smile
    first_day: npt.NDArray[np.int64]  # ordinal of the first day each contract trades
    # each contract's latest trade as snapshot JSON, by contract: (its ns, the JSON) — a trade's JSON is
    # made once, not at every snapshot page that shows it (routes/option_snapshots.py)
    trade_json: dict[int, tuple[int, Any]] = field(default_factory=dict)


def build_chain(info: SymbolInfo, spot: float, today: dt.date, seed: int) -> Chain:
    """The chain of ``info`` listed on ``today`` around ``spot``."""
    step = strike_increment(spot)
    centre = (Decimal(str(spot)) / step).quantize(Decimal(1)) * step
    listed: list[ContractInfo] = []
    dates = expirations(today)
    for day, monthly in dates.items():
        n = MONTHLY_STRIKES if monthly else WEEKLY_STRIKES
        for j in range(-n, n + 1):
            strike = centre + j * step
            if strike <= 0:
                continue
            for kind in ("call", "put"):
                sym = occ_symbol(info.symbol, day, kind, strike)
                listed.append(ContractInfo(sym, info.symbol, info.asset_id, day, kind, strike))
    listed.sort(key=lambda c: c.symbol)
    contracts = [
        ContractInfo(c.symbol, c.underlying, c.underlying_asset_id, c.expiration, c.kind, c.strike, i)
        for i, c in enumerate(listed)
    ]
    rng = np.random.default_rng([seed, info.key, 30])
    base = 0.018 * np.sqrt(252) * info.volatility * rng.uniform(0.85, 1.15)
    smile = Smile(float(base), -float(rng.uniform(0.03, 0.06)), float(rng.uniform(0.008, 0.02)))
    # Monthlies trade for about a year before they expire, weeklies for a couple of months.
    listing = [c.expiration - dt.timedelta(days=400 if dates[c.expiration] else 60) for c in contracts]
    return Chain(
        info.symbol,
        contracts,
        {c.symbol: c for c in contracts},
        np.array([float(c.strike) for c in contracts]),
        np.array([c.kind == "call" for c in contracts]),
        np.array([expiry_ns(c.expiration) for c in contracts], dtype=np.int64),
        np.array([c.expiration.toordinal() for c in contracts], dtype=np.int64),
        np.array([int(c.strike * 1000) for c in contracts], dtype=np.int64),
        np.array([c.key for c in contracts], dtype=np.uint64),
        smile,
        np.array([d.toordinal() for d in listing], dtype=np.int64),
    )
