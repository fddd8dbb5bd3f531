"""The simulator's tradable universe: symbols, names, exchanges and starting prices."""

from __future__ import annotations

import re
import uuid
import zlib
from dataclasses import dataclass

_ASSET_NS = uuid.UUID("6f1c7d2a-3b7e-4c59-9a52-2f0d4e1b8a11")
SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """Static facts about one simulated asset."""

    symbol: str
    name: str
    exchange: str
    price: float  # level around ANCHOR_DATE
    activity: float = 1.0  # scales trade and quote intensity
    volatility: float = 1.0  # scales the daily volatility
    always_on: bool = False  # trades around the clock on every day (FAKEPACA)
    fractionable: bool = True
    shortable: bool = True

    @property
    def asset_id(self) -> str:
        return str(uuid.uuid5(_ASSET_NS, self.symbol))

    @property
    def asset_class(self) -> str:
        return "us_equity"

    @property
    def multiplier(self) -> int:
        """Money per unit of price and quantity (100 for option contracts)."""
        return 1

    @property
    def position_symbol(self) -> str:
        """The key of a position in this asset (the symbol itself for stocks)."""
        return self.symbol

    @property
    def tape(self) -> str:
        return {"NYSE": "A", "NASDAQ": "C"}.get(self.exchange, "B")

    @property
    def key(self) -> int:
        """A stable number for seeding: adding symbols never changes another's history."""
        return zlib.crc32(self.symbol.encode())


DEFAULT_UNIVERSE: tuple[SymbolInfo, ...] = (
    SymbolInfo("AAPL", "Apple Inc. Common Stock", "NASDAQ", 230.0, 1.6),
    SymbolInfo("MSFT", "Microsoft Corporation Common Stock", "NASDAQ", 420.0, 1.2),
    SymbolInfo("GOOGL", "Alphabet Inc. Class A Common Stock", "NASDAQ", 165.0, 1.1),
    SymbolInfo("AMZN", "Amazon.com, Inc. Common Stock", "NASDAQ", 185.0, 1.3),
    SymbolInfo("NVDA", "NVIDIA Corporation Common Stock", "NASDAQ", 125.0, 2.0, 1.6),
    SymbolInfo("TSLA", "Tesla, Inc. Common Stock", "NASDAQ", 250.0, 1.8, 2.0),
    SymbolInfo("META", "Meta Platforms, Inc. Class A Common Stock", "NASDAQ", 570.0, 1.0, 1.3),
    SymbolInfo("AMD", "Advanced Micro Devices, Inc. Common Stock", "NASDAQ", 160.0, 1.2, 1.6),
    SymbolInfo("NFLX", "Netflix, Inc. Common Stock", "NASDAQ", 700.0, 0.7, 1.3),
    SymbolInfo("JPM", "JPMorgan Chase & Co. Common Stock", "NYSE", 210.0, 0.8, 0.8),
    SymbolInfo("V", "Visa Inc.", "NYSE", 280.0, 0.6, 0.7),
    SymbolInfo("KO", "Coca-Cola Company (The) Common Stock", "NYSE", 70.0, 0.6, 0.5),
    SymbolInfo("SPY", "SPDR S&P 500 ETF Trust", "ARCA", 570.0, 2.0, 0.6),
    SymbolInfo("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", 490.0, 1.6, 0.8),
    SymbolInfo("IWM", "iShares Russell 2000 ETF", "ARCA", 220.0, 1.0, 0.9),
)

FAKEPACA = SymbolInfo("FAKEPACA", "Alpaca test stream symbol", "OTC", 130.0, 1.0, 1.0, True)


def make_universe(symbols: list[str] | tuple[str, ...] | None) -> dict[str, SymbolInfo]:
    """The universe for ``symbols`` (default: DEFAULT_UNIVERSE). Unknown names get made-up facts."""
    known = {info.symbol: info for info in DEFAULT_UNIVERSE}
    if symbols is None:
        return dict(known)
    out: dict[str, SymbolInfo] = {}
    for raw in symbols:
        sym = raw.strip().upper()
        if not SYMBOL_RE.match(sym):
            raise ValueError(f"not a valid stock symbol: {raw!r}")
        if sym in known:
            out[sym] = known[sym]
        else:
            price = 20.0 + zlib.crc32(sym.encode()) % 400
            out[sym] = SymbolInfo(sym, f"{sym} Simulated Corp. Common Stock", "NYSE", price)
    return out
