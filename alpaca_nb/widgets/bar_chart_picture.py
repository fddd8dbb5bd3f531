"""BarChart's export picture: candles, volume, fills and order lines as one self-contained SVG."""

from __future__ import annotations

import bisect
import html
from typing import Any

UP, DOWN, LINE = "#1a7f37", "#c62828", "#6e7781"


def candles_svg(
    title: str,
    candles: list[list[float]],
    fills: list[Any],
    orders: list[dict[str, Any]],
    width: int,
    height: int,
) -> str:
    """``candles``: [t_ns, o, h, l, c, v]; ``fills``: (t_ns, price, side ±1, qty); ``orders``: lines."""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="anb-bar-chart-picture" width="{width}" '
            f'height="{height}" '
            'style="font:11px sans-serif;background:#fff">'
            f'<text x="4" y="14">{html.escape(title)}</text>')  # fmt: skip
    if not candles:
        return head + '<text x="4" y="34" fill="#888">no bars</text></svg>'
    prices = [p for c in candles for p in c[2:4]] + [f[1] for f in fills]
    prices += [o[k] for o in orders for k in ("limit_price", "stop_price") if o.get(k) is not None]
    lo, hi = min(prices), max(prices)
    span, t0, t1 = (hi - lo) or 1.0, candles[0][0], candles[-1][0]
    plot_h, vol_h, left = height * 0.72, height * 0.18, 50
    step = (width - left - 10) / max(len(candles), 1)

    def x(t: float) -> float:
        return left + (t - t0) / ((t1 - t0) or 1) * (width - left - 10 - step) + step / 2

    def y(p: float) -> float:
        return float(20 + (1 - (p - lo) / span) * (plot_h - 20))

    vmax = max(c[5] for c in candles) or 1.0
    parts = [head]
    for t, o, h, low, c, v in candles:
        colour = UP if c >= o else DOWN
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y(h):.1f}" y2="{y(low):.1f}" stroke="{colour}"/>'
        )
        top, bottom = y(max(o, c)), y(min(o, c))
        parts.append(f'<rect x="{x(t) - step * 0.35:.1f}" y="{top:.1f}" width="{max(step * 0.7, 1):.1f}" '
                     f'height="{max(bottom - top, 1):.1f}" fill="{colour}"/>')  # fmt: skip
        bar = v / vmax * vol_h
        wide = max(step * 0.7, 1)
        parts.append(f'<rect x="{x(t) - step * 0.35:.1f}" y="{height - 4 - bar:.1f}" width="{wide:.1f}" '
                     f'height="{bar:.1f}" fill="{colour}" opacity="0.4"/>')  # fmt: skip
    starts = [c[0] for c in candles]
    for t, price, side, _ in fills:
        at = bisect.bisect_right(starts, t) - 1  # the candle the fill happened in
        if at >= 0:
            t = starts[at]
            tip = y(price) + (8 if side > 0 else -8)
            corners = f"{x(t):.1f},{y(price):.1f} {x(t) - 5:.1f},{tip:.1f} {x(t) + 5:.1f},{tip:.1f}"
            parts.append(f'<polygon points="{corners}" fill="{UP if side > 0 else DOWN}"/>')
    for order in orders:
        for key in ("limit_price", "stop_price"):
            price = order.get(key)
            if price is not None:
                label = f"{order['side']} {order['qty']:g} {key.split('_')[0]} {price:.2f}"
                level = y(price)
                parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{level:.1f}" y2="{level:.1f}" '
                             f'stroke="{LINE}" stroke-dasharray="4 3"/>'
                             f'<text x="{left + 2}" y="{level - 3:.1f}" fill="{LINE}">'
                             f"{html.escape(label)}</text>")  # fmt: skip
    parts.append(f'<text x="4" y="{y(hi) + 4:.1f}" fill="#555">{hi:.2f}</text>')
    parts.append(f'<text x="4" y="{y(lo):.1f}" fill="#555">{lo:.2f}</text></svg>')
    return "".join(parts)
