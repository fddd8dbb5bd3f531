"""The account's own history as frames: portfolio history, activities and fills (every page),
profit and loss per symbol (realized by FIFO lots), and watchlists.

alpaca-py's ``TradingClient`` has no activities call; these go through its ``get`` (our transport:
timeouts, limiter, errors). Decimals arrive as strings and are summed as ``Decimal``, so P&L is exact
to the cent before it becomes float64.
"""

from __future__ import annotations

import re
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._wire import normalize_symbols, to_utc
from ..errors import ValidationError

if TYPE_CHECKING:
    from .client import SafeTradingClient

PAGE_SIZE = 100  # Alpaca's most per page
FILL_COLUMNS = {"symbol": "object", "side": "object", "qty": "float64", "price": "float64",
                "order_id": "object", "type": "object", "cum_qty": "float64", "leaves_qty": "float64",
                "order_status": "object", "id": "object"}  # fmt: skip
ACTIVITY_COLUMNS = {"activity_type": "object", "symbol": "object", "side": "object", "qty": "float64",
                    "price": "float64", "net_amount": "float64", "order_id": "object",
                    "description": "object", "status": "object", "id": "object"}  # fmt: skip
PNL_COLUMNS = ("qty", "avg_cost", "price", "realized", "unrealized", "total")
HISTORY_TIMEFRAMES = ("1Min", "5Min", "15Min", "1H", "1D")
_PERIOD = re.compile(r"\d+[DWMA]")


# ----- portfolio history ------------------------------------------------------------------------
def fetch_portfolio_history(
    client: SafeTradingClient, *, period: str | None = None, timeframe: str | None = None, start: Any = None,
    end: Any = None, intraday_reporting: str | None = None, pnl_reset: str | None = None,
    cashflow_types: str | None = None,
) -> pd.DataFrame:  # fmt: skip
    """``GET /v2/account/portfolio/history`` as a frame indexed by UTC ``timestamp`` (see Session)."""
    params: dict[str, Any] = {}
    if period is not None:
        if not isinstance(period, str) or not _PERIOD.fullmatch(period):
            raise ValidationError(f"period must be like '1D', '2W', '1M' or '1A', not {period!r}")
        params["period"] = period
    if timeframe is not None:
        if timeframe not in HISTORY_TIMEFRAMES:
            raise ValidationError(
                f"timeframe must be one of {', '.join(HISTORY_TIMEFRAMES)}, not {timeframe!r}"
            )
        params["timeframe"] = timeframe
    for name, value, choices in (
        ("intraday_reporting", intraday_reporting, ("market_hours", "extended_hours", "continuous")),
        ("pnl_reset", pnl_reset, ("per_day", "no_reset")),
    ):
        if value is not None:
            if value not in choices:
                raise ValidationError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
            params[name] = value
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            params[name] = pd.Timestamp(to_utc(value, name)).isoformat()
    if period is not None and start is not None and end is not None:
        raise ValidationError("give at most two of period, start and end")
    if cashflow_types is not None:
        params["cashflow_types"] = cashflow_types
    raw = client.get_json("/account/portfolio/history", params) or {}
    return history_frame(raw)


def history_frame(raw: dict[str, Any]) -> pd.DataFrame:
    """equity, profit_loss, profit_loss_pct (float64; and one ``cashflow_<TYPE>`` column per type
    asked), indexed by UTC ``timestamp``; ``attrs`` keep base_value, base_value_asof and timeframe."""
    stamps = pd.to_datetime(np.asarray(raw.get("timestamp") or [], dtype=np.int64), unit="s", utc=True)
    series = ("equity", "profit_loss", "profit_loss_pct")
    data: dict[str, Any] = {name: np.asarray(raw.get(name) or [], dtype=np.float64) for name in series}
    for kind, values in (raw.get("cashflow") or {}).items():
        data[f"cashflow_{kind}"] = np.asarray(values, dtype=np.float64)
    frame = pd.DataFrame(data, index=pd.DatetimeIndex(stamps, name="timestamp").as_unit("ns"))
    frame.attrs.update({k: raw.get(k) for k in ("base_value", "base_value_asof", "timeframe")})
    if len(frame):
        frame["drawdown"] = frame["equity"] / frame["equity"].cummax() - 1.0
    else:
        frame["drawdown"] = np.empty(0)
    return frame


# ----- activities and fills ---------------------------------------------------------------------
def fetch_activities(
    client: SafeTradingClient,
    types: Any = None,
    *,
    start: Any = None,
    end: Any = None,
    direction: str = "asc",
) -> list[dict[str, Any]]:
    """Every activity (of ``types``) in ``[start, end]``, all pages, oldest first by default."""
    if direction not in ("asc", "desc"):
        raise ValidationError(f"direction must be 'asc' or 'desc', not {direction!r}")
    params: dict[str, Any] = {"direction": direction, "page_size": PAGE_SIZE}
    if types:
        names = [types] if isinstance(types, str) else list(types)
        if not all(isinstance(t, str) and re.fullmatch(r"[A-Za-z]{2,8}", t) for t in names):
            raise ValidationError(f"activity types are names like 'FILL' or 'CSD', not {types!r}")
        params["activity_types"] = ",".join(t.upper() for t in names)
    if start is not None:
        params["after"] = _moment_before(to_utc(start, "start"))
    if end is not None:
        until = pd.Timestamp(to_utc(end, "end"))
        if _is_date(end):  # a date is the whole New York day: inclusive, as everywhere in alpaca_nb
            until = until.tz_convert("America/New_York") + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        params["until"] = until.tz_convert("UTC").isoformat()
    out: list[dict[str, Any]] = []
    while True:
        page = client.get_json("/account/activities", params) or []
        out += page
        if len(page) < PAGE_SIZE:  # the last page (an empty one also ends it, as at Alpaca)
            return out
        params["page_token"] = page[-1]["id"]


