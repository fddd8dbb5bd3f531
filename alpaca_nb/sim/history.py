"""``/v2/account/portfolio/history``: the account's equity over time, replayed from its activities and
the market's own history, as Alpaca computes it (ALPACA_WIRE_MORE.md C1).

* Points: ``1D`` — one per session day, stamped 20:00 New York time (00:00 UTC in summer, as Alpaca's
  examples); intraday (``1Min``, ``5Min``, ``15Min``, ``1H``) — left-labelled windows over the session:
  ``market_hours`` 09:30–16:00 inclusive (13:00 on early closes), ``extended_hours`` 04:00–20:00,
  ``continuous`` the whole day. A day the simulator trades around the clock (``hours="always"``) is a
  whole-day session whatever the reporting. No point lies in the future or before the account existed.
* Equity at a point is the end of its window (or now): cash plus every position at the last trade
  price then. ``profit_loss`` is equity minus the base minus the cash that came in or out since the
  base (a deposit is not a profit); ``profit_loss_pct`` divides it by the base plus those flows.
  The base is the equity at the last close before the first point (``base_value_asof``), or, for an
  account opened since, its equity when it opened (its first deposit); with ``pnl_reset=per_day``
  (intraday default) each day starts from the day before's close.
* ``cashflow`` (only when ``cashflow_types`` asks): per activity type, the flow inside each window.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from . import calendar as cal
from .activities import OPTION_TYPES, Activity
from .ledger import Account
from .market.venues import Venues
from .wire import ApiError

TIMEFRAMES = {"1Min": 60, "5Min": 300, "15Min": 900, "1H": 3600, "1D": 86_400}
_PERIOD = re.compile(r"(\d+)([DWMA])")
_DAY_END = 20 * 60  # minutes after New York midnight: a 1D point's stamp and the day's close


def history(acct: Account, market: Venues, q: Any, now: int) -> dict[str, Any]:
    timeframe, days, reporting, reset = _request(acct, market, q, now)
    stamps, ends = _points(market, days, timeframe, reporting, now)
    kept = [i for i, end in enumerate(ends) if end >= acct.created_at]  # nothing before the account
    stamps, ends = [stamps[i] for i in kept], [ends[i] for i in kept]
    per_day = timeframe != "1D" and reset == "per_day"
    items = sorted(acct.activities.items, key=lambda a: (a.at, a.seq))
    book = _Book(market, items)
    first = min(stamps) if stamps else now
    base_at = _close_before(market, first, acct.created_at)
    base = book.equity(base_at) if base_at is not None else None
    equity, pl, pct, flows = [], [], [], []
    day_base, day_base_at, day = base, base_at, None
    reported: Decimal | None = None  # the first point's reference: base_value
    for stamp, end in zip(stamps, ends, strict=True):
        value = book.equity(end)
        if per_day and cal.et_day_of(stamp) != day:
            day = cal.et_day_of(stamp)
            day_base_at = _close_before(market, stamp, acct.created_at)
            day_base = book.equity(day_base_at) if day_base_at is not None else None
        ref, ref_at = (day_base, day_base_at) if per_day else (base, base_at)
        if ref is None:  # no close before: the account's opening (its first deposit) is the reference
            ref_at = acct.created_at
            ref = book.equity(ref_at)
            if per_day:
                day_base, day_base_at = ref, ref_at
            else:
                base, base_at = ref, ref_at
        if reported is None:
            reported = ref
        moved = book.cash_flow(ref_at, end)
        gain = value - ref - moved
        basis = ref + moved
        equity.append(float(round(value, 2)))
        pl.append(float(round(gain, 4)))
        pct.append(float(round(gain / basis, 6)) if basis else 0.0)
        flows.append(book.flows_in(end - _window_ns(timeframe), end))
    out: dict[str, Any] = {
        "timestamp": [s // cal.NS for s in stamps], "equity": equity, "profit_loss": pl,
        "profit_loss_pct": pct, "base_value": float(round(reported or Decimal(0), 2)), "timeframe": timeframe,
    }  # fmt: skip
    if base_at is not None and stamps and base_at != acct.created_at:
        out["base_value_asof"] = cal.et_day_of(base_at).isoformat()
    wanted = _cashflow_types(q.get("cashflow_types"))
    if wanted:
        kinds = sorted(
            {k for f in flows for k in f} & wanted if "ALL" not in wanted else {k for f in flows for k in f}
        )
        out["cashflow"] = {k: [float(f.get(k, 0)) for f in flows] for k in kinds}
    return out


class _Book:
    """Cash and positions at any time, replayed from the activities (oldest first)."""

    def __init__(self, market: Venues, items: list[Activity]) -> None:
        self.market = market
        self.items = items

    def equity(self, at: int) -> Decimal:
        cash = Decimal(0)
        qty: dict[str, Decimal] = {}
        for a in self.items:
            if a.at > at:
                break
            f = a.fields
            if a.kind == "FILL":
                signed = Decimal(f["qty"]) if f["side"] == "buy" else -Decimal(f["qty"])
                cash -= signed * Decimal(f["price"]) * self.market.multiplier(f["symbol"])
                qty[f["symbol"]] = qty.get(f["symbol"], Decimal(0)) + signed
            elif a.kind in OPTION_TYPES:  # contracts leave; OPTRD's shares come with their cost
                qty[f["symbol"]] = qty.get(f["symbol"], Decimal(0)) + Decimal(f["qty"])
                cash += Decimal(f["net_amount"])
            else:
                cash += a.cash
        value = cash
        for symbol, n in qty.items():
            if n:
                price = self.market.mark(symbol, at)
                value += n * Decimal(str(price or 0)) * self.market.multiplier(symbol)
        return value

    def cash_flow(self, after: int | None, until: int) -> Decimal:
        return sum(
            (a.cash for a in self.items if (after is None or a.at > after) and a.at <= until), Decimal(0)
        )

    def flows_in(self, after: int, until: int) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for a in self.items:
            if a.kind != "FILL" and after < a.at <= until:
                out[a.kind] = out.get(a.kind, Decimal(0)) + a.cash
        return out


def _window_ns(timeframe: str) -> int:
    return TIMEFRAMES[timeframe] * cal.NS


def _session_days(market: Venues, first: dt.date, last: dt.date) -> list[dt.date]:
    days = set(cal.trading_days(first, last))
    if market.hours == "always":
        day = max(first, market.live_from)
        while day <= last:
            days.add(day)
            day += dt.timedelta(days=1)
    return sorted(days)


def _window(market: Venues, day: dt.date, reporting: str) -> tuple[int, int]:
    """First and last minute (after New York midnight) of a day's reporting window, inclusive."""
    if (market.hours == "always" and day >= market.live_from) or reporting == "continuous":
        return 0, 24 * 60 - 1
    if reporting == "extended_hours":
        return cal.PRE_OPEN, cal.POST_CLOSE
    sess = cal.session(day)
    return cal.REGULAR_OPEN, sess.close_minute if sess is not None else cal.REGULAR_CLOSE


