"""``%alpaca``: one line magic routing to small subcommands, each with its own argparse parser.

``router`` holds the registry and the one-line errors that fail the cell; ``session_cmds``, ``market``
and ``trading`` the subcommand families. Importing this package must stay cheap (``%load_ext
alpaca_nb`` ≤ 150 ms): alpaca-py, pandas and plotly are imported by the subcommands that need them.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class
from traitlets import Bool
from traitlets.config import Configurable

from ..errors import AlpacaNbError
from . import market, research, review, session_cmds, trading  # noqa: F401  (registers the subcommands)
from .router import SUBCOMMANDS, HelpShown, MagicUsageError, fail_in_one_line, help_text
from .session_cmds import format_status

__all__ = ["SUBCOMMANDS", "AlpacaMagics", "complete", "format_status", "help_text", "load_ipython_extension"]


@magics_class
class AlpacaMagics(Magics, Configurable):
    """The ``%alpaca`` line magic."""

    short_errors = Bool(
        True, help="Show a failed %alpaca line's error as one line (the cell still fails)."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        Magics.__init__(self, shell=shell)
        Configurable.__init__(self, config=shell.config if shell is not None else None, **kwargs)

    @line_magic("alpaca")  # type: ignore[arg-type]
    def alpaca(self, line: str) -> Any:
        try:
            return self._run(line)
        except HelpShown:
            return None
        except (AlpacaNbError, MagicUsageError) as err:
            if not self.short_errors:
                raise
            fail_in_one_line(err)

    def _run(self, line: str) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as err:
            raise MagicUsageError(f"%alpaca: {err}") from None
        if not words:
            print(help_text())
            return None
        name, rest = words[0], words[1:]
        cmd = SUBCOMMANDS.get(name)
        if cmd is None:
            raise MagicUsageError(f"%alpaca: unknown subcommand {name!r} (see %alpaca help)")
        args = cmd.parser.parse_args(rest)
        output = getattr(args, "output", None)
        if output is not None and not output.isidentifier():
            raise MagicUsageError(f"%alpaca {name}: -o needs a Python name, not {output!r}")
        result = cmd.handler(self, args)
        if cmd.returns_data and output:
            assert self.shell is not None
            self.shell.user_ns[output] = result
        return result if cmd.returns_data and cmd.echo else None


AlpacaMagics.alpaca.__doc__ = "Trade with Alpaca from the notebook.\n\n" + help_text()  # type: ignore[assignment]


def complete(shell: Any, event: Any) -> list[str]:
    """Tab completion: subcommands first, then symbols of the simulator's universe."""
    words = event.line.split()
    typing_first = len(words) == 1 or (len(words) == 2 and not event.line.endswith(" "))
    if typing_first:
        return sorted(SUBCOMMANDS)
    try:
        from ..session import current_session

        session = current_session()
        if session.simulator is not None:
            return sorted(session.simulator.market.universe)
    except AlpacaNbError:
        pass
    return []


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(AlpacaMagics(shell=ipython))
    ipython.set_hook("complete_command", complete, str_key="%alpaca")
