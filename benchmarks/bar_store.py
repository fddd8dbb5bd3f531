"""A Parquet bar store from the simulator (in its own process): 500 symbols × 1 year of one-minute bars by
default (DESIGN §7), then what the store is for — one run, each figure against a baseline of the same run.

    .venv/bin/python benchmarks/bar_store.py [--symbols 500] [--days 365] [--start 2024-01-01] [--quick]

* download:  ``Session.download_bars`` in a fresh process (every symbol, every page, Parquet files renamed
             into place, the manifest after each): seconds, bars/s, and that process's **peak RSS**
             (VmHWM, the whole process: Python, pandas, pyarrow included) — target ≤ 1 GB
* again:     the same call once more: nothing is missing, nothing is fetched
* DuckDB:    an aggregate over every bar in the store (count, sum(volume), avg(close), max(high) by
             symbol), first query and best of three — target ≤ 3 s
* reload:    one symbol's whole range from the store (``BarStore.bars``, best of three) against
             re-downloading it (``Session.bars``) in the same run: the first time (the simulator's caches
             cold, as a server's) and from the simulator's cache of encoded days (the most generous
             baseline loopback allows) — target ≥ 20x faster
* on disk:   the store's bytes, and bytes per bar (zstd Parquet)

``--quick`` (20 symbols × 30 days) is the small variant; ``make bench`` runs the full size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _sim_process import start_sim  # benchmarks/ is on sys.path when run as a script

TARGETS = {"peak_rss_gb": 1.0, "duckdb_s": 3.0, "reload_x": 20.0}
DEFAULT_SYMBOLS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "TSLA", "META", "AMD", "NFLX", "JPM", "V", "KO",
                   "SPY", "QQQ", "IWM"]  # fmt: skip


def universe(n: int) -> list[str]:
    extra = [f"X{i:03d}" for i in range(max(0, n - len(DEFAULT_SYMBOLS)))]  # made-up symbols of the simulator
    return (DEFAULT_SYMBOLS + extra)[:n]


def _vm(field: str) -> int:
    m = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(m.group(1)) * 1024 if m else 0


def _session(base: str, key: str, secret: str) -> Any:
    import alpaca_nb as anb
    from alpaca_nb.config import Endpoints

    where = Endpoints(base, base, base, base)
    return anb.connect("paper", api_key=key, secret_key=secret, endpoints={"paper": where}, rate_limit=None,
                       timeout=120, quiet=True)  # fmt: skip


def run_download(
    base: str, key: str, secret: str, root: str, symbols: str, start: str, end: str
) -> dict[str, Any]:
    """In its own process: the download, its time and peak RSS."""
    session = _session(base, key, secret)
    t0 = time.perf_counter()
    store = session.download_bars(symbols.split(","), "1Min", start, end, path=root, progress=False)
    seconds = time.perf_counter() - t0
    bars = int(store.coverage()["bars"].sum())
    return {"seconds": seconds, "bars": bars, "peak_rss": _vm("VmHWM")}


def _child(base: str, key: str, secret: str, *args: str) -> dict[str, Any]:
    env = dict(os.environ, ANB_BENCH_KEY=key, ANB_BENCH_SECRET=secret)  # keys never on a command line
    out = subprocess.run([sys.executable, __file__, "_download", base, *args], capture_output=True, text=True,
                         check=True, env=env).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--days", type=int, default=365, help="calendar days from --start")
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--quick", action="store_true", help="20 symbols × 30 days")
    parser.add_argument(
        "--keep",
        help="write the store here and keep it (default: a temporary directory); "
        "a store already there is reused and its download not timed",
    )
    args = parser.parse_args()
    if args.quick:
        args.symbols, args.days = 20, 30
    import pandas as pd

    symbols = universe(args.symbols)
    start = pd.Timestamp(args.start)
    end = (start + pd.Timedelta(days=args.days) - pd.Timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    start_s = start.strftime("%Y-%m-%d")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="anb-bench-store-")) / "bars"
    sim, base, key, secret = start_sim(cache_mb=256, symbols=symbols)
    try:
        print(f"== bar store: {len(symbols)} symbols × {args.days} days of 1-minute bars ({start_s} → {end} ET), "
              f"simulator in its own process (pid {sim.pid}); store at {root}")  # fmt: skip
        existed = (root / "_manifest.json").exists()
        down = _child(base, key, secret, str(root), ",".join(symbols), start_s, end)
        bars = down["bars"]
        if existed:  # --keep on a store a earlier run filled: its download figures are that run's
            print(f"download: the store at {root} already held the range ({bars:,} bars): not timed here")
        else:
            print(f"download: {bars:,} bars in {down['seconds']:.1f} s ({bars / down['seconds']:,.0f} bars/s), "
                  f"peak RSS {down['peak_rss'] / 1e9:.2f} GB")  # fmt: skip
        again = _child(base, key, secret, str(root), ",".join(symbols), start_s, end)
        print(f"the same download again: {again['seconds']:.2f} s (nothing missing, nothing fetched)")

        import alpaca_nb as anb

        store = anb.BarStore(root)
        query = ("select symbol, count(*) as n, sum(volume) as volume, avg(close) as close, max(high) as high "
                 "from bars group by symbol")  # fmt: skip
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            agg = store.sql(query)
            times.append(time.perf_counter() - t0)
        assert int(agg["n"].sum()) == bars and len(agg) == len(symbols), (len(agg), int(agg["n"].sum()))
        print(f"DuckDB aggregate over all {bars:,} bars: first {times[0]:.2f} s, best {min(times):.2f} s")

        session = _session(base, key, secret)
        one = symbols[0]
        store.bars(symbols[-1], "1Min", start_s, end)  # imports (pyarrow…) paid before the clock
        session.bars(symbols[-1], "1Min", start_s, end, progress=False)
        fetch_s = []  # the first re-download finds the simulator's caches cold (as a server's would be);
        reload_s = []  # the next ones are served from its cache of encoded days: the most generous baseline
        for _ in range(3):
            t0 = time.perf_counter()
            fetched = session.bars(one, "1Min", start_s, end, progress=False)
            fetch_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            reloaded = store.bars(one, "1Min", start_s, end)
            reload_s.append(time.perf_counter() - t0)
            assert reloaded.equals(fetched)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        files = sum(1 for _ in root.rglob("*.parquet"))
        best = min(reload_s)
        print(f"reload {one} ({len(reloaded):,} bars) from the store: {', '.join(f'{x * 1000:.0f}' for x in reload_s)} ms; "
              f"re-download: {', '.join(f'{x * 1000:.0f}' for x in fetch_s)} ms")  # fmt: skip
        print(f"on disk: {size / 1e6:,.1f} MB in {files} files, {size / bars:.2f} bytes/bar")
        print()
        summary = (
            []
            if existed
            else [
                f"peak RSS of the download {down['peak_rss'] / 1e9:.2f} GB (target <= {TARGETS['peak_rss_gb']:g} GB)"
            ]
        )
        for line in [
            *summary,
            f"DuckDB aggregate over the whole store {min(times):.2f} s best, {times[0]:.2f} s first "
            f"(target <= {TARGETS['duckdb_s']:g} s)",
            f"reloading {one} from the store (best {best * 1000:.0f} ms) {fetch_s[0] / best:.1f}x faster than "
            f"re-downloading it cold ({fetch_s[0] * 1000:.0f} ms), {min(fetch_s[1:]) / best:.1f}x than from the "
            f"simulator's warm cache ({min(fetch_s[1:]) * 1000:.0f} ms) (target >= {TARGETS['reload_x']:g}x)",
            f"store size {size / bars:.2f} bytes/bar ({size:,} bytes for {bars:,} bars)",
        ]:
            print(line)
        session.close()
        store.close()
    finally:
        sim.terminate()
        sim.wait(10)
        if not args.keep:
            shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_download":
        base, *rest = sys.argv[2:7]
        print(
            json.dumps(run_download(base, os.environ["ANB_BENCH_KEY"], os.environ["ANB_BENCH_SECRET"], *rest))
        )
    else:
        main()
