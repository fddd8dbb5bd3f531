"""The simulator's crypto market data over REST, through alpaca-py's unmodified CryptoHistoricalDataClient
(with and without keys) and raw requests, every body checked against Alpaca's OpenAPI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import requests
from alpaca.data.historical import CryptoHistoricalDataClient
from alpaca.data.requests import (
    CryptoBarsRequest,
    CryptoLatestBarRequest,
    CryptoLatestOrderbookRequest,
    CryptoLatestQuoteRequest,
    CryptoLatestTradeRequest,
    CryptoQuoteRequest,
    CryptoSnapshotRequest,
    CryptoTradesRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from alpaca_nb.sim import Simulator
from alpaca_nb.sim.market.crypto import CryptoMarket
from tests.schemas import SchemaChecker

PAIRS = ("BTC/USD", "ETH/USD", "SOL/USD", "LTC/USD", "DOGE/USD", "AVAX/USD", "LINK/USD")
PREFIX = "/v1beta3/crypto/us"


@pytest.fixture(scope="module")
def csim() -> Iterator[Simulator]:
    # hours="calendar": crypto must trade whatever the stock calendar says.
    with Simulator(seed=5, hours="calendar", rate_limit=None, stream_connection_limit=None) as s:
        yield s


def keyless(sim: Simulator, checked: SchemaChecker) -> CryptoHistoricalDataClient:
    client = CryptoHistoricalDataClient(url_override=sim.base_url)
    checked.attach(client)
    return client


def get(sim: Simulator, checked: SchemaChecker, path: str, **params: Any) -> requests.Response:
    """A raw keyless GET whose body is checked against the spec (``path`` after the crypto prefix)."""
    r = requests.get(sim.base_url + PREFIX + "/" + path, params=params, timeout=10)
    checked.check("GET", PREFIX + "/" + path, r.status_code, r.content)
    return r


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_keyless_and_keyed_clients_page_bars_across_symbols(csim: Simulator, checked: SchemaChecker) -> None:
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(days=3)
    end = start + dt.timedelta(days=2, hours=12, seconds=-1)
    pairs = ["BTC/USD", "ETH/USD", "SOL/USD"]
    request = CryptoBarsRequest(symbol_or_symbols=pairs, timeframe=TimeFrame.Minute, start=start, end=end)
    before = len(csim.requests)
    free = keyless(csim, checked).get_crypto_bars(request).data
    assert {s: len(v) for s, v in free.items()} == {s: 3600 for s in ("BTC/USD", "ETH/USD", "SOL/USD")}
    pages = [r for r in csim.requests[before:] if r.path == PREFIX + "/bars"]
    assert len(pages) == 2 and all(r.account is None for r in pages)  # 10,800 bars: two pages, no keys sent
    key, secret = csim.credentials("paper")
    keyed = CryptoHistoricalDataClient(key, secret, url_override=csim.base_url)
    checked.attach(keyed)
    assert keyed.get_crypto_bars(request).data == free
    assert csim.requests[-1].account == "paper"
    assert all(isinstance(b.volume, float) for b in free["BTC/USD"][:50])
    assert any(b.volume % 1 > 0 for b in free["BTC/USD"][:50])  # fractional coin volume


def test_pagination_limit_token_sort_and_the_last_page(csim: Simulator, checked: SchemaChecker) -> None:
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    window = {
        "start": (now - dt.timedelta(hours=2)).isoformat(),
        "end": (now - dt.timedelta(hours=1)).isoformat(),
    }
    params = {"symbols": "BTC/USD,ETH/USD", "timeframe": "1Min", **window}
    whole = get(csim, checked, "bars", **params, limit=10000).json()
    assert whole["next_page_token"] is None and [len(v) for v in whole["bars"].values()] == [61, 61]
    seen: dict[str, list[dict[str, Any]]] = {}
    token, pages = None, 0
    while True:
        body = get(
            csim, checked, "bars", **params, limit=50, **({"page_token": token} if token else {})
        ).json()
        pages += 1
        assert sum(len(v) for v in body["bars"].values()) <= 50  # limit counts across symbols
        for sym, bars in body["bars"].items():
            seen.setdefault(sym, []).extend(bars)
        token = body["next_page_token"]
        if token is None:
            break
    assert pages == 3 and seen == whole["bars"]
    desc = get(csim, checked, "bars", **params, sort="desc", limit=10000).json()["bars"]
    assert desc["BTC/USD"] == whole["bars"]["BTC/USD"][::-1]
    assert get(csim, checked, "bars", **params, limit=10001).status_code == 400


def test_minute_bars_agree_with_the_trades_they_aggregate(csim: Simulator, checked: SchemaChecker) -> None:
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    start = dt.datetime.combine(day, dt.time(9), dt.UTC)
    window = {"start": start.isoformat(), "end": (start + dt.timedelta(minutes=29, seconds=59)).isoformat()}
    trades = get(csim, checked, "trades", symbols="LTC/USD", limit=10000, **window).json()["trades"][
        "LTC/USD"
    ]
    bars = get(csim, checked, "bars", symbols="LTC/USD", timeframe="1Min", **window).json()["bars"]["LTC/USD"]
    assert len(bars) == 30 and all(set(t) == {"t", "p", "s", "i", "tks"} for t in trades)
    by_minute: dict[str, list[dict[str, Any]]] = {}
    for t in trades:
        by_minute.setdefault(t["t"][:16] + ":00Z", []).append(t)
    for bar in bars:
        ts = by_minute.get(bar["t"], [])
        if not ts:  # a quiet minute: priced from the quote mid, no volume
            assert bar["v"] == 0 and bar["n"] == 0 and bar["o"] == bar["h"] == bar["l"] == bar["c"]
            continue
        prices, sizes = [t["p"] for t in ts], [t["s"] for t in ts]
        assert (bar["o"], bar["h"], bar["l"], bar["c"], bar["n"]) == (prices[0], max(prices), min(prices),
                                                                      prices[-1], len(ts))  # fmt: skip
        assert bar["v"] == pytest.approx(sum(sizes), abs=1e-9)
        assert bar["vw"] == pytest.approx(sum(p * s for p, s in zip(prices, sizes, strict=True)) / sum(sizes))
    ids = [t["i"] for t in trades]
    assert ids == sorted(set(ids)) and {t["tks"] for t in trades} == {"B", "S"}


def test_quiet_minutes_are_priced_from_the_quote_mid() -> None:
    market = CryptoMarket(5)
    day = dt.date(2024, 3, 10)
    bars, quotes = market.minute_bars("LTC/USD", day), market.quotes("LTC/USD", day)
    quiet = np.flatnonzero(bars.count == 0)
    assert len(bars) == 1440 and len(quiet) > 0
    for i in quiet[:5]:
        j = int(np.searchsorted(quotes.ns, bars.ns[i] + 60 * 10**9, side="left")) - 1
        assert bars.close[i] == pytest.approx((quotes.bid[j] + quotes.ask[j]) / 2)
        assert bars.volume[i] == 0 and bars.vwap[i] == bars.close[i]


def test_history_is_deterministic_24_7_and_plausible() -> None:
    a, b = CryptoMarket(3), CryptoMarket(3)
    sunday = dt.date(2023, 1, 1)
    assert np.array_equal(a.minute_bars("BTC/USD", sunday).close, b.minute_bars("BTC/USD", sunday).close)
    assert not np.array_equal(CryptoMarket(4).minute_bars("BTC/USD", sunday).close,
                              a.minute_bars("BTC/USD", sunday).close)  # fmt: skip
    assert len(a.trades("ETH/USD", sunday).ns) > 1000  # a Sunday trades like any day
    levels = {"BTC/USD": (40e3, 130e3), "ETH/USD": (1.5e3, 6e3), "SOL/USD": (60, 350), "LTC/USD": (35, 180),
              "DOGE/USD": (0.06, 0.35), "AVAX/USD": (12, 70), "LINK/USD": (6, 35)}  # fmt: skip
    for day in (dt.date(2021, 6, 1), dt.date(2024, 10, 1), dt.date(2026, 1, 1)):
        for sym, (lo, hi) in levels.items():
            close = float(a.daily_bar(sym, day, 10**19).close[0])
            assert lo < close < hi, (sym, day, close)
    q = a.quotes("DOGE/USD", sunday)
    assert (q.bid < q.ask).all() and (q.bid_size > 0).all()


def test_daily_bars_are_stamped_at_utc_midnight(csim: Simulator, checked: SchemaChecker) -> None:
    start = dt.datetime.combine(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=6), dt.time(), dt.UTC)
    bars = keyless(csim, checked).get_crypto_bars(
        CryptoBarsRequest(symbol_or_symbols="ETH/USD", timeframe=TimeFrame.Day, start=start)
    )["ETH/USD"]
    assert len(bars) == 7 and bars[0].timestamp == start
    assert all(b.timestamp.time() == dt.time(0) and b.timestamp.utcoffset() == dt.timedelta(0) for b in bars)
    four_hours = TimeFrame(4, TimeFrameUnit.Hour)
    one_day = CryptoBarsRequest(
        symbol_or_symbols="ETH/USD", timeframe=four_hours, start=start, end=start + dt.timedelta(hours=23)
    )
    hours = keyless(csim, checked).get_crypto_bars(one_day)["ETH/USD"]
    assert [h.timestamp.hour for h in hours] == [0, 4, 8, 12, 16, 20]
    assert sum(h.volume for h in hours) == pytest.approx(bars[0].volume)


def test_quotes_trades_latest_orderbooks_and_snapshots(csim: Simulator, checked: SchemaChecker) -> None:
    client = keyless(csim, checked)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    quotes = client.get_crypto_quotes(CryptoQuoteRequest(symbol_or_symbols="BTC/USD", start=start))["BTC/USD"]
    trades = client.get_crypto_trades(CryptoTradesRequest(symbol_or_symbols="BTC/USD", start=start))[
        "BTC/USD"
    ]
    assert len(quotes) > 100 and len(trades) > 20
    assert all(q.bid_price < q.ask_price for q in quotes) and any(q.bid_size % 1 for q in quotes)
    raw_q = get(csim, checked, "latest/quotes", symbols="BTC/USD,ETH/USD").json()["quotes"]
    assert set(raw_q) == {"BTC/USD", "ETH/USD"} and set(raw_q["BTC/USD"]) == {"t", "bp", "bs", "ap", "as"}
    latest = client.get_crypto_latest_trade(CryptoLatestTradeRequest(symbol_or_symbols=["SOL/USD"]))[
        "SOL/USD"
    ]
    assert latest.price > 0 and latest.size > 0
    bar = client.get_crypto_latest_bar(CryptoLatestBarRequest(symbol_or_symbols="SOL/USD"))["SOL/USD"]
    assert dt.datetime.now(dt.UTC) - bar.timestamp < dt.timedelta(minutes=3)
    q = client.get_crypto_latest_quote(CryptoLatestQuoteRequest(symbol_or_symbols="SOL/USD"))["SOL/USD"]
    assert q.bid_price < q.ask_price
    books = client.get_crypto_latest_orderbook(CryptoLatestOrderbookRequest(symbol_or_symbols=list(PAIRS)))
    for sym in PAIRS:
        book = books[sym]
        bids, asks = [b.price for b in book.bids], [a.price for a in book.asks]
        assert len(bids) == len(asks) == 50 and bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert bids[0] < asks[0] and all(lv.size > 0 for lv in book.bids + book.asks)
    raw_book = get(csim, checked, "latest/orderbooks", symbols="BTC/USD").json()["orderbooks"]["BTC/USD"]
    assert set(raw_book) == {"t", "b", "a"}  # no "r" on REST
    snaps = client.get_crypto_snapshot(CryptoSnapshotRequest(symbol_or_symbols=["BTC/USD", "LINK/USD"]))
    assert snaps["LINK/USD"].daily_bar.timestamp.time() == dt.time(0)
    assert snaps["LINK/USD"].previous_daily_bar.timestamp < snaps["LINK/USD"].daily_bar.timestamp
    raw = get(csim, checked, "snapshots", symbols="BTC/USD").json()
    assert set(raw) == {"snapshots"} and set(raw["snapshots"]["BTC/USD"]) == {
        "latestTrade", "latestQuote", "minuteBar", "dailyBar", "prevDailyBar"}  # fmt: skip


def test_symbols_must_be_pairs_and_unknown_pairs_are_left_out(
    csim: Simulator, checked: SchemaChecker
) -> None:
    refused = get(csim, checked, "latest/quotes", symbols="BTCUSD")
    assert refused.status_code == 400
    assert refused.json()["message"] == "invalid symbol: BTCUSD does not match ^[A-Z]+/[A-Z]+$"
    assert get(csim, checked, "latest/trades", symbols="XYZ/USD,BTC/USD").json()["trades"].keys() == {
        "BTC/USD"
    }
    assert get(csim, checked, "bars", symbols="XYZ/USD", timeframe="1Min").json() == {
        "bars": {}, "next_page_token": None}  # fmt: skip
    assert get(csim, checked, "latest/quotes", symbols="BTC/USD").json()["quotes"]
    wrong_keys = {"APCA-API-KEY-ID": "nope", "APCA-API-SECRET-KEY": "nope"}
    r = requests.get(csim.base_url + PREFIX + "/latest/bars?symbols=BTC/USD", headers=wrong_keys, timeout=10)
    assert r.status_code == 200  # keys are not needed, so wrong ones are ignored


def test_gzip_and_a_keyless_budget_apart_from_trading() -> None:
    with Simulator(seed=2, rate_limit=3) as sim:
        url = sim.base_url + PREFIX + "/latest/quotes?symbols=BTC/USD"
        first = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert first.headers["Content-Encoding"] == "gzip" and first.json()["quotes"]["BTC/USD"]
        statuses = [requests.get(url, timeout=10).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        key, secret = sim.credentials("paper")
        headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
        assert requests.get(sim.base_url + "/v2/account", headers=headers, timeout=10).status_code == 200
