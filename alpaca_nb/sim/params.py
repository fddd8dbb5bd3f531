"""Query-parameter parsing for the simulator, with Alpaca's error answers for bad values."""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass

from .calendar import NS
from .universe import SYMBOL_RE
from .wire import ApiError

_TIMEFRAME = re.compile(r"^(\d+)(Min|T|Hour|H|Day|D|Week|W|Month|M)$")
_UNITS = {"T": "Min", "H": "Hour", "D": "Day", "W": "Week", "M": "Month"}
_LIMITS = {"Min": range(1, 60), "Hour": range(1, 24), "Day": range(1, 2), "Week": range(1, 2)}
MONTHS = (1, 2, 3, 4, 6, 12)


@dataclass(frozen=True, slots=True)
class TimeFrame:
    amount: int
    unit: str  # Min | Hour | Day | Week | Month

    @property
    def intraday_ns(self) -> int:
        """Bar width in ns for Min/Hour timeframes (0 for Day and longer)."""
        return {"Min": 60, "Hour": 3600}.get(self.unit, 0) * self.amount * NS


def parse_timeframe(raw: str | None) -> TimeFrame:
    m = _TIMEFRAME.match(raw or "")
    if not m:
        raise ApiError(422, 42210000, f"invalid timeframe: {raw!r}")
    amount, unit = int(m.group(1)), _UNITS.get(m.group(2), m.group(2))
    ok = amount in MONTHS if unit == "Month" else amount in _LIMITS[unit]
    if not ok:
        raise ApiError(422, 42210000, f"invalid timeframe: {raw!r}")
    return TimeFrame(amount, unit)


def parse_time(raw: str, name: str) -> int:
    """RFC-3339 (any precision, Z or offset) or YYYY-MM-DD (midnight UTC) → UTC nanoseconds."""
    text = raw.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * NS
        frac = 0
        m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text)
        if not m:
            raise ValueError(text)
        base, digits, zone = m.groups()
        if digits:
            frac = int((digits[1:] + "000000000")[:9])
        stamp = dt.datetime.fromisoformat(base + (zone or "Z").replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return int(stamp.timestamp()) * NS + frac
    except ValueError:
        raise ApiError(400, 40010000, f"invalid {name}: {raw}") from None


def parse_symbols(raw: str | None) -> list[str]:
    if not raw:
        raise ApiError(400, 40010000, "symbols is required")
    out = []
    for sym in raw.split(","):
        sym = sym.strip()
        if not SYMBOL_RE.match(sym):
            raise ApiError(400, 40010000, f"invalid symbol: {sym!r}")
        if sym not in out:
            out.append(sym)
    return sorted(out)


def parse_limit(raw: str | None, default: int = 1000, maximum: int = 10_000) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, 40010000, f"invalid limit: {raw}") from None
    if not 1 <= value <= maximum:
        raise ApiError(400, 40010000, f"invalid limit: must be between 1 and {maximum}")
    return value


def encode_token(symbol: str, ns: int) -> str:
    return base64.b64encode(f"{symbol}|{ns}".encode()).decode()


def decode_token(raw: str) -> tuple[str, int]:
    try:
        symbol, ns = base64.b64decode(raw, validate=True).decode().split("|")
        return symbol, int(ns)
    except ValueError:
        raise ApiError(400, 40010000, "invalid page_token") from None
