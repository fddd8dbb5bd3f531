"""The architecture of DESIGN.md §2, enforced: imports point downward; the public names are pinned."""

from __future__ import annotations

import ast
from pathlib import Path

import alpaca_nb

PACKAGE = Path(alpaca_nb.__file__).resolve().parent

# Lower layers may not import higher ones. sim/ is the other side of the wire: anything may start
# it (demo mode), it imports nothing of ours (tests/test_sim_misc.py checks that).
LAYERS = {
    "sim": 0,
    "errors": 1,
    "_wire": 2,
    "blackscholes": 2,  # pure math (option prices, greeks, implied volatility): data and trading use it
    "config": 2,
    "rest": 3,
    "trading": 4,
    "data": 4,
    "stream": 4,
    "store": 5,  # the Parquet bar store: built on data/ (pages, frames), used by the session
    "session": 6,
    "_connect": 7,  # not "connect": the submodule would shadow alpaca_nb.connect()
    "widgets": 8,
    "magics": 9,
    "__init__": 10,
}


def _module_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts[0]


def _targets(path: Path) -> set[str]:
    """The top-level alpaca_nb modules a file imports, anywhere in it (lazy imports inside functions
    too), with relative imports resolved from the file's own package (``from ..errors`` in widgets/)."""
    here = list(path.relative_to(PACKAGE).parent.parts)  # [] for alpaca_nb/x.py, ["widgets"] below
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level - 1 <= len(here) else None
                assert base is not None, f"{path}: relative import beyond the package"
                parts = base + (node.module.split(".") if node.module else [])
                if parts:
                    found.add(parts[0])
                else:  # ``from . import x`` at the top level
                    found.update(a.name for a in node.names)
            elif node.module and node.module.startswith("alpaca_nb."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("alpaca_nb."))
    return found


def test_imports_point_downward() -> None:
    checked = 0
    for path in PACKAGE.rglob("*.py"):
        if "sim" in path.relative_to(PACKAGE).parts:
            continue
        source = _module_of(path)
        assert source in LAYERS, f"{path.name}: add the new module to LAYERS"
        for target in _targets(path) - {source}:
            assert target in LAYERS, f"{path.name} imports unknown module {target}"
            assert LAYERS[target] < LAYERS[source], f"{source} imports {target}: imports must point downward"
            checked += 1
    assert checked >= 40  # widgets/, trading/ and magics/ included


def test_the_resolver_sees_imports_inside_packages() -> None:
    """The check above would pass vacuously if subpackage imports were not seen."""
    assert {"errors", "session"} <= _targets(PACKAGE / "widgets" / "order_ticket.py")
    assert {"errors", "_wire"} <= _targets(PACKAGE / "trading" / "requests.py")


def test_public_names_are_pinned() -> None:
    assert alpaca_nb.__all__ == [
        "AccountView",
        "BarChart",
        "BarStore",
        "Leg",
        "OptionChain",
        "OrderBook",
        "OrderTicket",
        "QuoteChart",
        "Session",
        "Simulator",
        "__version__",
        "connect",
        "current_session",
        "errors",
        "load_ipython_extension",
    ]
    for name in alpaca_nb.__all__:
        assert getattr(alpaca_nb, name) is not None
    assert alpaca_nb.errors.__all__ == sorted(alpaca_nb.errors.__all__)
    for name in alpaca_nb.errors.__all__:
        obj = getattr(alpaca_nb.errors, name)
        assert name == "from_http" or issubclass(obj, alpaca_nb.errors.AlpacaNbError)