def _is_date(value: Any) -> bool:
    import datetime as dt

    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return True
    return isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()) is not None


def _moment_before(stamp: Any) -> str:
    return (pd.Timestamp(stamp) - pd.Timedelta(microseconds=1)).isoformat()  # ``after`` is exclusive


def _when(row: dict[str, Any]) -> Any:
    return row.get("transaction_time") or row.get("created_at") or row.get("date")


def _typed(rows: list[dict[str, Any]], columns: dict[str, str]) -> pd.DataFrame:
    index = pd.DatetimeIndex(
        pd.to_datetime([_when(r) for r in rows], utc=True, format="ISO8601"), name="time"
    )
    data: dict[str, Any] = {}
    for name, dtype in columns.items():
        values = [r.get(name) for r in rows]
        if dtype == "float64":
            data[name] = np.asarray([float(v) if v not in (None, "") else np.nan for v in values], np.float64)
        else:
            data[name] = pd.array([None if v is None else str(v) for v in values], dtype="object")
    frame = pd.DataFrame(data, index=index.as_unit("ns"))
    return frame.sort_index(kind="stable")


def activities_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Activities by UTC ``time`` (fills: execution time; others: when created): a fixed schema."""
    return _typed(rows, ACTIVITY_COLUMNS)


def fills_frame(rows: list[dict[str, Any]], symbols: list[str] | None = None) -> pd.DataFrame:
    """FILL activities by UTC ``time``: symbol, side, qty, price, order_id, … (a fixed schema).

    A crypto fill may name its pair as positions do (``BTCUSD``): asked for ``BTC/USD``, it is found and
    shown as ``BTC/USD``."""
    from .._wire import asset_class

    names = {asset_class(s).position_symbol(s): s for s in symbols or ()} | {s: s for s in symbols or ()}
    rows = [
        dict(r, symbol=names.get(str(r.get("symbol")), r.get("symbol")))
        for r in rows
        if r.get("activity_type") == "FILL" and (not symbols or str(r.get("symbol")) in names)
    ]
    return _typed(rows, FILL_COLUMNS)


# ----- profit and loss --------------------------------------------------------------------------
def pnl_frame(fills: list[dict[str, Any]], prices: dict[str, float]) -> pd.DataFrame:
    """Per symbol: open qty, its FIFO average cost, the mark price, realized P&L (FIFO lots), unrealized
    P&L of the open lots at the mark, and their total (which does not depend on the lot method)."""
    books: dict[str, tuple[deque[list[Decimal]], Decimal]] = {}
    rows_in = [r for r in fills if r.get("activity_type") == "FILL"]
    # By parsed time, not by string ("…01.25Z" sorts before "…01.2Z"); ties keep the server's order.
    times = pd.to_datetime([_when(r) for r in rows_in], utc=True, format="ISO8601").asi8
    for i in sorted(range(len(rows_in)), key=lambda k: (times[k], k)):
        row = rows_in[i]
        lots, realized = books.get(row["symbol"], (deque(), Decimal(0)))
        qty, price = Decimal(row["qty"]), Decimal(row["price"])
        signed = qty if row["side"] == "buy" else -qty
        while signed and lots and (lots[0][0] > 0) != (signed > 0):  # closes the oldest lots first
            lot = lots[0]
            take = min(abs(signed), abs(lot[0]))
            direction = 1 if lot[0] > 0 else -1
            realized += take * (price - lot[1]) * direction
            lot[0] -= direction * take
            signed += direction * take
            if lot[0] == 0:
                lots.popleft()
        if signed:
            lots.append([signed, price])
        books[row["symbol"]] = (lots, realized)
    rows = []
    for symbol in sorted(books):
        lots, realized = books[symbol]
        qty = sum((lot[0] for lot in lots), Decimal(0))
        mark = Decimal(str(prices.get(symbol, 0.0))) if qty else Decimal(0)
        cost = sum((lot[0] * lot[1] for lot in lots), Decimal(0))
        unrealized = qty * mark - cost
        money = [float(round(x, 4)) for x in (realized, unrealized, realized + unrealized)]
        rows.append(
            (symbol, float(qty), float(cost / qty) if qty else np.nan, float(mark) if qty else np.nan, *money)
        )
    frame = pd.DataFrame([r[1:] for r in rows], columns=list(PNL_COLUMNS),
                         index=pd.Index([r[0] for r in rows], name="symbol", dtype=object))  # fmt: skip
    return frame.astype("float64")


# ----- watchlists -------------------------------------------------------------------------------
def watchlists_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Watchlists by name: id, symbols (a list), created_at, updated_at."""
    data = {
        "id": [r["id"] for r in rows],
        "symbols": [[a["symbol"] for a in r.get("assets") or []] for r in rows],
        "created_at": pd.to_datetime([r["created_at"] for r in rows], utc=True, format="ISO8601"),
        "updated_at": pd.to_datetime([r["updated_at"] for r in rows], utc=True, format="ISO8601"),
    }
    return pd.DataFrame(data, index=pd.Index([r["name"] for r in rows], name="name", dtype=object))


def check_symbols(symbols: Any) -> list[str]:
    return normalize_symbols(symbols)[0]
