"""Common option strategies as legs: picked from the listed contracts, around a strike, ``width`` listed
strikes apart (so the spread's width follows the chain's own increments).

>>> legs = strategy_legs("iron_condor", s.option_contracts("AAPL", expiration="2026-12-18"), strike=200)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ValidationError
from .legs import Leg

if TYPE_CHECKING:
    import pandas as pd

STRATEGIES = ("call_vertical", "put_vertical", "straddle", "strangle", "iron_condor", "butterfly", "calendar")


def strategy_legs(name: str, contracts: pd.DataFrame, *, strike: float, width: int = 1) -> list[Leg]:
    """The legs of ``name`` from ``contracts`` (``Session.option_contracts``: one expiration; two for a
    calendar, whose near leg is sold and far leg bought) at the listed strike nearest ``strike``."""
    if name not in STRATEGIES:
        raise ValidationError(f"strategy must be one of {', '.join(STRATEGIES)}, not {name!r}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValidationError(f"width must be a whole number of strikes from 1, not {width!r}")
    if contracts.empty:
        raise ValidationError("no contracts to build it from")
    expirations = sorted(set(contracts["expiration"]))
    near = contracts[contracts["expiration"] == expirations[0]]
    strikes = sorted(set(near["strike"]))
    at = min(range(len(strikes)), key=lambda i: abs(strikes[i] - float(strike)))

    def pick(kind: str, steps: int, frame: pd.DataFrame = near) -> str:
        i = at + steps * width
        if not 0 <= i < len(strikes):
            raise ValidationError(f"not enough strikes around {strikes[at]:g} for a {name} {width} wide")
        rows = frame[(frame["strike"] == strikes[i]) & (frame["type"] == kind)]
        if rows.empty:
            raise ValidationError(f"no {kind} at {strikes[i]:g}")
        return str(rows.index[0])

    if name == "call_vertical":
        return [Leg(pick("call", 0), "buy"), Leg(pick("call", 1), "sell")]
    if name == "put_vertical":
        return [Leg(pick("put", 0), "buy"), Leg(pick("put", -1), "sell")]
    if name == "straddle":
        return [Leg(pick("call", 0), "buy"), Leg(pick("put", 0), "buy")]
    if name == "strangle":
        return [Leg(pick("put", -1), "buy"), Leg(pick("call", 1), "buy")]
    if name == "iron_condor":
        return [Leg(pick("put", -2), "buy"), Leg(pick("put", -1), "sell"), Leg(pick("call", 1), "sell"),
                Leg(pick("call", 2), "buy")]  # fmt: skip
    if name == "butterfly":
        return [Leg(pick("call", -1), "buy"), Leg(pick("call", 0), "sell", 2), Leg(pick("call", 1), "buy")]
    if len(expirations) < 2:
        raise ValidationError("a calendar needs contracts of two expirations")
    far = contracts[contracts["expiration"] == expirations[1]]
    return [Leg(pick("call", 0), "sell"), Leg(pick("call", 0, far), "buy")]
