"""The simulator's CLI, its isolation from the client side, and the schema checker itself."""

from __future__ import annotations

import ast
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from alpaca_nb.sim import Simulator
from tests.schemas import SchemaChecker, shared_dir

PACKAGE = Path(__file__).resolve().parent.parent / "alpaca_nb"


@pytest.mark.serial  # a subprocess start within 15 s: not beside three busy workers
def test_cli_prints_urls_and_keys_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alpaca_nb.sim", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C" in line:
            break
    text = "".join(lines)
    base = re.search(r"REST \(trading \+ data\)\s+(http://127\.0\.0\.1:\d+)", text)
    keys = re.search(r"APCA_API_KEY_ID=(\S+)\s+APCA_API_SECRET_KEY=(\S+)", text)
    assert base and keys, text
    assert re.search(r"ws://127\.0\.0\.1:\d+/v2/iex", text) and re.search(
        r"ws://127\.0\.0\.1:\d+/stream", text
    )
    answer = requests.get(
        base.group(1) + "/v2/account",
        headers={"APCA-API-KEY-ID": keys.group(1), "APCA-API-SECRET-KEY": keys.group(2)},
        timeout=5,
    )
    assert answer.status_code == 200
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "simulator stopped" in out and "Traceback" not in out


def _imports(path: Path) -> list[tuple[str, int]]:
    """(module, level) of every import in a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or "", node.level))
    return out


def test_sim_imports_nothing_from_the_rest_of_the_package() -> None:
    for path in (PACKAGE / "sim").glob("*.py"):
        for module, level in _imports(path):
            assert level <= 1, f"{path.name} reaches above sim/ with a relative import"
            assert not (module.startswith("alpaca_nb") and not module.startswith("alpaca_nb.sim")), path.name
            assert module.split(".")[0] != "alpaca", (
                f"{path.name} imports alpaca-py: the sim is the other side"
            )


def test_simulator_lifecycle_leaves_no_thread() -> None:
    import threading

    before = {t.name for t in threading.enumerate()}
    sim = Simulator(seed=1).start()
    assert sim.running and any(t.name.startswith("alpaca-nb-sim") for t in threading.enumerate())
    sim.stop()
    sim.stop()  # idempotent
    assert not sim.running
    assert {t.name for t in threading.enumerate()} <= before
    assert "stopped" in repr(sim)


def test_schema_checker_rejects_what_alpaca_would_not_send() -> None:
    checker = SchemaChecker.load()
    order = json.loads(
        (shared_dir("alpaca-fixtures") / "spec__POST_v2_orders__equity_limit_response.json").read_text()
    )
    checker.check("POST", "/v2/orders", 200, json.dumps(order).encode())
    assert checker.failures == []
    broken = {**order, "qty": 2, "status": "sleeping"}
    checker.check("POST", "/v2/orders", 200, json.dumps(broken).encode())
    assert len(checker.failures) == 2
    checker.failures.clear()
    checker.check(
        "GET", "/v2/stocks/bars", 200, b'{"bars": {"AAPL": [{"t": "x", "o": 1}]}, "next_page_token": null}'
    )
    assert checker.failures  # bars need all eight keys
