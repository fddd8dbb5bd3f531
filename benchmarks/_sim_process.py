"""A simulator in its own process (its own core), started for a benchmark: its URL, keys, and how many
bytes of HTTP answers it has sent (``SimProcess.bytes_sent()``, asked over the child's stdin)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any


class SimProcess:
    """The child: ``python _sim_process.py CACHE_MB [MBPS RTT_MS]``; one line per ``bytes`` query."""

    def __init__(
        self, cache_mb: int, link_mbps: float | None, rtt_ms: float, symbols: list[str] | None = None
    ) -> None:
        args = [
            sys.executable,
            __file__,
            str(cache_mb),
            *([str(link_mbps), str(rtt_ms)] if link_mbps else []),
        ]
        env = dict(os.environ, ANB_SIM_SYMBOLS=",".join(symbols)) if symbols else None
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self._proc.stdout is not None
        self.base, self.key, self.secret = self._proc.stdout.readline().split()
        self.pid = self._proc.pid

    def bytes_sent(self) -> int:
        """HTTP answer bytes (status lines, headers, bodies as sent) the simulator has written so far."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("bytes\n")
        self._proc.stdin.flush()
        return int(self._proc.stdout.readline())

    def terminate(self) -> None:
        self._proc.terminate()

    def wait(self, timeout: float | None = None) -> int:
        return self._proc.wait(timeout)


def start_sim(
    cache_mb: int, link_mbps: float | None = None, rtt_ms: float = 0.0, symbols: list[str] | None = None
) -> tuple[SimProcess, str, str, str]:
    """(process, REST base URL, paper key id, secret) of a calendar-hours simulator with no rate limit,
    optionally behind an emulated link, optionally with its own universe of stock ``symbols``."""
    proc = SimProcess(cache_mb, link_mbps, rtt_ms, symbols)
    return proc, proc.base, proc.key, proc.secret


def _child(argv: list[str]) -> None:
    from alpaca_nb.sim import Simulator

    options: dict[str, Any] = {"link_mbps": float(argv[1]), "rtt_ms": float(argv[2])} if len(argv) > 1 else {}
    universe = os.environ.get("ANB_SIM_SYMBOLS")
    if universe:
        options["symbols"] = universe.split(",")
    sim = Simulator(seed=7, hours="calendar", rate_limit=None, cache_mb=int(argv[0]), **options).start()
    key, secret = sim.credentials("paper")
    print(sim.base_url, key, secret, flush=True)
    for line in sys.stdin:
        if line.strip() == "bytes":
            print(sim.http_bytes_sent, flush=True)
    sim.stop()


if __name__ == "__main__":
    _child(sys.argv[1:])
