"""Credentials, modes and endpoints: where a session's requests go, which keys they carry, and the
masking that keeps those keys out of every output.

Secrets live in ``Secret`` objects whose repr and str are masked; they are revealed only where a
request is built. Key ids are shown masked too (``PK…A1B2``). ``redact_logs()`` puts a filter on every
logger alpaca_nb and its dependencies use (websockets, urllib3, requests, alpaca-py, asyncio, aiohttp):
at any level, DEBUG included, a record that shows any part of a key, or a frame we send on a stream
(the authenticate message), is masked before any handler sees it.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import ConfigurationError

Mode = Literal["demo", "paper", "live", "crypto-data"]
AccountKind = Literal["paper", "live"]
MODES = ("auto", "demo", "paper", "live", "crypto-data")
FEEDS_FOR_STREAM = ("iex", "sip", "delayed_sip", "test")

PAPER_TRADING_URL = "https://paper-api.alpaca.markets"
LIVE_TRADING_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"
DATA_STREAM_URL = "wss://stream.data.alpaca.markets/v2/{feed}"
PAPER_TRADING_STREAM_URL = "wss://paper-api.alpaca.markets/stream"
LIVE_TRADING_STREAM_URL = "wss://api.alpaca.markets/stream"
CRYPTO_STREAM_PATH = "/v1beta3/crypto/us"
OPTION_STREAM_PATH = "/v1beta1/indicative"


class Secret:
    """A string that never shows itself: ``repr``/``str`` give ``'****'``; ``reveal()`` gives the value.

    Every live Secret is known to the log filter, which masks any piece of it in a log record."""

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        _LIVE_SECRETS.add(self)

    def reveal(self) -> str:
        return self._value

    @staticmethod
    def hide(value: str | Secret | None) -> Secret | None:
        """``value`` as a Secret (None stays None): call it first, so no frame keeps the plain text."""
        return value if value is None or isinstance(value, Secret) else Secret(str(value))

    def check_header_safe(self, name: str) -> None:
        """A key goes in an HTTP header: printable ASCII, no spaces (a pasted key may carry more)."""
        bad = next(
            (i for i, c in enumerate(self._value) if not (c.isascii() and c.isprintable()) or c == " "), -1
        )
        if not self._value or bad >= 0:
            where = (
                "is empty"
                if not self._value
                else f"has a character that cannot be sent at position {bad + 1}"
            )
            raise ConfigurationError(f"{name} {where}: paste the key again")

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

    def __post_init__(self) -> None:
        self.key_id.check_header_safe("the API key id")
        self.secret_key.check_header_safe("the API secret key")

    @staticmethod
    def of(key_id: str | Secret, secret_key: str | Secret) -> Credentials:
        key, secret = Secret.hide(key_id), Secret.hide(secret_key)
        assert key is not None and secret is not None
        return Credentials(key, secret)

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
    crypto_stream: str = ""  # "" → derived from data_stream (``/v2/<feed>`` → ``/v1beta3/crypto/us``)
    option_stream: str = ""  # "" → derived from data_stream (``/v2/<feed>`` → ``/v1beta1/indicative``)

    @property
    def crypto_data_stream(self) -> str:
        """The crypto market-data stream (one per session, beside the stock one)."""
        if self.crypto_stream:
            return self.crypto_stream
        return self._beside(CRYPTO_STREAM_PATH)

    @property
    def option_data_stream(self) -> str:
        """The option market-data stream (msgpack only; ``indicative``, alpaca-py's default feed)."""
        return self.option_stream or self._beside(OPTION_STREAM_PATH)

    def _beside(self, path: str) -> str:
        head, sep, _ = self.data_stream.rpartition("/v2/")
        return f"{head}{path}" if sep else self.data_stream.rstrip("/") + path


@dataclass(frozen=True, slots=True)
class AccountConfig:
    kind: AccountKind
    credentials: Credentials
    endpoints: Endpoints


# ----- masking in logs -------------------------------------------------------------------------
_LIVE_SECRETS: weakref.WeakSet[Secret] = weakref.WeakSet()
FRAGMENT = 6  # this many characters of a key in a row are masked
# Loggers of ours and of what we run on (created here if missing: a filter sits on a logger, not its
# children, so each is named). tests/test_secrets.py checks that no logger of these families lacks it.
LOGGER_FAMILIES = ("alpaca_nb", "alpaca", "websockets", "urllib3", "requests", "asyncio", "aiohttp")
KNOWN_LOGGERS = (
    "alpaca_nb", "alpaca_nb.rest", "alpaca_nb.stream", "alpaca", "alpaca.trading.stream",
    "alpaca.data.live.websocket", "websockets", "websockets.client", "websockets.server",
    "websockets.protocol", "urllib3", "urllib3.connectionpool", "urllib3.connection",
    "urllib3.poolmanager", "urllib3.response", "urllib3.util.retry", "requests", "asyncio",
    "aiohttp", "aiohttp.access", "aiohttp.client", "aiohttp.internal", "aiohttp.server",
    "aiohttp.web", "aiohttp.websocket",
)  # fmt: skip
_install_lock = threading.Lock()


def _fragments() -> set[str]:
    out: set[str] = set()
    for secret in list(_LIVE_SECRETS):
        value = secret.reveal()
        out.update(value[i : i + FRAGMENT] for i in range(max(1, len(value) - FRAGMENT + 1)))
    return out


def mask_text(text: str, fragments: set[str] | None = None) -> str:
    """``text`` with every run of characters that belongs to a live secret replaced by ``****``."""
    pieces = _fragments() if fragments is None else fragments
    if not pieces:
        return text
    hidden = bytearray(len(text))
    for i in range(len(text) - FRAGMENT + 1):
        if text[i : i + FRAGMENT] in pieces:
            hidden[i : i + FRAGMENT] = b"\x01" * FRAGMENT
    if not any(hidden):
        return text
    out, i = [], 0
    while i < len(text):
        if hidden[i]:
            while i < len(text) and hidden[i]:
                i += 1
            out.append("****")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class RedactingFilter(logging.Filter):
    """Masks keys in a record's message, arguments and extra fields; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("websockets") and isinstance(record.msg, str) and record.msg[:1] == ">":
            # An outgoing frame (websockets logs "> TEXT '…'" at DEBUG): ours are auth and subscribe
            # messages, and the auth one carries the keys (truncated, or msgpack as hex).
            record.msg, record.args = "> [frame sent; content hidden by alpaca_nb]", None
            return True
        pieces = _fragments()
        if not pieces:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging to report
            return True
        masked = mask_text(message, pieces)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str) and mask_text(value, pieces) != value:
                setattr(record, key, mask_text(value, pieces))
        return True


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
_FILTER = RedactingFilter()


def redact_logs() -> None:
    """Put the masking filter on every logger of ``KNOWN_LOGGERS`` and of ``LOGGER_FAMILIES`` (idempotent)."""
    with _install_lock:
        names = set(KNOWN_LOGGERS) | {
            name for name in list(logging.root.manager.loggerDict)
            if name.split(".")[0] in LOGGER_FAMILIES
        }  # fmt: skip
        for name in names:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)


def env_credentials(kind: AccountKind, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Keys from ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY`` (paper) or ``APCA_LIVE_API_*`` (live).

    The environment is read in ``_read`` only, straight into Secrets: no frame that can raise holds it
    (a ``%xmode Verbose`` traceback prints the arguments and variables of every frame)."""
    prefix = "APCA_API_" if kind == "paper" else "APCA_LIVE_API_"
    key, secret = _read(prefix + "KEY_ID", environ), _read(prefix + "SECRET_KEY", environ)
    if key.reveal() and secret.reveal():
        return Credentials(key, secret)
    if key.reveal() or secret.reveal():
        missing = prefix + ("SECRET_KEY" if key.reveal() else "KEY_ID")
        raise ConfigurationError(f"{missing} is not set (its pair is): set both, or neither")
    return None


def _read(name: str, environ: Mapping[str, str] | None) -> Secret:
    return Secret((os.environ if environ is None else environ).get(name, "").strip())


def alpaca_endpoints(
    kind: AccountKind, feed: str = "iex", environ: Mapping[str, str] | None = None
) -> Endpoints:
    """Alpaca's URLs for ``kind``; for paper, one Alpaca-compatible server named by ``ALPACA_NB_BASE_URL``.

    ``ALPACA_NB_BASE_URL=http://127.0.0.1:8765`` (e.g. ``python -m alpaca_nb.sim``) serves paper trading
    and market data there, with the streams at ``ws://…/v2/<feed>`` and ``ws://…/stream``. It never
    moves the **live** account: live keys go to Alpaca unless ``connect(endpoints=…)`` says otherwise
    in code (an environment variable must not be able to send live keys to another host).
    """
    env = os.environ if environ is None else environ
    base = env.get("ALPACA_NB_BASE_URL", "").strip().rstrip("/")
    if base and kind == "paper":
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
    if mode == "crypto-data":
        return "crypto-data"
    if mode == "paper" and not has_paper_keys:
        raise ConfigurationError(
            "paper mode needs keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (or pass api_key=, "
            'secret_key=), or use connect("demo") for the built-in simulator'
        )
    if mode == "live" and not has_live_keys:
        raise ConfigurationError("live mode needs APCA_LIVE_API_KEY_ID and APCA_LIVE_API_SECRET_KEY")
    return mode  # type: ignore[return-value]
