"""Option snapshots as Alpaca sends them (``latestQuote``, ``latestTrade``, ``greeks``,
``impliedVolatility``), built for many contracts of one chain at once.

A whole chain page (1,000 contracts) is one Black-Scholes pass over arrays (``OptionsMarket.quotes``),
one search for the latest trades, one conversion of the timestamps to text, then plain dicts for
orjson: no per-contract call into the market. Greeks and implied volatility are rounded to 8 places.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from ..market.chains import Chain
from ..market.common import I64
from ..market.options import ChainQuotes, LatestTrades, OptionsMarket
from ..wire import iso_nanos, iso_one


def quote_dicts(q: ChainQuotes) -> list[dict[str, Any]]:
    """Each contract's quote (``t ax ap as bx bp bs c``); all stamped with the underlying's quote."""
    t = iso_one(q.ns)
    return [
        {"t": t, "ax": ax, "ap": ap, "as": as_, "bx": bx, "bp": bp, "bs": bs_, "c": "A"}
        for ax, ap, as_, bx, bp, bs_ in zip(
            q.ask_exchange.tolist(), q.ask.tolist(), q.ask_size.tolist(),
            q.bid_exchange.tolist(), q.bid.tolist(), q.bid_size.tolist(),
            strict=True,
        )
    ]  # fmt: skip


def trade_dicts(t: LatestTrades) -> list[dict[str, Any] | None]:
    """Each contract's latest trade (``t x p s c``; options carry one condition string), None where
    there is none."""
    stamps = iso_nanos(t.ns)
    return [
        {"t": ts, "x": x, "p": p, "s": s, "c": c} if ok else None
        for ok, ts, x, p, s, c in zip(
            t.found.tolist(), stamps, t.exchange.tolist(), t.price.tolist(), t.size.tolist(),
            t.condition.tolist(), strict=True,
        )
    ]  # fmt: skip


def chain_snapshots(
    options: OptionsMarket, chain: Chain, index: I64, now: int, since: int | None = None
) -> dict[str, Any]:
    """``{symbol: snapshot}`` for ``chain.contracts[index]`` at ``now``, in ``index``'s order;
    ``since``: only those whose quote or latest trade is that recent (``updated_since``)."""
    q = options.quotes(chain, index, now)
    if q is None:
        return {}
    trades = options.latest_trades(chain, index, now)
    keep = np.ones(len(index), bool)
    if since is not None and q.ns < since:
        keep = trades.found & (trades.ns >= since)
    g = q.greeks
    # One pass over plain lists (a page is 1,000 contracts; no intermediate list of dicts per part).
    stamp = iso_one(q.ns)
    delta, gamma, rho, theta, vega, iv = (np.round(a, 8).tolist() for a in (g.delta, g.gamma, g.rho, g.theta,
                                                                          g.vega, q.iv))  # fmt: skip
    rows, traded, trade_ns = index.tolist(), trades.found.tolist(), trades.ns.tolist()
    made = chain.trade_json
    new = [k for k, (i, ok, ns) in enumerate(zip(rows, traded, trade_ns, strict=True))
           if ok and made.get(i, _NONE)[0] != ns]  # fmt: skip
    if new:  # the trades not yet shown: their JSON, once (orjson embeds a Fragment as it is)
        at = np.array(new)
        for k, ts, x, p, s, c in zip(
            new, iso_nanos(trades.ns[at]), trades.exchange[at].tolist(), trades.price[at].tolist(),
            trades.size[at].tolist(), trades.condition[at].tolist(), strict=True,
        ):  # fmt: skip
            made[rows[k]] = (
                trade_ns[k],
                orjson.Fragment(orjson.dumps({"t": ts, "x": x, "p": p, "s": s, "c": c})),
            )
    out: dict[str, Any] = {}
    for i, ok, ax, ap, as_, bx, bp, bs_, was_traded, d, ga, r, th, v, vol in zip(
        rows, keep.tolist(),
        q.ask_exchange.tolist(), q.ask.tolist(), q.ask_size.tolist(),
        q.bid_exchange.tolist(), q.bid.tolist(), q.bid_size.tolist(),
        traded, delta, gamma, rho, theta, vega, iv, strict=True,
    ):  # fmt: skip
        if not ok:
            continue
        quote = {"t": stamp, "ax": ax, "ap": ap, "as": as_, "bx": bx, "bp": bp, "bs": bs_, "c": "A"}
        greeks = {"delta": d, "gamma": ga, "rho": r, "theta": th, "vega": v}
        # (keys in Alpaca's order; a contract that never traded has no latestTrade)
        out[chain.contracts[i].symbol] = (
            {"latestQuote": quote, "latestTrade": made[i][1], "greeks": greeks, "impliedVolatility": vol}
            if was_traded
            else {"latestQuote": quote, "greeks": greeks, "impliedVolatility": vol}
        )  # fmt: skip
    return out


_NONE = (None, None)
