"""The simulator's crypto pairs: symbols, levels and Alpaca's per-asset trading increments.

Alpaca's crypto assets carry ``min_order_size``, ``min_trade_increment`` and ``price_increment`` as
decimal strings (ALPACA_WIRE_MORE A3); orders are checked against them. Positions use the old
symbology without the slash (``BTCUSD``), orders and market data the pair (``BTC/USD``).
"""

from __future__ import annotations

import re
import uuid
import zlib
from dataclasses import dataclass
from decimal import Decimal

_ASSET_NS = uuid.UUID("9d3e6f1a-52c4-4b8e-a1f7-3c0e8d2b6a45")
PAIR_RE = re.compile(r"^[A-Z]+/[A-Z]+$")  # Alpaca's own pattern for crypto data symbols


@dataclass(frozen=True, slots=True)
class PairInfo:
    """Static facts about one simulated crypto pair."""

    symbol: str  # "BTC/USD"
    name: str
    price: float  # level the daily walk reverts to
    min_order_size: str
    min_trade_increment: str
    price_increment: str
    activity: float = 1.0  # scales trade and quote intensity
    volatility: float = 1.0  # scales the daily volatility
    book_step: int = 1  # order-book level spacing, in price increments
    exchange: str = "CRYPTO"  # what Alpaca's live API sends (alpaca-py rejects the docs' "ALPACA")
    fractionable: bool = True
    shortable: bool = False

    @property
    def asset_class(self) -> str:
        return "crypto"

    @property
    def asset_id(self) -> str:
        return str(uuid.uuid5(_ASSET_NS, self.symbol))

    @property
    def multiplier(self) -> int:
        """Money per unit of price and quantity (100 for option contracts)."""
        return 1

    @property
    def position_symbol(self) -> str:
        """``BTCUSD``: positions keep the old symbology (ALPACA_WIRE_MORE A3)."""
        return self.symbol.replace("/", "")

    @property
    def key(self) -> int:
        return zlib.crc32(self.symbol.encode())

    @property
    def tick(self) -> float:
        return float(self.price_increment)

    @property
    def price_decimals(self) -> int:
        return max(0, -int(Decimal(self.price_increment).normalize().as_tuple().exponent))

    @property
    def qty_step(self) -> Decimal:
        return Decimal(self.min_trade_increment)

    @property
    def qty_decimals(self) -> int:
        return max(0, -int(self.qty_step.normalize().as_tuple().exponent))


CRYPTO_PAIRS: tuple[PairInfo, ...] = (
    PairInfo("BTC/USD", "Bitcoin / US Dollar", 72_000.0, "0.0001", "0.0001", "1", 2.0, 1.0, 5),
    PairInfo("ETH/USD", "Ethereum / US Dollar", 3_000.0, "0.001", "0.001", "0.1", 1.6, 1.2, 2),
    PairInfo("SOL/USD", "Solana / US Dollar", 150.0, "0.01", "0.01", "0.01", 1.2, 1.6, 2),
    PairInfo("LTC/USD", "Litecoin / US Dollar", 80.0, "0.01", "0.01", "0.01", 0.6, 1.2),
    PairInfo("DOGE/USD", "Dogecoin / US Dollar", 0.15, "1", "1", "0.00001", 0.8, 1.8),
    PairInfo("AVAX/USD", "Avalanche / US Dollar", 30.0, "0.01", "0.01", "0.001", 0.6, 1.6, 2),
    PairInfo("LINK/USD", "Chainlink / US Dollar", 15.0, "0.1", "0.1", "0.001", 0.6, 1.5),
)


def make_pairs(symbols: list[str] | tuple[str, ...] | None) -> dict[str, PairInfo]:
    """The pairs for ``symbols`` (default: all of CRYPTO_PAIRS); unknown pairs are refused."""
    known = {p.symbol: p for p in CRYPTO_PAIRS}
    if symbols is None:
        return dict(known)
    out: dict[str, PairInfo] = {}
    for raw in symbols:
        sym = raw.strip().upper()
        if sym not in known:
            raise ValueError(f"not a simulated crypto pair: {raw!r} (known: {', '.join(known)})")
        out[sym] = known[sym]
    return out
