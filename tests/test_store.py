"""The Parquet bar store (alpaca_nb.store): the same frames as Session.bars, resumable and incremental
downloads, DuckDB/pandas agreeing, one-line errors on bad input — against the simulator over sockets."""

from __future__ import annotations

import contextlib
import itertools
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
    pd.testing.assert_frame_equal(
        local, session.bars(symbols[0], timeframe, start, end, tz="America/New_York")
    )
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
    clean = session.download_bars(
        UNIVERSE, "1Min", "2024-10-14", "2024-10-22", path=tmp_path / "c", progress=False
    )
    pd.testing.assert_frame_equal(grown.bars(UNIVERSE, "1Min"), clean.bars(UNIVERSE, "1Min"))
    pd.testing.assert_frame_equal(
        grown.bars(UNIVERSE, "1Min"), session.bars(UNIVERSE, "1Min", "2024-10-14", "2024-10-22")
    )
    rows = all_rows(root)
    assert not rows.duplicated(["symbol", "timestamp"]).any() and len(rows) == len(
        clean.bars(UNIVERSE, "1Min")
    )
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
    pd.testing.assert_frame_equal(
        by_sql, by_pandas, check_dtype=False, check_names=False, check_index_type=False
    )
    crypto = store.sql(
        "select symbol, typeof(volume) as t, count(*) as n from bars where asset = 'crypto' group by all"
    )
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
        ("garbage", errors.InvalidResponseError),
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
        elif fault == "garbage":
            sim.faults.garbage("GET", BARS, after_apply=True, skip=skip)  # half of the real page: not JSON
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
            assert kept["bars"].sum() < len(
                clean.bars(UNIVERSE, "1Min")
            )  # stopped part-way, kept what was whole
            time.sleep(2.6 if fault == "stall" else 0)  # the stalled answer is still carried out
            before = len(sim.requests)
            store = s.download_bars(*args, path=root, progress=False, page_limit=500)
            resumed = len(bar_requests(sim, before))
            whole = int((kept["files"] > 0).sum())
            print(f"\n{fault} at page {skip + 1}: {whole} symbol(s) whole; resumed in {resumed} pages")
            assert 0 < whole < len(UNIVERSE) and resumed < skip
        assert not sim.faults.pending
        pd.testing.assert_frame_equal(
            store.bars(UNIVERSE, "1Min"), clean.bars(UNIVERSE, "1Min"), check_exact=True
        )
        assert not all_rows(root).duplicated(["symbol", "timestamp"]).any()
    finally:
        sim.faults.clear()
        s.close()


KILLED = r"""
import os
import sys

import alpaca_nb as anb
import alpaca_nb.store.writer, pyarrow.parquet  # noqa: F401
from alpaca_nb.config import Endpoints

base, root, symbols, start, end = sys.argv[1:6]
key, secret = os.environ["ANB_TEST_KEY"], os.environ["ANB_TEST_SECRET"]  # never on a command line
where = Endpoints(base, base, base, base)
s = anb.connect("paper", api_key=key, secret_key=secret, endpoints={"paper": where}, rate_limit=None,
                quiet=True)
s.data_client(symbols.split(","))  # alpaca-py's client made before "ready": the kills land in the download
print("ready", flush=True)
s.download_bars(symbols.split(","), "1Min", start, end, path=root, progress=False, page_limit=250)
print("done", flush=True)
"""


