"""alpaca-py's StockHistoricalDataClient against the simulator, and the market model's promises."""

from __future__ import annotations

import base64
import datetime as dt
import json

import numpy as np
import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockQuotesRequest,
    StockSnapshotRequest,
    StockTradesRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from alpaca_nb.sim import Market, Simulator
from alpaca_nb.sim import calendar as cal
from tests.schemas import SchemaChecker

UTC = dt.UTC


def test_bars_across_many_pages(data: StockHistoricalDataClient, checked: SchemaChecker) -> None:
    symbols = ["AAPL", "MSFT", "SPY"]
    bars = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=symbols,
            timeframe=TimeFrame.Minute,
            start=dt.datetime(2024, 9, 3, tzinfo=UTC),
            end=dt.datetime(2024, 9, 30, tzinfo=UTC),
        )
    )
    pages = [s for s in checked.seen if s[1] == "/v2/stocks/bars"]
    total = sum(len(bars.data[s]) for s in symbols)
    assert total >= 25_000 and len(pages) >= 3
    for sym in symbols:
        stamps = [b.timestamp for b in bars.data[sym]]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # no duplicates across pages
        assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars.data[sym])
    # The same range in one go per symbol gives exactly the same bars.
    single = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="MSFT",
            timeframe=TimeFrame.Minute,
            start=dt.datetime(2024, 9, 3, tzinfo=UTC),
            end=dt.datetime(2024, 9, 30, tzinfo=UTC),
        )
    )
    assert [b.model_dump() for b in single.data["MSFT"]] == [b.model_dump() for b in bars.data["MSFT"]]


def _get(sim: Simulator, path: str, **params: object) -> requests.Response:
    key, secret = sim.credentials()
    headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
    return requests.get(sim.base_url + path, params=params, headers=headers, timeout=30)


def test_limit_counts_across_symbols_and_token_resumes(sim: Simulator, schemas: SchemaChecker) -> None:
    params = {"symbols": "MSFT,AAPL", "timeframe": "1Min", "start": "2024-10-14", "end": "2024-10-16"}
    first = _get(sim, "/v2/stocks/bars", limit=1000, **params)
    body = first.json()
    schemas.failures.clear()
    schemas.check("GET", "/v2/stocks/bars", 200, first.content)
    assert not schemas.failures
    assert list(body["bars"]) == ["AAPL"] and len(body["bars"]["AAPL"]) == 1000  # sorted by symbol first
    token = base64.b64decode(body["next_page_token"]).decode()
    assert token.startswith("AAPL|")
    seen = [(s, b["t"]) for s, bs in body["bars"].items() for b in bs]
    while body["next_page_token"]:
        body = _get(sim, "/v2/stocks/bars", limit=1000, page_token=body["next_page_token"], **params).json()
        seen += [(s, b["t"]) for s, bs in body["bars"].items() for b in bs]
    assert len(seen) == len(set(seen))
    everything = _get(sim, "/v2/stocks/bars", limit=10000, **params).json()
    assert seen == [(s, b["t"]) for s, bs in everything["bars"].items() for b in bs]


def test_sort_desc(data: StockHistoricalDataClient) -> None:
    req = dict(
        symbol_or_symbols="AAPL",
        timeframe=TimeFrame(5, TimeFrameUnit.Minute),
        start=dt.datetime(2024, 10, 14, tzinfo=UTC),
        end=dt.datetime(2024, 10, 16, tzinfo=UTC),
    )
    asc = data.get_stock_bars(StockBarsRequest(**req)).data["AAPL"]
    desc = data.get_stock_bars(StockBarsRequest(**req, sort="desc")).data["AAPL"]
    assert [b.timestamp for b in desc] == [b.timestamp for b in reversed(asc)]
    assert all(b.timestamp.minute % 5 == 0 for b in asc)


