"""The account, positions and orders as Python values: numbers as numbers, times as UTC datetimes.

Alpaca sends decimals as strings; here they become floats (money to the cent survives float64 for any
realistic balance), and timestamps become tz-aware pandas Timestamps.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._wire import normalize_symbols, to_utc
from ..errors import ValidationError

if TYPE_CHECKING:
    from .client import SafeTradingClient

ORDER_STATUSES = ("open", "closed", "all")
MAX_ORDERS_PER_REQUEST = 500


def _num(value: Any) -> float:
    return float(value) if value not in (None, "") else 0.0


@dataclass(frozen=True)
class Account:
    """A snapshot of the trading account. ``_repr_html_`` draws it as a card in notebooks."""

    mode: str  # "demo" | "paper" | "live": the badge on the card
    account_number: str
    status: str
    currency: str
    equity: float
    last_equity: float
    cash: float
    buying_power: float
    long_market_value: float
    short_market_value: float
    initial_margin: float
    maintenance_margin: float
    pattern_day_trader: bool
    trading_blocked: bool
    account_blocked: bool
    shorting_enabled: bool

    @staticmethod
    def from_alpaca(raw: dict[str, Any], mode: str) -> Account:
        return Account(
            mode=mode,
            account_number=str(raw.get("account_number", "")),
            status=str(raw.get("status", "")),
            currency=str(raw.get("currency") or "USD"),
            equity=_num(raw.get("equity")),
            last_equity=_num(raw.get("last_equity")),
            cash=_num(raw.get("cash")),
            buying_power=_num(raw.get("buying_power")),
            long_market_value=_num(raw.get("long_market_value")),
            short_market_value=_num(raw.get("short_market_value")),
            initial_margin=_num(raw.get("initial_margin")),
            maintenance_margin=_num(raw.get("maintenance_margin")),
            pattern_day_trader=bool(raw.get("pattern_day_trader")),
            trading_blocked=bool(raw.get("trading_blocked")),
            account_blocked=bool(raw.get("account_blocked")),
            shorting_enabled=bool(raw.get("shorting_enabled")),
        )

    @property
    def day_pl(self) -> float:
        """Equity change since the previous close (equity − last_equity)."""
        return round(self.equity - self.last_equity, 2)

    @property
    def day_pl_pct(self) -> float:
        return round(self.day_pl / self.last_equity * 100, 4) if self.last_equity else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "day_pl": self.day_pl, "day_pl_pct": self.day_pl_pct}

    def _repr_html_(self) -> str:
        return account_card_html(self.to_dict())

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)[:4])
        return f"Account({shown}, equity={self.equity:,.2f}, day_pl={self.day_pl:+,.2f})"


def account_card_html(a: dict[str, Any]) -> str:
    """The account card (also the static picture of AccountView in exports)."""
    colour = {"live": "#c62828", "paper": "#1565c0", "demo": "#6a1b9a"}.get(a["mode"], "#555")
    sign = "#1a7f37" if a["day_pl"] >= 0 else "#c62828"
    named = (
        ("PDT", "pattern_day_trader"),
        ("TRADING BLOCKED", "trading_blocked"),
        ("ACCOUNT BLOCKED", "account_blocked"),
    )
    flags = [name for name, key in named if a[key]]

    def cell(label: str, value: str, style: str = "") -> str:
        return (f'<div style="padding:4px 10px"><div style="font-size:11px;color:#666">{label}</div>'
                f'<div style="font-size:15px;font-weight:600;{style}">{value}</div></div>')  # fmt: skip

    return (
        '<div class="anb-account-card" style="font-family:sans-serif;border:1px solid #ddd;border-radius:6px;'
        'display:inline-block;padding:6px">'
        f'<div style="padding:2px 10px"><span style="background:{colour};color:#fff;border-radius:9px;'
        f'padding:1px 9px;font-size:11px;font-weight:700">{html.escape(a["mode"].upper())}</span> '
        f'<span style="color:#444">{html.escape(a["account_number"])} · {html.escape(a["status"])}</span>'
        + "".join(f' <span style="color:#c62828;font-weight:700">{f}</span>' for f in flags)
        + '</div><div style="display:flex;flex-wrap:wrap">'
        + cell("Equity", f"${a['equity']:,.2f}")
        + cell("Day P&amp;L", f"{a['day_pl']:+,.2f} ({a['day_pl_pct']:+.2f}%)", f"color:{sign}")
        + cell("Cash", f"${a['cash']:,.2f}")
        + cell("Buying power", f"${a['buying_power']:,.2f}")
        + cell("Long", f"${a['long_market_value']:,.2f}")
        + cell("Short", f"${a['short_market_value']:,.2f}")
        + "</div></div>"
    )


POSITION_COLUMNS = {
    "qty": float, "side": str, "avg_entry_price": float, "current_price": float, "market_value": float,
    "cost_basis": float, "unrealized_pl": float, "unrealized_plpc": float, "unrealized_intraday_pl": float,
    "lastday_price": float, "change_today": float, "qty_available": float, "exchange": str,
}  # fmt: skip
ORDER_COLUMNS = {
    "symbol": str, "side": str, "type": str, "qty": float, "notional": float, "filled_qty": float,
    "filled_avg_price": float, "limit_price": float, "stop_price": float, "status": str,
    "time_in_force": str, "submitted_at": "time", "filled_at": "time", "canceled_at": "time",
    "client_order_id": str, "extended_hours": bool,
}  # fmt: skip


def _frame(rows: list[dict[str, Any]], columns: dict[str, Any], index: str) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for name, kind in columns.items():
        values = [row.get(name) for row in rows]
        if kind is float:
            data[name] = pd.array([None if v in (None, "") else float(v) for v in values], dtype="float64")
        elif kind == "time":
            stamps = pd.to_datetime(pd.Index(values, dtype=object), utc=True, format="ISO8601")
            data[name] = pd.DatetimeIndex(stamps).as_unit("ns").array  # an array: no index alignment
        elif kind is bool:
            data[name] = pd.array([bool(v) for v in values], dtype="bool")
        else:
            data[name] = pd.array([None if v is None else str(v) for v in values], dtype="object")
    frame = pd.DataFrame(data, index=pd.Index([str(r.get(index)) for r in rows], name=index))
    return frame


def positions_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Positions indexed by symbol; numeric columns are float64."""
    return _frame(rows, POSITION_COLUMNS, "symbol")


