"""``connect()``: choose the mode, find the keys, build the session — checking everything before the
previous session is touched, so a bad argument leaves the old session working and nothing running."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .config import (
    FEEDS_FOR_STREAM,
    AccountConfig,
    AccountKind,
    Credentials,
    Endpoints,
    Secret,
    alpaca_endpoints,
    env_credentials,
    redact_logs,
    resolve_mode,
)
from .errors import ConfigurationError, LiveTradingLockedError
from .session import Session, check_timeout, replace_current

if TYPE_CHECKING:
    from .sim import Simulator


def _keys(api_key: Secret | None, secret_key: Secret | None, kind: AccountKind) -> Credentials | None:
    if api_key is not None or secret_key is not None:
        if api_key is None or secret_key is None:
            raise ConfigurationError("pass both api_key and secret_key, or neither")
        return Credentials(api_key, secret_key)
    return env_credentials(kind)


def _check(seed: Any, rate_limit: Any, feed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigurationError(f"seed must be an integer, not {seed!r}")
    if rate_limit is not None and (isinstance(rate_limit, bool) or not isinstance(rate_limit, int)
                                   or rate_limit < 1):  # fmt: skip
        raise ConfigurationError(f"rate_limit must be a positive integer or None, not {rate_limit!r}")
    if feed not in FEEDS_FOR_STREAM:
        raise ConfigurationError(f"feed must be one of {', '.join(FEEDS_FOR_STREAM)}, not {feed!r}")


def connect(
    mode: str = "auto",
    *,
    api_key: str | None = None,
    secret_key: str | None = None,
    live_api_key: str | None = None,
    live_secret_key: str | None = None,
    allow_live: bool = False,
    timeout: float = 10.0,
    seed: int = 0,
    rate_limit: int | None = 200,
    feed: str = "iex",
    simulator: Simulator | None = None,
    endpoints: Mapping[AccountKind, Endpoints] | None = None,
    max_notional: float | None = None,
    max_position: float | None = None,
    quiet: bool = False,
    current: bool = True,
    data_url: str | None = None,
) -> Session:
    """Create the current session (closing the previous one) and return it.

    Parameters
    ----------
    mode:
        ``"auto"`` (paper when ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY`` are set, else demo),
        ``"demo"`` (the built-in simulator; no keys needed), ``"paper"`` or ``"live"``, or
        ``"crypto-data"``: Alpaca's real crypto market data (bars, quotes, trades, order books, live
        charts) with no keys and no account — nothing can be traded. Live views poll REST once a
        second (Alpaca's crypto stream needs keys).
    allow_live:
        Unlock live trading (needs ``APCA_LIVE_API_KEY_ID``/``APCA_LIVE_API_SECRET_KEY``; in demo
        mode, the simulator's live account). Without it, nothing is ever sent to a live account. It
        cannot be switched on later: connect again.
    timeout:
        Seconds to wait for any HTTP answer (default 10; a number between 0 and 600).
    seed:
        The simulator's seed in demo mode (same seed, same market history).
    rate_limit:
        Requests per minute per key, kept on the client side (Alpaca allows 200; ``None``: off).
    simulator:
        Use this running ``Simulator`` (demo mode) instead of starting one.
    endpoints:
        Point paper/live at other Alpaca-compatible URLs (advanced; e.g. a proxy or the simulator).
        ``ALPACA_NB_BASE_URL`` in the environment moves only the paper account.
    max_notional, max_position:
        Limits every order of the session is checked against (dollars; shares either way).
    data_url:
        ``"crypto-data"`` mode only: another Alpaca-compatible market-data server (the simulator's
        ``base_url`` in tests; default ``https://data.alpaca.markets``).
    current:
        Make it the current session (``current_session()``, the magics and widgets). ``False`` gives
        an independent session and leaves the current one alone.

    Examples
    --------
    >>> import alpaca_nb as anb
    >>> s = anb.connect("demo", seed=7)
    alpaca_nb: demo mode — the built-in simulator at http://127.0.0.1:...; orders go to its paper account.
    """
    # First, before anything can fail: a traceback (%xmode Verbose) shows this frame's arguments.
    api_key, secret_key = Secret.hide(api_key or None), Secret.hide(secret_key or None)  # type: ignore[assignment]
    live_api_key, live_secret_key = Secret.hide(live_api_key or None), Secret.hide(live_secret_key or None)  # type: ignore[assignment]
    check_timeout(timeout)
    _check(seed, rate_limit, feed)
    from .trading import Limits

    Limits(max_notional, max_position)  # checked now, before anything is closed or started
    if data_url is not None and mode != "crypto-data":
        raise ConfigurationError('data_url applies to connect("crypto-data") only')
    keyless = mode in ("demo", "crypto-data")
    paper_keys = _keys(api_key, secret_key, "paper") if not keyless else None  # type: ignore[arg-type]
    live_keys = _keys(live_api_key, live_secret_key, "live") if not keyless else None  # type: ignore[arg-type]
    chosen = (
        "demo"
        if simulator is not None and mode != "crypto-data"
        else resolve_mode(mode, has_paper_keys=paper_keys is not None, has_live_keys=live_keys is not None)
    )
    if chosen == "live" and not allow_live:
        raise LiveTradingLockedError('live mode needs allow_live=True: connect("live", allow_live=True)')
    redact_logs()
    if current:
        replace_current(None)  # the previous session goes first: its simulator and threads stop
    options: dict[str, Any] = {"allow_live": allow_live, "timeout": timeout, "rate_limit": rate_limit,
                               "max_notional": max_notional, "max_position": max_position}  # fmt: skip
    if chosen == "crypto-data":
        from .config import DATA_URL

        data_url = data_url or (simulator.base_url if simulator is not None else DATA_URL)
        session = Session("crypto-data", {}, keyless_data_url=data_url.rstrip("/"), **options)
        message = (
            f"alpaca_nb: crypto-data mode — Alpaca's crypto market data at {data_url}, no keys; "
            "no account, so nothing can be traded."
        )
    elif chosen == "demo":
        session = _demo_session(simulator, seed=seed, **options)
        assert session.simulator is not None
        message = (
            f"alpaca_nb: demo mode — the built-in simulator at {session.simulator.base_url} "
            f"(seed {session.simulator.seed}); orders go to its paper account."
        )
    else:
        accounts: dict[AccountKind, AccountConfig] = {}
        pairs: tuple[tuple[AccountKind, Credentials | None], ...] = (
            ("paper", paper_keys),
            ("live", live_keys),
        )
        for kind, keys in pairs:
            if keys is not None:
                where = (endpoints or {}).get(kind) or alpaca_endpoints(kind, feed)
                accounts[kind] = AccountConfig(kind, keys, where)
        session = Session(chosen, accounts, **options)
        message = f"alpaca_nb: {chosen} mode — orders go to {session.orders_go_to()}."
    if current:
        replace_current(session)
    if not quiet:
        print(message)
    return session


def _demo_session(simulator: Simulator | None, *, seed: int, **options: Any) -> Session:
    from .sim import Simulator

    owns = simulator is None
    rate_limit = options["rate_limit"]
    sim = simulator or Simulator(seed=seed, hours="always", rate_limit=rate_limit).start()
    accounts: dict[AccountKind, AccountConfig] = {}
    kinds: tuple[AccountKind, ...] = ("paper", "live")
    for kind in kinds:
        where = Endpoints(sim.base_url, sim.base_url, sim.data_stream_url, sim.trading_stream_url,
                          sim.crypto_stream_url, sim.option_stream_url)  # fmt: skip
        accounts[kind] = AccountConfig(kind, Credentials.of(*sim.credentials(kind)), where)
    return Session("demo", accounts, simulator=sim, owns_simulator=owns, **options)
