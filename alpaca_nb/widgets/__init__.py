"""Jupyter widgets on the session: live quote charts, bar charts of your trading, the account view and
the order ticket and the crypto order book."""

from __future__ import annotations

from .account_view import AccountView
from .bar_chart import BarChart
from .layout import show, static_picture
from .option_chain import OptionChain
from .order_book import OrderBook
from .order_ticket import OrderTicket
from .quote_chart import QuoteChart

__all__ = [
    "AccountView", "BarChart", "OptionChain", "OrderBook", "OrderTicket", "QuoteChart", "show",
    "static_picture",
]  # fmt: skip