def orders_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Orders indexed by order id, newest first."""
    frame = _frame(rows, ORDER_COLUMNS, "id")
    return frame.sort_values("submitted_at", ascending=False, kind="stable")


def fetch_orders(
    client: SafeTradingClient,
    status: str = "open",
    limit: int | None = None,
    symbols: list[str] | None = None,
    after: Any = None,
    until: Any = None,
) -> list[dict[str, Any]]:
    """Orders newest first; beyond Alpaca's 500 per request, walks back in time windows."""
    if status not in ORDER_STATUSES:
        raise ValidationError(f"status must be one of {', '.join(ORDER_STATUSES)}, not {status!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationError(f"limit must be a positive integer, not {limit!r}")
    params: dict[str, Any] = {"status": status, "direction": "desc", "nested": "false"}
    if symbols:
        params["symbols"] = ",".join(normalize_symbols(symbols)[0])
    if after is not None:
        params["after"] = _iso(to_utc(after, "after"))
    bound = _iso(to_utc(until, "until")) if until is not None else None
    out: list[dict[str, Any]] = []
    seen: dict[str, str] = {}  # id -> submitted_at of every order fetched
    overlap = 0  # orders already seen that the next window returns again
    while True:
        remaining = None if limit is None else limit - len(out)
        want = min(MAX_ORDERS_PER_REQUEST, (remaining or MAX_ORDERS_PER_REQUEST) + overlap)
        page_params = dict(params, limit=want, **({"until": bound} if bound else {}))
        page = client.get_json("/orders", page_params) or []
        fresh = [o for o in page if o["id"] not in seen]
        out += fresh[:remaining]
        seen.update((o["id"], o["submitted_at"]) for o in fresh)
        if len(page) < want or not fresh or (limit is not None and len(out) >= limit):
            return out
        # The next window ends just after the oldest order of this one: ``until`` is exclusive, and
        # other orders may share that submitted_at. Those already seen come back and are skipped.
        oldest = page[-1]["submitted_at"]
        overlap = sum(1 for stamp in seen.values() if stamp == oldest)
        bound = _iso(pd.Timestamp(oldest) + pd.Timedelta(microseconds=1))


def _iso(stamp: pd.Timestamp | dt.datetime | None) -> str:
    assert stamp is not None
    return pd.Timestamp(stamp).tz_convert("UTC").isoformat()
