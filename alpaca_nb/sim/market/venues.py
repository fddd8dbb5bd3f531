"""The asset-class registry the broker trades through: which market a symbol belongs to.

Order matching, valuation, positions and the asset routes ask ``Venues`` for a symbol's prices and
facts; it hands the question to the stock market or the crypto market. Adding an asset class means a
market module and an entry here, not a branch in the broker.

Symbols it knows: stocks by ticker; crypto by pair (``BTC/USD``), by the old symbology that
positions use (``BTCUSD``); option contracts by OCC symbol (``AAPL261218C00200000``); every asset by
its id. Option contracts are not listed by ``assets()`` (``/v2/assets`` does not list them; the
contracts have their own route).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from ..universe import SymbolInfo
from .crypto import CryptoMarket
from .occ import OCC_RE, ContractInfo
from .options import OptionsMarket
from .pairs import PairInfo
from .stocks import Hours, Market

Asset = SymbolInfo | PairInfo | ContractInfo


class PriceSource(Protocol):
    """What the broker needs of a market."""

    def quote_at(
        self, symbol: str, now: int | None = None
    ) -> tuple[float, float, float, float, int] | None: ...

    def last_trade(self, symbol: str, now: int | None = None) -> tuple[float, float, int] | None: ...

    def is_open(self, symbol: str, now: int, extended: bool = False) -> bool: ...

    def previous_close(self, symbol: str, now: int | None = None) -> float | None: ...


class Venues:
    """The stock, crypto and options markets behind one lookup (see the module docstring)."""

    def __init__(self, stocks: Market, crypto: CryptoMarket, options: OptionsMarket) -> None:
        self.stocks = stocks
        self.crypto = crypto
        self.options = options
        self._aliases = {p.position_symbol: p.symbol for p in crypto.universe.values()}
        self._ids: dict[str, str] = {a.asset_id: a.symbol for a in self.assets()}

    # ----- the stock market's clock and hours (crypto has no sessions) -------------------------
    def now(self) -> int:
        return self.stocks.now()

    @property
    def hours(self) -> Hours:
        return self.stocks.hours

    @property
    def live_from(self) -> dt.date:
        return self.stocks.live_from

    # ----- lookups -----------------------------------------------------------------------------
    def resolve(self, symbol: str) -> str:
        """The canonical symbol for a ticker, pair, position symbol or asset id (as given if unknown)."""
        key = symbol.replace("%2F", "/").replace("%2f", "/")
        contract = self.options.by_id(key) if key not in self._ids and len(key) == 36 else None
        key = contract.symbol if contract is not None else self._ids.get(key, key)
        upper = key.upper()
        if OCC_RE.match(upper):
            return upper
        if upper in self.crypto.universe or upper in self.stocks.universe:
            return upper
        return self._aliases.get(upper, key)

    def asset(self, symbol: str) -> Asset | None:
        key = self.resolve(symbol)
        if OCC_RE.match(key):
            return self.options.info(key)
        return self.crypto.universe.get(key) or self.stocks.universe.get(key)

    def contract(self, symbol: str) -> ContractInfo | None:
        """The option contract ``symbol`` (an OCC symbol or a contract id) names, if any."""
        info = self.asset(symbol)
        return info if isinstance(info, ContractInfo) else None

    def assets(self, asset_class: str | None = None) -> list[Asset]:
        out: list[Asset] = []
        if asset_class in (None, "us_equity"):
            out += self.stocks.universe.values()
        if asset_class in (None, "crypto"):
            out += self.crypto.universe.values()
        return out

    def position_key(self, symbol: str) -> str:
        """Where a position in ``symbol`` is kept: ``BTCUSD`` for ``BTC/USD``, tickers as they are."""
        info = self.asset(symbol)
        return info.position_symbol if info is not None else symbol

    def market_of(self, symbol: str) -> PriceSource:
        key = self.resolve(symbol)
        if OCC_RE.match(key):
            return self.options
        return self.crypto if key in self.crypto.universe else self.stocks

    def multiplier(self, symbol: str) -> int:
        """Shares (or coins) one unit of ``symbol`` stands for in money: 100 for an option contract."""
        info = self.asset(symbol)
        return info.multiplier if info is not None else 1

    def mark(self, symbol: str, now: int) -> float | None:
        """The price positions are valued at: the last trade, or an option quote's mid."""
        if OCC_RE.match(self.resolve(symbol)):
            return self.options.mark(self.resolve(symbol), now)
        last = self.last_trade(symbol, now)
        return None if last is None else last[0]

    # ----- prices, by the symbol's market ------------------------------------------------------
    def quote_at(self, symbol: str, now: int | None = None) -> tuple[float, float, float, float, int] | None:
        return self.market_of(symbol).quote_at(self.resolve(symbol), now)

    def last_trade(self, symbol: str, now: int | None = None) -> tuple[float, float, int] | None:
        return self.market_of(symbol).last_trade(self.resolve(symbol), now)

    def is_open(self, symbol: str, now: int, extended: bool = False) -> bool:
        return self.market_of(symbol).is_open(self.resolve(symbol), now, extended)

    def previous_close(self, symbol: str, now: int | None = None) -> float | None:
        return self.market_of(symbol).previous_close(self.resolve(symbol), now)
