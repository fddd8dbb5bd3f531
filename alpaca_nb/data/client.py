"""The market-data clients: alpaca-py's, through alpaca_nb's transport (timeouts, limiter, errors).

One per asset class (``_wire.AssetClass.key``): stocks need keys; crypto market data does not (Alpaca
serves it keyless, so a crypto client without keys sends no auth headers at all)."""

from __future__ import annotations

from typing import Any

from alpaca.data.historical import (
    CryptoHistoricalDataClient,
    OptionHistoricalDataClient,
    StockHistoricalDataClient,
)

from .._wire import CRYPTO, OPTION, STOCK, AssetClass
from ..config import AccountConfig
from ..rest import RateLimiter, SafeRESTMixin


class SafeDataClient(SafeRESTMixin, StockHistoricalDataClient):
    """``StockHistoricalDataClient`` with timeouts, the rate limiter and alpaca_nb's errors."""

    asset: AssetClass = STOCK

    def __init__(
        self, account: AccountConfig, *, timeout: float, limiter: RateLimiter, trading: Any = None
    ) -> None:
        creds = account.credentials
        super().__init__(
            creds.key_id.reveal(), creds.secret_key.reveal(), url_override=account.endpoints.data
        )
        self._anb_setup(timeout=timeout, limiter=limiter, account=account.kind)
        self.trading = trading  # a trading client on the same keys, for /v2/assets look-ups

    def __repr__(self) -> str:
        return f"<SafeDataClient {self._base_url}>"


class SafeCryptoDataClient(SafeRESTMixin, CryptoHistoricalDataClient):
    """``CryptoHistoricalDataClient`` (``/v1beta3/crypto/us/…``) the same way; ``account=None``: keyless."""

    asset: AssetClass = CRYPTO

    def __init__(
        self,
        account: AccountConfig | None,
        *,
        data_url: str | None = None,
        timeout: float,
        limiter: RateLimiter,
        trading: Any = None,
    ) -> None:
        if account is not None:
            creds = account.credentials
            super().__init__(creds.key_id.reveal(), creds.secret_key.reveal(),
                             url_override=data_url or account.endpoints.data)  # fmt: skip
        else:
            super().__init__(url_override=data_url)
        self._anb_setup(timeout=timeout, limiter=limiter, account=account.kind if account else "keyless")
        self.trading = trading

    def __repr__(self) -> str:
        return f"<SafeCryptoDataClient {self._base_url}{'' if self.trading else ' keyless'}>"


class SafeOptionDataClient(SafeRESTMixin, OptionHistoricalDataClient):
    """``OptionHistoricalDataClient`` (``/v1beta1/options/…``; keys required) the same way."""

    asset: AssetClass = OPTION

    def __init__(
        self, account: AccountConfig, *, timeout: float, limiter: RateLimiter, trading: Any = None
    ) -> None:
        creds = account.credentials
        super().__init__(
            creds.key_id.reveal(), creds.secret_key.reveal(), url_override=account.endpoints.data
        )
        self._anb_setup(timeout=timeout, limiter=limiter, account=account.kind)
        self.trading = trading

    def __repr__(self) -> str:
        return f"<SafeOptionDataClient {self._base_url}>"
