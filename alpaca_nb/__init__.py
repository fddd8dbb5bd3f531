"""alpaca_nb: trade with Alpaca Markets from Jupyter, with a built-in simulator for keyless demos.

Heavy modules load on first use, so ``%load_ext alpaca_nb`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"
__all__ = ["Simulator", "__version__"]

if TYPE_CHECKING:
    from .sim import Simulator


def __getattr__(name: str) -> Any:
    if name == "Simulator":
        from .sim import Simulator

        return Simulator
    raise AttributeError(f"module 'alpaca_nb' has no attribute {name!r}")
