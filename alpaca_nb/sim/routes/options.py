"""Option market data REST, ``/v1beta1/options/...`` (ALPACA_WIRE_MORE B2, checklist D18-D19).

Keys required, as for stocks. Symbols are OCC contract symbols (at most 100); well-formed but
unlisted ones are left out of the answers. Trades and quotes carry one condition string ``c`` (not a
list); bar volumes are integers. Snapshots have ``latestQuote``, ``latestTrade``, ``greeks`` (all
five) and ``impliedVolatility`` (``market.blackscholes`` has the conventions). The chain
(``snapshots/{underlying}``) is ordered by symbol and paged by ``limit`` (default 100, at most
1000); its ``next_page_token`` is the base64 of the next symbol. Option bars come in minutes, hours
or days (ET days, stamped at midnight New York time).
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
from aiohttp import web

from .. import calendar as cal
from ..http import json_response, raw_json_response
from ..market.chains import Chain
from ..market.common import Bars, cut_complete
from ..market.occ import OCC_RE, ContractInfo
from ..market.options import EXCHANGES, HISTORY_START, OptionsMarket
from ..params import parse_limit, parse_time, parse_timeframe
from ..transport import UNCACHED
from ..wire import ApiError, bar_dicts, iso_nanos
from .option_contracts import ContractFilter
from .option_snapshots import chain_snapshots, quote_dicts, trade_dicts
from .paging import Chunk, ChunkSource, dumps_run, page

PREFIX = "/v1beta1/options"
FEEDS = ("opra", "indicative")
CONDITIONS = {
    "trade": {"I": "AUTO - Automatic Execution", "S": "ISOI - Intermarket Sweep Order",
              "J": "MLET - Multi Leg Auto-Electronic Trade", "a": "SLAN - Single Leg Auction Non ISO",
              "f": "MLCT - Multi Leg Cross"},
    "quote": {"A": "Regular Trading", "R": "Rotation"},
}  # fmt: skip


def parse_contracts(raw: str | None) -> list[str]:
    if not raw:
        raise ApiError(400, 40010000, "symbols is required")
    out = sorted({s.strip() for s in raw.split(",") if s.strip()})
    bad = [s for s in out if not OCC_RE.match(s)]
    if bad:
        raise ApiError(400, 40010000, f"invalid symbol: {bad[0]}")
    if len(out) > 100:
        raise ApiError(400, 40010000, "too many symbols: at most 100 are allowed")
    return out


class OptionDataRoutes:
    def __init__(self, options: OptionsMarket) -> None:
        self.options = options

    def add_to(self, app: web.Application) -> None:
        r = app.router
        for path, handler in (
            ("bars", self.bars), ("trades", self.trades), ("quotes/latest", self.latest_quotes),
            ("trades/latest", self.latest_trades), ("snapshots", self.snapshots),
            ("snapshots/{underlying}", self.chain), ("meta/exchanges", self.exchanges),
            ("meta/conditions/{ticktype}", self.conditions),
        ):  # fmt: skip
            r.add_get(f"{PREFIX}/{path}", handler)

    def _known(self, symbols: list[str]) -> list[ContractInfo]:
        return [info for s in symbols if (info := self.options.info(s)) is not None]

    @staticmethod
    def _feed(request: web.Request) -> None:
        feed = request.query.get("feed")
        if feed is not None and feed not in FEEDS:
            raise ApiError(400, 40010000, f"invalid feed: {feed}")

    # ----- history ------------------------------------------------------------------------------
    def _paged(self, request: web.Request, key: str, chunks: ChunkSource) -> web.Response:
        q, now = request.query, self.options.now()
        symbols = [i.symbol for i in self._known(parse_contracts(q.get("symbols")))]
        start = parse_time(q["start"], "start") if q.get("start") else cal.et_midnight_ns(cal.et_day_of(now))
        end = parse_time(q["end"], "end") if q.get("end") else now
        if start > end:
            raise ApiError(422, 42210000, "start must be before end")
        return raw_json_response(page(q, key, symbols, start, min(end, now), chunks))

    def _days(self, lo: int, hi: int, desc: bool) -> list[dt.date]:
        first = max(cal.et_day_of(lo), HISTORY_START)
        last = min(cal.et_day_of(hi), cal.et_day_of(self.options.now()))
        days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
        return days[::-1] if desc else days

    @staticmethod
    def _chunk(ns: np.ndarray, lo: int, hi: int, encode: Any) -> Chunk:
        i, j = int(np.searchsorted(ns, lo, side="left")), int(np.searchsorted(ns, hi, side="right"))
        return ns[i:j], lambda a, b, desc: encode(i + a, i + b, desc)

    async def bars(self, request: web.Request) -> web.Response:
        tf = parse_timeframe(request.query.get("timeframe"))
        if tf.unit not in ("Min", "Hour", "Day"):
            raise ApiError(422, 42210000, f"timeframe {tf.amount}{tf.unit} is not supported for options")
        market = self.options

        def chunks(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            info, now = market.info(sym), market.now()
            assert info is not None
            for day in self._days(lo, hi, desc):
                bars = cut_complete(market.minute_bars(info, day), now, cal.MINUTE_NS)
                start = cal.et_midnight_ns(day)
                if tf.unit == "Day":
                    bars = bars.aggregate(np.full(len(bars), start, np.int64))
                elif tf.amount > 1 or tf.unit == "Hour":
                    bars = bars.aggregate(start + (bars.ns - start) // tf.intraday_ns * tf.intraday_ns)
                yield self._chunk(bars.ns, lo, hi, lambda a, b, desc, bars=bars: _bar_run(bars, a, b, desc))

        return self._paged(request, "bars", chunks)

    async def trades(self, request: web.Request) -> web.Response:
        market = self.options

        def chunks(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            info = market.info(sym)
            assert info is not None
            for day in self._days(lo, hi, desc):
                d, i, j = market.contract_trades(info, day)
                yield self._chunk(d.ns[i:j], lo, min(hi, market.now()),
                                  partial(_trade_run, d, i))  # fmt: skip

        return self._paged(request, "trades", chunks)

    # ----- the present --------------------------------------------------------------------------
    def _by_chain(self, infos: list[ContractInfo]) -> Iterator[tuple[Chain, np.ndarray]]:
        groups: dict[str, list[int]] = {}
        for info in infos:
            groups.setdefault(info.underlying, []).append(info.index)
        for underlying, index in groups.items():
            chain = self.options.chain(underlying)
            assert chain is not None
            yield chain, np.array(index, dtype=np.int64)

    async def latest_quotes(self, request: web.Request) -> web.Response:
        self._feed(request)
        now, out = self.options.now(), dict[str, Any]()
        for chain, index in self._by_chain(self._known(parse_contracts(request.query.get("symbols")))):
            q = self.options.quotes(chain, index, now)
            if q is not None:
                out.update(
                    zip((chain.contracts[i].symbol for i in index.tolist()), quote_dicts(q), strict=True)
                )
        return json_response({"quotes": dict(sorted(out.items()))})

    async def latest_trades(self, request: web.Request) -> web.Response:
        self._feed(request)
        now, out = self.options.now(), {}
        for chain, index in self._by_chain(self._known(parse_contracts(request.query.get("symbols")))):
            trades = trade_dicts(self.options.latest_trades(chain, index, now))
            for i, trade in zip(index.tolist(), trades, strict=True):
                if trade is not None:
                    out[chain.contracts[i].symbol] = trade
        return json_response({"trades": dict(sorted(out.items()))})

    def snapshot_map(self, infos: list[ContractInfo], now: int, since: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for chain, index in self._by_chain(infos):
            out.update(chain_snapshots(self.options, chain, index, now, since))
        return out

    def _since(self, request: web.Request) -> int | None:
        raw = request.query.get("updated_since")
        return parse_time(raw, "updated_since") if raw else None

    @staticmethod
    def _page(request: web.Request) -> tuple[int, str | None]:
        """(limit, the first symbol of the page) of a snapshots request."""
        limit = parse_limit(request.query.get("limit"), default=100, maximum=1000)
        token = request.query.get("page_token")
        if not token:
            return limit, None
        try:
            return limit, base64.b64decode(token, validate=True).decode()
        except ValueError:
            raise ApiError(400, 40010000, "invalid page_token") from None

    @staticmethod
    def _token(symbol: str | None) -> str | None:
        return base64.b64encode(symbol.encode()).decode() if symbol else None

    async def snapshots(self, request: web.Request) -> web.Response:
        self._feed(request)
        q, now = request.query, self.options.now()
        infos = [
            i for i in self._known(parse_contracts(q.get("symbols"))) if not self.options.expired(i, now)
        ]
        limit, after = self._page(request)
        infos = sorted((i for i in infos if after is None or i.symbol >= after), key=lambda i: i.symbol)
        page, rest = infos[:limit], infos[limit:]
        snaps = self.snapshot_map(page, now, self._since(request))
        next_token = self._token(rest[0].symbol if rest else None)
        return _fresh(
            json_response({"snapshots": dict(sorted(snaps.items())), "next_page_token": next_token})
        )

    async def chain(self, request: web.Request) -> web.Response:
        """A chain page: the contracts' filters over the chain's arrays at once, in symbol order."""
        self._feed(request)
        q, now = request.query, self.options.now()
        chain = self.options.chain(request.match_info["underlying"])
        if chain is None:
            return json_response({"snapshots": {}, "next_page_token": None})
        kind, root = q.get("type"), q.get("root_symbol")
        if kind not in (None, "call", "put"):
            raise ApiError(400, 40010000, f"invalid type: {kind}")
        keep = ContractFilter.of(q, kind).mask(chain) & ~self.options.expired_mask(chain, now)
        if root is not None and root != chain.underlying:
            keep[:] = False
        limit, after = self._page(request)
        if after is not None:  # the chain's contracts are in symbol order
            keep[: bisect.bisect_left(chain.contracts, after, key=lambda c: c.symbol)] = False
        index = np.flatnonzero(keep)
        snaps = chain_snapshots(self.options, chain, index[:limit], now, self._since(request))
        next_token = self._token(chain.contracts[int(index[limit])].symbol if len(index) > limit else None)
        return _fresh(json_response({"snapshots": snaps, "next_page_token": next_token}))

    async def exchanges(self, request: web.Request) -> web.Response:
        return json_response(EXCHANGES)

    async def conditions(self, request: web.Request) -> web.Response:
        ticktype = request.match_info["ticktype"]
        if ticktype not in CONDITIONS:
            raise ApiError(400, 40010000, f"invalid ticktype: {ticktype}")
        return json_response(CONDITIONS[ticktype])


def _fresh(response: web.Response) -> web.Response:
    """A snapshot page: stamped with the latest quote, never the same twice — not worth caching."""
    response[UNCACHED] = True
    return response


def _bar_run(bars: Bars, a: int, b: int, desc: bool) -> bytes:
    return dumps_run(bar_dicts(bars.take(slice(a, b))), desc)


def _trade_run(d: Any, offset: int, a: int, b: int, desc: bool) -> bytes:
    return dumps_run(_trades(d, range(offset + a, offset + b)), desc)


def _trades(d: Any, rows: Any) -> list[dict[str, Any]]:
    idx = np.asarray(list(rows), dtype=np.int64)
    return [
        {"t": t, "x": x, "p": p, "s": s, "c": c}
        for t, x, p, s, c in zip(
            iso_nanos(d.ns[idx]),
            d.exchange[idx].tolist(),
            d.price[idx].tolist(),
            d.size[idx].tolist(),
            d.condition[idx].tolist(),
            strict=True,
        )
    ]
