"""The account view's look back: the equity curve, the fills blotter and P&L by symbol — rows for the
synced state, and their HTML for the export picture."""

from __future__ import annotations

import html
from typing import Any

BLOTTER = 50  # fills shown


def jsonable(value: Any) -> float | None:
    value = float(value)
    return None if value != value else value  # NaN (no open qty) → None: JSON has no NaN


def update_row(update: dict[str, Any]) -> dict[str, Any]:
    """A blotter row from a trade update (fill or partial fill)."""
    order = update.get("order") or {}
    return {"time": str(update.get("timestamp") or ""), "symbol": order.get("symbol"),
            "side": order.get("side"), "qty": jsonable(update.get("qty") or 0),
            "price": jsonable(update.get("price") or 0)}  # fmt: skip


def fill_rows(frame: Any) -> list[dict[str, Any]]:
    """The newest fills first, as blotter rows."""
    rows = []
    for stamp, row in frame.iloc[::-1].head(BLOTTER).iterrows():
        rows.append({"time": stamp.isoformat(), "symbol": row.symbol, "side": row.side, "qty": float(row.qty),
                     "price": float(row.price)})  # fmt: skip
    return rows


def curve_svg(curve: list[list[float]], period: str, width: int = 420, height: int = 90) -> str:
    """The equity curve as a self-contained SVG (the export picture)."""
    if len(curve) < 2:
        return ""
    xs, ys = [p[0] for p in curve], [p[1] for p in curve]
    lo, span, t0, dt_ = min(ys), (max(ys) - min(ys)) or 1.0, xs[0], (xs[-1] - xs[0]) or 1
    line = " ".join(
        f"{4 + (x - t0) / dt_ * (width - 8):.1f},{4 + (1 - (y - lo) / span) * (height - 8):.1f}"
        for x, y in zip(xs, ys, strict=True)
    )
    label = f"Equity · {html.escape(period)}: ${ys[-1]:,.2f}"
    shape = f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{line}"/>'
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{shape}</svg>'
    return f'<div><div style="font-size:11px;color:#555">{label}</div>{svg}</div>'


def follow(curve: list[list[float]], equity: float) -> list[list[float]]:
    """The curve with its last point at the account's equity now (and the drawdown from the peak)."""
    if not curve:
        return curve
    points = [list(p) for p in curve]
    peak = max(p[1] for p in points[:-1]) if len(points) > 1 else equity
    points[-1][1] = round(equity, 2)
    points[-1][2] = round(equity / max(peak, equity) - 1.0, 6) if max(peak, equity) else 0.0
    return points


def history_html(fills: list[dict[str, Any]], pnl: list[dict[str, Any]]) -> str:
    """The blotter and the P&L table as plain HTML (part of AccountView's export picture)."""
    rows = "".join(
        f"<tr><td>{html.escape(f['time'][11:19])}</td><td>{html.escape(str(f['symbol']))}</td>"
        f"<td>{html.escape(str(f['side']))}</td><td>{f['qty']:g}</td><td>{f['price']:.2f}</td></tr>"
        for f in fills[:20]
    )
    head = "<tr><th>Time (UTC)</th><th>Symbol</th><th>Side</th><th>Qty</th><th>Price</th></tr>"
    out = "<h4>Fills</h4>" + (f"<table>{head}{rows}</table>" if rows else "<p>No fills yet.</p>")
    rows = "".join(
        f"<tr><td>{html.escape(r['symbol'])}</td><td>{(r['realized'] or 0):+,.2f}</td>"
        f"<td>{(r['unrealized'] or 0):+,.2f}</td><td>{(r['total'] or 0):+,.2f}</td></tr>"
        for r in pnl
    )
    head = "<tr><th>Symbol</th><th>Realized</th><th>Unrealized</th><th>Total</th></tr>"
    return (
        out
        + "<h4>P&amp;L by symbol</h4>"
        + (f"<table>{head}{rows}</table>" if rows else "<p>No trades yet.</p>")
    )
