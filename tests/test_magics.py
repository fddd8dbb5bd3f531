"""The %alpaca magic: routing, help, -o, one-line errors, completion, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from alpaca_nb import errors
from alpaca_nb.magics import SUBCOMMANDS, complete
from alpaca_nb.session import close_current, current_session


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "alpaca_nb")
    yield shell
    close_current()
    shell.run_line_magic("config", "AlpacaMagics.short_errors = True")


def test_help_lists_every_subcommand(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("alpaca", "help")
    out = capsys.readouterr().out
    for name in ("connect", "status", "help"):
        assert f"  {name}" in out
    assert "%alpaca connect demo --seed 7" in out
    doc = ip.find_line_magic("alpaca").__doc__
    assert doc is not None and "connect" in doc and "status" in doc  # what %alpaca? shows
    ip.run_line_magic("alpaca", "")
    assert "SUBCOMMAND" in capsys.readouterr().out


def test_connect_and_status(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    assert ip.run_line_magic("alpaca", "connect demo --seed 3") is None
    out = capsys.readouterr().out
    assert out.startswith("alpaca_nb: demo mode") and out.count("\n") == 1
    session = current_session()
    assert session.mode == "demo" and session.simulator is not None and session.simulator.seed == 3
    assert ip.run_line_magic("alpaca", "status -o st") is None  # printed, not echoed twice
    out = capsys.readouterr().out
    assert ip.user_ns["st"]["mode"] == "demo" and ip.user_ns["st"]["simulator"] == session.simulator.base_url
    for needle in (
        "mode          demo",
        "orders go to  the simulator's paper account",
        "live trading  locked",
        session.simulator.base_url,
        "requests",
        "last error    none",
    ):
        assert needle in out


def _failed_line(ip: InteractiveShell, line: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``line`` as a cell: it must fail the cell; returns what the cell showed."""
    capsys.readouterr()
    result = ip.run_cell(line)
    shown = capsys.readouterr()
    assert result.error_in_exec is not None, f"{line!r} did not fail its cell"
    return shown.out + shown.err


