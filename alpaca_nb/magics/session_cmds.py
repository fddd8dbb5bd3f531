"""``%alpaca connect | status | help``: the session itself."""

from __future__ import annotations

import argparse
from typing import Any

from .router import help_text, subcommand


def _connect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("mode", nargs="?", default="auto", choices=("auto", "demo", "paper", "live"))
    p.add_argument("--allow-live", action="store_true", help="unlock live trading (needs live keys)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (demo mode)")
    p.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout in seconds")
    p.add_argument("--max-notional", type=float, help="refuse orders worth more than this (dollars)")
    p.add_argument("--max-position", type=float, help="refuse orders taking a position beyond this (shares)")


@subcommand(
    "connect",
    "create or replace the session; prints the mode and where orders go",
    ["%alpaca connect demo --seed 7", "%alpaca connect paper --max-notional 5000",
     "%alpaca connect live --allow-live"],
    _connect_args,
)  # fmt: skip
def _connect(magics: Any, args: argparse.Namespace) -> None:
    from .._connect import connect

    connect(
        args.mode, allow_live=args.allow_live, seed=args.seed, timeout=args.timeout,
        max_notional=args.max_notional, max_position=args.max_position,
    )  # fmt: skip


@subcommand(
    "status",
    "mode, endpoints, where orders go, stream state, request budget, limits, last error",
    ["%alpaca status"],
    lambda p: None,
    returns_data=True,
    echo=False,
)
def _status(magics: Any, args: argparse.Namespace) -> dict[str, Any]:
    from ..session import current_session

    status = current_session().status()
    print(format_status(status))
    return status


@subcommand("help", "list the subcommands with examples", ["%alpaca help"], lambda p: None)
def _help(magics: Any, args: argparse.Namespace) -> None:
    print(help_text())


def format_status(status: dict[str, Any]) -> str:
    lines = [
        f"mode          {status['mode']}{' (closed)' if status['closed'] else ''}",
        f"orders go to  {status['orders_go_to']}",
        f"live trading  {status['live']}",
    ]
    if status["simulator"]:
        lines.append(f"simulator     {status['simulator']}")
    for kind, info in status["accounts"].items():
        lock = " (locked)" if info["locked"] else ""
        lines.append(f"{kind + lock:<13} trading {info['trading']}  data {info['data']}")
        lines.append(
            f"{'':<13} streams {info['data_stream']}  {info.get('crypto_stream', '')}  "
            f"{info['trading_stream']}"
        )
        lines.append(f"{'':<13} requests {info['request_budget']}")
    limits = status.get("limits") or {}
    shown = ", ".join(f"{k} {v:g}" for k, v in limits.items() if v is not None) or "none"
    lines.append(f"limits        {shown}")
    lines.append(f"stream        {status['stream']}")
    lines.append(f"last error    {status['last_error'] or 'none'}")
    return "\n".join(lines)
