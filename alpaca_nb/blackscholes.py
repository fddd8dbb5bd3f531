"""Black-Scholes for European options on a non-dividend-paying underlying, vectorised with numpy: prices,
greeks and implied volatility. Used where Alpaca's snapshot has no greeks (the chain marks those rows
``computed``) and for a multi-leg ticket's payoff "today".

Conventions (Alpaca's): ``theta`` per calendar day, ``vega`` and ``rho`` per 1 percentage point.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

RISK_FREE = 0.04  # a flat rate for what we compute ourselves (Alpaca does not publish the one it uses)
_SQRT2 = math.sqrt(2.0)


def _ncdf(x: Any) -> Any:
    from numpy import vectorize

    erf = vectorize(math.erf, otypes=[float])
    return 0.5 * (1.0 + erf(np.asarray(x, dtype=float) / _SQRT2))


def _npdf(x: Any) -> Any:
    x = np.asarray(x, dtype=float)
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _d1_d2(spot: Any, strike: Any, years: Any, vol: Any, rate: float) -> tuple[Any, Any]:
    spot, strike, years, vol = (np.asarray(a, dtype=float) for a in (spot, strike, years, vol))
    root = vol * np.sqrt(years)
    d1 = (np.log(spot / strike) + (rate + 0.5 * vol * vol) * years) / root
    return d1, d1 - root


def price(spot: Any, strike: Any, years: Any, vol: Any, is_call: Any, rate: float = RISK_FREE) -> Any:
    """Option value(s); at expiry (``years`` ≤ 0) the intrinsic value."""
    spot, strike, years, vol = (np.asarray(a, dtype=float) for a in (spot, strike, years, vol))
    is_call = np.asarray(is_call, dtype=bool)
    intrinsic = np.where(is_call, np.maximum(spot - strike, 0.0), np.maximum(strike - spot, 0.0))
    live = years > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        d1, d2 = _d1_d2(spot, strike, np.where(live, years, 1.0), np.maximum(vol, 1e-9), rate)
        disc = strike * np.exp(-rate * np.where(live, years, 0.0))
        call = spot * _ncdf(d1) - disc * _ncdf(d2)
        put = disc * _ncdf(-d2) - spot * _ncdf(-d1)
    return np.where(live, np.where(is_call, call, put), intrinsic)


def greeks(
    spot: Any, strike: Any, years: Any, vol: Any, is_call: Any, rate: float = RISK_FREE
) -> dict[str, Any]:
    """delta, gamma, theta (per day), vega and rho (per 1%) as arrays."""
    spot, strike, years, vol = (np.asarray(a, dtype=float) for a in (spot, strike, years, vol))
    is_call = np.asarray(is_call, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1, d2 = _d1_d2(spot, strike, years, vol, rate)
        pdf, disc = _npdf(d1), np.exp(-rate * years)
        delta = np.where(is_call, _ncdf(d1), _ncdf(d1) - 1.0)
        gamma = pdf / (spot * vol * np.sqrt(years))
        common = -spot * pdf * vol / (2 * np.sqrt(years))
        theta_year = np.where(
            is_call, common - rate * strike * disc * _ncdf(d2), common + rate * strike * disc * _ncdf(-d2)
        )
        vega = spot * pdf * np.sqrt(years) / 100.0
        rho = (
            np.where(is_call, strike * years * disc * _ncdf(d2), -strike * years * disc * _ncdf(-d2)) / 100.0
        )
    return {"delta": delta, "gamma": gamma, "theta": theta_year / 365.0, "vega": vega, "rho": rho}


def implied_vol(
    premium: Any, spot: Any, strike: Any, years: Any, is_call: Any, rate: float = RISK_FREE
) -> Any:
    """The volatility at which Black-Scholes gives ``premium`` (bisection, 60 steps, 0.1%–500%); NaN
    where the premium is below intrinsic value or the option has expired."""
    premium, spot, strike, years = (np.asarray(a, dtype=float) for a in (premium, spot, strike, years))
    is_call = np.asarray(is_call, dtype=bool)
    lo, hi = np.full(premium.shape, 1e-3), np.full(premium.shape, 5.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        above = price(spot, strike, years, mid, is_call, rate) > premium
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
    vol = (lo + hi) / 2
    floor = price(spot, strike, years, 1e-3, is_call, rate)
    bad = (years <= 0) | ~np.isfinite(premium) | (premium < floor - 1e-9) | (vol >= 4.999)
    return np.where(bad, np.nan, vol)
