"""Market data: alpaca-py's StockHistoricalDataClient under alpaca_nb's safe transport."""

from __future__ import annotations

from alpaca.data.historical import StockHistoricalDataClient

from .config import AccountConfig
from .rest import RateLimiter, SafeRESTMixin


class SafeDataClient(SafeRESTMixin, StockHistoricalDataClient):
    """``StockHistoricalDataClient`` with timeouts, the rate limiter and alpaca_nb's errors."""

    def __init__(self, account: AccountConfig, *, timeout: float, limiter: RateLimiter) -> None:
        creds = account.credentials
        super().__init__(
            creds.key_id.reveal(), creds.secret_key.reveal(), url_override=account.endpoints.data
        )
        self._anb_setup(timeout=timeout, limiter=limiter, account=account.kind)

    def __repr__(self) -> str:
        return f"<SafeDataClient {self._base_url}>"
