"""``Session``: one per kernel — modes, the live interlock, the safe clients, and ``connect()``.

Threading: the public API is synchronous and safe to call from the notebook's thread. A demo session
owns a simulator thread; ``close()`` stops it (and, later, the stream engine) and joins it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from .config import (
    AccountConfig,
    AccountKind,
    Credentials,
    Endpoints,
    Mode,
    alpaca_endpoints,
    env_credentials,
    resolve_mode,
)
from .errors import ConfigurationError, LiveTradingLockedError, NoSessionError, ValidationError
from .rest import RateLimiter

if TYPE_CHECKING:
    import pandas as pd
    from alpaca.trading.models import Order

    from .account import Account
    from .data import SafeDataClient
    from .sim import Simulator
    from .stream import StreamHub
    from .trading import SafeTradingClient

log = logging.getLogger("alpaca_nb")
_current: Session | None = None
_current_lock = threading.Lock()


class Session:
    """A connection to Alpaca (or the built-in simulator) shared by magics and widgets.

    Create it with ``alpaca_nb.connect()``. ``mode`` says where orders go by default: ``"demo"`` (the
    simulator's paper account), ``"paper"``, or ``"live"`` (only when connected with
    ``allow_live=True``). Orders for the other account go with ``account="live"``/``"paper"``; live
    ones are refused locally unless the session was connected with ``allow_live=True``.

    Attributes
    ----------
    trading, market_data:
        alpaca-py's ``TradingClient`` and ``StockHistoricalDataClient`` (with alpaca_nb's timeouts,
        rate limiter and errors) for anything alpaca_nb does not wrap.
    simulator:
        The in-process ``Simulator`` of a demo session (None otherwise).
    """

    def __init__(
        self,
        mode: Mode,
        accounts: Mapping[AccountKind, AccountConfig],
        *,
        allow_live: bool = False,
        timeout: float = 10.0,
        rate_limit: int | None = 200,
        simulator: Simulator | None = None,
        owns_simulator: bool = False,
    ) -> None:
        if timeout <= 0:
            raise ValidationError("timeout must be a positive number of seconds")
        self._mode: Mode = mode
        self._accounts = dict(accounts)
        self.allow_live = allow_live
        self.timeout = timeout
        self.simulator = simulator
        self._owns_simulator = owns_simulator
        self._limiters = {kind: RateLimiter(rate_limit) for kind in self._accounts}
        self._clients: dict[AccountKind, SafeTradingClient] = {}
        self._data: SafeDataClient | None = None
        self._stream: StreamHub | None = None
        self._closed = False
        self.last_error: str | None = None

    # ----- where things go --------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def default_account(self) -> AccountKind:
        return "live" if self._mode == "live" else "paper"

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        where = f"simulator {self.simulator.base_url}" if self.simulator and self.simulator.running else ""
        where = where or self._accounts[self.default_account].endpoints.trading
        state = "closed" if self._closed else f"orders→{self.default_account}"
        live = "unlocked" if self.allow_live and "live" in self._accounts else "locked"
        return f"<alpaca_nb.Session mode={self._mode} {state} ({where}) live={live}>"

    def _account(self, account: str | None) -> AccountConfig:
        if self._closed:
            raise NoSessionError("this session is closed: run `%alpaca connect` or alpaca_nb.connect()")
        kind = account or self.default_account
        if kind not in ("paper", "live"):
            raise ValidationError(f"account must be 'paper' or 'live', not {account!r}")
        if kind == "live" and not self.allow_live:
            raise LiveTradingLockedError(
                "live trading is locked: connect with allow_live=True (and live keys) to unlock it; "
                "nothing was sent"
            )
        config = self._accounts.get(kind)  # type: ignore[call-overload]
        if config is None:
            raise ConfigurationError(
                f"no {kind} keys: set APCA_LIVE_API_KEY_ID and APCA_LIVE_API_SECRET_KEY"
                if kind == "live"
                else "no paper keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY"
            )
        assert isinstance(config, AccountConfig)
        return config

    def client(self, account: str | None = None) -> SafeTradingClient:
        """The trading client for ``account`` (default: where this session's orders go)."""
        config = self._account(account)
        client = self._clients.get(config.kind)
        if client is None:
            from .trading import SafeTradingClient

            client = SafeTradingClient(config, timeout=self.timeout, limiter=self._limiters[config.kind])
            self._clients[config.kind] = client
        return client

    @property
    def trading(self) -> SafeTradingClient:
        return self.client()

    @property
    def market_data(self) -> SafeDataClient:
        if self._data is None:
            from .data import SafeDataClient

            kind: AccountKind = "paper" if "paper" in self._accounts else "live"
            config = self._accounts[kind]
            self._data = SafeDataClient(config, timeout=self.timeout, limiter=self._limiters[kind])
            self._data._anb_trading = self.client(kind)  # for /v2/assets look-ups (unknown symbols)
        return self._data

    @property
    def stream(self) -> StreamHub:
        """The background stream hub (one market-data connection, made on first subscription)."""
        if self._closed:
            raise NoSessionError("this session is closed: run `%alpaca connect` or alpaca_nb.connect()")
        if self._stream is None or self._stream.state.value == "closed":
            from .stream import StreamHub

            kind: AccountKind = "paper" if "paper" in self._accounts else "live"
            trading = self._accounts.get(self.default_account)
            self._stream = StreamHub(self._accounts[kind], trading_account=trading)
        return self._stream

    def stop_stream(self) -> None:
        """Close the stream hub (a new one starts on the next use of ``stream``)."""
        if self._stream is not None:
            self._stream.close()

    # ----- market data ------------------------------------------------------------------------
    def bars(
        self,
        symbols: str | Sequence[str],
        timeframe: Any = "1Day",
        start: Any = None,
        end: Any = None,
        *,
        limit: int | None = None,
        feed: str | None = None,
        adjustment: str | None = None,
        sort: str = "asc",
        tz: str | None = None,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Bars as a DataFrame, pulled page by page (with a progress bar when it takes several).

        Parameters
        ----------
        symbols:
            ``"AAPL"`` gives a ``DatetimeIndex`` named ``timestamp``; a list gives a
            ``(symbol, timestamp)`` MultiIndex.
        timeframe:
            ``"1Min"``, ``"5Min"``, ``"1Hour"``, ``"1Day"``, ``"1Week"``, ``"1Month"``, or ``1m``, ``15T``,
            ``1h``, ``1d``…
        start, end:
            Inclusive. Dates, ISO strings, datetimes or Timestamps; naive and date-only values are New
            York time. Defaults: Alpaca's (start of today, now).
        limit:
            Most bars in total, across symbols.
        feed, adjustment, sort:
            As Alpaca's API (``feed="iex"`` on free plans; ``adjustment="split"``; ``sort="desc"``).
        tz:
            Convert the index, e.g. ``"America/New_York"`` (default UTC).
        progress:
            Show a progress bar (default: when more than one page is needed).

        Returns
        -------
        DataFrame with columns open, high, low, close (float64), volume, trade_count (int64), vwap
        (float64); the same schema when empty.

        Examples
        --------
        >>> s.bars("AAPL", "1Min", start="2024-10-14", end="2024-10-15")
        >>> s.bars(["AAPL", "MSFT"], "1Day", start="2024-01-01", tz="America/New_York")
        """
        from .data import fetch_bars

        call = lambda: fetch_bars(  # noqa: E731
            self.market_data,
            symbols,
            timeframe,
            start,
            end,
            limit=limit,
            feed=feed,
            adjustment=adjustment,
            sort=sort,
            tz=tz,
            progress=progress,
        )
        return cast("pd.DataFrame", self._remember(call))

    def latest_quotes(self, symbols: str | Sequence[str], *, feed: str | None = None) -> pd.DataFrame:
        """The latest bid/ask per symbol (index: symbol)."""
        from .data import fetch_latest

        return cast(
            "pd.DataFrame", self._remember(lambda: fetch_latest(self.market_data, "quotes", symbols, feed))
        )

    def latest_trades(self, symbols: str | Sequence[str], *, feed: str | None = None) -> pd.DataFrame:
        """The latest trade per symbol (index: symbol)."""
        from .data import fetch_latest

        return cast(
            "pd.DataFrame", self._remember(lambda: fetch_latest(self.market_data, "trades", symbols, feed))
        )

    def snapshots(self, symbols: str | Sequence[str], *, feed: str | None = None) -> pd.DataFrame:
        """Price, bid/ask, today's bar and the change since the previous close, per symbol."""
        from .data import fetch_snapshots

        return cast("pd.DataFrame", self._remember(lambda: fetch_snapshots(self.market_data, symbols, feed)))

    # ----- the account ----------------------------------------------------------------------------
    def account(self, *, account: str | None = None) -> Account:
        """The account: equity, cash, buying power, day P&L, flags (a card when displayed)."""
        from .account import Account

        client = self.client(account)
        raw = self._remember(lambda: client._exchange("GET", "/account").json())
        kind = account or self.default_account
        return Account.from_alpaca(raw, "demo" if self._mode == "demo" and kind == "paper" else kind)

    def positions(self, *, account: str | None = None) -> pd.DataFrame:
        """Open positions, indexed by symbol (numbers as float64)."""
        from .account import positions_frame

        client = self.client(account)
        return positions_frame(self._remember(lambda: client._exchange("GET", "/positions").json()))

    def orders(
        self,
        status: str = "open",
        *,
        limit: int | None = None,
        symbols: Sequence[str] | None = None,
        after: Any = None,
        until: Any = None,
        account: str | None = None,
    ) -> pd.DataFrame:
        """Orders, newest first (``status``: open, closed or all); more than 500 are fetched in windows."""
        from .account import fetch_orders, orders_frame

        client = self.client(account)
        rows = self._remember(
            lambda: fetch_orders(client, status, limit, list(symbols) if symbols else None, after, until)
        )
        return orders_frame(rows)

    # ----- orders -----------------------------------------------------------------------------
    def submit_order(
        self,
        symbol: str,
        qty: float | str | None = None,
        side: str = "buy",
        type: str = "market",
        time_in_force: str = "day",
        *,
        notional: float | str | None = None,
        limit_price: float | str | None = None,
        stop_price: float | str | None = None,
        trail_price: float | str | None = None,
        trail_percent: float | str | None = None,
        extended_hours: bool = False,
        client_order_id: str | None = None,
        account: str | None = None,
    ) -> Order:
        """Place an order exactly once (a ``client_order_id`` is generated if not given).

        Examples
        --------
        >>> s.submit_order("AAPL", qty=10, side="buy", type="limit", limit_price=150, time_in_force="gtc")
        """
        from .trading import build_order_request, place_order

        request = build_order_request(
            symbol,
            qty=qty,
            notional=notional,
            side=side,
            type=type,
            time_in_force=time_in_force,
            limit_price=limit_price,
            stop_price=stop_price,
            trail_price=trail_price,
            trail_percent=trail_percent,
            extended_hours=extended_hours,
            client_order_id=client_order_id,
        )
        return cast("Order", self._remember(lambda: place_order(self.client(account), request)))

    def get_order(self, order_id: str, *, account: str | None = None) -> Order:
        """An order by its id or its client_order_id."""
        client = self.client(account)
        try:
            import uuid

            uuid.UUID(str(order_id))
        except ValueError:
            return cast("Order", self._remember(lambda: client.get_order_by_client_id(order_id)))
        return cast("Order", self._remember(lambda: client.get_order_by_id(order_id)))

    def cancel_order(self, order_id: str, *, account: str | None = None) -> None:
        client = self.client(account)
        self._remember(lambda: client.cancel_order_by_id(order_id))

    def cancel_all_orders(self, *, account: str | None = None) -> list[Any]:
        client = self.client(account)
        return cast("list[Any]", self._remember(client.cancel_orders))

    def close_position(
        self,
        symbol: str,
        *,
        qty: float | None = None,
        percentage: float | None = None,
        account: str | None = None,
    ) -> Order:
        from alpaca.trading.requests import ClosePositionRequest

        client = self.client(account)
        options = None
        if qty is not None or percentage is not None:
            options = ClosePositionRequest(
                qty=None if qty is None else str(qty),
                percentage=None if percentage is None else str(percentage),
            )
        return cast("Order", self._remember(lambda: client.close_position(symbol.upper(), options)))

    def close_all_positions(self, *, cancel_orders: bool = False, account: str | None = None) -> list[Any]:
        client = self.client(account)
        return cast(
            "list[Any]", self._remember(lambda: client.close_all_positions(cancel_orders=cancel_orders))
        )

    def _remember(self, call: Any) -> Any:
        try:
            return call()
        except Exception as err:
            self.last_error = f"{type(err).__name__}: {err}"
            raise

    # ----- status and lifecycle ---------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What ``%alpaca status`` shows: never keys."""
        accounts = {}
        for kind, config in self._accounts.items():
            remaining = self._limiters[kind].remaining()
            limit = self._limiters[kind].limit
            accounts[kind] = {
                "trading": config.endpoints.trading,
                "data": config.endpoints.data,
                "data_stream": config.endpoints.data_stream,
                "trading_stream": config.endpoints.trading_stream,
                "request_budget": "unlimited" if limit is None else f"{remaining}/{limit} left this minute",
                "locked": kind == "live" and not self.allow_live,
            }
        return {
            "mode": self._mode,
            "closed": self._closed,
            "orders_go_to": self._orders_go_to(),
            "live": "unlocked" if self.allow_live and "live" in self._accounts else "locked",
            "accounts": accounts,
            "simulator": self.simulator.base_url if self.simulator and self.simulator.running else None,
            "stream": self._stream_status(),
            "timeout_s": self.timeout,
            "last_error": self.last_error,
        }

    def _stream_status(self) -> str:
        if self._stream is None:
            return "not started"
        st = self._stream.stats()
        age = st["last_message_age_s"]
        return (
            f"{st['state']}, {st['subscriptions']} subscriptions, {st['messages']} messages "
            f"({st['rate_per_s']}/s), {st['reconnects']} reconnects"
            + (f", last message {age:.1f} s ago" if age is not None else "")
        )

    def _orders_go_to(self) -> str:
        kind = self.default_account
        if self._mode == "demo":
            return "the simulator's paper account (no real orders)"
        return "the LIVE account (real money)" if kind == "live" else "the paper account"

    def close(self) -> None:
        """Close connections and stop the demo simulator (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._stream is not None:
            self._stream.close()
        for client in self._clients.values():
            client._session.close()
        if self._data is not None:
            self._data._session.close()
        if self.simulator is not None and self._owns_simulator:
            self.simulator.stop()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _keys(api_key: str | None, secret_key: str | None, kind: AccountKind) -> Credentials | None:
    if api_key or secret_key:
        if not (api_key and secret_key):
            raise ConfigurationError("pass both api_key and secret_key, or neither")
        return Credentials.of(api_key, secret_key)
    return env_credentials(kind)


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
    quiet: bool = False,
) -> Session:
    """Create the current session (closing the previous one) and return it.

    Parameters
    ----------
    mode:
        ``"auto"`` (paper when ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY`` are set, else demo),
        ``"demo"`` (the built-in simulator; no keys needed), ``"paper"`` or ``"live"``.
    allow_live:
        Unlock live trading (needs ``APCA_LIVE_API_KEY_ID``/``APCA_LIVE_API_SECRET_KEY``; in demo
        mode, the simulator's live account). Without it, nothing is ever sent to a live account.
    timeout:
        Seconds to wait for any HTTP answer (default 10).
    seed:
        The simulator's seed in demo mode (same seed, same market history).
    rate_limit:
        Requests per minute per key, kept on the client side (Alpaca allows 200; ``None``: off).
    simulator:
        Use this running ``Simulator`` (demo mode) instead of starting one.
    endpoints:
        Point paper/live at other Alpaca-compatible URLs (advanced; e.g. a proxy or the simulator).

    Examples
    --------
    >>> import alpaca_nb as anb
    >>> s = anb.connect("demo", seed=7)
    alpaca_nb: demo mode — the built-in simulator at http://127.0.0.1:...; orders go to its paper account.
    """
    global _current
    paper_keys = _keys(api_key, secret_key, "paper") if mode != "demo" else None
    live_keys = _keys(live_api_key, live_secret_key, "live") if mode != "demo" else None
    chosen = (
        "demo"
        if simulator is not None
        else resolve_mode(mode, has_paper_keys=paper_keys is not None, has_live_keys=live_keys is not None)
    )
    if chosen == "live" and not allow_live:
        raise LiveTradingLockedError('live mode needs allow_live=True: connect("live", allow_live=True)')
    with _current_lock:
        previous, _current = _current, None
    if previous is not None:
        previous.close()
    if chosen == "demo":
        session = _demo_session(
            simulator, seed=seed, allow_live=allow_live, timeout=timeout, rate_limit=rate_limit
        )
        if not quiet:
            assert session.simulator is not None
            print(
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
        session = Session(chosen, accounts, allow_live=allow_live, timeout=timeout, rate_limit=rate_limit)
        if not quiet:
            print(f"alpaca_nb: {chosen} mode — orders go to {session._orders_go_to()}.")
    with _current_lock:
        _current = session
    return session


def _demo_session(
    simulator: Simulator | None, *, seed: int, allow_live: bool, timeout: float, rate_limit: int | None
) -> Session:
    from .sim import Simulator

    owns = simulator is None
    sim = simulator or Simulator(seed=seed, hours="always", rate_limit=rate_limit).start()
    accounts: dict[AccountKind, AccountConfig] = {}
    kinds: tuple[AccountKind, ...] = ("paper", "live")
    for kind in kinds:
        where = Endpoints(sim.base_url, sim.base_url, sim.data_stream_url, sim.trading_stream_url)
        accounts[kind] = AccountConfig(kind, Credentials.of(*sim.credentials(kind)), where)
    return Session(
        "demo",
        accounts,
        allow_live=allow_live,
        timeout=timeout,
        rate_limit=rate_limit,
        simulator=sim,
        owns_simulator=owns,
    )


def current_session() -> Session:
    """The session made by the last ``connect()``; ``NoSessionError`` if there is none."""
    session = _current
    if session is None or session.closed:
        raise NoSessionError()
    return session


def close_current() -> None:
    """Close the current session, if any."""
    global _current
    with _current_lock:
        previous, _current = _current, None
    if previous is not None:
        previous.close()
