"""The stock market-data stream's content (``/v2/{iex,sip,delayed_sip,test}``): its channels, the
symbols it accepts, and what each tick sends — the trades, quotes and completed minute bars the
market produced since the last tick (a daily bar after each minute)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import calendar as cal
from ..market import Market
from ..universe import SYMBOL_RE
from ..wire import bar_message, quote_message, stream_frame, trade_message
from .stream_clients import DataClient

CHANNELS = (
    "trades",
    "quotes",
    "bars",
    "updatedBars",
    "dailyBars",
    "statuses",
    "lulds",
    "corrections",
    "cancelErrors",
)
FEEDS = ("iex", "sip", "delayed_sip", "test")
_LIVE = ("trades", "quotes", "bars", "dailyBars")


class StockFeed:
    """What the stock stream sends (the server handles connections, auth and subscriptions)."""

    channels = CHANNELS

    def __init__(self, market: Market) -> None:
        self.market = market

    @staticmethod
    def valid_symbol(symbol: str) -> bool:
        return symbol == "*" or bool(SYMBOL_RE.match(symbol))

    @staticmethod
    def linked(channel: str) -> tuple[str, ...]:
        """A trades subscription brings corrections and cancel errors with it, as on Alpaca."""
        return (channel, "corrections", "cancelErrors") if channel == "trades" else (channel,)

    def refusal(self, client: DataClient, changes: dict[str, list[str]]) -> tuple[int, str] | None:
        return None  # every well-formed subscription is applied

    def subscribed(self, client: DataClient) -> None:
        """Nothing to send on subscribing (stocks have no books)."""

    def expand(self, subs: Iterable[str], feed: str) -> set[str]:
        symbols = set(subs)
        if "*" in symbols:
            symbols.discard("*")
            symbols.update(["FAKEPACA"] if feed == "test" else self.market.universe)
        return {s for s in symbols if self.market.info(s) is not None}

    def tick(self, clients: list[DataClient], lo: int, hi: int) -> None:
        wanted: dict[str, set[str]] = {ch: set() for ch in _LIVE}
        for c in clients:
            for ch, symbols in wanted.items():
                symbols.update(self.expand(c.subs[ch], c.feed))
        messages: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
        for binary in {c.binary for c in clients}:
            for ch, symbols in wanted.items():
                for sym in symbols:
                    messages[(ch, sym, binary)] = self.messages(ch, sym, lo, hi, binary)
        for c in clients:
            frame: list[dict[str, Any]] = []
            for ch in wanted:
                for sym in self.expand(c.subs[ch], c.feed):
                    frame.extend(messages.get((ch, sym, c.binary), ()))
            if frame:
                c.send(stream_frame(frame, c.binary))

    def messages(self, channel: str, sym: str, lo: int, hi: int, binary: bool) -> list[dict[str, Any]]:
        info = self.market.info(sym)
        assert info is not None
        out: list[dict[str, Any]] = []
        minute = cal.MINUTE_NS
        for day in sorted({cal.et_day_of(lo - minute), cal.et_day_of(hi)}):
            if channel == "trades":
                t = self.market.trades(sym, day)
                i, j = np.searchsorted(t.ns, [lo, hi], side="right")
                out += [trade_message(sym, t, k, info.tape, binary) for k in range(int(i), int(j))]
            elif channel == "quotes":
                q = self.market.quotes(sym, day)
                i, j = np.searchsorted(q.ns, [lo, hi], side="right")
                out += [quote_message(sym, q, k, info.tape, binary) for k in range(int(i), int(j))]
            else:  # bars complete when their minute has ended
                b = self.market.minute_bars(sym, day)
                i, j = np.searchsorted(b.ns, [lo - minute, hi - minute], side="right")
                if channel == "bars":
                    out += [bar_message("b", sym, b, k, binary) for k in range(int(i), int(j))]
                elif j > i:
                    daily = self.market.daily_bar(sym, day, hi)
                    out += [bar_message("d", sym, daily, 0, binary)] if len(daily) else []
        return out

    def replay_messages(self, symbols: list[str] | None, channel: str) -> list[Any]:
        """Builders of recent quotes for ``replay``: each takes ``binary`` and returns a message."""
        if channel != "quotes":
            raise ValueError("stock replay sends quotes only")
        syms = symbols or sorted(self.market.universe)[:4]
        now = self.market.now()
        pool: list[Any] = []
        for sym in syms:
            day = cal.et_day_of(now)
            q = self.market.quotes(sym, day)
            while len(q.ns) < 64:
                day = day.fromordinal(day.toordinal() - 1)
                q = self.market.quotes(sym, day)
            tape = self.market.info(sym).tape  # type: ignore[union-attr]
            pool += [(sym, q, k, tape) for k in range(min(len(q.ns), 2048))]
        return [
            lambda binary, sym=sym, q=q, k=k, tape=tape: quote_message(sym, q, k, tape, binary)
            for sym, q, k, tape in pool
        ]