def test_daily_weekly_monthly_stamps(data: StockHistoricalDataClient) -> None:
    def bars(tf: TimeFrame) -> list[dt.datetime]:
        got = data.get_stock_bars(
            StockBarsRequest(
                symbol_or_symbols="SPY",
                timeframe=tf,
                start=dt.datetime(2024, 1, 1, tzinfo=UTC),
                end=dt.datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
        return [b.timestamp for b in got.data["SPY"]]

    days = bars(TimeFrame.Day)
    assert len(days) == 252
    # Midnight New York in UTC: 05:00Z in winter, 04:00Z in summer.
    assert dt.datetime(2024, 1, 2, 5, tzinfo=UTC) in days and dt.datetime(2024, 7, 1, 4, tzinfo=UTC) in days
    weeks = bars(TimeFrame.Week)
    assert all(w.astimezone(cal.ET).weekday() == 0 and w.astimezone(cal.ET).hour == 0 for w in weeks)
    months = bars(TimeFrame.Month)
    assert [m.astimezone(cal.ET).date() for m in months] == [dt.date(2024, m, 1) for m in range(1, 13)]


def test_daily_bar_aggregates_minute_bars(sim: Simulator) -> None:
    day = dt.date(2024, 10, 15)
    minute = sim.market.minute_bars("NVDA", day)
    daily = _get(
        sim,
        "/v2/stocks/bars",
        symbols="NVDA",
        timeframe="1Day",
        start="2024-10-15",
        end="2024-10-15T23:59:59Z",
    ).json()["bars"]["NVDA"]
    assert len(daily) == 1
    d = daily[0]
    assert d["o"] == minute.open[0] and d["c"] == minute.close[-1]
    assert d["h"] == minute.high.max() and d["l"] == minute.low.min()
    assert d["v"] == minute.volume.sum() and d["n"] == minute.count.sum()


def test_minute_bars_agree_with_trades(sim: Simulator) -> None:
    trades = _get(
        sim,
        "/v2/stocks/trades",
        symbols="TSLA",
        start="2024-10-14T13:30:00Z",
        end="2024-10-14T14:29:59.999999999Z",
        limit=10000,
    ).json()
    bars = _get(
        sim,
        "/v2/stocks/bars",
        symbols="TSLA",
        timeframe="1Min",
        start="2024-10-14T13:30:00Z",
        end="2024-10-14T14:29:00Z",
    ).json()["bars"]["TSLA"]
    assert trades["next_page_token"] is None
    by_minute: dict[str, list[dict[str, object]]] = {}
    for t in trades["trades"]["TSLA"]:
        by_minute.setdefault(t["t"][:16] + ":00Z", []).append(t)
    assert [b["t"] for b in bars] == sorted(by_minute)
    for bar in bars:
        ts = by_minute[bar["t"]]
        prices = [t["p"] for t in ts]
        volume = sum(t["s"] for t in ts)
        assert (bar["o"], bar["h"], bar["l"], bar["c"]) == (prices[0], max(prices), min(prices), prices[-1])
        assert bar["v"] == volume and bar["n"] == len(ts)
        assert bar["vw"] == pytest.approx(sum(t["p"] * t["s"] for t in ts) / volume, abs=5e-7)


def test_same_seed_same_history_other_seed_different() -> None:
    day = dt.date(2023, 3, 14)
    a, b, c = Market(seed=5), Market(seed=5), Market(seed=6)
    for field in ("ns", "open", "high", "low", "close", "volume", "count"):
        assert np.array_equal(
            getattr(a.minute_bars("AAPL", day), field), getattr(b.minute_bars("AAPL", day), field)
        )
    assert np.array_equal(a.quotes("MSFT", day).bid, b.quotes("MSFT", day).bid)
    assert not np.array_equal(a.minute_bars("AAPL", day).close[:50], c.minute_bars("AAPL", day).close[:50])
    # Order of access does not matter: each day has its own seeded stream.
    d = Market(seed=5)
    d.minute_bars("AAPL", dt.date(2020, 1, 2))
    assert np.array_equal(d.minute_bars("AAPL", day).close, a.minute_bars("AAPL", day).close)


def test_calendar_mode_trades_only_in_sessions() -> None:
    m = Market(seed=1, hours="calendar")
    assert len(m.minute_bars("AAPL", dt.date(2024, 7, 4))) == 0  # holiday
    assert len(m.minute_bars("AAPL", dt.date(2024, 10, 12))) == 0  # Saturday
    bars = m.minute_bars("AAPL", dt.date(2024, 10, 14))
    first = dt.datetime.fromtimestamp(bars.ns[0] / 1e9, cal.ET)
    last = dt.datetime.fromtimestamp(bars.ns[-1] / 1e9, cal.ET)
    assert first.time() >= dt.time(4, 0) and last.time() < dt.time(20, 0)
    regular = [
        t
        for t in bars.ns
        if dt.time(9, 30) <= dt.datetime.fromtimestamp(t / 1e9, cal.ET).time() < dt.time(16)
    ]
    assert len(regular) >= 380  # nearly every regular-session minute trades


def test_quotes_trades_latest_snapshots(data: StockHistoricalDataClient, checked: SchemaChecker) -> None:
    window = dict(
        start=dt.datetime(2024, 10, 14, 14, tzinfo=UTC), end=dt.datetime(2024, 10, 14, 14, 30, tzinfo=UTC)
    )
    quotes = data.get_stock_quotes(StockQuotesRequest(symbol_or_symbols=["AAPL", "MSFT"], **window))
    for sym in ("AAPL", "MSFT"):
        qs = quotes.data[sym]
        assert len(qs) > 500 and all(0 < q.bid_price < q.ask_price for q in qs)
    trades = data.get_stock_trades(StockTradesRequest(symbol_or_symbols="AAPL", **window))
    assert len(trades.data["AAPL"]) > 50
    latest_q = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "ZZZZ"]))
    assert set(latest_q) == {"AAPL"}  # unknown symbols are omitted, as at Alpaca
    latest_t = data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols="AAPL"))
    latest_b = data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="AAPL"))
    now = dt.datetime.now(UTC)
    assert now - latest_t["AAPL"].timestamp < dt.timedelta(minutes=5)
    assert latest_b["AAPL"].timestamp + dt.timedelta(minutes=1) <= now  # only completed bars
    snaps = data.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["AAPL", "SPY"]))
    for snap in snaps.values():
        assert snap.latest_trade and snap.latest_quote and snap.minute_bar and snap.daily_bar
        assert snap.previous_daily_bar and snap.previous_daily_bar.timestamp < snap.daily_bar.timestamp
    assert {s[1] for s in checked.seen} >= {
        "/v2/stocks/quotes",
        "/v2/stocks/snapshots",
        "/v2/stocks/bars/latest",
    }


