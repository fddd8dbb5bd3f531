"""The option stream's content (``/v1beta1/indicative`` and ``/v1beta1/opra``, ALPACA_WIRE_MORE B3,
checklist D20).

msgpack only: a client whose upgrade request does not say ``Content-Type: application/msgpack`` is
told ``412 option messages are only available in MsgPack format`` and disconnected (the server
does that; ``binary_only`` says so). Channels ``trades`` and ``quotes``; ``*`` is refused for quotes
(413) and a client may watch at most ``quote_limit`` contracts' quotes (405 ``symbol limit
exceeded``; 1000 on the unlimited plan, 200 on basic). Each tick sends, per subscribed contract, a
quote if its underlying quoted since the last tick (the option quote of the latest underlying
quote), and the contract's trades of the interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import numpy as np

from .. import calendar as cal
from ..market.occ import OCC_RE
from ..market.options import ChainQuotes, OptionsMarket
from ..wire import stream_frame, stream_timestamp
from .stream_clients import DataClient

CHANNELS = ("trades", "quotes")


def quote_messages(symbols: list[str], q: ChainQuotes, binary: bool) -> list[dict[str, Any]]:
    t = stream_timestamp(q.ns, binary)
    return [
        {"T": "q", "S": s, "t": t, "bx": bx, "bp": bp, "bs": bs_, "ax": ax, "ap": ap, "as": as_, "c": "A"}
        for s, bx, bp, bs_, ax, ap, as_ in zip(
            symbols,
            q.bid_exchange.tolist(),
            q.bid.tolist(),
            q.bid_size.tolist(),
            q.ask_exchange.tolist(),
            q.ask.tolist(),
            q.ask_size.tolist(),
            strict=True,
        )
    ]


class OptionFeed:
    """What the option stream sends (the server handles connections, auth and subscriptions)."""

    channels = CHANNELS
    binary_only = True

    def __init__(self, market: OptionsMarket, *, quote_limit: int = 1000) -> None:
        self.market = market
        self.quote_limit = quote_limit

    @staticmethod
    def valid_symbol(symbol: str) -> bool:
        return symbol == "*" or bool(OCC_RE.match(symbol))

    @staticmethod
    def linked(channel: str) -> tuple[str, ...]:
        return (channel,)

    def refusal(self, client: DataClient, changes: dict[str, list[str]]) -> tuple[int, str] | None:
        """An error a subscription gets instead of being applied (None: apply it)."""
        quotes = changes.get("quotes", [])
        if "*" in quotes:
            return 413, "star subscription is not allowed for option quotes"
        if len(client.subs["quotes"] | set(quotes)) > self.quote_limit:
            return 405, "symbol limit exceeded"
        return None

    def subscribed(self, client: DataClient) -> None:
        return None

    def _wanted(self, subs: Iterable[str]) -> list[str]:
        if "*" in subs:  # trades only (quotes refuse it): every active contract traded
            return ["*"]
        return sorted(s for s in subs if self.market.info(s) is not None)

    def tick(self, clients: list[DataClient], lo: int, hi: int) -> None:
        cache: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for c in clients:
            frame: list[dict[str, Any]] = []
            for ch in CHANNELS:
                for sym in self._wanted(c.subs[ch]):
                    if (ch, sym) not in cache:
                        cache[(ch, sym)] = self.messages(ch, sym, lo, hi)
                    frame.extend(cache[(ch, sym)])
            if frame:
                c.send(stream_frame(frame, True))

    def messages(self, channel: str, sym: str, lo: int, hi: int) -> list[dict[str, Any]]:
        if sym == "*":
            return []  # a star on trades: left quiet (the simulated tape is per contract)
        info = self.market.info(sym)
        if info is None or not self.market.is_open(sym, hi):
            return []
        if channel == "quotes":
            under = self.market.stocks.quote_at(info.underlying, hi)
            if under is None or not lo < under[4] <= hi:
                return []
            chain = self.market.chain(info.underlying)
            assert chain is not None
            q = self.market.quotes(chain, np.array([info.index]), hi)
            return quote_messages([sym], q, True) if q is not None else []
        out: list[dict[str, Any]] = []
        for day in sorted({cal.et_day_of(lo), cal.et_day_of(hi)}):
            d, i, j = self.market.contract_trades(info, day)
            a, b = np.searchsorted(d.ns[i:j], [lo, hi], side="right")
            out += [
                {"T": "t", "S": sym, "t": stream_timestamp(int(d.ns[k]), True), "p": float(d.price[k]),
                 "s": int(d.size[k]), "x": str(d.exchange[k]), "c": str(d.condition[k])}
                for k in range(i + int(a), i + int(b))
            ]  # fmt: skip
        return out

    # ----- replay (benchmarks) ------------------------------------------------------------------
    def replay_messages(
        self, symbols: list[str] | None, channel: str
    ) -> list[Callable[[bool], dict[str, Any]]]:
        """Builders for ``replay``: each contract's quotes at its underlying's last 256 quotes."""
        if channel != "quotes":
            raise ValueError("option replay sends quotes")
        syms = symbols or [c.symbol for c in self.market.chain(self.market.underlyings[0]).contracts[:4]]  # type: ignore[union-attr]
        pool: list[Callable[[bool], dict[str, Any]]] = []
        now = self.market.now()
        for sym in syms:
            info = self.market.info(sym)
            if info is None:
                raise ValueError(f"not a listed option contract: {sym}")
            chain = self.market.chain(info.underlying)
            assert chain is not None
            under = self.market.stocks.quotes(info.underlying, cal.et_day_of(now))
            stamps = under.ns[under.ns <= now][-256:] if len(under.ns) else np.array([now])
            for ns in stamps.tolist() or [now]:
                q = self.market.quotes(chain, np.array([info.index]), int(ns))
                if q is not None:
                    pool.append(partial(_same, quote_messages([sym], q, True)[0]))
        return pool


def _same(message: dict[str, Any], binary: bool) -> dict[str, Any]:
    return message  # option streams are msgpack only: one encoding
