"""Option contracts: OCC/OSI symbols and the static facts of one simulated contract.

An OCC symbol is the root (1-6 characters), the expiration ``YYMMDD``, ``C`` or ``P`` and the
strike times 1000 on 8 digits, without padding: ``AAPL261218C00200000`` is the AAPL 18 Dec 2026 200
call (ALPACA_WIRE_MORE B1). The simulator lists standard contracts only: the root is the underlying,
100 shares are delivered, the premium multiplier is 100, the style is American.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zlib
from dataclasses import dataclass
from decimal import Decimal

OCC_RE = re.compile(r"^([A-Z]{1,6}\d?)(\d{6})([CP])(\d{8})$")
_CONTRACT_NS = uuid.UUID("3c8f1e52-6a0d-4b7f-9e21-8d4c5b7a9f13")
MULTIPLIER = 100


def occ_symbol(root: str, expiration: dt.date, kind: str, strike: Decimal) -> str:
    """``AAPL261218C00200000`` for ``("AAPL", 2026-12-18, "call", 200)``."""
    return f"{root}{expiration:%y%m%d}{'C' if kind == 'call' else 'P'}{int(strike * 1000):08d}"


def parse_occ(symbol: str) -> tuple[str, dt.date, str, Decimal] | None:
    """(root, expiration, "call"|"put", strike) of an OCC symbol, None if it is not one."""
    m = OCC_RE.match(symbol)
    if m is None:
        return None
    root, ymd, cp, strike = m.groups()
    try:
        expiration = dt.date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
    except ValueError:
        return None
    return root, expiration, "call" if cp == "C" else "put", Decimal(int(strike)) / 1000


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """Static facts about one simulated option contract (an ``Asset`` to the broker)."""

    symbol: str
    underlying: str
    underlying_asset_id: str
    expiration: dt.date
    kind: str  # "call" | "put"
    strike: Decimal
    index: int = 0  # position in its underlying's chain (the chain's arrays are in this order)

    @property
    def root(self) -> str:
        return self.underlying

    @property
    def asset_id(self) -> str:
        return str(uuid.uuid5(_CONTRACT_NS, self.symbol))

    @property
    def asset_class(self) -> str:
        return "us_option"

    @property
    def exchange(self) -> str:
        return ""  # Alpaca's positions in options name no exchange (TS ExchangeForPosition)

    @property
    def position_symbol(self) -> str:
        return self.symbol

    @property
    def multiplier(self) -> int:
        return MULTIPLIER

    @property
    def fractionable(self) -> bool:
        return False

    @property
    def shortable(self) -> bool:
        return True

    @property
    def key(self) -> int:
        return zlib.crc32(self.symbol.encode())

    @property
    def name(self) -> str:
        """``AAPL Dec 18 2026 200 Call``, as Alpaca names contracts."""
        strike = format(self.strike.normalize(), "f")
        return f"{self.underlying} {self.expiration:%b %d %Y} {strike} {self.kind.title()}"
