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
    "config": 2,
    "rest": 3,
    "trading": 4,
    "data": 4,
    "stream": 4,
    "account": 5,
    "session": 6,
    "widgets": 7,
    "magics": 8,
    "__init__": 9,
}


def _module_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts[0]


def _targets(path: Path) -> set[str]:
    """The alpaca_nb modules a file imports, anywhere in it (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and path.parent == PACKAGE:
                names = [node.module] if node.module else [a.name for a in node.names]
                found.update(n.split(".")[0] for n in names if n)
            elif node.level == 0 and node.module and node.module.startswith("alpaca_nb."):
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
    assert checked >= 10


def test_public_names_are_pinned() -> None:
    assert alpaca_nb.__all__ == [
        "AccountView",
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
