"""`%load_ext alpaca_nb` time vs importing alpaca-py + pandas + plotly, in fresh processes.

    .venv/bin/python benchmarks/import_time.py [--runs 7]

Each figure is the median of N fresh interpreters. For the extension, IPython is imported and a shell
created before the clock starts (a kernel already has both); only ``%load_ext alpaca_nb`` is timed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

LOAD_EXT = """
import time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
t = time.perf_counter()
ip.run_line_magic("load_ext", "alpaca_nb")
print(time.perf_counter() - t)
"""

HEAVY = """
import time
t = time.perf_counter()
import alpaca.trading.client, alpaca.data.historical, pandas, plotly.graph_objects
print(time.perf_counter() - t)
"""


def median_seconds(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ext = median_seconds(LOAD_EXT, args.runs)
    heavy = median_seconds(HEAVY, args.runs)
    print(f"%load_ext alpaca_nb                  {ext * 1000:7.1f} ms  (median of {args.runs}; <= 150 ms)")
    print(f"import alpaca-py + pandas + plotly   {heavy * 1000:7.1f} ms  (median of {args.runs})")
    print(f"ratio                                {heavy / ext:7.1f}x faster")
    if ext > 0.150:
        raise SystemExit("FAIL: %load_ext alpaca_nb is over 150 ms")


if __name__ == "__main__":
    main()
