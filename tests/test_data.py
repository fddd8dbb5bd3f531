"""Session.bars and friends: same frames as alpaca-py's .df, fixed schema, pagination, clear errors."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.models import BarSet
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.data import BAR_COLUMNS, BarsBuilder, parse_timeframe, parse_timestamps, to_utc
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from tests.schemas import shared_dir

ET = "America/New_York"


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    with Simulator(seed=7, hours="always", rate_limit=None, stream_connection_limit=None) as sim:
        yield anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
    close_current()


def _alpaca_df(
    session: Session, symbols: object, tf: TimeFrame, start: str, end: str, **kw: object
) -> pd.DataFrame:
    sim = session.simulator
    assert sim is not None
    client = StockHistoricalDataClient(*sim.credentials(), url_override=sim.base_url)  # unmodified alpaca-py
    request = StockBarsRequest(
        symbol_or_symbols=symbols,
        timeframe=tf,
        start=pd.Timestamp(start, tz=ET).to_pydatetime(),
        end=pd.Timestamp(end, tz=ET).to_pydatetime(),
        **kw,
    )
    return client.get_stock_bars(request).df


def _same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    """Equal in every value, index and order; alpaca-py's timestamps carry pydantic's UTC object."""
    expected = theirs.copy()
    expected.index = expected.index.set_levels(
        expected.index.levels[1].tz_convert("UTC").as_unit("ns"), level="timestamp"
    )
    pd.testing.assert_frame_equal(ours, expected, check_dtype=False, check_index_type=False)


def _schema(frame: pd.DataFrame, multi: bool) -> None:
    assert list(frame.columns) == list(BAR_COLUMNS)
    assert frame.dtypes.astype(str).to_dict() == {
        "open": "float64",
        "high": "float64",
        "low": "float64",
        "close": "float64",
        "volume": "int64",
        "trade_count": "int64",
        "vwap": "float64",
    }
    if multi:
        assert frame.index.names == ["symbol", "timestamp"]
        assert str(frame.index.levels[1].tz) == "UTC"
    else:
        assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "timestamp"
        assert str(frame.index.tz) == "UTC"


def test_several_symbols_several_pages_equal_alpaca_py(session: Session) -> None:
    ours = session.bars(["MSFT", "AAPL", "SPY"], "1Min", start="2024-09-03", end="2024-09-30", progress=False)
    assert len(ours) > 25_000  # several pages of 10,000
    _schema(ours, multi=True)
    assert list(ours.index.get_level_values(0).unique()) == ["AAPL", "MSFT", "SPY"]  # Alpaca's order
    _same(ours, _alpaca_df(session, ["MSFT", "AAPL", "SPY"], TimeFrame.Minute, "2024-09-03", "2024-09-30"))


def test_one_symbol_equals_alpaca_py_and_has_a_plain_index(session: Session) -> None:
    ours = session.bars("NVDA", "1Day", start="2023-01-01", end="2024-06-30")
    _schema(ours, multi=False)
    theirs = _alpaca_df(session, "NVDA", TimeFrame.Day, "2023-01-01", "2024-06-30")
    _same(pd.concat({"NVDA": ours}, names=["symbol"]), theirs)


def test_sort_desc_equals_alpaca_py(session: Session) -> None:
    ours = session.bars(["AMZN", "KO"], "15Min", start="2024-10-01", end="2024-10-10", sort="desc")
    theirs = _alpaca_df(
        session, ["AMZN", "KO"], TimeFrame(15, TimeFrameUnit.Minute), "2024-10-01", "2024-10-10", sort="desc"
    )
    _same(ours, theirs)
    stamps = ours.loc["KO"].index
    assert stamps.is_monotonic_decreasing


@pytest.mark.parametrize(
    "name",
    [
        "GET_v2_stocks_bars__multi_symbol.json",
        "GET_v2_stocks_bars__single_symbol_page1.json",
        "GET_v2_stocks_bars__sort_desc.json",
    ],
)
def test_recorded_alpaca_payloads_build_the_same_frame(name: str) -> None:
    raw = (shared_dir("alpaca-fixtures") / name).read_bytes()
    builder = BarsBuilder()
    builder.add_page(raw)
    theirs = BarSet(json.loads(raw)["bars"]).df
    _same(builder.frame(), theirs)


def test_empty_results_keep_the_schema(session: Session) -> None:
    weekend = session.bars(["AAPL", "MSFT"], "1Min", start="2024-10-12", end="2024-10-13")
    assert weekend.empty
    _schema(weekend, multi=True)
    single = session.bars("AAPL", "1Min", start="2024-10-12", end="2024-10-13")
    assert single.empty
    _schema(single, multi=False)
    builder = BarsBuilder()
    builder.add_page((shared_dir("alpaca-fixtures") / "GET_v2_stocks_bars__empty.json").read_bytes())
    _schema(builder.frame(), multi=True)


def test_limit_spans_symbols_and_tz_converts(session: Session) -> None:
    frame = session.bars(
        ["AAPL", "MSFT"], "1Min", start="2024-10-01", end="2024-10-18", limit=12_345, tz="America/New_York"
    )
    assert len(frame) == 12_345  # two pages: 10,000 + 2,345
    per_symbol = frame.groupby(level="symbol").size()
    assert set(per_symbol.index) == {"AAPL", "MSFT"} and per_symbol["AAPL"] < 12_345
    assert str(frame.index.levels[1].tz) == "America/New_York"
    assert frame.index.get_level_values(1).min().hour >= 4  # pre-market starts at 04:00 New York time


def test_naive_and_date_only_inputs_are_new_york_time(session: Session) -> None:
    assert to_utc("2024-10-14", "start") == pd.Timestamp("2024-10-14 04:00", tz="UTC")  # EDT
    assert to_utc(dt.date(2024, 1, 2), "start") == pd.Timestamp("2024-01-02 05:00", tz="UTC")  # EST
    assert to_utc(dt.datetime(2024, 10, 14, 9, 30), "start") == pd.Timestamp("2024-10-14 13:30", tz="UTC")
    assert to_utc("2024-10-14T09:30:00Z", "start") == pd.Timestamp("2024-10-14 09:30", tz="UTC")
    assert to_utc(pd.Timestamp("2024-10-14 12:00", tz="Europe/London"), "end") == pd.Timestamp(
        "2024-10-14 11:00", tz="UTC"
    )
    # So a date range covers the whole New York day, pre-market to after-hours.
    day = session.bars("AAPL", "1Min", start="2024-10-14", end="2024-10-14 23:59")
    local = day.index.tz_convert(ET)
    assert local.min().date() == local.max().date() == dt.date(2024, 10, 14)
    assert local.min().hour == 4 and local.max().hour == 19


def test_a_429_in_the_middle_is_waited_out_without_gaps_or_duplicates(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    clean = session.bars(["GOOGL", "META"], "1Min", start="2024-06-01", end="2024-08-20", progress=False)
    sim.faults.fail("GET", "/v2/stocks/bars", 429, skip=2)  # the third page is refused once
    before = len(sim.requests)
    again = session.bars(["GOOGL", "META"], "1Min", start="2024-06-01", end="2024-08-20", progress=False)
    statuses = [r.status for r in sim.requests[before:] if r.path == "/v2/stocks/bars"]
    assert statuses.count(429) == 1 and len(statuses) >= 5
    pd.testing.assert_frame_equal(again, clean)
    assert not again.index.duplicated().any()


def test_429s_while_paging_are_waited_out(session: Session) -> None:
    """Three 429s (Retry-After: 1) on the second page: each is waited out, not retried at once."""
    sim = session.simulator
    assert sim is not None
    clean = session.bars(["AAPL", "MSFT"], "1Min", start="2024-06-03", end="2024-06-14", progress=False)
    sim.faults.fail("GET", "/v2/stocks/bars", 429, times=3, skip=1)
    before = len(sim.requests)
    start = time.monotonic()
    again = session.bars(["AAPL", "MSFT"], "1Min", start="2024-06-03", end="2024-06-14", progress=False)
    took = time.monotonic() - start
    stamps = [r.at for r in sim.requests[before:] if r.path == "/v2/stocks/bars"]
    statuses = [r.status for r in sim.requests[before:] if r.path == "/v2/stocks/bars"]
    print(f"\nthree 429s while paging: {took:.2f} s in all; statuses {statuses}")
    assert statuses.count(429) == 3
    gaps = [b - a for a, b in itertools.pairwise(stamps[1:5])]  # after each 429, the retry
    assert min(gaps) >= 0.9 and took >= 2.9
    pd.testing.assert_frame_equal(again, clean)


def test_the_server_gone_is_a_connection_error_of_ours() -> None:
    with Simulator(seed=7, rate_limit=None) as sim:
        s = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True, current=False)
    with pytest.raises(errors.ConnectionLostError, match="GET /v2/stocks/bars"):
        s.bars("AAPL", "1Day", start="2024-01-02", end="2024-01-31")
    with pytest.raises(errors.ConnectionLostError):
        s.latest_quotes("AAPL")
    s.close()


def test_progress_bar_for_multi_page_pulls(session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    session.bars(["AAPL", "MSFT"], "1Min", start="2024-09-03", end="2024-09-20")
    assert "AAPL,MSFT 1Min" in capsys.readouterr().err  # tqdm (text mode outside a notebook)
    session.bars("AAPL", "1Day", start="2024-09-03", end="2024-09-20")
    assert capsys.readouterr().err == ""  # one page: no bar


def test_bad_inputs_raise_before_any_request(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    before = len(sim.requests)
    bad = [
        dict(symbols="aa pl"),
        dict(symbols=[]),
        dict(symbols="AAPL", timeframe="7Day"),
        dict(symbols="AAPL", timeframe="60Min"),
        dict(symbols="AAPL", timeframe="fortnight"),
        dict(symbols="AAPL", start="2024-02-01", end="2024-01-01"),
        dict(symbols="AAPL", start="not a date"),
        dict(symbols="AAPL", limit=0),
        dict(symbols="AAPL", limit=2.5),
        dict(symbols="AAPL", sort="sideways"),
        dict(symbols="AAPL", feed="nasdaq"),
        dict(symbols="AAPL", adjustment="magic"),
        dict(symbols="AAPL", tz="Mars/Olympus"),
    ]
    for kwargs in bad:
        with pytest.raises(errors.ValidationError) as err:
            session.bars(**kwargs)  # type: ignore[arg-type]
        assert "\n" not in str(err.value)
    for call in (lambda: session.latest_quotes("aa pl"), lambda: session.snapshots([])):
        with pytest.raises(errors.ValidationError):
            call()
    assert len(sim.requests) == before


def test_unknown_symbol_is_an_error(session: Session) -> None:
    with pytest.raises(errors.SymbolNotFoundError, match="ZZZZ"):
        session.bars(["AAPL", "ZZZZ"], "1Day", start="2024-01-01", end="2024-02-01")
    with pytest.raises(errors.SymbolNotFoundError, match="QQQQ"):
        session.latest_quotes(["AAPL", "QQQQ"])


def test_recent_sip_on_a_basic_plan_suggests_iex() -> None:
    with Simulator(seed=3, plan="basic", rate_limit=None) as sim:
        s = anb.connect("demo", simulator=sim, quiet=True)
        with pytest.raises(errors.SubscriptionError, match='feed="iex"'):
            s.bars("AAPL", "1Min", feed="sip")
        assert len(s.bars("AAPL", "1Min", feed="iex")) >= 0
        close_current()


def test_latest_quotes_trades_snapshots(session: Session) -> None:
    quotes = session.latest_quotes(["MSFT", "AAPL"])
    assert list(quotes.index) == ["MSFT", "AAPL"] and quotes.index.name == "symbol"
    assert (quotes["bid_price"] < quotes["ask_price"]).all()
    assert str(quotes["timestamp"].dt.tz) == "UTC"
    trades = session.latest_trades("SPY")
    assert trades.loc["SPY", "price"] > 0 and trades.loc["SPY", "size"] > 0
    snaps = session.snapshots(["AAPL", "SPY"])
    spy = snaps.loc["SPY"]
    assert spy["change"] == pytest.approx(spy["price"] - spy["prev_close"])
    assert spy["low"] <= spy["close"] <= spy["high"]


def test_timeframes_and_timestamps() -> None:
    ok = {
        "1m": "1Min",
        "5min": "5Min",
        "15T": "15Min",
        "1h": "1Hour",
        "4H": "4Hour",
        "1d": "1Day",
        "1D": "1Day",
        "1Week": "1Week",
        "1w": "1Week",
        "1M": "1Month",
        "3Month": "3Month",
        "1mo": "1Month",
        "1Min": "1Min",
        "59Min": "59Min",
        "day": "1Day",
        TimeFrame.Hour: "1Hour",
    }
    for raw, canonical in ok.items():
        assert parse_timeframe(raw) == canonical
    for raw in ("0Min", "60Min", "24Hour", "2Day", "5Month", "", "1x", None):
        with pytest.raises(errors.ValidationError):
            parse_timeframe(raw)
    fast = ["2024-02-29T13:30:00Z", "1999-12-31T23:59:59Z", "2100-03-01T00:00:00Z"]
    expected = pd.to_datetime(fast, utc=True).as_unit("ns").asi8
    assert np.array_equal(parse_timestamps(fast), expected)
    slow = ["2024-02-29T13:30:00.123456789Z", "2024-02-29T09:30:00-04:00"]
    assert np.array_equal(
        parse_timestamps(slow), pd.to_datetime(slow, utc=True, format="ISO8601").as_unit("ns").asi8
    )


def test_answers_that_are_not_json_are_our_error_in_one_line(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    for path, call in (
        ("/v2/stocks/quotes/latest", lambda: session.latest_quotes("AAPL")),
        ("/v2/stocks/snapshots", lambda: session.snapshots("AAPL")),
        ("/v2/stocks/bars", lambda: session.bars("AAPL", "1Day", start="2024-01-02", end="2024-01-10")),
        ("/v2/stocks/bars", lambda: session.bars(["AAPL", "MSFT"], "1Day", start="2024-01-02")),
    ):
        sim.faults.garbage("GET", path)
        with pytest.raises(errors.InvalidResponseError, match="not JSON"):
            call()
