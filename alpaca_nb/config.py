"""Credentials, modes and endpoints: where a session's requests go, and which keys they carry.

Secrets live in ``Secret`` objects whose repr and str are masked; they are revealed only where a
request is built. Key ids are shown masked too (``PK…A1B2``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import ConfigurationError

Mode = Literal["demo", "paper", "live"]
AccountKind = Literal["paper", "live"]
MODES = ("auto", "demo", "paper", "live")

PAPER_TRADING_URL = "https://paper-api.alpaca.markets"
LIVE_TRADING_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"
DATA_STREAM_URL = "wss://stream.data.alpaca.markets/v2/{feed}"
PAPER_TRADING_STREAM_URL = "wss://paper-api.alpaca.markets/stream"
LIVE_TRADING_STREAM_URL = "wss://api.alpaca.markets/stream"


class Secret:
    """A string that never shows itself: ``repr``/``str`` give ``'****'``; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not picklable")


def mask(key_id: str) -> str:
    """``PKABCDEF123456`` → ``PK…3456``: enough to tell keys apart, not to use them."""
    return f"{key_id[:2]}…{key_id[-4:]}" if len(key_id) > 8 else "****"


@dataclass(frozen=True, slots=True)
class Credentials:
    key_id: Secret
    secret_key: Secret

    @staticmethod
    def of(key_id: str, secret_key: str) -> Credentials:
        return Credentials(Secret(key_id), Secret(secret_key))

    @property
    def masked_key(self) -> str:
        return mask(self.key_id.reveal())

    def __repr__(self) -> str:
        return f"Credentials(key_id={self.masked_key!r}, secret_key='****')"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where one account's requests go."""

    trading: str
    data: str
    data_stream: str
    trading_stream: str


@dataclass(frozen=True, slots=True)
class AccountConfig:
    kind: AccountKind
    credentials: Credentials
    endpoints: Endpoints


def env_credentials(kind: AccountKind, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Keys from ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY`` (paper) or ``APCA_LIVE_API_*`` (live)."""
    env = os.environ if environ is None else environ
    prefix = "APCA_API_" if kind == "paper" else "APCA_LIVE_API_"
    key, secret = env.get(prefix + "KEY_ID", "").strip(), env.get(prefix + "SECRET_KEY", "").strip()
    if key and secret:
        return Credentials.of(key, secret)
    if key or secret:
        missing = prefix + ("SECRET_KEY" if key else "KEY_ID")
        raise ConfigurationError(f"{missing} is not set (its pair is): set both, or neither")
    return None


def alpaca_endpoints(
    kind: AccountKind, feed: str = "iex", environ: Mapping[str, str] | None = None
) -> Endpoints:
    """Alpaca's URLs for ``kind``, or one Alpaca-compatible server named by ``ALPACA_NB_BASE_URL``.

    ``ALPACA_NB_BASE_URL=http://127.0.0.1:8765`` (e.g. ``python -m alpaca_nb.sim``) serves trading and
    market data there, with the streams at ``ws://…/v2/<feed>`` and ``ws://…/stream``.
    """
    env = os.environ if environ is None else environ
    base = env.get("ALPACA_NB_BASE_URL", "").strip().rstrip("/")
    if base:
        ws = "ws" + base[4:] if base.startswith("http") else base
        return Endpoints(
            trading=base, data=base, data_stream=f"{ws}/v2/{feed}", trading_stream=f"{ws}/stream"
        )
    return Endpoints(
        trading=PAPER_TRADING_URL if kind == "paper" else LIVE_TRADING_URL,
        data=DATA_URL,
        data_stream=DATA_STREAM_URL.format(feed=feed),
        trading_stream=PAPER_TRADING_STREAM_URL if kind == "paper" else LIVE_TRADING_STREAM_URL,
    )


def resolve_mode(mode: str, *, has_paper_keys: bool, has_live_keys: bool) -> Mode:
    """``auto`` → ``paper`` when paper keys exist, else ``demo``."""
    if mode not in MODES:
        raise ConfigurationError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if mode == "auto":
        return "paper" if has_paper_keys else "demo"
    if mode == "paper" and not has_paper_keys:
        raise ConfigurationError(
            "paper mode needs keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (or pass api_key=, "
            'secret_key=), or use connect("demo") for the built-in simulator'
        )
    if mode == "live" and not has_live_keys:
        raise ConfigurationError("live mode needs APCA_LIVE_API_KEY_ID and APCA_LIVE_API_SECRET_KEY")
    return mode  # type: ignore[return-value]
