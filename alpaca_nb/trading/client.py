"""``SafeTradingClient``: alpaca-py's ``TradingClient`` on alpaca_nb's transport (``rest``)."""

from __future__ import annotations

from alpaca.trading.client import TradingClient

from ..config import AccountConfig
from ..rest import RateLimiter, SafeRESTMixin


class SafeTradingClient(SafeRESTMixin, TradingClient):
    """alpaca-py's ``TradingClient`` with alpaca_nb's timeouts, limiter and errors (see ``rest``)."""

    def __init__(self, account: AccountConfig, *, timeout: float, limiter: RateLimiter) -> None:
        creds = account.credentials
        super().__init__(
            creds.key_id.reveal(),
            creds.secret_key.reveal(),
            paper=account.kind == "paper",
            url_override=account.endpoints.trading,
        )
        self._anb_setup(timeout=timeout, limiter=limiter, account=account.kind)

    @property
    def account_kind(self) -> str:
        return self._anb_account

    def __repr__(self) -> str:
        return f"<SafeTradingClient {self._anb_account} {self._base_url}>"
