"""Jupyter widgets on the session: live quote charts (account views and the order ticket follow)."""

from __future__ import annotations

from .quote_chart import QuoteChart

__all__ = ["QuoteChart"]
