"""alpaca_nb: trade with Alpaca Markets from Jupyter, with a built-in simulator for keyless demos.

    %load_ext alpaca_nb
    %alpaca connect demo

or, in Python::

    import alpaca_nb as anb
    s = anb.connect()          # paper with keys in the environment, else the built-in simulator

Heavy modules (alpaca-py, pandas, plotly) load on first use, so ``%load_ext alpaca_nb`` stays fast.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

# A library logs; the application decides where logs go (nothing reaches stderr by default).
logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0.dev0"
__all__ = [
    "AccountView",
    "BarChart",
    "BarStore",
    "Leg",
    "OptionChain",
    "OrderBook",
    "OrderTicket",
    "QuoteChart",
    "Session",
    "Simulator",
    "__version__",
    "connect",
    "current_session",
    "errors",
    "load_ipython_extension",
]

if TYPE_CHECKING:
    from . import errors
    from ._connect import connect
    from .session import Session, current_session
    from .sim import Simulator
    from .store import BarStore
    from .trading.legs import Leg
    from .widgets import AccountView, BarChart, OptionChain, OrderBook, OrderTicket, QuoteChart

_LAZY = {
    "Session": ("session", "Session"),
    "connect": ("_connect", "connect"),
    "current_session": ("session", "current_session"),
    "Simulator": ("sim", "Simulator"),
    "QuoteChart": ("widgets", "QuoteChart"),
    "AccountView": ("widgets", "AccountView"),
    "BarChart": ("widgets", "BarChart"),
    "BarStore": ("store", "BarStore"),
    "OrderTicket": ("widgets", "OrderTicket"),
    "OrderBook": ("widgets", "OrderBook"),
    "Leg": ("trading.legs", "Leg"),
    "OptionChain": ("widgets", "OptionChain"),
    "errors": ("errors", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'alpaca_nb' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(f".{module_name}", __name__)
    return module if attr is None else getattr(module, attr)


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext alpaca_nb``: register the ``%alpaca`` magic."""
    from .magics import load_ipython_extension as load

    load(ipython)
