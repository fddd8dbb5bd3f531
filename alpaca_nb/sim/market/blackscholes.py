"""Black-Scholes prices, greeks and implied volatility, vectorised over numpy arrays.

European options on a non-dividend-paying underlying, continuous rate ``r``. Conventions (those of
Alpaca's snapshots, ALPACA_WIRE_MORE B2): ``theta`` per calendar day (the annual theta / 365),
``vega`` per volatility point (per 0.01 of sigma), ``rho`` per rate point (per 0.01 of r), ``delta``
and ``gamma`` per $1 of the underlying. ``T`` is in years of 365 days.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .common import F64

_ERF = np.frompyfunc(math.erf, 1, 1)
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def norm_cdf(x: F64) -> F64:
    erf = np.asarray(_ERF(np.asarray(x, dtype=np.float64) / _SQRT2), dtype=np.float64)
    return np.asarray(0.5 * (1.0 + erf))


def norm_pdf(x: F64) -> F64:
    return np.asarray(_INV_SQRT_2PI * np.exp(-0.5 * x * x))


class Greeks(NamedTuple):
    delta: F64
    gamma: F64
    theta: F64
    vega: F64
    rho: F64


def _d1_d2(s: F64, k: F64, t: F64, r: float, sigma: F64) -> tuple[F64, F64, F64]:
    root_t = np.sqrt(t)
    d1 = (np.log(s / k) + (r + 0.5 * sigma * sigma) * t) / (sigma * root_t)
    return d1, d1 - sigma * root_t, root_t


def price(call: np.ndarray, s: F64, k: F64, t: F64, r: float, sigma: F64) -> F64:
    """Black-Scholes price per share (``call``: a boolean array, True for calls)."""
    return price_and_greeks(call, s, k, t, r, sigma, with_greeks=False)[0]


def greeks(call: np.ndarray, s: F64, k: F64, t: F64, r: float, sigma: F64) -> Greeks:
    found = price_and_greeks(call, s, k, t, r, sigma)[1]
    assert found is not None
    return found


def price_and_greeks(
    call: np.ndarray, s: F64, k: F64, t: F64, r: float, sigma: F64, *, with_greeks: bool = True
) -> tuple[F64, Greeks | None]:
    """The price per share and the greeks, from one N(d1) and one N(d2) (``math.erf`` one element at a
    time is most of a chain page's pricing: a put's N(-x) is 1 - N(x))."""
    d1, d2, root_t = _d1_d2(s, k, t, r, sigma)
    disc = k * np.exp(-r * t)
    nd1, nd2 = norm_cdf(d1), norm_cdf(d2)
    c = s * nd1 - disc * nd2
    p = disc * (1.0 - nd2) - s * (1.0 - nd1)
    value = np.asarray(np.where(call, c, p), dtype=np.float64)
    if not with_greeks:
        return value, None
    pdf = norm_pdf(d1)
    delta = np.where(call, nd1, nd1 - 1.0)
    gamma = pdf / (s * sigma * root_t)
    decay = -s * pdf * sigma / (2.0 * root_t)
    theta = np.where(call, decay - r * disc * nd2, decay + r * disc * (1.0 - nd2)) / 365.0
    vega = s * pdf * root_t / 100.0
    rho = np.where(call, k * t * np.exp(-r * t) * nd2, -k * t * np.exp(-r * t) * (1.0 - nd2)) / 100.0
    return value, Greeks(delta, gamma, theta, vega, rho)


def implied_vol(
    target: F64, call: np.ndarray, s: F64, k: F64, t: F64, r: float, *, iterations: int = 60
) -> F64:
    """The sigma whose price is ``target`` (bisection in [0.001, 5]; NaN outside the price bounds)."""
    lo, hi = np.full(len(target), 1e-3), np.full(len(target), 5.0)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = price(call, s, k, t, r, mid) > target
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
    sigma = 0.5 * (lo + hi)
    inside = (price(call, s, k, t, r, np.full_like(sigma, 1e-3)) <= target) & (
        price(call, s, k, t, r, np.full_like(sigma, 5.0)) >= target
    )
    return np.asarray(np.where(inside, sigma, np.nan), dtype=np.float64)
