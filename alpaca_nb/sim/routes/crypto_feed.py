"""The crypto stream's content (``/v1beta3/crypto/us``, ALPACA_WIRE_MORE A2, checklist D8-D11).

Channels ``trades``, ``quotes``, ``bars``, ``updatedBars``, ``dailyBars``, ``orderbooks``; the
acknowledgement lists exactly those six. Each tick sends the trades and quotes since the last one, a
``b`` bar after each minute mark (the minute before) and a ``d`` running daily bar (UTC day). The
simulated market has no late trades, so ``updatedBars`` is accepted and stays quiet.

Order books: the first ``o`` message for a symbol after subscribing is the whole book with
``r: true``; then, at each tick whose book tick (``OrderBooks.interval``) has moved on, the
increments from the book that client was last sent to the current one (size 0 deletes a level),
always with both ``b`` and ``a``. So a client that applies them holds exactly the book a REST
``latest/orderbooks`` answers for the same ``t``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import numpy as np

from .. import crypto_wire as cw
from ..market.crypto import MINUTE_NS, CryptoMarket, utc_day_of
from ..market.orderbook import Level, OrderBooks, increments
from ..market.pairs import PAIR_RE
from ..wire import stream_frame
from .stream_clients import DataClient

CHANNELS = ("trades", "quotes", "orderbooks", "bars", "updatedBars", "dailyBars")
_TIMED = ("trades", "quotes", "bars", "dailyBars")


class CryptoFeed:
    """What the crypto stream sends (the server handles connections, auth and subscriptions)."""

    channels = CHANNELS

    def __init__(self, market: CryptoMarket, books: OrderBooks) -> None:
        self.market = market
        self.books = books
        self.replay_tick = 0  # the book tick an order-book replay starts from

    @staticmethod
    def valid_symbol(symbol: str) -> bool:
        return symbol == "*" or bool(PAIR_RE.match(symbol))

    @staticmethod
    def linked(channel: str) -> tuple[str, ...]:
        return (channel,)

    def expand(self, subs: Iterable[str], feed: str = "crypto") -> set[str]:
        symbols = set(subs)
        if "*" in symbols:
            symbols.discard("*")
            symbols.update(self.market.universe)
        return {s for s in symbols if s in self.market.universe}

    # ----- order books --------------------------------------------------------------------------
    def refusal(self, client: DataClient, changes: dict[str, list[str]]) -> tuple[int, str] | None:
        return None  # every well-formed subscription is applied

    def subscribed(self, client: DataClient) -> None:
        """After an acknowledgement: the whole book (``r: true``) for each newly subscribed symbol."""
        wanted = self.expand(client.subs["orderbooks"])
        for sym in list(client.books):
            if sym not in wanted:
                del client.books[sym]
        k = self.books.tick_of(self.market.now())
        frame = [m for sym in sorted(wanted - set(client.books)) if (m := self._reset(client, sym, k))]
        if frame:
            client.send(stream_frame(frame, client.binary))

    def _reset(self, client: DataClient, sym: str, k: int) -> dict[str, Any] | None:
        book = self.books.book(sym, k)
        if book is None:
            return None
        client.books[sym] = k
        return cw.book_message(sym, book.ns, book.bids, book.asks, client.binary, reset=True)

    def _book_updates(self, client: DataClient, k: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for sym in sorted(self.expand(client.subs["orderbooks"])):
            last = client.books.get(sym)
            if last is None:
                if (m := self._reset(client, sym, k)) is not None:
                    out.append(m)
                continue
            old, new = self.books.book(sym, last), self.books.book(sym, k)
            if last == k or old is None or new is None:
                continue
            bids, asks = increments(old, new)
            client.books[sym] = k
            if bids or asks:
                out.append(cw.book_message(sym, new.ns, bids, asks, client.binary))
        return out

    # ----- the tick -----------------------------------------------------------------------------
    def tick(self, clients: list[DataClient], lo: int, hi: int) -> None:
        cache: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
        k = self.books.tick_of(hi)
        for c in clients:
            frame: list[dict[str, Any]] = []
            for ch in _TIMED:
                for sym in sorted(self.expand(c.subs[ch])):
                    key = (ch, sym, c.binary)
                    if key not in cache:
                        cache[key] = self.messages(ch, sym, lo, hi, c.binary)
                    frame.extend(cache[key])
            frame.extend(self._book_updates(c, k))
            if frame:
                c.send(stream_frame(frame, c.binary))

    def messages(self, channel: str, sym: str, lo: int, hi: int, binary: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        minute = MINUTE_NS
        for day in sorted({utc_day_of(lo - minute), utc_day_of(hi)}):
            if channel == "trades":
                t = self.market.trades(sym, day)
                i, j = np.searchsorted(t.ns, [lo, hi], side="right")
                out += [cw.trade_message(sym, t, k, binary) for k in range(int(i), int(j))]
            elif channel == "quotes":
                q = self.market.quotes(sym, day)
                i, j = np.searchsorted(q.ns, [lo, hi], side="right")
                out += [cw.quote_message(sym, q, k, binary) for k in range(int(i), int(j))]
            else:  # bars complete when their minute has ended
                b = self.market.minute_bars(sym, day)
                i, j = np.searchsorted(b.ns, [lo - minute, hi - minute], side="right")
                if channel == "bars":
                    out += [cw.bar_message("b", sym, b, k, binary) for k in range(int(i), int(j))]
                elif j > i:
                    daily = self.market.daily_bar(sym, day, hi)
                    out += [cw.bar_message("d", sym, daily, 0, binary)] if len(daily) else []
        return out

    # ----- replay (benchmarks) ------------------------------------------------------------------
    def replay_messages(self, symbols: list[str] | None, channel: str, batch: int) -> list[Any]:
        """Builders (``binary`` → message) for ``replay``: recent quotes or trades, or a cycle of
        book increments that ends where it started, so a client can apply it any number of times."""
        syms = symbols or sorted(self.market.universe)[:4]
        day = utc_day_of(self.market.now())
        if channel in ("quotes", "trades"):
            pool: list[Callable[[bool], dict[str, Any]]] = []
            for sym in syms:
                data = self.market.quotes(sym, day) if channel == "quotes" else self.market.trades(sym, day)
                if len(data.ns) < 64:
                    yesterday = day - dt.timedelta(days=1)
                    prev = self.market.quotes if channel == "quotes" else self.market.trades
                    data = prev(sym, yesterday)
                make = cw.quote_message if channel == "quotes" else cw.trade_message
                pool += [
                    lambda b, sym=sym, data=data, k=k, make=make: make(sym, data, k, b)  # type: ignore[misc]
                    for k in range(min(len(data.ns), 2048))
                ]
            return pool
        if channel != "orderbooks":
            raise ValueError("crypto replay sends quotes, trades or orderbooks")
        k0 = self.replay_tick = self.books.tick_of(self.market.now())
        steps = batch * max(1, 256 // len(syms))
        pool = []
        for j in range(steps):
            for sym in syms:
                old, new = self.books.book(sym, k0 + j), self.books.book(sym, k0 + (j + 1) % steps)
                assert old is not None and new is not None
                bids, asks = increments(old, new)
                pool.append(partial(_book_message, sym, new.ns, bids, asks))
        return pool

    def replay_reset(self, client: DataClient, symbols: list[str] | None) -> bytes | str:
        """Before an order-book replay: the whole book of its first tick, as a reset frame."""
        syms = symbols or sorted(self.market.universe)[:4]
        frame = [m for sym in syms if (m := self._reset(client, sym, self.replay_tick))]
        return stream_frame(frame, client.binary)

    def replay_end(self, client: DataClient) -> None:
        """After a replay the client's books are resent whole at the next tick (``r: true``)."""
        client.books.clear()


def _book_message(sym: str, ns: int, bids: list[Level], asks: list[Level], binary: bool) -> dict[str, Any]:
    return cw.book_message(sym, ns, bids, asks, binary)