def test_twenty_kills_then_a_resume_equal_a_clean_download_and_no_reader_sees_a_partial_file(
    tmp_path: Path,
) -> None:
    """A download in a subprocess is SIGKILLed at 20 seeded random moments, each run resuming the last;
    a reader thread polls every visible file and the manifest the whole time."""

    symbols = ["AAPL", "AMD", "AMZN", "GOOGL", "JPM", "KO", "META", "MSFT", "NVDA", "QQQ", "SPY", "TSLA"]
    start, end = "2024-03-04", "2024-03-09"
    # Every page waits a 15 ms round trip: the download's length is set by the pages, not by how busy
    # the machine is, so the kills below land before, between and after finished pieces.
    sim = Simulator(seed=7, hours="always", rate_limit=None, stream_connection_limit=None, rtt_ms=15).start()
    session = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True, current=False)
    try:
        clean = session.download_bars(
            symbols, "1Min", start, end, path=tmp_path / "clean", progress=False, page_limit=250
        )  # fmt: skip  (also warms the simulator's caches)
        t0 = time.monotonic()
        session.download_bars(
            symbols, "1Min", start, end, path=tmp_path / "timed", progress=False, page_limit=250
        )
        took = time.monotonic() - t0
        _kill_and_resume(sim, session, clean, symbols, start, end, took, tmp_path)
    finally:
        session.close()
        sim.stop()


def _kill_and_resume(
    sim: Simulator,
    session: Session,
    clean: anb.BarStore,
    symbols: list[str],
    start: str,
    end: str,
    took: float,
    tmp_path: Path,
) -> None:
    import random
    import signal
    import subprocess
    import sys

    import pyarrow.parquet as pq

    root = tmp_path / "killed"
    key, secret = sim.credentials("paper")
    stop, failures, polls = threading.Event(), [], [0]

    def poll() -> None:  # what any Hive reader sees: every .parquet file not named . or _
        while not stop.is_set():
            try:
                spans: dict[str, list[tuple[str, str]]] = {}
                for f in root.rglob("*.parquet"):
                    if not f.name.startswith((".", "_")):
                        with contextlib.suppress(FileNotFoundError):  # swept by the next run: fine
                            pq.read_table(f)
                        a, b = f.stem.split("-")[1:]
                        spans.setdefault(f.parent.parent.name, []).append((a, b))
                for symbol, ranges in spans.items():  # no two visible files hold the same bar
                    ranges.sort()
                    assert all(b <= c for (_, b), (c, _) in itertools.pairwise(ranges)), (symbol, ranges)
                if (root / "_manifest.json").exists():
                    anb.BarStore(root).coverage()  # the manifest is always whole and valid
                polls[0] += 1
            except Exception as err:
                failures.append(f"{type(err).__name__}: {err}")
            time.sleep(0.005)

    reader = threading.Thread(target=poll, daemon=True)
    reader.start()
    rng = random.Random(20261202)
    whole, finished = [], 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "ANB_TEST_KEY": key,
           "ANB_TEST_SECRET": secret}  # fmt: skip
    try:
        for _ in range(20):
            proc = subprocess.Popen(
                [sys.executable, "-c", KILLED, sim.base_url, str(root), ",".join(symbols), start,
                 end],
                stdout=subprocess.PIPE, text=True, env=env,
            )  # fmt: skip
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.6) * took)
            proc.send_signal(signal.SIGKILL)
            out = proc.communicate(timeout=30)[0]
            finished += "done" in out
            if (root / "_manifest.json").exists():
                whole.append(int((anb.BarStore(root).coverage()["files"] > 0).sum()))
    finally:
        stop.set()
        reader.join(10)
    resumed = session.download_bars(symbols, "1Min", start, end, path=root, progress=False)
    print(f"\n20 kills: symbols whole after each {whole}; {finished} run(s) finished before their kill; "
          f"the reader polled {polls[0]} times, saw {len(failures)} bad file(s)")  # fmt: skip
    assert not failures, failures[:3]
    assert polls[0] > 20 and any(0 < w < len(symbols) for w in whole)  # kills landed between whole pieces
    names = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix == ".parquet"
    )
    clean_names = sorted(
        p.relative_to(tmp_path / "clean").as_posix() for p in (tmp_path / "clean").rglob("*.parquet")
    )
    assert names == clean_names  # no temporary or orphaned file left, the same files
    for name in names:
        assert pq.read_table(root / name).equals(pq.read_table(tmp_path / "clean" / name)), name
    pd.testing.assert_frame_equal(
        resumed.bars(symbols, "1Min"), clean.bars(symbols, "1Min"), check_exact=True
    )
    assert not all_rows(root).duplicated(["symbol", "timestamp"]).any()


