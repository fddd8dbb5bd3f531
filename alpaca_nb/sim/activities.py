"""Account activities: what the ledger did, as ``/v2/account/activities`` tells it.

Each fill of an order is a ``FILL`` (trade activity); cash deposits and withdrawals are ``CSD``/``CSW``
(non-trade activities; the starting cash is the account's first ``CSD``); an option exercised,
assigned or expired is an ``OPEXC``/``OPASN``/``OPEXP`` with an ``OPTRD`` for the shares delivered.
Ids are Alpaca's
``YYYYMMDDHHMMSSmmm::<uuid>``: for fills the prefix is the transaction time in New York to the
millisecond, for non-trade activities the date and ``000000000``. Decimals are strings.

Paging (ALPACA_WIRE_MORE.md C2): ``page_token`` is the id of the last item received; ``desc`` (the
default) answers the items before it, ``asc`` the items after it; after the last page the answer is
``[]``. ``page_size`` is at most 100 (default 100), or everything when ``date`` is given and no size.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import calendar as cal
from .orders import fmt
from .wire import ApiError, iso_one

TRADE_TYPES = frozenset({"FILL"})
NON_TRADE_TYPES = frozenset({"CSD", "CSW", "DIV", "FEE", "INT", "JNLC"})
# Option exercise, assignment, expiry and the trades they cause: non-trade activities that move
# money and positions inside the account, not into or out of it.
OPTION_TYPES = frozenset({"OPEXC", "OPASN", "OPEXP", "OPTRD"})
# Types a filter may name (none of them happens in the simulator).
OTHER_TYPES = frozenset(("TRANS", "MISC", "ACATC", "ACATS", "CFEE", "CGD", "JNL", "JNLS", "MA", "NC",
                         "PTC", "REORG", "SPIN", "SPLIT", "DIVCGL", "DIVCGS", "DIVROC"))  # fmt: skip
KNOWN_TYPES = TRADE_TYPES | NON_TRADE_TYPES | OPTION_TYPES | OTHER_TYPES
_NS_ID = uuid.UUID("6a0c2f1e-93b4-4c8d-a5e7-2b9f0d3c4e81")


@dataclass(frozen=True, slots=True)
class Activity:
    """One activity: its kind, when (ns), and its JSON fields besides ``id`` and ``activity_type``."""

    kind: str
    at: int
    seq: int
    fields: dict[str, Any] = field(default_factory=dict)
    uid: str = ""

    @property
    def id(self) -> str:
        if self.kind in TRADE_TYPES:
            stamp = dt.datetime.fromtimestamp(self.at / cal.NS, cal.ET)
            prefix = stamp.strftime("%Y%m%d%H%M%S") + f"{stamp.microsecond // 1000:03d}"
        else:
            prefix = cal.et_day_of(self.at).strftime("%Y%m%d") + "000000000"
        return f"{prefix}::{self.uid}"

    @property
    def cash(self) -> Decimal:
        """What the activity moved in or out of the account's cash from outside (cash flows only)."""
        return Decimal(self.fields["net_amount"]) if self.kind in NON_TRADE_TYPES else Decimal(0)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "activity_type": self.kind, **self.fields}


