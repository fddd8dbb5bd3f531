"""Checking what a market-data call is asked: timeframes, dates, feeds, adjustments, limits."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .._wire import AssetClass, to_utc
from ..errors import ValidationError
from .frames import rfc3339

ADJUSTMENTS = ("raw", "split", "dividend", "spin-off", "all")
_UNIT_ALIASES = {
    "min": "Min", "mins": "Min", "minute": "Min", "minutes": "Min", "m": "Min", "t": "Min",
    "h": "Hour", "hr": "Hour", "hrs": "Hour", "hour": "Hour", "hours": "Hour",
    "d": "Day", "day": "Day", "days": "Day",
    "w": "Week", "wk": "Week", "week": "Week", "weeks": "Week",
    "mo": "Month", "mon": "Month", "month": "Month", "months": "Month",
}  # fmt: skip
_MONTHS = (1, 2, 3, 4, 6, 12)


# ----- checking inputs --------------------------------------------------------------------------
def parse_timeframe(value: Any) -> str:
    """Alpaca's timeframe string for ``value``: ``"1Min"``, ``"15Min"``, ``"1Hour"``, ``"1Day"``, …

    Accepts Alpaca's own strings (``5Min``, ``1Hour``, ``1Day``, ``1Week``, ``3Month``), pandas-style
    ``15T``/``1H``/``1D``, and ``1m``, ``5min``, ``1h``, ``1d``, ``1w``, ``1mo``. ``M`` alone is a month
    (as at Alpaca); ``m`` is a minute. alpaca-py ``TimeFrame`` objects work too.
    """
    if hasattr(value, "amount") and hasattr(value, "unit"):  # alpaca.data.timeframe.TimeFrame
        value = f"{value.amount}{value.unit.value}"
    text = str(value).strip() if value is not None else ""
    m = re.fullmatch(r"(\d*)\s*([A-Za-z]+)", text)
    if not m:
        raise ValidationError(f"not a timeframe: {value!r} (try '1Min', '15Min', '1Hour', '1Day', '1Week')")
    amount = int(m.group(1) or 1)
    word = m.group(2)
    if word in ("Min", "Hour", "Day", "Week", "Month"):
        unit = word
    elif word == "M":
        unit = "Month"
    elif word in ("T", "H", "D", "W"):
        unit = {"T": "Min", "H": "Hour", "D": "Day", "W": "Week"}[word]
    else:
        unit = _UNIT_ALIASES.get(word.lower(), "")
    valid = {
        "Min": 1 <= amount <= 59, "Hour": 1 <= amount <= 23, "Day": amount == 1, "Week": amount == 1,
        "Month": amount in _MONTHS,
    }.get(unit, False)  # fmt: skip
    if not valid:
        raise ValidationError(
            f"not a timeframe Alpaca serves: {value!r} "
            "(1-59 Min, 1-23 Hour, 1 Day, 1 Week, 1/2/3/4/6/12 Month)"
        )
    return f"{amount}{unit}"


def bar_params(
    symbols: list[str],
    timeframe: Any,
    start: Any,
    end: Any,
    *,
    limit: int | None,
    feed: str | None,
    adjustment: str | None,
    sort: str,
    tz: str | None,
    asset: AssetClass,
) -> dict[str, Any]:
    """Check every argument of a bars request (raising ValidationError) and build its query. Crypto
    takes no ``feed`` or ``adjustment`` (Alpaca's crypto data has one source and no corporate actions)."""
    params: dict[str, Any] = {"symbols": ",".join(symbols), "timeframe": parse_timeframe(timeframe)}
    t0, t1 = to_utc(start, "start"), to_utc(end, "end")
    if t0 is not None and t1 is not None and t0 > t1:
        raise ValidationError(f"start ({t0}) is after end ({t1})")
    if t0 is not None:
        params["start"] = rfc3339(t0)
    if t1 is not None:
        params["end"] = rfc3339(t1)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationError(f"limit must be a positive integer, not {limit!r}")
    if sort not in ("asc", "desc"):
        raise ValidationError(f"sort must be 'asc' or 'desc', not {sort!r}")
    params["sort"] = sort
    if feed is not None:
        check_feed(feed, asset)
        params["feed"] = feed
    if adjustment is not None and not asset.feeds:
        raise ValidationError(f"adjustment does not apply to {asset.label}s")
    if adjustment is not None:
        parts = [a.strip() for a in str(adjustment).split(",")]
        if not all(a in ADJUSTMENTS for a in parts):
            raise ValidationError(f"adjustment must be among {', '.join(ADJUSTMENTS)}, not {adjustment!r}")
        params["adjustment"] = ",".join(parts)
    if tz is not None:
        try:
            pd.Timestamp.now(tz=tz)
        except Exception:
            raise ValidationError(f"unknown time zone: {tz!r}") from None
    return params


def check_feed(feed: str, asset: AssetClass, *, extra: tuple[str, ...] = ()) -> None:
    if not asset.feeds:
        raise ValidationError(f"feed does not apply to {asset.label}s (their data has one source)")
    allowed = (*asset.feeds, *extra)
    if feed not in allowed:
        raise ValidationError(f"feed must be one of {', '.join(asset.feeds)}, not {feed!r}")
