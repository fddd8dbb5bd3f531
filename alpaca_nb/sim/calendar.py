"""The simulated exchange calendar: NYSE-style holidays, early closes and ET session times."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")
UTC = dt.UTC
NS = 1_000_000_000
MINUTE_NS = 60 * NS

# Minutes after ET midnight.
PRE_OPEN = 4 * 60
REGULAR_OPEN = 9 * 60 + 30
REGULAR_CLOSE = 16 * 60
EARLY_CLOSE = 13 * 60
POST_CLOSE = 20 * 60


@dataclass(frozen=True, slots=True)
class Session:
    """One trading day: the date and its regular open/close in minutes after ET midnight."""

    date: dt.date
    open_minute: int = REGULAR_OPEN
    close_minute: int = REGULAR_CLOSE


def _easter(year: int) -> dt.date:
    # Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@lru_cache(maxsize=128)
def holidays(year: int) -> frozenset[dt.date]:
    """NYSE full-day holidays of ``year``."""
    days = {
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _easter(year) - dt.timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, 0),  # Memorial Day
        _observed(dt.date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(dt.date(year, 12, 25)),
    }
    new_year = dt.date(year, 1, 1)
    if new_year.weekday() != 5:  # NYSE does not observe a Saturday New Year on Friday
        days.add(_observed(new_year))
    if year >= 2022:
        days.add(_observed(dt.date(year, 6, 19)))
    return frozenset(days)


@lru_cache(maxsize=128)
def early_closes(year: int) -> frozenset[dt.date]:
    """Days the regular session ends at 13:00 ET."""
    days = {_nth_weekday(year, 11, 3, 4) + dt.timedelta(days=1)}
    for candidate in (dt.date(year, 7, 3), dt.date(year, 12, 24)):
        if candidate.weekday() < 5:
            days.add(candidate)
    return frozenset(d for d in days if is_trading_day(d))


def is_trading_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in holidays(day.year)


def session(day: dt.date) -> Session | None:
    """The session on ``day``, or None when the exchange is closed all day."""
    if not is_trading_day(day):
        return None
    close = EARLY_CLOSE if day in early_closes(day.year) else REGULAR_CLOSE
    return Session(day, REGULAR_OPEN, close)


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading days in ``[start, end]``."""
    out = []
    day = start
    while day <= end:
        if is_trading_day(day):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def next_trading_day(day: dt.date) -> dt.date:
    day += dt.timedelta(days=1)
    while not is_trading_day(day):
        day += dt.timedelta(days=1)
    return day


@lru_cache(maxsize=8192)
def et_midnight_ns(day: dt.date) -> int:
    """UTC nanoseconds of 00:00 America/New_York on ``day``."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=ET).timestamp()) * NS


def et_day_of(ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(ns / NS, ET).date()


def et_minute_ns(day: dt.date, minute: int) -> int:
    """UTC nanoseconds of ``minute`` (wall-clock minutes after midnight) on ``day`` in ET."""
    wall = dt.datetime(day.year, day.month, day.day, tzinfo=ET) + dt.timedelta(minutes=minute)
    # Re-attach the zone so the UTC offset of the wall time (not of midnight) applies.
    wall = wall.replace(tzinfo=None).replace(tzinfo=ET)
    return int(wall.timestamp()) * NS