def test_errors_fail_the_cell_in_one_line(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    close_current()
    cases = {
        "%alpaca status": "NoSessionError: no alpaca_nb session",
        "%alpaca nonsense": "UsageError: %alpaca: unknown subcommand 'nonsense' (see %alpaca help)",
        "%alpaca connect sideways": "UsageError: %alpaca connect: argument mode: invalid choice",
        "%alpaca connect demo --seed x": "invalid int value",
        "%alpaca connect demo --timeout 0": "ConfigurationError: timeout must be",
        "%alpaca status -o 1bad": "UsageError: %alpaca status: -o needs a Python name",
    }
    for line, needle in cases.items():
        shown = _failed_line(ip, line, capsys)
        assert needle in shown and shown.strip().count("\n") == 0, (line, shown)
        assert "Traceback" not in shown
    with pytest.raises(errors.NoSessionError):  # the magic raises the error itself: catchable as such
        ip.run_line_magic("alpaca", "status")
    ip.run_line_magic("config", "AlpacaMagics.short_errors = False")
    with pytest.raises(UsageError):
        ip.run_line_magic("alpaca", "nonsense")
    shown = _failed_line(ip, "%alpaca status", capsys)
    assert "NoSessionError" in shown and shown.count("\n") > 2  # the whole traceback


def test_run_all_stops_at_a_failed_order(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    """The cell after a failed %alpaca line never runs (what "Run All" and nbval rely on)."""
    ip.run_line_magic("alpaca", "connect demo --seed 2")
    session = current_session()
    assert session.simulator is not None
    cells = ["%alpaca buy 10 ZZZZ", "%alpaca buy 1 AAPL"]
    ran = []
    for cell in cells:
        result = ip.run_cell(cell)
        ran.append(cell)
        if not result.success:
            break
    assert ran == cells[:1]
    assert session.simulator.orders() == []


def test_dash_h_prints_subcommand_help(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    assert ip.run_line_magic("alpaca", "connect -h") is None
    out = capsys.readouterr().out
    assert "usage: %alpaca connect" in out and "--allow-live" in out


def test_completion(ip: InteractiveShell) -> None:
    first = complete(ip, SimpleNamespace(line="%alpaca ", symbol="", text_until_cursor="%alpaca "))
    assert first == sorted(SUBCOMMANDS)
    partial = complete(ip, SimpleNamespace(line="%alpaca st", symbol="st", text_until_cursor="%alpaca st"))
    assert "status" in partial
    ip.run_line_magic("alpaca", "connect demo")
    symbols = complete(ip, SimpleNamespace(line="%alpaca status AA", symbol="AA", text_until_cursor=""))
    assert "AAPL" in symbols
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():  # the completer a kernel uses for Tab
        texts = [c.text for c in ip.Completer.completions("%alpaca sta", len("%alpaca sta"))]
    assert "status" in texts


def test_load_ext_imports_nothing_heavy() -> None:
    code = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "alpaca_nb")
loaded = {m.split(".")[0] for m in sys.modules}
heavy = sorted(loaded & {"alpaca", "pandas", "plotly", "numpy", "aiohttp", "requests", "pyarrow", "duckdb"})
print(json.dumps({"heavy": heavy, "magic": ip.find_line_magic("alpaca") is not None}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert result == {"heavy": [], "magic": True}


def test_bars_and_quote(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("alpaca", "connect demo --seed 7")
    one = ip.run_line_magic("alpaca", "bars AAPL 1d --start 2024-01-02 --end 2024-01-31")
    assert one.index.name == "timestamp" and len(one) == 21  # January 2024 trading days after the 1st
    many = ip.run_line_magic(
        "alpaca", "bars AAPL,MSFT 1Hour --start 2024-10-14 --end 2024-10-15 --tz America/New_York -o hourly"
    )
    assert ip.user_ns["hourly"] is many
    assert many.index.names == ["symbol", "timestamp"] and str(many.index.levels[1].tz) == "America/New_York"
    expected = current_session().bars(
        ["AAPL", "MSFT"], "1Hour", "2024-10-14", "2024-10-15", tz="America/New_York"
    )
    assert many.equals(expected)
    quotes = ip.run_line_magic("alpaca", "quote AAPL,SPY -o q")
    assert list(quotes.index) == ["AAPL", "SPY"] and ip.user_ns["q"] is quotes
    shown = _failed_line(ip, "%alpaca bars AAPL 7Day", capsys)
    assert shown.startswith("ValidationError: not a timeframe Alpaca serves: '7Day'")
    assert "is after end" in _failed_line(
        ip, "%alpaca bars AAPL 1d --start 2024-03-01 --end 2024-02-01", capsys
    )
    assert _failed_line(ip, "%alpaca quote ZZZZ", capsys).startswith(
        "SymbolNotFoundError: unknown symbol: ZZZZ"
    )


def _run_in_a_real_kernel(cells: list[str]) -> tuple[Any, Exception | None]:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=False)
    try:
        client.execute()
    except CellExecutionError as err:
        return nb, err
    return nb, None


def test_a_failed_line_stops_a_real_kernel_run() -> None:
    """In ipykernel (what JupyterLab, nbval and papermill run): an error output of one line, and
    the next cell — the next order — never runs."""
    cells = ["%load_ext alpaca_nb", "%alpaca connect demo --seed 1", "%alpaca buy 1 ZZZZ",
             "%alpaca buy 1 AAPL"]  # fmt: skip
    nb, err = _run_in_a_real_kernel(cells)
    assert err is not None and "SymbolNotFoundError" in str(err)
    failed = nb.cells[2].outputs
    errors_shown = [o for o in failed if o.output_type == "error"]
    assert len(errors_shown) == 1 and errors_shown[0].ename == "SymbolNotFoundError"
    assert len(errors_shown[0].traceback) == 1 and "asset not found for ZZZZ" in errors_shown[0].traceback[0]
    assert nb.cells[3].get("execution_count") is None and nb.cells[3].outputs == []  # never ran


def test_short_errors_off_shows_the_traceback_in_a_real_kernel() -> None:
    cells = ["%load_ext alpaca_nb", "%config AlpacaMagics.short_errors = False", "%alpaca status"]
    nb, err = _run_in_a_real_kernel(cells)
    assert err is not None
    shown = [o for o in nb.cells[2].outputs if o.output_type == "error"]
    assert len(shown) == 1 and shown[0].ename == "NoSessionError" and len(shown[0].traceback) > 3
