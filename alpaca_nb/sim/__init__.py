"""A local, seeded stand-in for Alpaca that speaks its real wire protocol.

It imports nothing from the rest of alpaca_nb: it is the other side of the wire.
"""

from __future__ import annotations

from .faults import Faults
from .market import Market
from .server import Simulator

__all__ = ["Faults", "Market", "Simulator"]