# ----- bad input: one line, nothing lost -------------------------------------------------------------
def _one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(err.value)
    assert "\n" not in text and len(text) < 400, text
    return text


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != ".lock"
    }


def test_bad_paths_and_arguments_are_refused_in_one_line_before_any_request(
    session: Session, sim: Simulator, tmp_path: Path
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.parquet").write_text("not ours")
    before = len(sim.requests)
    cases = [
        (dict(symbols=["AAPL"], path=a_file), errors.StoreError, "is a file"),
        (dict(symbols=["AAPL"], path=other), errors.StoreError, "without _manifest.json"),
        (dict(symbols=["AAPL"], path=tmp_path / "s", start=None), errors.ValidationError, "needs a start"),
        (dict(symbols=["AAPL", "BTC/USD"], path=tmp_path / "s"), errors.ValidationError, "crypto pair"),
        (dict(symbols=["AAPL"], path=tmp_path / "s", timeframe="7Day"), errors.ValidationError, "timeframe"),
        (dict(symbols=["AAPL"], path=tmp_path / "s", end="2024-01-01"), errors.ValidationError, "after end"),
        (dict(symbols=["AAPL"], path=""), errors.ValidationError, "path"),
    ]
    for kwargs, kind, needle in cases:
        call = {"timeframe": "1Day", "start": "2024-03-01", "end": "2024-03-31", **kwargs}
        with pytest.raises(kind) as err:
            syms, timeframe, start, end = (call.pop(k) for k in ("symbols", "timeframe", "start", "end"))
            session.download_bars(syms, timeframe, start, end, progress=False, **call)
        assert needle in _one_line(err), (kwargs, str(err.value))
    assert bar_requests(sim, before) == []
    assert a_file.read_text() == "mine" and (other / "thesis.parquet").read_text() == "not ours"
    with pytest.raises(errors.SymbolNotFoundError) as err:
        session.download_bars(
            ["AAPL", "ZZZZQ"], "1Day", "2024-03-01", "2024-03-31", path=tmp_path / "u", progress=False
        )
    assert "ZZZZQ" in _one_line(err)
    with pytest.raises(errors.StoreError, match="no bar store"):
        anb.BarStore(tmp_path / "nowhere")


def test_another_feed_or_adjustment_is_refused_and_the_store_is_unchanged(
    session: Session, tmp_path: Path
) -> None:
    store = session.download_bars(["AAPL"], "1Day", "2024-03-01", "2024-03-31", path=tmp_path, progress=False)
    kept = _snapshot(tmp_path)
    for extra in ({"feed": "sip"}, {"adjustment": "split"}, {"feed": "iex", "adjustment": "raw"}):
        with pytest.raises(errors.StoreError) as err:
            session.download_bars(
                ["MSFT"], "1Day", "2024-03-01", "2024-03-31", path=tmp_path, progress=False, **extra
            )
        assert "holds stock bars of feed Alpaca's default" in _one_line(err)
    assert _snapshot(tmp_path) == kept
    # crypto has neither: it goes into the same store
    session.download_bars(["BTC/USD"], "1Day", "2024-03-01", "2024-03-31", path=tmp_path, progress=False)
    assert store.symbols() == ["AAPL", "BTC/USD"]


def test_ranges_not_downloaded_are_an_error_not_a_shorter_frame(session: Session, tmp_path: Path) -> None:
    store = session.download_bars(
        ["AAPL", "MSFT"], "1Hour", "2024-03-04", "2024-03-08", path=tmp_path, progress=False
    )
    for args, needle in [
        (
            (["AAPL"], "1Hour", "2024-03-01", "2024-03-08"),
            "2024-03-01T05:00:00Z → 2024-03-04T05:00:00Z is not in",
        ),
        (("AAPL", "1Hour", "2024-03-04", "2024-03-12"), "is not in the store"),
        (("SPY", "1Hour", "2024-03-04", "2024-03-05"), "SPY 1Hour: not in the store"),
        (("AAPL", "1Day", "2024-03-04", "2024-03-05"), "AAPL 1Day: not in the store"),
    ]:
        with pytest.raises(errors.StoreError) as err:
            store.bars(*args)
        assert needle in _one_line(err)


def test_a_second_download_into_the_same_store_is_refused_while_the_first_runs(
    session: Session, sim: Simulator, tmp_path: Path
) -> None:
    sim.faults.stall("GET", BARS, seconds=1.5)  # the first download's first page takes 1.5 s
    box: dict[str, object] = {}

    def first() -> None:
        box["store"] = session.download_bars(
            UNIVERSE, "1Hour", "2024-05-01", "2024-05-31", path=tmp_path, progress=False
        )

    thread = threading.Thread(target=first)
    thread.start()
    try:
        time.sleep(0.5)
        with pytest.raises(errors.StoreBusyError) as err:
            session.download_bars(
                ["AAPL"], "1Hour", "2024-05-01", "2024-06-30", path=tmp_path, progress=False
            )
        assert f"another download (pid {os.getpid()})" in _one_line(err) and "refused" in str(err.value)
    finally:
        thread.join(30)
        sim.faults.clear()
    store = box["store"]
    assert isinstance(store, anb.BarStore)
    pd.testing.assert_frame_equal(
        store.bars(UNIVERSE, "1Hour"), session.bars(UNIVERSE, "1Hour", "2024-05-01", "2024-05-31")
    )
    session.download_bars(
        ["AAPL"], "1Hour", "2024-05-01", "2024-06-30", path=tmp_path, progress=False
    )  # now it may


@pytest.mark.parametrize("edit", ["range", "rows", "garbage", "version"])
def test_a_manifest_edited_by_hand_is_refused_in_one_line_and_nothing_is_lost(
    session: Session, tmp_path: Path, edit: str
) -> None:
    session.download_bars(["AAPL", "MSFT"], "1Day", "2024-01-01", "2024-03-31", path=tmp_path, progress=False)
    manifest = tmp_path / "_manifest.json"
    body = json.loads(manifest.read_text())
    series = body["series"]["stock/1Day/AAPL"]
    if edit == "range":
        series["ranges"][0][1] = "2024-12-31T05:00:00Z"  # claims bars nobody fetched
    elif edit == "rows":
        next(iter(series["files"].values()))["rows"] = 1
    elif edit == "version":
        body["version"] = 99
    text = "{ not json" if edit == "garbage" else json.dumps(body, indent=1)
    manifest.write_text(text)
    kept = _snapshot(tmp_path)
    for action in (lambda: anb.BarStore(tmp_path).bars("AAPL", "1Day"),
                   lambda: session.download_bars(["AAPL"], "1Day", "2024-01-01", "2024-06-30", path=tmp_path,
                                                 progress=False)):  # fmt: skip
        with pytest.raises(errors.StoreError) as err:
            action()
        assert "_manifest.json is not a manifest" in _one_line(err) and "edited by hand" in str(err.value)
    assert _snapshot(tmp_path) == kept  # nothing deleted, nothing rewritten


def test_a_killed_runs_leftovers_are_swept_and_refetched(session: Session, tmp_path: Path) -> None:
    """What a kill can leave: a temporary file; a whole file renamed just before the manifest listed it."""
    store = session.download_bars(
        ["AAPL", "MSFT"], "1Day", "2024-01-01", "2024-02-29", path=tmp_path, progress=False
    )
    listed = sorted(tmp_path.rglob("*.parquet"))
    unlisted = listed[0].with_name("part-20240301T050000Z-20240401T040000Z.parquet")
    unlisted.write_bytes(listed[0].read_bytes())  # bars a reader would count twice if it stayed
    partial = listed[0].with_name(".part-20240301T050000Z-20240401T040000Z.123.tmp")
    partial.write_bytes(b"PAR1 half")
    mine = listed[0].with_name("my-notes.txt")
    mine.write_text("keep me")
    session.download_bars(["AAPL", "MSFT"], "1Day", "2024-01-01", "2024-03-31", path=tmp_path, progress=False)
    assert not partial.exists() and not unlisted.exists() and mine.read_text() == "keep me"
    assert not all_rows(tmp_path).duplicated(["symbol", "timestamp"]).any()
    expected = session.bars(["AAPL", "MSFT"], "1Day", "2024-01-01", "2024-03-31")
    pd.testing.assert_frame_equal(store.bars(["AAPL", "MSFT"], "1Day"), expected)


def test_no_key_or_secret_is_written_to_the_store(session: Session, sim: Simulator, tmp_path: Path) -> None:
    session.download_bars(["AAPL"], "1Day", "2024-01-01", "2024-01-31", path=tmp_path, progress=False)
    key, secret = sim.credentials("paper")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert key.encode() not in data and secret.encode() not in data, path


# ----- beyond one machine ----------------------------------------------------------------------------
def test_dask_on_a_local_cluster_reads_the_plain_parquet_and_agrees_with_duckdb_and_pandas(
    session: Session, tmp_path: Path
) -> None:
    """The store read with no alpaca_nb at all: Dask's read_parquet on the directory, two workers."""
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    store = session.download_bars(
        UNIVERSE, "15Min", "2023-12-01", "2024-01-31", path=tmp_path, progress=False
    )
    session.download_bars(["BTC/USD"], "15Min", "2023-12-01", "2024-01-31", path=tmp_path, progress=False)
    frame = store.bars(UNIVERSE, "15Min")
    by_pandas = (
        frame.groupby(level="symbol")
        .agg(n=("close", "size"), volume=("volume", "sum"), high=("high", "max"), vwap=("vwap", "mean"))
        .sort_index()
    )
    by_duckdb = store.sql(
        "select symbol, count(*) as n, sum(volume)::BIGINT as volume, max(high) as high, avg(vwap) as vwap "
        "from bars where asset = 'stock' and timeframe = '15Min' group by symbol order by symbol"
    ).set_index("symbol")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        assert len(client.scheduler_info()["workers"]) == 2
        bars = dd.read_parquet(str(tmp_path / "asset=stock"), dataset={"partitioning": "hive"})
        bars = bars[bars["timeframe"] == "15Min"]
        by_dask = (
            bars.groupby("symbol", observed=True)
            .agg(n=("close", "size"), volume=("volume", "sum"), high=("high", "max"), vwap=("vwap", "mean"))
            .compute()
        )
        years = sorted(bars["year"].astype(int).unique().compute())
    by_dask.index = by_dask.index.astype(str)
    by_dask = by_dask.sort_index()
    assert years == [2023, 2024] and by_dask.index.tolist() == UNIVERSE_SORTED
    for other in (by_duckdb, by_dask):
        pd.testing.assert_frame_equal(
            other, by_pandas, check_dtype=False, check_names=False, check_index_type=False
        )
    print(f"\nDask (2 workers), DuckDB and pandas agree on {int(by_pandas['n'].sum()):,} bars")


UNIVERSE_SORTED = sorted(UNIVERSE)


# ----- %alpaca download / store ----------------------------------------------------------------------
def test_magics_download_and_store(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from alpaca_nb.session import close_current

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "alpaca_nb")
    s = anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
    try:
        line = f"download AAPL,BTC/USD 1Hour --start 2024-03-04 --end 2024-03-08 --path {tmp_path}"
        capsys.readouterr()
        result = shell.run_cell(f"%alpaca {line}")
        shown = capsys.readouterr()
        assert (
            result.error_in_exec is not None
            and "ValidationError: one asset class per call" in shown.out + shown.err
        )
        store = shell.run_line_magic("alpaca", line.replace(",BTC/USD", ""))
        assert isinstance(store, anb.BarStore)
        pd.testing.assert_frame_equal(
            store.bars("AAPL", "1Hour"), s.bars("AAPL", "1Hour", "2024-03-04", "2024-03-08")
        )
        shell.run_line_magic("alpaca", f"store {tmp_path} -o cov")
        cov = shell.user_ns["cov"]
        assert cov[["symbol", "timeframe", "files"]].values.tolist() == [["AAPL", "1Hour", 1]]
        for bad, needle in [
            (
                f"%alpaca download AAPL 1Hour --path {tmp_path}",
                "the following arguments are required: --start",
            ),
            (f"%alpaca store {tmp_path / 'nowhere'}", "StoreError: no bar store"),
            (
                f"%alpaca download AAPL 1Hour --start 2024-03-04 --path {tmp_path} --adjustment split",
                "StoreError",
            ),
        ]:
            capsys.readouterr()
            result = shell.run_cell(bad)
            shown = capsys.readouterr()
            text = shown.out + shown.err
            assert result.error_in_exec is not None and needle in text and text.strip().count("\n") == 0, text
    finally:
        close_current()


# ----- ranges ----------------------------------------------------------------------------------------
def test_range_arithmetic_gaps_merges_and_year_cuts() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from alpaca_nb.store.layout import NS, bounds, gaps, merged, years

    spans = st.lists(st.tuples(st.integers(0, 200), st.integers(1, 50)).map(lambda t: (t[0], t[0] + t[1])))

    @given(spans, st.integers(0, 250), st.integers(1, 100))
    def check(ranges: list[tuple[int, int]], lo: int, width: int) -> None:
        covered = merged(ranges)
        assert all(a < b for a, b in covered) and all(b < c for (_, b), (c, _) in itertools.pairwise(covered))
        hi = lo + width
        missing = gaps(covered, lo, hi)
        inside = {x for a, b in covered for x in range(a, b)}
        assert {x for a, b in missing for x in range(a, b)} == set(range(lo, hi)) - inside

    check()
    day = pd.Timestamp("2024-12-30 15:00", tz="UTC")
    pieces = list(years(int(day.value), int((day + pd.Timedelta(days=3)).value)))
    assert [y for y, _ in pieces] == [2024, 2025] and pieces[0][1][1] == pd.Timestamp(
        "2025-01-01", tz="UTC"
    ).value
    now = int(pd.Timestamp("2024-10-14 14:30:30", tz="UTC").value)
    start, end = pd.Timestamp("2024-10-14", tz="UTC"), pd.Timestamp("2024-10-20", tz="UTC")
    assert bounds(start, end, "1Min", now)[1] == now - 60 * NS + NS  # 14:29 is final, 14:30 still forming
    assert bounds(start, None, "1Day", now)[1] <= now - 86_400 * NS  # today's daily bar waits
    assert bounds(start, pd.Timestamp("2024-10-13 10:00:00.5", tz="UTC"), "1Min", now) == (
        start.value,
        pd.Timestamp("2024-10-13 10:00:01", tz="UTC").value,
    )


def test_the_benchmark_runs_at_its_small_size() -> None:
    """benchmarks/bar_store.py --quick (20 symbols × 30 days; `make bench` runs 500 × a year): it still runs,
    and the targets that hold at any size do (peak RSS, the DuckDB aggregate)."""
    import re
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bar_store.py"
    run = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=240
    )
    out = run.stdout
    assert run.returncode == 0, run.stderr[-2000:]
    print(out)
    peak = float(re.search(r"peak RSS of the download ([\d.]+) GB", out).group(1))  # type: ignore[union-attr]
    duck = float(re.search(r"DuckDB aggregate over the whole store ([\d.]+) s best", out).group(1))  # type: ignore[union-attr]
    assert peak <= 1.0 and duck <= 3.0
    assert re.search(r"reloading AAPL from the store \(best \d+ ms\) [\d.]+x faster", out)


def test_one_progress_bar_across_all_symbols(
    session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session.download_bars(UNIVERSE, "1Hour", "2023-12-20", "2024-01-10", path=tmp_path)  # two years: 8 pieces
    err = capsys.readouterr().err
    bars = {line.split(":")[0] for line in err.replace("\r", "\n").splitlines() if "download bars" in line}
    assert bars == {f"download bars 1Hour → {tmp_path.name}"}, err[-500:]
    assert "| 0/8 [" in err  # one bar, its total every piece of every symbol (cleared when done: leave=False)
