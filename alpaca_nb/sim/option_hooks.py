"""The simulator's options hooks: the option stream's URL, approval levels, expiry, chain listings.

A mixin of ``Simulator`` (kept apart so the server module stays about serving).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar

from . import calendar as cal

if TYPE_CHECKING:
    from .broker import Broker
    from .market.options import OptionsMarket
    from .market.stocks import Market

T = TypeVar("T")
AccountName = Literal["paper", "live"]


class OptionHooks:
    broker: Broker
    market: Market
    options_market: OptionsMarket

    def _root(self, scheme: str) -> str:
        raise NotImplementedError

    def call(self, fn: Callable[[], T], timeout: float = 10) -> T:
        raise NotImplementedError

    @property
    def option_stream_url(self) -> str:
        """Full option stream URL (indicative feed) for ``OptionDataStream(url_override=...)``;
        ``/v1beta1/opra`` is served too. msgpack only, as on Alpaca."""
        return self._root("ws") + "/v1beta1/indicative"

    def set_options_level(self, account: AccountName, level: int) -> None:
        """Set an account's approved options level (0 disabled, 1 covered calls and cash-secured
        puts, 2 also long calls and puts, 3 also multi-leg orders; new accounts have 3). Orders are
        checked against ``min(level, max_options_trading_level)`` of its configuration."""
        if level not in (0, 1, 2, 3):
            raise ValueError("level must be 0, 1, 2 or 3")
        acct = self.broker.accounts[account]

        def apply() -> None:
            acct.options_level = level

        self.call(apply)

    def expire_options(self, through: dt.date | str | None = None) -> None:
        """Expire every contract expiring on or before ``through`` (default: today, New York), now:
        in-the-money positions are exercised or assigned, the others expire worthless, open orders
        in them expire (as at the expiration day's close, which does the same on its own)."""
        day = dt.date.fromisoformat(through) if isinstance(through, str) else through
        if day is None:
            day = cal.et_day_of(self.market.now())

        def apply() -> None:
            current = self.options_market.expire_through
            self.options_market.expire_through = day if current is None else max(current, day)
            self.broker.options.settle(self.market.now())

        self.call(apply)

    def option_contracts(self, underlying: str) -> list[str]:
        """The OCC symbols listed for ``underlying`` (expired ones included), in symbol order."""
        chain = self.options_market.chain(underlying)
        if chain is None:
            raise KeyError(f"{underlying} is not in the simulator's universe")
        return [c.symbol for c in chain.contracts]
