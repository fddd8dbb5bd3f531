"""Crypto market data REST, ``/v1beta3/crypto/us/...`` (ALPACA_WIRE_MORE A1, checklist D1-D7).

No keys needed (the gate lets these paths through; keys sent are ignored). ``latest/quotes`` word
order, as alpaca-py calls it. Symbols must be pairs (``BTC/USD``): a slash-less one is refused with
Alpaca's message ("invalid symbol: BTCUSD does not match ^[A-Z]+/[A-Z]+$") plus a ``code``, which
Alpaca's own body lacks (alpaca-py's ``APIError.code`` would raise on it). Unknown pairs are left
out of the answer maps. Days are UTC days; daily bars are stamped 00:00 UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np
from aiohttp import web

from .. import crypto_wire as cw
from ..http import json_response, raw_json_response
from ..market.common import Bars, ByteLRU, cut_complete
from ..market.crypto import (
    DAY_NS,
    HISTORY_START,
    MINUTE_NS,
    CryptoMarket,
    CryptoQuotes,
    CryptoTrades,
    utc_day_of,
    utc_midnight_ns,
)
from ..market.orderbook import OrderBooks
from ..market.pairs import PAIR_RE
from ..params import TimeFrame, parse_time, parse_timeframe
from ..wire import ApiError, EncodedBars, bar_dicts
from .paging import Chunk, ChunkSource, dumps_run, page
from .stocks import next_period, period_start

PREFIX = "/v1beta3/crypto/us"


def parse_pairs(raw: str | None) -> list[str]:
    if not raw:
        raise ApiError(400, 40010000, "symbols is required")
    out: list[str] = []
    for sym in (s.strip() for s in raw.split(",")):
        if not PAIR_RE.match(sym):
            raise ApiError(400, 40010000, f"invalid symbol: {sym} does not match ^[A-Z]+/[A-Z]+$")
        if sym not in out:
            out.append(sym)
    return sorted(out)


class CryptoRoutes:
    """Historical, latest, order-book and snapshot routes for one crypto market."""

    def __init__(self, market: CryptoMarket, books: OrderBooks, *, cache_bytes: int = 64 * 2**20) -> None:
        self.market = market
        self.books = books
        self.encoded = ByteLRU(cache_bytes)

    def add_to(self, app: web.Application) -> None:
        r = app.router
        for path, handler in (
            ("bars", self.bars),
            ("quotes", self.quotes),
            ("trades", self.trades),
            ("latest/bars", self.latest_bars),
            ("latest/quotes", self.latest_quotes),
            ("latest/trades", self.latest_trades),
            ("latest/orderbooks", self.latest_orderbooks),
            ("snapshots", self.snapshots),
        ):
            r.add_get(f"{PREFIX}/{path}", handler)

    # ----- history ------------------------------------------------------------------------------
    def _paged(self, request: web.Request, key: str, chunks: ChunkSource) -> web.Response:
        q, now = request.query, self.market.now()
        symbols = [s for s in parse_pairs(q.get("symbols")) if s in self.market.universe]
        start = parse_time(q["start"], "start") if q.get("start") else utc_midnight_ns(utc_day_of(now))
        end = parse_time(q["end"], "end") if q.get("end") else now
        if start > end:
            raise ApiError(422, 42210000, "start must be before end")
        return raw_json_response(page(q, key, symbols, start, min(end, now), chunks))

    def _days(self, lo: int, hi: int, desc: bool) -> list[dt.date]:
        first = max(utc_day_of(lo), HISTORY_START)
        last = min(utc_day_of(hi), utc_day_of(self.market.now()))
        days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
        return days[::-1] if desc else days

    @staticmethod
    def _bars_chunk(bars: Bars, lo: int, hi: int, encoded: EncodedBars | None = None) -> Chunk:
        i = int(np.searchsorted(bars.ns, lo, side="left"))
        j = int(np.searchsorted(bars.ns, hi, side="right"))

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

    def _bar_chunks(self, tf: TimeFrame) -> ChunkSource:
        market = self.market

        def intraday(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            now = market.now()
            for day in self._days(lo, hi, desc):
                start = utc_midnight_ns(day)
                if tf.unit == "Min" and tf.amount == 1 and start + DAY_NS <= now:
                    yield self._bars_chunk(
                        market.minute_bars(sym, day), lo, hi, self._minute_encoded(sym, day)
                    )
                    continue
                bars = cut_complete(market.minute_bars(sym, day), now, MINUTE_NS)
                if tf.amount > 1 or tf.unit == "Hour":
                    width = tf.intraday_ns
                    bars = bars.aggregate(start + (bars.ns - start) // width * width)
                yield self._bars_chunk(bars, lo, hi)

        def daily(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            for day in self._days(lo, hi, desc):
                yield self._bars_chunk(market.daily_bar(sym, day), lo, hi)

        def periodic(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            # One bar per week (stamped Monday) or N-month period (stamped the 1st), 00:00 UTC.
            periods, first = [], period_start(tf, utc_day_of(lo))
            while utc_midnight_ns(first) <= hi:
                if utc_midnight_ns(first) >= lo:
                    periods.append(first)
                first = next_period(tf, first)
            for start in reversed(periods) if desc else periods:
                end = utc_midnight_ns(next_period(tf, start)) - 1
                dailies = [market.daily_bar(sym, d) for d in self._days(utc_midnight_ns(start), end, False)]
                dailies = [b for b in dailies if len(b)]
                if dailies:
                    merged = Bars(*(np.concatenate([getattr(b, f) for b in dailies]) for f in Bars.__slots__))
                    stamp = np.full(len(merged), utc_midnight_ns(start), np.int64)
                    yield self._bars_chunk(merged.aggregate(stamp), lo, hi)

        if tf.unit in ("Min", "Hour"):
            return intraday
        return daily if tf.unit == "Day" else periodic

    async def bars(self, request: web.Request) -> web.Response:
        return self._paged(request, "bars", self._bar_chunks(parse_timeframe(request.query.get("timeframe"))))

    def _tick_chunks(
        self,
        arrays: Callable[[str, dt.date], CryptoQuotes | CryptoTrades],
        dicts: Callable[[Any, slice], list[dict[str, Any]]],
    ) -> ChunkSource:
        def chunks(sym: str, lo: int, hi: int, desc: bool) -> Iterator[Chunk]:
            for day in self._days(lo, min(hi, self.market.now()), desc):
                data = arrays(sym, day)
                i = int(np.searchsorted(data.ns, lo, side="left"))
                j = int(np.searchsorted(data.ns, min(hi, self.market.now()), side="right"))
                yield data.ns[i:j], partial(_encode_ticks, dicts, data, i)

        return chunks

    async def quotes(self, request: web.Request) -> web.Response:
        return self._paged(request, "quotes", self._tick_chunks(self.market.quotes, cw.quote_dicts))

    async def trades(self, request: web.Request) -> web.Response:
        return self._paged(request, "trades", self._tick_chunks(self.market.trades, cw.trade_dicts))

    # ----- the present --------------------------------------------------------------------------
    def _symbols(self, request: web.Request) -> list[str]:
        return [s for s in parse_pairs(request.query.get("symbols")) if s in self.market.universe]

    def latest_bar(self, sym: str, now: int) -> dict[str, Any] | None:
        for day in (utc_day_of(now), utc_day_of(now) - dt.timedelta(days=1)):
            bars = cut_complete(self.market.minute_bars(sym, day), now, MINUTE_NS)
            if len(bars):
                return bar_dicts(bars.take(slice(len(bars) - 1, len(bars))))[0]
        return None

    def latest_quote(self, sym: str, now: int) -> dict[str, Any] | None:
        return self._latest(self.market.quotes, cw.quote_dicts, sym, now)

    def latest_trade(self, sym: str, now: int) -> dict[str, Any] | None:
        return self._latest(self.market.trades, cw.trade_dicts, sym, now)

    def _latest(
        self,
        arrays: Callable[[str, dt.date], CryptoQuotes | CryptoTrades],
        dicts: Callable[[Any, slice], list[dict[str, Any]]],
        sym: str,
        now: int,
    ) -> dict[str, Any] | None:
        for day in (utc_day_of(now), utc_day_of(now) - dt.timedelta(days=1)):
            data = arrays(sym, day)
            i = int(np.searchsorted(data.ns, now, side="right"))
            if i:
                return dicts(data, slice(i - 1, i))[0]
        return None

    async def _each(self, request: web.Request, key: str, one: Callable[[str, int], Any]) -> web.Response:
        now = self.market.now()
        found = {s: one(s, now) for s in self._symbols(request)}
        return json_response({key: {s: v for s, v in found.items() if v is not None}})

    async def latest_bars(self, request: web.Request) -> web.Response:
        return await self._each(request, "bars", self.latest_bar)

    async def latest_quotes(self, request: web.Request) -> web.Response:
        return await self._each(request, "quotes", self.latest_quote)

    async def latest_trades(self, request: web.Request) -> web.Response:
        return await self._each(request, "trades", self.latest_trade)

    def orderbook(self, sym: str, now: int) -> dict[str, Any] | None:
        book = self.books.at(sym, now)
        return None if book is None else cw.book_json(book.ns, book.bids, book.asks)

    async def latest_orderbooks(self, request: web.Request) -> web.Response:
        return await self._each(request, "orderbooks", self.orderbook)

    def snapshot(self, sym: str, now: int) -> dict[str, Any]:
        today = utc_day_of(now)
        daily = [self.market.daily_bar(sym, d, now) for d in (today, today - dt.timedelta(days=1))]
        snap = {
            "latestTrade": self.latest_trade(sym, now),
            "latestQuote": self.latest_quote(sym, now),
            "minuteBar": self.latest_bar(sym, now),
            "dailyBar": bar_dicts(daily[0])[0] if len(daily[0]) else None,
            "prevDailyBar": bar_dicts(daily[1])[0] if len(daily[1]) else None,
        }
        return {k: v for k, v in snap.items() if v is not None}

    async def snapshots(self, request: web.Request) -> web.Response:
        # Wrapped in "snapshots", unlike stocks: alpaca-py's crypto client looks for that key.
        return await self._each(request, "snapshots", self.snapshot)


def _encode_ticks(
    dicts: Callable[[Any, slice], list[dict[str, Any]]], data: object, offset: int, a: int, b: int, desc: bool
) -> bytes:
    return dumps_run(dicts(data, slice(offset + a, offset + b)), desc)
