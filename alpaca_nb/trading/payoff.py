"""What a set of option legs is worth at expiry: the payoff, its extremes and breakevens, exactly.

The value at expiry of ``Σ side × ratio × max(0, ±(S − K))`` is piecewise linear in the underlying's price
``S``, with kinks at the strikes: its extremes lie at ``S = 0``, at a strike, or run off to infinity with
the slope beyond the highest strike. Every figure here is per one unit of the combination and per share;
a position is ``qty × multiplier`` of it (100 for equity options).

Used by the pre-trade policy (a spread's maximum loss, a limit price the legs can never be worth) and by
the ticket (max gain/loss, breakevens, the diagram).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, slots=True)
class LegShape:
    """One leg as the payoff sees it: +ratio bought or −ratio sold, a call or a put at a strike."""

    signed_ratio: int
    is_call: bool
    strike: float


def value_at(legs: list[LegShape], spot: np.ndarray | float) -> np.ndarray:
    """The combination's value at expiry per share, at each underlying price in ``spot``."""
    s = np.asarray(spot, dtype=float)
    total = np.zeros_like(s)
    for leg in legs:
        intrinsic = np.maximum(s - leg.strike, 0.0) if leg.is_call else np.maximum(leg.strike - s, 0.0)
        total = total + leg.signed_ratio * intrinsic
    return total


def tail_slope(legs: list[LegShape]) -> int:
    """d(value)/dS beyond the highest strike: the net calls held."""
    return sum(leg.signed_ratio for leg in legs if leg.is_call)


@dataclass(frozen=True, slots=True)
class Payoff:
    """Per unit, per share, for a net price paid ``price`` (negative: a credit received)."""

    price: float
    min_value: float  # lowest value at expiry (−inf: unbounded below)
    max_value: float  # highest value at expiry (+inf: unbounded above)
    breakevens: tuple[float, ...]

    @property
    def max_loss(self) -> float:
        return self.price - self.min_value  # inf when a short call is uncovered

    @property
    def max_gain(self) -> float:
        return self.max_value - self.price


def payoff(legs: list[LegShape], price: float) -> Payoff:
    """Extremes and breakevens of ``legs`` bought for ``price`` a unit (per share)."""
    strikes = sorted({leg.strike for leg in legs})
    points = np.array([0.0, *strikes], dtype=float)
    values = value_at(legs, points)
    slope = tail_slope(legs)
    top = math.inf if slope > 0 else float(values.max())
    bottom = -math.inf if slope < 0 else float(values.min())
    if slope == 0:
        top, bottom = max(top, float(values[-1])), min(bottom, float(values[-1]))
    # breakevens: where value − price crosses zero on each segment (and past the last strike)
    edges = [*points, points[-1] + max(1.0, points[-1])]
    pnl = value_at(legs, np.array(edges)) - price
    found: list[float] = []
    for (x0, y0), (x1, y1) in zip(
        zip(edges, pnl, strict=True), zip(edges[1:], pnl[1:], strict=True), strict=False
    ):
        if y0 == 0 and (not found or abs(found[-1] - x0) > 1e-9):
            found.append(float(x0))
        elif y0 * y1 < 0:
            found.append(float(x0 + (x1 - x0) * (-y0) / (y1 - y0)))
    if slope != 0 and pnl[-1] * slope < 0:  # still on the wrong side past the last edge: crosses later
        x, y = edges[-1], pnl[-1]
        found.append(float(x - y / slope))
    return Payoff(price, bottom, top, tuple(round(b, 4) for b in found if b >= 0))


def payoff_frame(
    legs: list[LegShape],
    price: float,
    *,
    qty: float = 1,
    multiplier: float = 100,
    spot: float,
    years: list[float] | None = None,
    vols: list[float] | None = None,
    points: int = 201,
) -> pd.DataFrame:
    """P&L in dollars against the underlying's price: ``at_expiry`` and, given each leg's ``years`` to
    expiry and implied ``vols``, ``today`` (Black-Scholes). ``frame.attrs`` holds max_gain, max_loss
    (inf: unlimited) and breakevens.

    Legs of different expirations (a calendar, a diagonal): ``at_expiry`` is at the *first* expiration,
    where the later legs still have time left and are valued by Black-Scholes at their own volatility
    (``attrs["at"]`` says so); the extremes and breakevens are read off that curve."""
    import pandas as pd

    from .. import blackscholes as bs

    strikes = [leg.strike for leg in legs]
    lo, hi = min([spot, *strikes]) * 0.7, max([spot, *strikes]) * 1.3
    s = np.linspace(lo, hi, points)
    scale = qty * multiplier
    staggered = years is not None and vols is not None and max(years) - min(years) > 1e-6
    if staggered:
        assert years is not None and vols is not None
        first = min(years)
        value = np.zeros_like(s)
        for leg, t, v in zip(legs, years, vols, strict=True):
            left = t - first
            worth = bs.price(s, leg.strike, max(left, 0.0), v, leg.is_call)  # ≤ 0 years: intrinsic
            value = value + leg.signed_ratio * worth
    else:
        value = value_at(legs, s)
    frame = pd.DataFrame({"at_expiry": (value - price) * scale}, index=pd.Index(s, name="underlying"))
    if years is not None and vols is not None:
        now = np.zeros_like(s)
        for leg, t, v in zip(legs, years, vols, strict=True):
            now = now + leg.signed_ratio * bs.price(s, leg.strike, t, v, leg.is_call)
        frame["today"] = (now - price) * scale
    if staggered:
        pnl = frame["at_expiry"].to_numpy()
        crossings = np.nonzero(np.sign(pnl[:-1]) * np.sign(pnl[1:]) < 0)[0]
        evens = tuple(
            round(float(s[i] - pnl[i] * (s[i + 1] - s[i]) / (pnl[i + 1] - pnl[i])), 4) for i in crossings
        )
        frame.attrs.update(max_gain=float(pnl.max()), max_loss=float(-pnl.min()), breakevens=evens,
                           at="the first expiration; later legs at their Black-Scholes value")  # fmt: skip
        return frame
    pay = payoff(legs, price)
    frame.attrs.update(
        max_gain=pay.max_gain * scale, max_loss=pay.max_loss * scale, breakevens=pay.breakevens, at="expiry"
    )
    return frame
