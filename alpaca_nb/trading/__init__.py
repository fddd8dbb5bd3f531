"""Trading: orders checked by one policy and sent exactly once, and the account as Python values.

``requests`` (an order's fields → alpaca-py's request), ``checks`` (the ONE pre-trade policy),
``orders`` (exactly-once submit), ``changes`` (replace, cancel and close, never sent twice),
``account`` (account, positions, orders frames), ``client`` (alpaca-py's TradingClient on our transport).
"""

from __future__ import annotations

from .changes import cancel_all_orders, cancel_order, close_all_positions, close_position, replace_order
from .checks import CheckedOrder, Limits, MarketView, check_order
from .client import SafeTradingClient
from .orders import find_order, place_order
from .requests import build_order_request, new_client_order_id

__all__ = [
    "CheckedOrder",
    "Limits",
    "MarketView",
    "SafeTradingClient",
    "build_order_request",
    "cancel_all_orders",
    "cancel_order",
    "check_order",
    "close_all_positions",
    "close_position",
    "find_order",
    "new_client_order_id",
    "place_order",
    "replace_order",
]