def _points(
    market: Venues, days: list[dt.date], timeframe: str, reporting: str, now: int
) -> tuple[list[int], list[int]]:
    stamps: list[int] = []
    ends: list[int] = []
    step = TIMEFRAMES[timeframe]
    for day in days:
        if timeframe == "1D":
            stamp = cal.et_minute_ns(day, _DAY_END)
            if cal.et_minute_ns(day, 0) <= now:
                stamps.append(stamp)
                ends.append(min(stamp, now))
            continue
        first, last = _window(market, day, reporting)
        minute = first
        while minute <= last:
            stamp = cal.et_minute_ns(day, minute)
            if stamp > now:
                break
            stamps.append(stamp)
            ends.append(min(stamp + step * cal.NS, now))
            minute += step // 60
    return stamps, ends


def _close_before(market: Venues, at: int, created: int) -> int | None:
    """The last day's close (20:00 New York) before ``at``, if the account existed then."""
    day = cal.et_day_of(at) - dt.timedelta(days=1)
    for _ in range(15):
        if _session_days(market, day, day):
            close = cal.et_minute_ns(day, _DAY_END)
            return close if close >= created else None
        day -= dt.timedelta(days=1)
    return None


def _request(acct: Account, market: Venues, q: Any, now: int) -> tuple[str, list[dt.date], str, str]:
    period, start, end = (
        q.get("period"),
        _date(q.get("start"), "start"),
        _date(q.get("end") or q.get("date_end"), "end"),
    )
    if period and start and end:
        raise ApiError(422, 42210000, "only two of start, end and period may be given")
    span = _period_days(period or ("1M" if not start else None))
    last = min(end or cal.et_day_of(now), cal.et_day_of(now))
    first = start or (last - dt.timedelta(days=span - 1) if span else last)
    if start and period and not end:
        last = min(start + dt.timedelta(days=_period_days(period) - 1), cal.et_day_of(now))
    if first > last:
        raise ApiError(422, 42210000, "start must be before end")
    timeframe = q.get("timeframe") or (
        "1Min" if (last - first).days < 7 else "15Min" if (last - first).days < 30 else "1D"
    )
    if timeframe not in TIMEFRAMES:
        raise ApiError(422, 42210000, f"invalid timeframe: {timeframe}")
    if timeframe != "1D" and (last - first).days >= 30:
        raise ApiError(422, 42210000, "intraday timeframes are only available for periods of up to 30 days")
    reporting = q.get("intraday_reporting") or (
        "extended_hours" if q.get("extended_hours", "").lower() == "true" else "market_hours"
    )
    if reporting not in ("market_hours", "extended_hours", "continuous"):
        raise ApiError(422, 42210000, f"invalid intraday_reporting: {reporting}")
    reset = q.get("pnl_reset") or "per_day"
    if reset not in ("per_day", "no_reset"):
        raise ApiError(422, 42210000, f"invalid pnl_reset: {reset}")
    first = max(first, cal.et_day_of(acct.created_at))
    return timeframe, _session_days(market, first, last), reporting, reset


def _period_days(period: str | None) -> int:
    if not period:
        return 0
    m = _PERIOD.fullmatch(period)
    if not m:
        raise ApiError(422, 42210000, f"invalid period: {period}")
    days = int(m.group(1)) * {"D": 1, "W": 7, "M": 30, "A": 365}[m.group(2)]
    if days > 365 * 100:
        raise ApiError(422, 42210000, f"period too long: {period}")
    return days


def _date(raw: str | None, name: str) -> dt.date | None:
    if not raw:
        return None
    try:
        if len(raw) <= 10:
            return dt.date.fromisoformat(raw)
        stamp = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=cal.UTC)).astimezone(cal.ET).date()
    except ValueError:
        raise ApiError(422, 42210000, f"invalid {name}: {raw}") from None


def _cashflow_types(raw: str | None) -> set[str]:
    if not raw or raw.upper() == "NONE":
        return set()
    return {t.strip().upper() for t in raw.split(",") if t.strip()}