def test_empty_and_unknown(data: StockHistoricalDataClient, sim: Simulator) -> None:
    got = _get(sim, "/v2/stocks/bars", symbols="ZZZZ", timeframe="1Day", start="2024-01-01", end="2024-02-01")
    assert got.json() == {"bars": {}, "next_page_token": None}
    weekend = _get(
        sim, "/v2/stocks/bars", symbols="AAPL", timeframe="1Min", start="2024-10-12", end="2024-10-13"
    )
    assert weekend.json() == {"bars": {}, "next_page_token": None}
    future = _get(sim, "/v2/stocks/snapshots", symbols="ZZZZ")
    assert future.json() == {}


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"symbols": "AAPL", "timeframe": "7Day"}, 422, "timeframe"),
        ({"symbols": "AAPL", "timeframe": "1Min", "limit": "0"}, 400, "limit"),
        ({"symbols": "AAPL", "timeframe": "1Min", "start": "2024-02-01", "end": "2024-01-01"}, 422, "start"),
        ({"symbols": "AAPL", "timeframe": "1Min", "start": "yesterday"}, 400, "start"),
        ({"symbols": "AAPL", "timeframe": "1Min", "feed": "nasdaq"}, 400, "feed"),
        ({"symbols": "aa pl", "timeframe": "1Min"}, 400, "symbol"),
        ({"timeframe": "1Min"}, 400, "symbols"),
    ],
)
def test_bad_parameters(sim: Simulator, params: dict[str, str], status: int, needle: str) -> None:
    got = _get(sim, "/v2/stocks/bars", **params)
    assert got.status_code == status
    body = got.json()
    assert isinstance(body["code"], int) and needle in body["message"]


def test_basic_plan_refuses_recent_sip() -> None:
    with Simulator(seed=3, plan="basic", rate_limit=None) as sim:
        recent = _get(sim, "/v2/stocks/bars", symbols="AAPL", timeframe="1Min", feed="sip")
        assert recent.status_code == 403
        assert recent.json() == {
            "code": 42210000,
            "message": "subscription does not permit querying recent SIP data",
        }
        old = _get(
            sim,
            "/v2/stocks/bars",
            symbols="AAPL",
            timeframe="1Day",
            feed="sip",
            start="2024-01-01",
            end="2024-02-01",
        )
        assert old.status_code == 200
        key, _ = sim.credentials()
        client = StockHistoricalDataClient(key, "wrong", url_override=sim.base_url)
        with pytest.raises(APIError) as err:
            client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))
        assert err.value.status_code == 403  # market data answers 403 for bad keys


def test_fixture_bar_shapes_match(sim: Simulator) -> None:
    """Our bars carry exactly the keys and JSON types of Alpaca's recorded bar payloads."""
    from tests.schemas import shared_dir

    fixture = json.loads(
        (shared_dir("alpaca-fixtures") / "GET_v2_stocks_bars__multi_symbol.json").read_text()
    )
    theirs = next(iter(fixture["bars"].values()))[0]
    ours = _get(
        sim, "/v2/stocks/bars", symbols="AAPL", timeframe="1Day", start="2024-01-02", end="2024-01-03"
    ).json()["bars"]["AAPL"][0]
    assert set(ours) == set(theirs)
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items() if k in ours} | {
        k: float for k in ("o", "h", "l", "c", "vw")
    }
