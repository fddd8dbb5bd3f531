"""Start ``python -m alpaca_nb.sim`` in its own process (its own core) and read its URL and keys."""

from __future__ import annotations

import re
import subprocess
import sys


def start_sim(
    cache_mb: int, link_mbps: float | None = None, rtt_ms: float = 0.0
) -> tuple[subprocess.Popen[str], str, str, str]:
    """(process, REST base URL, paper key id, secret) of a calendar-hours simulator with no rate limit,
    optionally behind an emulated link."""
    args = ["--seed", "7", "--hours", "calendar", "--rate-limit", "0", "--cache-mb", str(cache_mb)]
    if link_mbps:
        args += ["--link-mbps", str(link_mbps), "--rtt-ms", str(rtt_ms)]
    proc = subprocess.Popen([sys.executable, "-m", "alpaca_nb.sim", *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    text = ""
    for line in proc.stdout:
        text += line
        if "Ctrl-C" in line:
            break
    base = re.search(r"(http://127\.0\.0\.1:\d+)", text)
    keys = re.search(r"APCA_API_KEY_ID=(\S+)\s+APCA_API_SECRET_KEY=(\S+)", text)
    assert base and keys, text
    return proc, base.group(1), keys.group(1), keys.group(2)
