"""Jupyter widgets on the session: live quote charts (account views and the order ticket follow)."""

from __future__ import annotations

from .account_view import AccountView
from .layout import show, static_picture
from .order_ticket import OrderTicket
from .quote_chart import QuoteChart

__all__ = ["AccountView", "OrderTicket", "QuoteChart", "show", "static_picture"]
