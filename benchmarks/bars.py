"""1,000,000 one-minute bars for 10 symbols from the simulator into a DataFrame, three ways, one run.

    .venv/bin/python benchmarks/bars.py [--quick]

* ours:      ``Session.bars(...)`` (raw pages + orjson + column-wise build, next page prefetched)
* alpaca-py: ``StockHistoricalDataClient.get_stock_bars(...).df`` (models per bar, then pandas)
* floor:     the same page bytes already in memory, parsed with orjson and built the same way as ours
             (no network at all): the best any client could do with this parser and this build

The simulator runs in its own process and is warmed first (every page served once), so all three
read the same cached answers. Each variant runs in a fresh process; "peak extra" is that process's
peak RSS (VmHWM) minus its RSS just before the timed work.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _sim_process import start_sim  # benchmarks/ is on sys.path when run as a script

SYMBOLS = ["AAPL", "AMD", "AMZN", "GOOGL", "JPM", "KO", "META", "MSFT", "NVDA", "SPY"]
START, END = "2024-01-02T00:00:00Z", "2024-08-13T23:59:59Z"  # ~1,000,000 bars over the 10 symbols
QUICK_END = "2024-01-31T23:59:59Z"


def _vm(field: str) -> int:
    m = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(m.group(1)) * 1024 if m else 0


def _params(end: str) -> dict[str, Any]:
    return {"symbols": ",".join(SYMBOLS), "timeframe": "1Min", "start": START, "end": end}


def _raw_pages(base: str, key: str, secret: str, end: str) -> list[bytes]:
    import requests

    headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
    pages, token, session = [], None, requests.Session()
    while True:
        params = {**_params(end), "limit": 10_000, **({"page_token": token} if token else {})}
        body = session.get(base + "/v2/stocks/bars", params=params, headers=headers, timeout=120).content
        pages.append(body)
        m = re.search(rb'"next_page_token":"([^"]+)"', body[-2048:])
        if not m:
            return pages
        token = m.group(1).decode()


# ----- the three variants (each in its own process) --------------------------------------------
def run_variant(variant: str, base: str, key: str, secret: str, end: str) -> dict[str, float]:
    import pandas as pd

    if variant == "ours":
        import alpaca_nb as anb
        from alpaca_nb.config import Endpoints

        where = Endpoints(base, base, base, base)
        session = anb.connect(
            "paper",
            api_key=key,
            secret_key=secret,
            endpoints={"paper": where},
            rate_limit=None,
            timeout=120,
            quiet=True,
        )
        assert session.market_data is not None  # create the client (and its imports) before the clock
        import alpaca_nb.data  # noqa: F401

        rss0, t0 = _vm("VmRSS"), time.perf_counter()
        frame = session.bars(
            SYMBOLS, "1Min", start=pd.Timestamp(START), end=pd.Timestamp(end), progress=False
        )
    elif variant == "alpaca":
        from alpaca.data.historical import StockHistoricalDataClient
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        client = StockHistoricalDataClient(key, secret, url_override=base)
        request = StockBarsRequest(
            symbol_or_symbols=SYMBOLS,
            timeframe=TimeFrame.Minute,
            start=pd.Timestamp(START).to_pydatetime(),
            end=pd.Timestamp(end).to_pydatetime(),
        )
        rss0, t0 = _vm("VmRSS"), time.perf_counter()
        frame = client.get_stock_bars(request).df
    else:
        from alpaca_nb.data import BarsBuilder

        pages = _raw_pages(base, key, secret, end)
        rss0, t0 = _vm("VmRSS"), time.perf_counter()
        builder = BarsBuilder()
        for body in pages:
            builder.add_page(body)
        frame = builder.frame()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": len(frame), "peak_extra_gb": (_vm("VmHWM") - rss0) / 1e9}


def _child(variant: str, base: str, key: str, secret: str, end: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "_run", variant, base, key, secret, end],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one month instead of ~1M bars")
    args = parser.parse_args()
    end = QUICK_END if args.quick else END
    sim, base, key, secret = start_sim(cache_mb=512)
    try:
        t0 = time.perf_counter()
        pages = _raw_pages(base, key, secret, end)
        bars = sum(p.count(b'"t":') for p in pages)
        print(
            f"simulator warmed: {bars:,} bars, {len(pages)} pages, {sum(map(len, pages)) / 1e6:.0f} MB "
            f"of JSON in {time.perf_counter() - t0:.1f} s (cold)"
        )
        del pages
        results = {v: _child(v, base, key, secret, end) for v in ("ours", "floor", "alpaca")}
    finally:
        sim.terminate()
        sim.wait(10)
    ours, floor, alpaca = results["ours"], results["floor"], results["alpaca"]
    assert ours["rows"] == floor["rows"] == alpaca["rows"] == bars, results
    print(f"\n{'variant':<34} {'seconds':>8} {'bars/s':>12} {'peak extra GB':>14}")
    names = {
        "ours": "alpaca_nb Session.bars",
        "alpaca": "alpaca-py get_stock_bars(...).df",
        "floor": "floor: orjson + build, bytes in RAM",
    }
    for variant in ("ours", "alpaca", "floor"):
        r = results[variant]
        rate = r["rows"] / r["seconds"]
        print(f"{names[variant]:<34} {r['seconds']:>8.2f} {rate:>12,.0f} {r['peak_extra_gb']:>14.2f}")
    print(f"\nours vs alpaca-py .df: {alpaca['seconds'] / ours['seconds']:.1f}x faster (target >= 10x)")
    print(
        f"ours vs the floor:     {ours['seconds'] / floor['seconds']:.2f}x the floor's time (target <= 1.4x)"
    )
    print(
        f"ours peak extra memory: {ours['peak_extra_gb']:.2f} GB (target <= 0.35 GB); "
        f"alpaca-py: {alpaca['peak_extra_gb']:.2f} GB"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        print(json.dumps(run_variant(*sys.argv[2:7])))
    else:
        main()
