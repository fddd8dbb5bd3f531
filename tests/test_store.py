"""The Parquet bar store (alpaca_nb.store): the same frames as Session.bars, resumable and incremental
downloads, DuckDB/pandas agreeing, one-line errors on bad input — against the simulator over sockets."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session
from alpaca_nb.sim import Simulator

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

BARS = "/v2/stocks/bars"
UNIVERSE = ["AAPL", "MSFT", "SPY", "NVDA"]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7, hours="always", rate_limit=None, stream_connection_limit=None) as s:
        yield s


@pytest.fixture(scope="module")
def session(sim: Simulator) -> Iterator[Session]:
    s = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True, current=False)
    yield s
    s.close()


def bar_requests(sim: Simulator, since: int, path: str = BARS) -> list[int]:
    return [r.status for r in sim.requests[since:] if r.path == path]


def all_rows(root: Path) -> pd.DataFrame:
    """Every bar in every visible data file (what Spark or Dask would read), by plain pyarrow."""
    import pyarrow.dataset as ds

    files = [p for p in root.rglob("*.parquet") if not p.name.startswith((".", "_"))]
    if not files:
        return pd.DataFrame(columns=["symbol", "timestamp"])
    table = ds.dataset([str(f) for f in files], format="parquet", partitioning="hive").to_table()
    return table.to_pandas()


# ----- equality with Session.bars --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("symbols", "timeframe", "start", "end"),
    [
        (["AAPL", "MSFT", "SPY"], "1Min", "2024-10-14", "2024-10-18"),
        (["AAPL", "NVDA"], "15Min", "2024-02-26", "2024-03-08 12:00"),
        (["MSFT", "SPY"], "1Hour", "2023-12-20", "2024-01-10"),  # crosses a year: two files per symbol
        (["AAPL", "MSFT"], "1Day", "2023-06-01", "2024-06-30"),
        (["BTC/USD", "ETH/USD"], "1Min", "2024-10-12", "2024-10-14"),  # crypto: float volume, BTC-USD dirs
        (["BTC/USD", "SOL/USD"], "1Hour", "2024-12-30", "2025-01-02"),
    ],
)
def test_store_bars_equal_session_bars(
    session: Session, tmp_path: Path, symbols: list[str], timeframe: str, start: str, end: str
) -> None:
    store = session.download_bars(symbols, timeframe, start, end, path=tmp_path / "bars", progress=False)
    cases = [(symbols, start, end), (symbols[0], start, end), (symbols[1:], start, end)]
    mid = pd.Timestamp(start) + (pd.Timestamp(end) - pd.Timestamp(start)) / 3
    cases.append((symbols, mid.isoformat(), end))  # a range inside what is stored
    for syms, a, b in cases:
        ours, theirs = store.bars(syms, timeframe, a, b), session.bars(syms, timeframe, a, b)
        assert len(theirs) > 0
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
        assert ours.dtypes.equals(theirs.dtypes) and ours.index.equals(theirs.index)
        assert type(ours.index) is type(theirs.index)
    local = store.bars(symbols[0], timeframe, start, end, tz="America/New_York")
    pd.testing.assert_frame_equal(local, session.bars(symbols[0], timeframe, start, end, tz="America/New_York"))
    assert store.symbols() == sorted(symbols)
    if "/" in symbols[0]:
        dirs = {p.name for p in (tmp_path / "bars").glob("asset=crypto/timeframe=*/symbol=*")}
        assert dirs == {f"symbol={s.replace('/', '-')}" for s in symbols}


def test_a_rerun_fetches_nothing_and_a_later_end_fetches_only_the_new_range(
    session: Session, sim: Simulator, tmp_path: Path
) -> None:
    root = tmp_path / "bars"
    first = session.download_bars(UNIVERSE, "1Min", "2024-10-14", "2024-10-16", path=root, progress=False)
    files = {p: p.stat().st_ino for p in root.rglob("*.parquet")}
    before = len(sim.requests)
    session.download_bars(UNIVERSE, "1Min", "2024-10-14", "2024-10-16", path=root, progress=False)
    assert bar_requests(sim, before) == []  # nothing missing: nothing asked
    before = len(sim.requests)
    grown = session.download_bars(UNIVERSE, "1Min", "2024-10-14", "2024-10-22", path=root, progress=False)
    extension = len(bar_requests(sim, before))
    assert {p: p.stat().st_ino for p in files} == files  # what was stored stays as it was
    new = sorted(p.name for p in root.rglob("*.parquet") if p not in files)
    assert len(new) == len(UNIVERSE) and all("20241016T" in n.split("-")[1] for n in new), new
    clean = session.download_bars(UNIVERSE, "1Min", "2024-10-14", "2024-10-22", path=tmp_path / "c", progress=False)
    pd.testing.assert_frame_equal(grown.bars(UNIVERSE, "1Min"), clean.bars(UNIVERSE, "1Min"))
    pd.testing.assert_frame_equal(
        grown.bars(UNIVERSE, "1Min"), session.bars(UNIVERSE, "1Min", "2024-10-14", "2024-10-22")
    )
    rows = all_rows(root)
    assert not rows.duplicated(["symbol", "timestamp"]).any() and len(rows) == len(clean.bars(UNIVERSE, "1Min"))
    cov = first.coverage()
    assert list(cov.columns) == ["symbol", "timeframe", "asset", "start", "end", "bars", "files"]
    assert len(cov) == len(UNIVERSE) and (cov["end"] > pd.Timestamp("2024-10-22", tz="UTC")).all()
    print(f"\nextending the end by 4 trading days took {extension} page requests")


def test_sql_pandas_and_bars_agree(session: Session, tmp_path: Path) -> None:
    store = session.download_bars(UNIVERSE, "5Min", "2024-09-02", "2024-09-30", path=tmp_path, progress=False)
    session.download_bars(["BTC/USD"], "5Min", "2024-09-02", "2024-09-30", path=tmp_path, progress=False)
    frame = store.bars(UNIVERSE, "5Min")
    by_pandas = frame.groupby(level="symbol").agg(n=("close", "size"), volume=("volume", "sum"),
                                                  vwap=("vwap", "mean"))  # fmt: skip
    by_sql = store.sql(
        "select symbol, count(*) as n, sum(volume)::BIGINT as volume, avg(vwap) as vwap from bars "
        "where asset = 'stock' group by symbol order by symbol"
    ).set_index("symbol")
    pd.testing.assert_frame_equal(by_sql, by_pandas, check_dtype=False, check_names=False, check_index_type=False)
    crypto = store.sql("select symbol, typeof(volume) as t, count(*) as n from bars where asset = 'crypto' group by all")
    assert crypto["symbol"].tolist() == ["BTC/USD"] and crypto["n"][0] == len(store.bars("BTC/USD", "5Min"))
    with pytest.raises(errors.ValidationError, match="DuckDB") as err:
        store.sql("select nope from bars")
    assert "\n" not in str(err.value)


# ----- resumable: faults and kills -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("500", errors.ServerError),
        ("reset", errors.ConnectionLostError),
        ("stall", errors.RequestTimeoutError),
        ("truncate", errors.TransportError),
        ("429", None),  # waited out: the download completes in one go
    ],
)
def test_a_fault_mid_download_stops_it_and_a_rerun_resumes_to_the_same_store(
    sim: Simulator, tmp_path: Path, fault: str, expected: type[Exception] | None
) -> None:
    s = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True, current=False, timeout=1.0)
    try:
        args = (UNIVERSE, "1Min", "2024-11-04", "2024-11-07")
        before = len(sim.requests)
        clean = s.download_bars(*args, path=tmp_path / "clean", progress=False, page_limit=500)
        skip = len(bar_requests(sim, before)) * 3 // 4  # late enough that some symbols are whole
        if fault in ("500", "429"):
            sim.faults.fail("GET", BARS, int(fault), skip=skip)
        elif fault == "stall":
            sim.faults.stall("GET", BARS, seconds=2.5, skip=skip)  # longer than the session's 1 s timeout
        elif fault == "reset":
            sim.faults.reset("GET", BARS, skip=skip)
        else:
            sim.faults.truncate("GET", BARS, after_apply=True, skip=skip)
        root = tmp_path / "faulty"
        before = len(sim.requests)
        if expected is None:
            store = s.download_bars(*args, path=root, progress=False, page_limit=500)
            assert bar_requests(sim, before).count(429) == 1
        else:
            with pytest.raises(expected) as err:
                s.download_bars(*args, path=root, progress=False, page_limit=500)
            assert "\n" not in str(err.value)
            kept = anb.BarStore(root).coverage()
            assert kept["bars"].sum() < len(clean.bars(UNIVERSE, "1Min"))  # stopped part-way, kept what was whole
            time.sleep(2.6 if fault == "stall" else 0)  # the stalled answer is still carried out
            before = len(sim.requests)
            store = s.download_bars(*args, path=root, progress=False, page_limit=500)
            resumed = len(bar_requests(sim, before))
            whole = int((kept["files"] > 0).sum())
            print(f"\n{fault} at page {skip + 1}: stopped with {whole} symbol(s) whole; resumed in {resumed} pages")
            assert 0 < whole < len(UNIVERSE) and resumed < skip
        assert not sim.faults.pending
        pd.testing.assert_frame_equal(store.bars(UNIVERSE, "1Min"), clean.bars(UNIVERSE, "1Min"), check_exact=True)
        assert not all_rows(root).duplicated(["symbol", "timestamp"]).any()
    finally:
        sim.faults.clear()
        s.close()