class Activities:
    """An account's activities, oldest first."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.items: list[Activity] = []

    def _uid(self) -> str:
        return str(uuid.uuid5(_NS_ID, f"{self.account_id}:{len(self.items)}"))

    def fill(self, *, at: int, symbol: str, side: str, qty: Decimal, price: Decimal, order_id: str,
             cum_qty: Decimal, leaves_qty: Decimal, status: str) -> Activity:  # fmt: skip
        fields = {
            "transaction_time": iso_one(at), "type": "fill" if leaves_qty <= 0 else "partial_fill",
            "price": fmt(price), "qty": fmt(qty), "side": side, "symbol": symbol,
            "leaves_qty": fmt(leaves_qty), "order_id": order_id, "cum_qty": fmt(cum_qty),
            "order_status": status,
        }  # fmt: skip
        return self._add(Activity("FILL", at, len(self.items), fields, self._uid()))

    def cash(self, amount: Decimal, at: int, description: str = "") -> Activity:
        """A deposit (amount > 0, ``CSD``) or a withdrawal (``CSW``)."""
        kind = "CSD" if amount >= 0 else "CSW"
        fields = {
            "date": cal.et_day_of(at).isoformat(), "net_amount": fmt(amount),
            "description": description or ("Cash deposit" if amount >= 0 else "Cash withdrawal"),
            "status": "executed", "currency": "USD", "created_at": iso_one(at),
        }  # fmt: skip
        return self._add(Activity(kind, at, len(self.items), fields, self._uid()))

    def option_event(
        self, kind: str, at: int, symbol: str, qty: Decimal, price: Decimal, net: Decimal, description: str
    ) -> Activity:
        """An ``OPEXC``/``OPASN``/``OPEXP`` of a contract, or the ``OPTRD`` of shares it delivered."""
        fields = {
            "date": cal.et_day_of(at).isoformat(), "net_amount": fmt(net), "description": description,
            "status": "executed", "symbol": symbol, "qty": fmt(qty), "price": fmt(price),
            "created_at": iso_one(at),
        }  # fmt: skip
        return self._add(Activity(kind, at, len(self.items), fields, self._uid()))

    def _add(self, item: Activity) -> Activity:
        self.items.append(item)
        return item

    def query(self, q: Any, kind: str | None = None) -> list[dict[str, Any]]:
        """One page of ``GET /v2/account/activities[/{kind}]`` for query parameters ``q``."""
        types = _types(q.get("activity_types"), kind)
        category = q.get("category")
        if category and (types or kind):
            raise ApiError(422, 42210000, "category cannot be used together with activity_types")
        if category not in (None, "trade_activity", "non_trade_activity"):
            raise ApiError(422, 42210000, f"invalid category: {category}")
        direction = q.get("direction", "desc")
        if direction not in ("asc", "desc"):
            raise ApiError(422, 42210000, f"invalid direction: {direction}")
        day, until, after = (
            _day(q.get("date")),
            _time(q.get("until"), "until"),
            _time(q.get("after"), "after"),
        )
        rows = [a for a in self.items if _wanted(a, types, category, day, until, after)]
        rows.sort(key=lambda a: (a.at, a.seq), reverse=direction == "desc")
        token = q.get("page_token")
        if token:
            ids = [a.id for a in rows]
            if token not in ids:
                return []
            rows = rows[ids.index(token) + 1 :]
        size = q.get("page_size")
        if size is None and day is None:
            size = "100"
        if size is not None:
            try:
                limit = int(size)
            except ValueError:
                raise ApiError(422, 42210000, f"invalid page_size: {size}") from None
            if not 1 <= limit <= (10_000 if day is not None else 100):
                raise ApiError(422, 42210000, "page_size must be between 1 and 100")
            rows = rows[:limit]
        return [a.to_json() for a in rows]


def _types(raw: str | None, kind: str | None) -> set[str]:
    names = {t.strip().upper() for t in (raw or "").split(",") if t.strip()}
    if kind:
        names.add(kind.upper())
    unknown = names - KNOWN_TYPES
    if unknown:
        raise ApiError(422, 42210000, f"invalid activity type: {sorted(unknown)[0]}")
    if "TRANS" in names:
        names |= {"CSD", "CSW"}
    return names


def _wanted(a: Activity, types: set[str], category: str | None, day: dt.date | None,
            until: int | None, after: int | None) -> bool:  # fmt: skip
    if types and a.kind not in types:
        return False
    if category == "trade_activity" and a.kind not in TRADE_TYPES:
        return False
    if category == "non_trade_activity" and a.kind in TRADE_TYPES:
        return False
    if day is not None and cal.et_day_of(a.at) != day:
        return False
    if until is not None and a.at > until:
        return False
    return after is None or a.at > after


def _day(raw: str | None) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise ApiError(422, 42210000, f"invalid date: {raw}") from None


def _time(raw: str | None, name: str) -> int | None:
    if not raw:
        return None
    m = re.fullmatch(r"([^.]+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", raw.strip())  # nanoseconds kept
    try:
        assert m is not None
        stamp = dt.datetime.fromisoformat(m.group(1) + (m.group(3) or "").replace("Z", "+00:00"))
    except (AssertionError, ValueError):
        raise ApiError(422, 42210000, f"invalid {name}: {raw}") from None
    if stamp.tzinfo is None:  # a date or a naive time: New York's, as Alpaca reads them
        stamp = stamp.replace(tzinfo=cal.ET)
    fraction = int((m.group(2) or "0")[:9].ljust(9, "0"))
    return (int(stamp.timestamp()) * cal.NS) + fraction
