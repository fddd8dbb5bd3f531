"""Market Data API v2 routes: historical bars/quotes/trades with pagination, latest, snapshots.

Pages are cut from day-sized chunks generated on demand, so a request touches only the days it
returns (plus a peek at the next non-empty day for the page token). Results are ordered by symbol,
then time; ``limit`` counts across symbols; the token names the next item's symbol and timestamp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import partial
from typing import Literal

import numpy as np
from aiohttp import web

from .. import calendar as cal
from ..http import json_response, raw_json_response
from ..market import HISTORY_START, Bars, ByteLRU, Market, Quotes, Trades, cut_complete
from ..params import (
    TimeFrame,
    parse_symbols,
    parse_time,
    parse_timeframe,
)
from ..wire import ApiError, EncodedBars, bar_dicts, quote_dicts, trade_dicts
from .paging import Chunk, ChunkSource, dumps_run, page

Plan = Literal["unlimited", "basic"]
HISTORICAL_FEEDS = ("iex", "sip", "otc", "boats", "delayed_sip")
LATEST_FEEDS = (*HISTORICAL_FEEDS, "overnight")
_ADJUSTMENTS = {"raw", "split", "dividend", "spin-off", "all"}


class DataRoutes:
    def __init__(self, market: Market, *, plan: Plan = "unlimited", cache_bytes: int = 192 * 2**20) -> None:
        self.market = market
        self.plan = plan
        self.encoded = ByteLRU(cache_bytes)

    def add_to(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v2/stocks/bars", self.bars)
        r.add_get("/v2/stocks/quotes", self.quotes)
        r.add_get("/v2/stocks/trades", self.trades)
        r.add_get("/v2/stocks/bars/latest", self.latest_bars)
        r.add_get("/v2/stocks/quotes/latest", self.latest_quotes)
        r.add_get("/v2/stocks/trades/latest", self.latest_trades)
        r.add_get("/v2/stocks/snapshots", self.snapshots)

    # ----- common parameters ------------------------------------------------------------------
    def _window(self, request: web.Request) -> tuple[int, int]:
        q, now = request.query, self.market.now()
        start = parse_time(q["start"], "start") if q.get("start") else cal.et_midnight_ns(cal.et_day_of(now))
        end = parse_time(q["end"], "end") if q.get("end") else now
        if start > end:
            raise ApiError(422, 42210000, "start must be before end")
        self._check_feed(q.get("feed"), HISTORICAL_FEEDS, end)
        return start, min(end, now)

    def _check_feed(self, feed: str | None, allowed: tuple[str, ...], end: int) -> None:
        if feed is not None and feed not in allowed:
            raise ApiError(400, 40010000, f"invalid feed: {feed}")
        recent = end > self.market.now() - 15 * 60 * cal.NS
        if self.plan == "basic" and feed == "sip" and recent:
            raise ApiError(403, 42210000, "subscription does not permit querying recent SIP data")

    def _known(self, symbols: list[str]) -> list[str]:
        return [s for s in symbols if self.market.info(s) is not None]

    # ----- pagination -------------------------------------------------------------------------
    async def _paged(self, request: web.Request, key: str, chunks: ChunkSource) -> web.Response:
        symbols = parse_symbols(request.query.get("symbols"))
        start, end = self._window(request)
        return raw_json_response(page(request.query, key, self._known(symbols), start, end, chunks))

    def _days(self, lo: int, hi: int, desc: bool) -> list[dt.date]:
        first = max(cal.et_day_of(lo), HISTORY_START - dt.timedelta(days=1))
        last = min(cal.et_day_of(hi), cal.et_day_of(self.market.now()))
        days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
        return days[::-1] if desc else days

    # ----- bars -------------------------------------------------------------------------------
    def _bars_chunk(self, bars: Bars, lo: int, hi: int, encoded: EncodedBars | None = None) -> Chunk:
        i, j = np.searchsorted(bars.ns, [lo, hi], side="left")
        j = int(np.searchsorted(bars.ns, hi, side="right"))
        i = int(i)

        def encode(a: int, b: int, desc: bool) -> bytes:
            if encoded is not None:
                return encoded.run_desc(i + a, i + b) if desc else encoded.run(i + a, i + b)
            return dumps_run(bar_dicts(bars.take(slice(i + a, i + b))), desc)

        return bars.ns[i:j], encode

    def _minute_encoded(self, sym: str, day: dt.date) -> EncodedBars:
        value = self.encoded.get_or_make(
            (sym, day),
            lambda: EncodedBars.of(self.market.minute_bars(sym, day)),
            lambda e: e.nbytes,  # type: ignore[attr-defined]
        )
        assert isinstance(value, EncodedBars)
        return value

    def _bar_chunks(self, tf: TimeFrame) -> Callable[[str, int, int, bool], Iterator[Chunk]]:
        market = self.market

        def intraday(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            now = market.now()
            for day in self._days(lo, hi, desc):
                complete = cal.et_midnight_ns(day + dt.timedelta(days=1)) <= now
                if tf.unit == "Min" and tf.amount == 1 and complete:
                    enc = self._minute_encoded(sym, day)
                    yield self._bars_chunk(market.minute_bars(sym, day), lo, hi, enc)
                    continue
                bars = cut_complete(market.minute_bars(sym, day), now, cal.MINUTE_NS)
                if tf.amount > 1 or tf.unit == "Hour":
                    start = cal.et_midnight_ns(day)
                    width = tf.intraday_ns
                    bars = bars.aggregate(start + (bars.ns - start) // width * width)
                yield self._bars_chunk(bars, lo, hi)

        def daily(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            for day in self._days(lo, hi, desc):
                yield self._bars_chunk(market.daily_bar(sym, day), lo, hi)

        def periodic(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            # One bar per week (stamped Monday) or N-month period (stamped the 1st), midnight ET.
            periods = []
            start = period_start(tf, cal.et_day_of(lo))
            while cal.et_midnight_ns(start) <= hi:
                if cal.et_midnight_ns(start) >= lo:
                    periods.append(start)
                start = next_period(tf, start)
            for first in reversed(periods) if desc else periods:
                days = self._days(
                    cal.et_midnight_ns(first), cal.et_midnight_ns(next_period(tf, first)) - 1, False
                )
                dailies = [b for b in (market.daily_bar(sym, d) for d in days) if len(b)]
                if not dailies:
                    continue
                merged = Bars(*(np.concatenate([getattr(b, f) for b in dailies]) for f in Bars.__slots__))
                stamp = cal.et_midnight_ns(first)
                yield self._bars_chunk(merged.aggregate(np.full(len(merged), stamp, np.int64)), lo, hi)

        if tf.unit in ("Min", "Hour"):
            return intraday
        return daily if tf.unit == "Day" else periodic

    async def bars(self, request: web.Request) -> web.Response:
        tf = parse_timeframe(request.query.get("timeframe"))
        adjustment = request.query.get("adjustment", "raw")
        if not set(adjustment.split(",")) <= _ADJUSTMENTS:
            raise ApiError(400, 40010000, f"invalid adjustment: {adjustment}")
        return await self._paged(request, "bars", self._bar_chunks(tf))

    # ----- quotes and trades ------------------------------------------------------------------
    def _tick_chunks(
        self, arrays: Callable[[str, dt.date], Quotes | Trades], dicts: Callable[..., list[dict[str, object]]]
    ) -> Callable[[str, int, int, bool], Iterator[Chunk]]:
        market = self.market

        def chunks(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            info = market.info(sym)
            assert info is not None
            hi = min(hi, market.now())
            for day in self._days(lo, hi, desc):
                data = arrays(sym, day)
                i = int(np.searchsorted(data.ns, lo, side="left"))
                j = int(np.searchsorted(data.ns, hi, side="right"))
                yield data.ns[i:j], partial(_encode_ticks, dicts, data, i, info.tape)

        return chunks

    async def quotes(self, request: web.Request) -> web.Response:
        return await self._paged(request, "quotes", self._tick_chunks(self.market.quotes, quote_dicts))

    async def trades(self, request: web.Request) -> web.Response:
        return await self._paged(request, "trades", self._tick_chunks(self.market.trades, trade_dicts))

    # ----- latest and snapshots ---------------------------------------------------------------
    def _latest_symbols(self, request: web.Request) -> list[str]:
        symbols = parse_symbols(request.query.get("symbols"))
        self._check_feed(request.query.get("feed"), LATEST_FEEDS, self.market.now())
        return self._known(symbols)

    def _latest_bar(self, sym: str, now: int) -> dict[str, object] | None:
        day = cal.et_day_of(now)
        for _ in range(15):
            bars = cut_complete(self.market.minute_bars(sym, day), now, cal.MINUTE_NS)
            if len(bars):
                return bar_dicts(bars.take(slice(len(bars) - 1, len(bars))))[0]
            day -= dt.timedelta(days=1)
        return None

    def _latest_trade(self, sym: str, now: int) -> dict[str, object] | None:
        day = cal.et_day_of(now)
        tape = self.market.info(sym).tape  # type: ignore[union-attr]
        for _ in range(15):
            t = self.market.trades(sym, day)
            i = int(np.searchsorted(t.ns, now, side="right"))
            if i:
                return trade_dicts(t, slice(i - 1, i), tape)[0]
            day -= dt.timedelta(days=1)
        return None

    def _latest_quote(self, sym: str, now: int) -> dict[str, object] | None:
        day = cal.et_day_of(now)
        tape = self.market.info(sym).tape  # type: ignore[union-attr]
        for _ in range(15):
            q = self.market.quotes(sym, day)
            i = int(np.searchsorted(q.ns, now, side="right"))
            if i:
                return quote_dicts(q, slice(i - 1, i), tape)[0]
            day -= dt.timedelta(days=1)
        return None

    async def _latest(
        self, request: web.Request, key: str, one: Callable[[str, int], object]
    ) -> web.Response:
        now = self.market.now()
        found = {s: one(s, now) for s in self._latest_symbols(request)}
        return json_response({key: {s: v for s, v in found.items() if v is not None}})

    async def latest_bars(self, request: web.Request) -> web.Response:
        return await self._latest(request, "bars", self._latest_bar)

    async def latest_quotes(self, request: web.Request) -> web.Response:
        return await self._latest(request, "quotes", self._latest_quote)

    async def latest_trades(self, request: web.Request) -> web.Response:
        return await self._latest(request, "trades", self._latest_trade)

    async def snapshots(self, request: web.Request) -> web.Response:
        now = self.market.now()
        out = {}
        for sym in self._latest_symbols(request):
            daily = []
            day = cal.et_day_of(now)
            for _ in range(15):
                bar = self.market.daily_bar(sym, day, now)
                if len(bar):
                    daily.append(bar_dicts(bar)[0])
                    if len(daily) == 2:
                        break
                day -= dt.timedelta(days=1)
            snap = {
                "latestTrade": self._latest_trade(sym, now),
                "latestQuote": self._latest_quote(sym, now),
                "minuteBar": self._latest_bar(sym, now),
                "dailyBar": daily[0] if daily else None,
                "prevDailyBar": daily[1] if len(daily) > 1 else None,
            }
            out[sym] = {k: v for k, v in snap.items() if v is not None}
        return json_response(out)


def _encode_ticks(
    dicts: Callable[..., list[dict[str, object]]],
    data: object,
    offset: int,
    tape: str,
    a: int,
    b: int,
    desc: bool,
) -> bytes:
    return dumps_run(dicts(data, slice(offset + a, offset + b), tape), desc)


def period_start(tf: TimeFrame, day: dt.date) -> dt.date:
    if tf.unit == "Week":
        return day - dt.timedelta(days=day.weekday())
    month = (day.month - 1) // tf.amount * tf.amount + 1
    return dt.date(day.year, month, 1)


def next_period(tf: TimeFrame, first: dt.date) -> dt.date:
    if tf.unit == "Week":
        return first + dt.timedelta(days=7)
    month = first.month - 1 + tf.amount
    return dt.date(first.year + month // 12, month % 12 + 1, 1)
