"""The ``%alpaca`` router: a registry of small subcommands, each with its own argparse parser, and the
one-line errors that fail the cell.

A failed ``%alpaca`` line raises (so "Run All", nbval and papermill stop there) but shows one line:
alpaca_nb's errors get a ``_render_traceback_`` that IPython prints instead of the traceback, and
argparse's complaints are ``MagicUsageError``. ``%config AlpacaMagics.short_errors = False`` shows the
full traceback instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from IPython.core.error import UsageError

Handler = Callable[[Any, argparse.Namespace], Any]


class MagicUsageError(UsageError):
    """A ``%alpaca`` line that could not be read: one line, and the cell fails."""

    def _render_traceback_(self) -> list[str]:
        return [f"UsageError: {self}"]


class HelpShown(Exception):
    """``-h`` printed the help; nothing else to do."""


def one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def fail_in_one_line(err: BaseException) -> NoReturn:
    """Re-raise ``err`` so that IPython shows just ``ErrorClass: message`` (and the cell fails)."""
    line = one_line(err)
    err._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
    raise err


class Parser(argparse.ArgumentParser):
    """argparse that raises a one-line usage error instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        raise MagicUsageError(f"%alpaca {self.prog.split()[-1]}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise MagicUsageError(message.strip())
        raise HelpShown()


@dataclass
class Subcommand:
    name: str
    summary: str
    examples: list[str]
    configure: Callable[[argparse.ArgumentParser], None]
    handler: Handler
    returns_data: bool = False
    echo: bool = True  # False: the result is printed by the handler; only -o keeps it
    parser: argparse.ArgumentParser = field(init=False)

    def __post_init__(self) -> None:
        # No abbreviations: "--l" must not quietly mean --live.
        self.parser = Parser(prog=f"%alpaca {self.name}", description=self.summary, add_help=True,
                             allow_abbrev=False)  # fmt: skip
        self.configure(self.parser)
        if self.returns_data:
            self.parser.add_argument("-o", "--output", metavar="NAME", help="also store the result in NAME")


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(
    name: str,
    summary: str,
    examples: list[str],
    configure: Callable[[argparse.ArgumentParser], None],
    *,
    returns_data: bool = False,
    echo: bool = True,
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        SUBCOMMANDS[name] = Subcommand(name, summary, examples, configure, handler, returns_data, echo)
        return handler

    return register


def help_text() -> str:
    lines = ["%alpaca SUBCOMMAND [options]   (%alpaca SUBCOMMAND -h for details)", ""]
    width = max(len(n) for n in SUBCOMMANDS)
    for cmd in SUBCOMMANDS.values():
        lines.append(f"  {cmd.name:<{width}}  {cmd.summary}")
        lines += [f"  {'':<{width}}    {example}" for example in cmd.examples]
    lines += [
        "",
        "A failed line shows one line and fails the cell (Run All stops there);",
        "`%config AlpacaMagics.short_errors = False` shows tracebacks.",
    ]
    return "\n".join(lines)


def symbols_arg(text: str) -> str | list[str]:
    """``AAPL`` → "AAPL" (one symbol: a plain index); ``AAPL,MSFT`` → a list (a MultiIndex)."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    return parts[0] if len(parts) == 1 else parts


def symbol_list(text: str) -> list[str]:
    symbols = symbols_arg(text)
    return [symbols] if isinstance(symbols, str) else symbols


def confirm_live(prompt: str) -> bool:
    """Ask on the notebook's stdin; only a typed ``yes`` goes ahead."""
    return input(f"{prompt} Type 'yes': ").strip() == "yes"
