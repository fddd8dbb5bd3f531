"""The simulated markets, one module per asset class (stocks, crypto), and the pieces they share.

``Venues`` is the registry the broker trades through: it finds the market of a symbol, so that
order matching, valuation and views never branch on the asset class themselves.
"""

from __future__ import annotations

from .common import F64, I64, Bars, ByteLRU, Pin, cut_complete
from .stocks import HISTORY_START, Hours, Market, Quotes, Trades

__all__ = [
    "F64",
    "HISTORY_START",
    "I64",
    "Bars",
    "ByteLRU",
    "Hours",
    "Market",
    "Pin",
    "Quotes",
    "Trades",
    "cut_complete",
]
