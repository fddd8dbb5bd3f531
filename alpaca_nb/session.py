"""``Session``: one per kernel — where orders go, the live interlock, the safe clients, the one order path.

Threading: the public API is synchronous and safe to call from the notebook's thread. A demo session
owns a simulator thread; ``close()`` stops it and the stream hub, and joins them.

The live interlock is enforced here and only here (``_account``): live needs live keys and
``allow_live=True`` at connect, which cannot be changed afterwards. Every order, whichever entry point
it comes from, goes ``place()`` → ``trading.check_order`` (the one pre-trade policy) →
``trading.place_order`` (exactly once).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._wire import (
    OPTION,
    STOCK,
    AssetClass,
    Quote,
    asset_class,
    normalize_symbol,
    normalize_symbols,
    one_class,
    quote_of,
)
from .config import AccountConfig, AccountKind, Mode
from .errors import (
    ConfigurationError,
    LiveTradingLockedError,
    NoSessionError,
    NotFoundError,
    ValidationError,
)
from .rest import RateLimiter

if TYPE_CHECKING:
    import pandas as pd
    from alpaca.trading.models import Order
    from alpaca.trading.requests import OrderRequest

    from .data import SafeDataClient
    from .sim import Simulator
    from .store import BarStore
    from .stream import StreamHub
    from .trading import CheckedOrder, Limits, SafeTradingClient
    from .trading.account import Account

log = logging.getLogger("alpaca_nb")
_current: Session | None = None
_current_lock = threading.Lock()
T = TypeVar("T")
ASSET_TTL_S = 300.0
QUOTE_MAX_AGE_S = 10.0  # a stream quote older than this is not "fresh": REST is asked instead


def check_timeout(timeout: Any) -> float:
    """A per-request timeout in seconds: a finite number above zero (at most 10 minutes)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise ConfigurationError(f"timeout must be a number of seconds between 0 and 600, not {timeout!r}")
    return float(timeout)


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
    max_notional, max_position:
        Limits every order of this session is checked against (dollars; shares either way); None: off.
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
        max_notional: float | None = None,
        max_position: float | None = None,
        keyless_data_url: str | None = None,
    ) -> None:
        from .trading import Limits

        self.timeout = check_timeout(timeout)
        self._mode: Mode = mode
        self._accounts = dict(accounts)
        self._allow_live = bool(allow_live)
        self._limits = Limits(max_notional, max_position)
        self.simulator = simulator
        self._owns_simulator = owns_simulator
        self._limiters = {kind: RateLimiter(rate_limit) for kind in self._accounts}
        self._clients: dict[AccountKind, SafeTradingClient] = {}
        self._data: SafeDataClient | None = None
        self._more_data: dict[tuple[str, AccountKind], Any] = {}  # (asset class, account) → data client
        self._stream: StreamHub | None = None
        self._assets: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._closed = False
        self.last_error: str | None = None
        self._unsure: set[str] = set()  # client_order_ids whose POST ended unknown: looked up before a resend
        self._keyless_url = keyless_data_url  # "crypto-data" mode: Alpaca's keyless crypto data, no account
        self._keyless_limiter = RateLimiter(rate_limit)

    # ----- where things go --------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def allow_live(self) -> bool:
        """Fixed at connect: live trading cannot be unlocked on a session afterwards."""
        return self._allow_live

    @property
    def live_unlocked(self) -> bool:
        """True when live orders may be sent: ``allow_live`` at connect and live keys present."""
        return self._allow_live and "live" in self._accounts

    def has_account(self, kind: str) -> bool:
        return kind in self._accounts

    @property
    def has_accounts(self) -> bool:
        """False in crypto-data mode: market data only, nothing to trade or look back on."""
        return bool(self._accounts)

    @property
    def default_account(self) -> AccountKind:
        return "live" if self._mode == "live" else "paper"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def max_notional(self) -> float | None:
        return self._limits.max_notional

    @max_notional.setter
    def max_notional(self, value: float | None) -> None:
        from .trading import Limits

        self._limits = Limits(value, self._limits.max_position)

    @property
    def max_position(self) -> float | None:
        return self._limits.max_position

    @max_position.setter
    def max_position(self, value: float | None) -> None:
        from .trading import Limits

        self._limits = Limits(self._limits.max_notional, value)

    def __repr__(self) -> str:
        where = f"simulator {self.simulator.base_url}" if self.simulator and self.simulator.running else ""
        if self._keyless_url is not None:
            return f"<alpaca_nb.Session mode=crypto-data keyless ({self._keyless_url}) no account>"
        where = where or self._accounts[self.default_account].endpoints.trading
        state = "closed" if self._closed else f"orders→{self.default_account}"
        live = "unlocked" if self.live_unlocked else "locked"
        return f"<alpaca_nb.Session mode={self._mode} {state} ({where}) live={live}>"

    def _account(self, account: str | None) -> AccountConfig:
        """The account an action goes to — THE live interlock: nothing reaches live without it."""
        if self._closed:
            raise NoSessionError("this session is closed: run `%alpaca connect` or alpaca_nb.connect()")
        kind = account or self.default_account
        if kind not in ("paper", "live"):
            raise ValidationError(f"account must be 'paper' or 'live', not {account!r}")
        if self._keyless_url is not None:
            raise ConfigurationError(
                "crypto-data mode has no account (it reads Alpaca's crypto market data without keys): "
                'connect("paper") with keys, or connect("demo"), to trade'
            )
        if kind == "live" and not self._allow_live:
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

    def _data_kind(self) -> AccountKind:
        return "paper" if "paper" in self._accounts else "live"

    @property
    def trading(self) -> SafeTradingClient:
        return self.client()

    @property
    def market_data(self) -> SafeDataClient:
        if self._data is None:
            from .data import SafeDataClient

            kind = self._data_kind()
            trading = self.client(kind) if kind == "paper" or self._allow_live else None
            self._data = SafeDataClient(
                self._accounts[kind], timeout=self.timeout, limiter=self._limiters[kind], trading=trading
            )
        return self._data

    def _data_for(self, kind: AccountKind, asset: AssetClass = STOCK) -> Any:
        """The ``asset`` class's data client on ``kind``'s own market-data server (the shared one when
        it is the same)."""
        if asset is STOCK:
            default = self.market_data
            config = self._accounts[kind]
            if config.endpoints.data == self._accounts[self._data_kind()].endpoints.data:
                return default
        if (asset.key, kind) not in self._more_data:
            from .data import SafeCryptoDataClient, SafeDataClient, SafeOptionDataClient

            config = self._accounts[kind]
            trading = self.client(kind) if kind == "paper" or self._allow_live else None
            timeout, limiter = self.timeout, self._limiters[kind]
            make = {"stock": SafeDataClient, "crypto": SafeCryptoDataClient, "option": SafeOptionDataClient}
            client: Any = make[asset.key](config, trading=trading, timeout=timeout, limiter=limiter)
            self._more_data[(asset.key, kind)] = client
        return self._more_data[(asset.key, kind)]

    def data_client(self, symbols: str | Sequence[str], *, account: str | None = None) -> Any:
        """The market-data client for ``symbols``' asset class (stocks, crypto); a mix is refused.

        Widgets and the data layer ask here; ``market_data`` stays the stock client."""
        syms, _ = normalize_symbols(symbols)
        asset = one_class(syms)
        if self._keyless_url is not None:
            return self._keyless_client(asset)
        kind = self._data_kind() if account is None else self._account(account).kind
        return self._data_for(kind, asset)

    def _keyless_client(self, asset: AssetClass) -> Any:
        if self._closed:
            raise NoSessionError("this session is closed: run `%alpaca connect` or alpaca_nb.connect()")
        if not asset.keyless_data:
            raise ConfigurationError(
                f"crypto-data mode reads only data Alpaca serves without keys (crypto pairs, written with a "
                f'slash: "BTC/USD"), not {asset.label}s: connect("paper") with keys, or connect("demo")'
            )
        client = self._more_data.get((asset.key, "keyless"))  # type: ignore[arg-type]
        if client is None:
            from .data import SafeCryptoDataClient

            client = SafeCryptoDataClient(None, data_url=self._keyless_url, timeout=self.timeout,
                                          limiter=self._keyless_limiter)  # fmt: skip
            self._more_data[(asset.key, "keyless")] = client  # type: ignore[index]
        return client

    @property
    def stream(self) -> StreamHub:
        """The background stream hub (one market-data connection, made on first subscription)."""
        if self._closed:
            raise NoSessionError("this session is closed: run `%alpaca connect` or alpaca_nb.connect()")
        if self._stream is None or self._stream.state.value == "closed":
            from .config import redact_logs
            from .stream import StreamHub

            redact_logs()  # the stream's libraries are imported now: their loggers exist
            if self._keyless_url is not None:  # no keys, no socket: the crypto feed polls REST
                self._stream = StreamHub(None, trading_accounts={}, poll=self._poll)
                return self._stream
            # Trade updates for every account the session trades on: paper, and live once unlocked.
            traded = {k: c for k, c in self._accounts.items() if k == "paper" or self._allow_live}
            self._stream = StreamHub(self._accounts[self._data_kind()], trading_accounts=traded)
        return self._stream

    def _poll(self, quotes: list[str], books: list[str]) -> list[dict[str, Any]]:
        """One round of the keyless crypto feed (stream.feeds.PollFeed): the latest quotes and order
        books as stream messages (``T`` q / o, ``t`` in ns; each book whole, ``r`` true)."""
        from .data.frames import parse_timestamps
        from .data.latest import latest_quote_records

        client = self._keyless_client(one_class(quotes or books))
        out: list[dict[str, Any]] = []
        if quotes:
            for sym, q in latest_quote_records(client, quotes).items():
                out.append({"T": "q", "S": sym, "t": q.t_ns, "bp": q.bid, "bs": q.bid_size, "ap": q.ask,
                            "as": q.ask_size})  # fmt: skip
        if books:
            rows = (client.get_json(client.asset.data_path("latest/orderbooks"), {"symbols": ",".join(books)})
                    or {}).get("orderbooks") or {}  # fmt: skip
            for sym, b in rows.items():
                t_ns = int(parse_timestamps([b["t"]])[0])
                out.append(
                    {"T": "o", "S": sym, "t": t_ns, "b": b.get("b") or [], "a": b.get("a") or [], "r": True}
                )
        return out

    def stop_stream(self) -> None:
        """Close the stream hub (a new one starts on the next use of ``stream``)."""
        if self._stream is not None:
            self._stream.close()

    def _remember(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as err:
            self.last_error = f"{type(err).__name__}: {err}"
            raise

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

        options: dict[str, Any] = {"limit": limit, "feed": feed, "adjustment": adjustment, "sort": sort,
                                   "tz": tz, "progress": progress}  # fmt: skip
        return self._remember(
            lambda: fetch_bars(self.data_client(symbols), symbols, timeframe, start, end, **options)
        )

    def download_bars(
        self,
        symbols: str | Sequence[str],
        timeframe: Any = "1Min",
        start: Any = None,
        end: Any = None,
        *,
        path: Any,
        feed: str | None = None,
        adjustment: str | None = None,
        progress: bool | None = None,
        page_limit: int | None = None,
    ) -> BarStore:
        """Fill a Parquet bar store at ``path`` with bars (resumable, incremental), return it as a
        ``BarStore``. Needs ``pip install 'alpaca-nb[store]'`` (pyarrow, duckdb).

        Only what the store lacks is fetched: run it again after a crash, an error or a kill to resume;
        extend ``end`` to add the new range; no bar is ever stored twice. Files appear whole (written
        under a temporary name, then renamed). One download at a time per store: a second one is refused
        (``StoreBusyError``). One feed and adjustment per store. Layout, manifest and Dask/Spark
        examples: docs/bar-store.md.

        Parameters
        ----------
        symbols, timeframe, start, end, feed, adjustment:
            As ``bars`` (``start`` is required; ``end`` defaults to now; bars that may still change —
            the current minute, today's daily bar — are left for a later download).
        path:
            The store's directory (created if missing).
        progress:
            One progress bar across all symbols (default on; ``False`` hides it).
        page_limit:
            Bars per page asked of Alpaca (default and most: 10,000).

        Examples
        --------
        >>> store = s.download_bars(["AAPL", "MSFT"], "1Min", start="2024-01-01", end="2024-06-30",
        ...                         path="data/bars")
        >>> store.sql("select symbol, count(*) from bars group by symbol")
        """
        from .store import download

        options: dict[str, Any] = {"path": path, "feed": feed, "adjustment": adjustment, "progress": progress,
                                   "page_limit": page_limit}  # fmt: skip
        store: BarStore = self._remember(
            lambda: download(self.data_client(symbols), symbols, timeframe, start, end, **options)
        )
        return store

    def latest_quotes(self, symbols: str | Sequence[str], *, feed: str | None = None) -> pd.DataFrame:
        """The latest bid/ask per symbol (index: symbol)."""
        from .data import fetch_latest

        return self._remember(lambda: fetch_latest(self.data_client(symbols), "quotes", symbols, feed))

    def latest_trades(self, symbols: str | Sequence[str], *, feed: str | None = None) -> pd.DataFrame:
        """The latest trade per symbol (index: symbol)."""
        from .data import fetch_latest

        return self._remember(lambda: fetch_latest(self.data_client(symbols), "trades", symbols, feed))

    def snapshots(self, symbols: str | Sequence[str], *, feed: str | None = None) -> pd.DataFrame:
        """Price, bid/ask, today's bar and the change since the previous close, per symbol."""
        from .data import fetch_snapshots

        return self._remember(lambda: fetch_snapshots(self.data_client(symbols), symbols, feed))

    # ----- options ------------------------------------------------------------------------------
    def option_contracts(
        self,
        underlying: str,
        *,
        expiration: Any = None,
        expiration_gte: Any = None,
        expiration_lte: Any = None,
        type: str | None = None,
        strike_gte: float | None = None,
        strike_lte: float | None = None,
        status: str = "active",
    ) -> pd.DataFrame:
        """Option contracts of ``underlying`` (every page), indexed by OCC symbol: underlying,
        expiration, type, strike, style, status, tradable, open_interest, close_price, multiplier.

        >>> s.option_contracts("AAPL", expiration="2026-12-18", type="call")
        """
        from .data.options import fetch_contracts

        if status not in ("active", "inactive"):
            raise ValidationError(f"status must be 'active' or 'inactive', not {status!r}")
        filters = {"expiration": expiration, "expiration_gte": expiration_gte,
                   "expiration_lte": expiration_lte, "type": type, "strike_gte": strike_gte,
                   "strike_lte": strike_lte}  # fmt: skip
        client = self.client()
        return self._remember(lambda: fetch_contracts(client, underlying, status=status, **filters))

    def option_chain(
        self,
        underlying: str,
        *,
        expiration: Any = None,
        expiration_gte: Any = None,
        expiration_lte: Any = None,
        type: str | None = None,
        strike_gte: float | None = None,
        strike_lte: float | None = None,
        feed: str | None = None,
    ) -> pd.DataFrame:
        """The option chain of ``underlying`` indexed by (expiration, strike, type): symbol, bid, ask,
        last, iv, delta, gamma, theta, vega, rho, open_interest, and ``computed`` (True where Alpaca's
        snapshot had no greeks and ours — Black-Scholes from the mid and the underlying's price — are shown).

        >>> s.option_chain("AAPL", expiration="2026-12-18")
        >>> s.option_chain("AAPL", strike_gte=180, strike_lte=220, type="put")
        """
        from .data.options import contract_params, fetch_chain

        filters = {"expiration": expiration, "expiration_gte": expiration_gte,
                   "expiration_lte": expiration_lte, "type": type, "strike_gte": strike_gte,
                   "strike_lte": strike_lte}  # fmt: skip
        symbol = contract_params(underlying, **filters)["underlying"]
        trading = self.client()
        data = self._data_for(trading.account_kind, OPTION)  # type: ignore[arg-type]

        def spot() -> float | None:  # asked only if a snapshot lacks greeks
            quote, _ = self.quote(symbol)
            return (quote.bid + quote.ask) / 2 if quote is not None and quote.bid and quote.ask else None

        def chain() -> pd.DataFrame:
            frame = fetch_chain(data, trading, symbol, spot=spot, feed=feed, **filters)
            if frame.empty:
                self.asset(symbol)  # an unknown symbol is a one-line SymbolNotFoundError, not an empty chain
            return frame

        return self._remember(chain)

    def option_greeks(self, *, account: str | None = None) -> pd.DataFrame:
        """Your option positions with their greeks (from Alpaca's snapshots), as position totals
        (``qty × 100 × greek``), indexed by symbol; ``frame.attrs["by_underlying"]``: the net delta,
        gamma, theta and vega per underlying.

        >>> g = s.option_greeks(); g.attrs["by_underlying"]
        """
        import pandas as pd

        from ._wire import parse_occ

        positions = self.positions(account=account)
        held = [sym for sym in positions.index if OPTION.symbol.match(str(sym))]
        names = ["delta", "gamma", "theta", "vega"]
        rows = []
        if held:
            data = self.data_client(held)
            snaps = (data.get_json(OPTION.data_path("snapshots"), {"symbols": ",".join(held)}) or {}).get(
                "snapshots"
            ) or {}
            for sym in held:
                greeks = (snaps.get(sym) or {}).get("greeks") or {}
                qty = float(positions.loc[sym, "qty"])
                totals = {g: qty * OPTION.multiplier * float(greeks.get(g, float("nan"))) for g in names}
                rows.append({"symbol": sym, "underlying": parse_occ(sym).root, "qty": qty, **totals})
        frame = pd.DataFrame(rows, columns=["symbol", "underlying", "qty", *names]).set_index("symbol")
        frame.attrs["by_underlying"] = frame.groupby("underlying")[names].sum()
        return frame

    def payoff(self, legs: Any, limit_price: float, *, qty: int = 1) -> pd.DataFrame:
        """What ``legs`` bought for ``limit_price`` a share (negative: a credit) make or lose, in dollars,
        against the underlying's price: ``at_expiry`` and ``today`` (Black-Scholes at each leg's implied
        volatility); ``frame.attrs``: max_gain, max_loss (inf: unlimited), breakevens. Nothing is sent.

        >>> pnl = s.payoff([anb.Leg(c200, "buy"), anb.Leg(c210, "sell")], 2.10)
        >>> pnl.attrs["breakevens"], pnl.plot()
        """
        import datetime as dt

        from ._wire import parse_occ
        from .trading.legs import check_legs, shapes
        from .trading.payoff import payoff_frame
        from .trading.requests import number

        checked = check_legs(legs)
        q = number("qty", qty, required=True)
        price = (
            float(limit_price)
            if isinstance(limit_price, int | float) and not isinstance(limit_price, bool)
            else None
        )
        if price is None or not math.isfinite(price):
            raise ValidationError(
                f"limit_price must be a number (per share; negative for a credit), not {limit_price!r}"
            )
        root = parse_occ(checked[0].symbol).root
        quote, _ = self.quote(root)
        if quote is None or not quote.bid or not quote.ask:
            raise ValidationError(f"no quote for {root}: the payoff needs the underlying's price")
        data = self.data_client([leg.symbol for leg in checked])
        wanted = {"symbols": ",".join(leg.symbol for leg in checked)}
        snaps = (data.get_json(OPTION.data_path("snapshots"), wanted) or {}).get("snapshots") or {}
        vols = [float((snaps.get(leg.symbol) or {}).get("impliedVolatility") or 0.3) for leg in checked]
        today = dt.datetime.now(dt.UTC)
        years = [max((dt.datetime.fromisoformat(parse_occ(leg.symbol).expiration + "T20:00:00+00:00") - today)
                     .total_seconds() / (365 * 86400), 1e-6) for leg in checked]  # fmt: skip
        return payoff_frame(shapes(checked), price, qty=float(q or 1), spot=(quote.bid + quote.ask) / 2,
                            years=years, vols=vols)  # fmt: skip

    def records(self, channel: str, since_ns: dict[str, int]) -> dict[str, list[Any]]:
        """Every quote (or minute bar) of each symbol after its own ``since_ns``, all pages, oldest
        first, as ``_wire`` records: a chart's seed and gap backfill. Symbols of several asset classes
        are asked of each class's routes."""
        from .data import fetch_records

        groups: dict[str, dict[str, int]] = {}
        for symbol, since in since_ns.items():
            groups.setdefault(asset_class(normalize_symbol(symbol)).key, {})[symbol] = since
        out: dict[str, list[Any]] = {}
        for group in groups.values():
            client = self.data_client(list(group))
            if channel == "quotes" and not client.asset.quote_history:  # options: the latest quote only
                out.update(self._remember(lambda c=client, g=group: _latest_records(c, g)))  # type: ignore[misc]
                continue
            out.update(self._remember(lambda c=client, g=group: fetch_records(c, channel, g)))  # type: ignore[misc]
        return out

    def orderbook(self, symbol: str, *, depth: int | None = None) -> pd.DataFrame:
        """The latest order book of a crypto pair: ``side`` (bid/ask), ``price``, ``size``, best first.

        >>> s.orderbook("BTC/USD", depth=10)
        """
        from .data import fetch_orderbook

        return self._remember(lambda: fetch_orderbook(self.data_client(symbol), symbol, depth))

    def quote(self, symbol: str, *, account: str | None = None) -> tuple[Quote | None, str]:
        """The freshest quote the kernel has for ``symbol`` and where it came from ("stream" or "REST").

        The stream's latest quote if it is at most ``QUOTE_MAX_AGE_S`` old, else one REST request — both
        from the market-data servers of ``account`` (a live order is never priced by a paper server)."""
        symbol = normalize_symbol(symbol)
        config = self._accounts[self.default_account if account is None else account]  # type: ignore[index]
        hub = self._stream
        if (
            hub is not None
            and hub.state.value != "closed"
            and hub.data_stream_url == config.endpoints.data_stream
        ):
            latest = hub.latest_quote(symbol)
            if latest is not None and time.time_ns() - latest.t_ns <= QUOTE_MAX_AGE_S * 1e9:
                return latest, "stream"
        asset = asset_class(symbol)
        data = self._data_for(config.kind, asset)
        path = asset.data_path("latest/quotes")
        payload = self._remember(lambda: data.get_json(path, {"symbols": symbol}))
        row = ((payload or {}).get("quotes") or {}).get(symbol)
        if not row:
            return None, "REST had no quote"
        return quote_of(row, 0), "REST"

    # ----- the account ----------------------------------------------------------------------------
    def account(self, *, account: str | None = None) -> Account:
        """The account: equity, cash, buying power, day P&L, flags (a card when displayed)."""
        from .trading.account import Account

        client = self.client(account)
        raw = self._remember(lambda: client.get_json("/account"))
        kind = account or self.default_account
        return Account.from_alpaca(raw, "demo" if self._mode == "demo" and kind == "paper" else kind)

    def positions(self, *, account: str | None = None) -> pd.DataFrame:
        """Open positions, indexed by symbol (numbers as float64)."""
        from .trading.account import positions_frame

        client = self.client(account)
        return positions_frame(self._remember(lambda: client.get_json("/positions")))

    def open_orders_raw(self, *, account: str | None = None) -> list[dict[str, Any]]:
        """Open orders as Alpaca's JSON objects, newest first (for views that render them)."""
        client = self.client(account)
        params = {"status": "open", "limit": 500, "direction": "desc"}
        return cast("list[dict[str, Any]]", self._remember(lambda: client.get_json("/orders", params)))

    def account_raw(self, *, account: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The account and its positions as Alpaca's JSON objects (for views that render them)."""
        client = self.client(account)
        return self._remember(lambda: (client.get_json("/account"), client.get_json("/positions")))

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
        from .trading.account import fetch_orders, orders_frame

        client = self.client(account)
        rows = self._remember(
            lambda: fetch_orders(client, status, limit, list(symbols) if symbols else None, after, until)
        )
        return orders_frame(rows)

    # ----- the account's own history ----------------------------------------------------------
    def portfolio_history(
        self,
        period: str | None = None,
        timeframe: str | None = None,
        *,
        start: Any = None,
        end: Any = None,
        intraday_reporting: str | None = None,
        pnl_reset: str | None = None,
        cashflow_types: str | None = None,
        account: str | None = None,
    ) -> pd.DataFrame:
        """The account's equity over time, as Alpaca reports it.

        Parameters
        ----------
        period:
            ``"1D"``, ``"1W"``, ``"1M"`` (default) or ``"1A"``; at most two of period, start, end.
        timeframe:
            ``"1Min"``, ``"5Min"``, ``"15Min"``, ``"1H"`` or ``"1D"`` (Alpaca picks by period if None).
        intraday_reporting, pnl_reset, cashflow_types:
            As Alpaca's API (``"extended_hours"``; ``"no_reset"``; ``"ALL"`` adds cashflow columns).

        Returns
        -------
        DataFrame indexed by UTC ``timestamp``: equity, profit_loss, profit_loss_pct, drawdown
        (from the running peak); ``.attrs`` holds base_value, base_value_asof and timeframe.

        Examples
        --------
        >>> s.portfolio_history("1M", "1D")
        >>> s.portfolio_history("1D", "5Min", intraday_reporting="extended_hours")
        """
        from .trading.history import fetch_portfolio_history

        client = self.client(account)
        options = {"period": period, "timeframe": timeframe, "start": start, "end": end,
                   "intraday_reporting": intraday_reporting, "pnl_reset": pnl_reset,
                   "cashflow_types": cashflow_types}  # fmt: skip
        return self._remember(lambda: fetch_portfolio_history(client, **options))

    def activities(
        self, types: str | Sequence[str] | None = None, *, start: Any = None, end: Any = None,
        account: str | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        """Account activities (fills, deposits, dividends, fees…), every page, oldest first.

        >>> s.activities(["FILL"], start="2024-10-01")
        >>> s.activities("CSD")          # deposits
        """
        from .trading.history import activities_frame, fetch_activities

        client = self.client(account)
        return activities_frame(self._remember(lambda: fetch_activities(client, types, start=start, end=end)))

    def fills(
        self, symbols: str | Sequence[str] | None = None, *, start: Any = None, end: Any = None,
        account: str | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        """Your fills (FILL activities), every page: symbol, side, qty, price, order_id… by UTC ``time``.

        alpaca-py's TradingClient cannot list them; here they are for P&L, taxes and charts.

        >>> s.fills()
        >>> s.fills("AAPL", start="2024-10-01")
        """
        from .trading.history import check_symbols, fetch_activities, fills_frame

        wanted = check_symbols(symbols) if symbols is not None else None
        client = self.client(account)
        rows = self._remember(lambda: fetch_activities(client, "FILL", start=start, end=end))
        return fills_frame(rows, wanted)

    def trading_activities(
        self, types: str | Sequence[str], *, account: str | None = None
    ) -> list[dict[str, Any]]:
        """The raw activities (Alpaca's JSON objects), every page, oldest first."""
        from .trading.history import fetch_activities

        client = self.client(account)
        return self._remember(lambda: fetch_activities(client, types))

    def pnl(self, *, account: str | None = None) -> pd.DataFrame:
        """Profit and loss per symbol: realized by FIFO lots over every fill, unrealized of the open lots
        at the broker's current price, and their total (the same whatever the lot method).

        >>> s.pnl()          # qty, avg_cost, price, realized, unrealized, total
        """
        from .trading.history import fetch_activities, pnl_frame

        client = self.client(account)
        fills = self._remember(lambda: fetch_activities(client, "FILL"))
        positions = self.positions(account=account)
        prices = {str(k): float(v) for k, v in positions["current_price"].items()} if len(positions) else {}
        return pnl_frame(fills, prices)

    def watchlists(self, *, account: str | None = None) -> pd.DataFrame:
        """Your watchlists by name, with their symbols."""
        from .trading.history import watchlists_frame

        client = self.client(account)
        listed = self._remember(lambda: client.get_json("/watchlists")) or []
        full = [self._remember(partial(client.get_json, f"/watchlists/{w['id']}")) for w in listed]
        return watchlists_frame(full)

    def watchlist(
        self, name: str, symbols: str | Sequence[str] | None = None, *, add: bool = False,
        remove: bool = False, delete: bool = False, account: str | None = None,
    ) -> list[str]:  # fmt: skip
        """Create or set (``symbols``), extend (``add=True``), shrink (``remove=True``) or ``delete`` the
        watchlist ``name``; returns its symbols.

        >>> s.watchlist("tech", ["AAPL", "MSFT"])     # created, or set to exactly these
        >>> s.watchlist("tech", "NVDA", add=True)
        """
        from .trading.history import check_symbols

        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise ValidationError("a watchlist name is 1 to 64 characters")
        wanted = check_symbols(symbols) if symbols is not None else []
        client = self.client(account)
        listed = self._remember(lambda: client.get_json("/watchlists")) or []
        found = next((w for w in listed if w["name"] == name), None)
        path = f"/watchlists/{found['id']}" if found else None

        def symbols_of(body: Any) -> list[str]:
            return [a["symbol"] for a in (body or {}).get("assets") or []]

        if delete:
            if path is None:
                raise ValidationError(f"no watchlist named {name!r}")
            self._remember(lambda: client.delete(path))
            return []
        if path is None:
            if remove:
                raise ValidationError(f"no watchlist named {name!r}")
            return symbols_of(
                self._remember(lambda: client.post("/watchlists", {"name": name, "symbols": wanted}))
            )
        body: Any = self._remember(lambda: client.get_json(path))
        for symbol in wanted if (add or remove) else []:
            if remove:
                body = self._remember(partial(client.delete, f"{path}/{symbol}"))
            elif symbol not in symbols_of(body):
                body = self._remember(partial(client.post, path, {"symbol": symbol}))
        if symbols is not None and not (add or remove):
            body = self._remember(lambda: client.put(path, {"name": name, "symbols": wanted}))
        return symbols_of(body)

    def account_configurations(self, *, account: str | None = None) -> Any:
        """The account's configurations (alpaca-py ``AccountConfiguration``: shorting, fractional, …)."""
        client = self.client(account)
        return self._remember(client.get_account_configurations)

    def set_account_configurations(self, *, account: str | None = None, **changes: Any) -> Any:
        """Change some configurations, e.g. ``set_account_configurations(no_shorting=True)``."""
        client = self.client(account)
        config: Any = self._remember(client.get_account_configurations)
        unknown = set(changes) - set(type(config).model_fields)
        if unknown:
            raise ValidationError(f"unknown account configuration: {', '.join(sorted(unknown))}")
        updated = config.model_copy(update=changes)
        return self._remember(lambda: client.set_account_configurations(updated))

    def asset(self, symbol: str, *, account: str | None = None) -> dict[str, Any]:
        """Alpaca's asset object for ``symbol`` (tradable, fractionable, shortable…), cached for 5 minutes."""
        symbol = normalize_symbol(symbol)
        client = self.client(account or ("paper" if "paper" in self._accounts else None))
        key = (client.account_kind, symbol)
        cached = self._assets.get(key)
        if cached is None or time.monotonic() - cached[0] > ASSET_TTL_S:
            fetch = (
                _contract_asset
                if asset_class(symbol) is OPTION
                else (lambda c, sym: c.get_json(f"/assets/{sym}"))
            )
            cached = (time.monotonic(), self._remember(lambda: fetch(client, symbol)))
            self._assets[key] = cached
        return cached[1]

    # ----- orders: the one path -----------------------------------------------------------------
    def check(
        self, request: OrderRequest, *, account: str | None = None, limits: Limits | None = None
    ) -> CheckedOrder:
        """Run the pre-trade policy on ``request`` (``trading.build_order_request``) without sending it.

        ``limits`` tighten the session's own (a ticket's, say); they never loosen them."""
        from .trading import check_order

        client = self.client(account)  # the interlock first: a locked live check sends nothing
        effective = self._limits if limits is None else self._limits.tighter(limits)
        view = _MarketView(self, client)
        return self._remember(lambda: check_order(request, view, effective, client.account_kind))

    def place(
        self, request: OrderRequest, *, account: str | None = None, limits: Limits | None = None
    ) -> Order:
        """Check ``request`` and send it exactly once; every entry point ends here."""
        from .errors import OrderStateUnknownError
        from .trading import place_order
        from .trading.orders import find_order, same_order

        coid = str(request.client_order_id)
        if coid in self._unsure:  # sent before with no answer: find it first, or the checks would count
            client = self.client(account)  # the order that may exist against itself
            found = self._remember(lambda: find_order(client, coid))
            if found is not None:
                self._unsure.discard(coid)
                return self._remember(lambda: same_order(client, found, request))
        checked = self.check(request, account=account, limits=limits)
        client = self.client(checked.account)
        try:
            order = self._remember(lambda: place_order(client, checked.request))
        except OrderStateUnknownError:
            self._unsure.add(coid)
            raise
        self._unsure.discard(coid)
        return order

    def submit_order(
        self,
        symbol: str | None = None,
        qty: float | str | None = None,
        side: str = "buy",
        type: str | None = None,
        time_in_force: str | None = None,
        *,
        notional: float | str | None = None,
        limit_price: float | str | None = None,
        stop_price: float | str | None = None,
        trail_price: float | str | None = None,
        trail_percent: float | str | None = None,
        extended_hours: bool = False,
        order_class: str | None = None,
        take_profit: Any = None,
        stop_loss: Any = None,
        client_order_id: str | None = None,
        account: str | None = None,
        legs: Any = None,
    ) -> Order:
        """Place an order exactly once, after the session's pre-trade checks.

        A ``client_order_id`` is generated if not given; sending again with the same one finds the
        order instead of making a second. ``order_class="bracket"`` with ``take_profit=P`` and
        ``stop_loss=S`` (or ``{"stop_price": S, "limit_price": L}``); also ``"oco"`` and ``"oto"``;
        ``type="trailing_stop"`` with ``trail_percent`` or ``trail_price``.

        Examples
        --------
        >>> s.submit_order("AAPL", qty=10, side="buy", type="limit", limit_price=150, time_in_force="gtc")
        >>> s.submit_order("AAPL", qty=10, type="limit", limit_price=150, order_class="bracket",
        ...                take_profit=160, stop_loss=145)
        >>> spread = [anb.Leg("AAPL261218C00200000", "buy"), anb.Leg("AAPL261218C00210000", "sell")]
        >>> s.submit_order(legs=spread, qty=1, type="limit", limit_price=2.10)   # a vertical, net debit
        """
        from .trading import build_order_request

        if legs is not None:  # a multi-leg option order: no symbol, no side, legs
            from .trading.legs import build_mleg_request

            if symbol is not None or side != "buy":
                raise ValidationError(
                    "a multi-leg order takes its contracts and sides in legs, not symbol/side"
                )
            kind = type or ("limit" if limit_price is not None else "market")  # a spread priced: a limit
            request = build_mleg_request(
                legs, qty=1 if qty is None else qty, type=kind, limit_price=limit_price,
                time_in_force=time_in_force, client_order_id=client_order_id,
            )  # fmt: skip
            return self.place(request, account=account)
        if symbol is None:
            raise ValidationError(
                "give the symbol to trade (or legs=[anb.Leg(...), ...] for a multi-leg order)"
            )
        request = build_order_request(
            symbol, qty=qty, notional=notional, side=side, type=type or "market", time_in_force=time_in_force,
            limit_price=limit_price, stop_price=stop_price, trail_price=trail_price,
            trail_percent=trail_percent, extended_hours=extended_hours, client_order_id=client_order_id,
            order_class=order_class, take_profit=take_profit, stop_loss=stop_loss,
        )  # fmt: skip
        return self.place(request, account=account)

    def get_order(self, order_id: str, *, account: str | None = None) -> Order:
        """An order by its id or its client_order_id."""
        client = self.client(account)
        key = str(order_id).strip()
        if not key:
            raise ValidationError("give an order id or a client_order_id")
        if _is_uuid(key):
            return cast("Order", self._remember(lambda: client.get_order_by_id(key)))
        return cast("Order", self._remember(lambda: client.get_order_by_client_id(key)))

    def replace_order(
        self,
        order_id: str,
        *,
        qty: int | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail: float | None = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
        account: str | None = None,
    ) -> Order:
        """Replace an open order (the new one carries a client_order_id: it exists at most once)."""
        from types import SimpleNamespace

        from alpaca.trading.requests import ReplaceOrderRequest

        from .trading import new_client_order_id, replace_order
        from .trading.checks import check_replace, check_steps
        from .trading.legs import _net_price as net_price
        from .trading.requests import choice, number, price_on_steps

        client = self.client(account)
        if not _is_uuid(str(order_id)):
            raise ValidationError(f"not an order id: {order_id!r}")
        q = number("qty", qty)
        if q is not None and q != int(q):
            raise ValidationError(
                "qty of a replacement must be a whole number (alpaca-py replaces whole quantities): "
                "cancel the order and place a new one"
            )
        given = (q, limit_price, stop_price, trail, time_in_force)
        if all(v is None for v in given):
            raise ValidationError("give at least one of qty, limit_price, stop_price, trail, time_in_force")
        # The order's asset class decides its rules (crypto: gtc/ioc, its own price steps), as for a new one.
        current = self.get_order(str(order_id), account=account)
        symbol = str(current.symbol or "")
        cls = asset_class(symbol) if symbol else OPTION  # no symbol: a multi-leg parent, of option legs
        kind = str(getattr(current.type, "value", current.type))  # a replacement keeps the order's type
        for name, value, types in (("limit_price", limit_price, ("limit", "stop_limit")),
                                   ("stop_price", stop_price, ("stop", "stop_limit")),
                                   ("trail", trail, ("trailing_stop",))):  # fmt: skip
            if value is not None and kind not in types:
                raise ValidationError(f"{name} does not apply to a {kind} order (only {' or '.join(types)})")
        tif = None if time_in_force is None else choice("time_in_force", time_in_force, cls.time_in_force)
        fields: dict[str, Any] = {
            "qty": None if q is None else int(q),
            "limit_price": price_on_steps("limit_price", limit_price, symbol)
            if symbol
            else None
            if limit_price is None
            else net_price(limit_price),  # a multi-leg parent: a net price, negative a credit
            "stop_price": price_on_steps("stop_price", stop_price, symbol)
            if symbol
            else number("stop_price", stop_price),
            "trail": number("trail", trail),
            "time_in_force": tif,
        }
        if symbol and (fields["limit_price"] is not None or fields["stop_price"] is not None):
            prices = SimpleNamespace(qty=None, notional=None, limit_price=fields["limit_price"],
                                     stop_price=fields["stop_price"])  # fmt: skip
            check_steps(prices, self.asset(symbol, account=client.account_kind), symbol)  # type: ignore[arg-type]
        if self._limits.max_notional is not None or self._limits.max_position is not None:
            view = _MarketView(self, client)  # the one pre-trade policy, again
            check_replace(
                current, fields["qty"], fields["limit_price"], fields["stop_price"], view, self._limits
            )
        request = ReplaceOrderRequest(**fields, client_order_id=client_order_id or new_client_order_id())
        return self._remember(lambda: replace_order(client, str(order_id), request))

    def cancel_order(self, order_id: str, *, account: str | None = None) -> Order | None:
        """Cancel an order. None when Alpaca took the cancel; after a lost answer, the order as found."""
        from .trading import cancel_order

        client = self.client(account)
        if not _is_uuid(str(order_id)):
            raise ValidationError(f"not an order id: {order_id!r}")
        return self._remember(lambda: cancel_order(client, str(order_id)))

    def cancel_all_orders(self, *, account: str | None = None) -> list[Any]:
        from .trading import cancel_all_orders

        client = self.client(account)
        return self._remember(lambda: cancel_all_orders(client))

    def close_position(
        self,
        symbol: str,
        *,
        qty: float | None = None,
        percentage: float | None = None,
        account: str | None = None,
    ) -> Order:
        """Close all of a position, ``qty`` shares of it, or ``percentage`` (0–100] of it."""
        from alpaca.trading.requests import ClosePositionRequest

        from .trading import close_position
        from .trading.requests import number

        client = self.client(account)
        raw = str(symbol).strip() if isinstance(symbol, str) else symbol
        if not raw:
            raise ValidationError("give the symbol (or asset id) of the position to close")
        key = raw if _is_uuid(raw) else normalize_symbol(raw)  # an asset id keeps its case
        if not _is_uuid(raw):
            key = asset_class(key).position_symbol(key)  # crypto positions are keyed BTCUSD
        q, pct = number("qty", qty), number("percentage", percentage)
        if q is not None and pct is not None:
            raise ValidationError("give qty or percentage, not both")
        if pct is not None and pct > 100:
            raise ValidationError(f"percentage must be at most 100, not {percentage!r}")
        options = None
        if q is not None or pct is not None:
            options = ClosePositionRequest(
                qty=None if q is None else f"{q:g}", percentage=None if pct is None else f"{pct:g}"
            )
        return self._remember(lambda: close_position(client, key, options))

    def close_all_positions(self, *, cancel_orders: bool = False, account: str | None = None) -> list[Any]:
        from .trading import close_all_positions

        client = self.client(account)
        return self._remember(lambda: close_all_positions(client, cancel_orders=bool(cancel_orders)))

    # ----- status and lifecycle ---------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What ``%alpaca status`` shows: never keys."""
        accounts: dict[str, Any] = {}
        if self._keyless_url is not None:
            limit, left = self._keyless_limiter.limit, self._keyless_limiter.remaining()
            accounts["keyless"] = {
                "trading": "none (no account)", "data": self._keyless_url, "data_stream": "none",
                "crypto_stream": "REST polled once a second (the crypto stream needs keys)",
                "trading_stream": "none",
                "request_budget": "unlimited" if limit is None else f"{left}/{limit} left this minute",
                "locked": True,
            }  # fmt: skip
        for kind, config in self._accounts.items():
            remaining = self._limiters[kind].remaining()
            limit = self._limiters[kind].limit
            accounts[kind] = {
                "trading": config.endpoints.trading,
                "data": config.endpoints.data,
                "data_stream": config.endpoints.data_stream,
                "crypto_stream": config.endpoints.crypto_data_stream,
                "trading_stream": config.endpoints.trading_stream,
                "request_budget": "unlimited" if limit is None else f"{remaining}/{limit} left this minute",
                "locked": kind == "live" and not self._allow_live,
            }
        return {
            "mode": self._mode,
            "closed": self._closed,
            "orders_go_to": self.orders_go_to(),
            "live": "unlocked" if self.live_unlocked else "locked",
            "accounts": accounts,
            "simulator": self.simulator.base_url if self.simulator and self.simulator.running else None,
            "stream": self._stream_status(),
            "timeout_s": self.timeout,
            "limits": {"max_notional": self.max_notional, "max_position": self.max_position},
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
            + "".join(
                f"; {k} feed {f['state']} ({f['reconnects']} reconnects)" for k, f in st["feeds"].items()
            )
        )

    def orders_go_to(self) -> str:
        """Where this session's orders go by default, in words."""
        kind = self.default_account
        if self._keyless_url is not None:
            return "nowhere: crypto-data mode has no account (market data only)"
        if self._mode == "demo":
            return "the simulator's paper account (no real orders)"
        return "the LIVE account (real money)" if kind == "live" else "the paper account"

    def close(self) -> None:
        """Close connections and stop the demo simulator (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for limiter in self._limiters.values():
            limiter.close()  # a refresh waiting for a slot on the REST thread gives up now
        if self._stream is not None:
            self._stream.close()
        for client in self._clients.values():
            client.close()
        for data in [self._data, *self._more_data.values()]:
            if data is not None:
                data.close()
        if self.simulator is not None and self._owns_simulator:
            self.simulator.stop()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _MarketView:
    """The pre-trade policy's view of one account (``trading.checks.MarketView``)."""

    def __init__(self, session: Session, client: SafeTradingClient) -> None:
        self._session = session
        self._client = client

    def asset(self, symbol: str) -> dict[str, Any]:
        return self._session.asset(symbol, account=self._client.account_kind)

    def quote(self, symbol: str) -> tuple[Quote | None, str]:
        return self._session.quote(symbol, account=self._client.account_kind)

    def buying_power(self, non_marginable: bool = False) -> float:
        account = self._client.get_json("/account") or {}
        key = "non_marginable_buying_power" if non_marginable else "buying_power"
        return float(account.get(key) or account.get("buying_power") or 0.0)

    def option_load(self, root: str) -> tuple[float, float]:
        """(contracts of short calls on ``root``, dollars securing short puts), held or in open orders:
        what new short calls and puts may not count on again."""
        from ._wire import parse_occ

        calls = puts = 0.0

        def add(symbol: str, contracts: float) -> None:
            nonlocal calls, puts
            if not OPTION.symbol.match(symbol) or contracts <= 0:
                return
            parts = parse_occ(symbol)
            if parts.type == "call" and parts.root == root:
                calls += contracts
            elif parts.type == "put":
                puts += parts.strike * OPTION.multiplier * contracts

        for position in self._client.get_json("/positions") or []:
            add(str(position.get("symbol")), -float(position.get("qty") or 0))
        for order in self._client.get_json("/orders", {"status": "open", "limit": 500}) or []:
            if order.get("side") == "sell" and not order.get("legs"):
                add(
                    str(order.get("symbol")),
                    float(order.get("qty") or 0) - float(order.get("filled_qty") or 0),
                )
        return calls, puts

    def options_level(self) -> int:
        account = self._client.get_json("/account") or {}
        try:
            return int(account.get("options_trading_level") or 0)
        except (TypeError, ValueError):
            return 0

    def position_qty(self, symbol: str) -> float:
        key = asset_class(symbol).position_symbol(symbol)  # crypto positions: BTCUSD
        try:
            return float(self._client.get_json(f"/positions/{key}")["qty"])
        except NotFoundError:
            return 0.0

    def working_qty(self, symbol: str) -> tuple[float, float]:
        params = {"status": "open", "symbols": symbol, "limit": 500}
        buy = sell = 0.0
        for order in self._client.get_json("/orders", params):
            qty = float(order.get("qty") or 0)
            if not qty and order.get("notional"):  # a notional order: its quantity at its price
                price = float(order.get("limit_price") or order.get("stop_price") or 0)
                if not price:
                    quote, _ = self.quote(symbol)
                    price = (
                        float((quote.ask if order.get("side") == "buy" else quote.bid) or 0) if quote else 0
                    )
                qty = float(order["notional"]) / price if price else float("inf")  # unknown: assume the worst
            left = qty - float(order.get("filled_qty") or 0)
            if order.get("side") == "buy":
                buy += left
            else:
                sell += left
        return buy, sell


def _contract_asset(client: Any, symbol: str) -> dict[str, Any]:
    """An option contract as the policy reads an asset (contracts are not in ``/v2/assets``)."""
    import datetime as dt

    contract = client.get_json(f"/options/contracts/{symbol}") or {}
    expired = str(contract.get("expiration_date") or "9999-12-31") < dt.date.today().isoformat()
    return {"symbol": contract.get("symbol", symbol), "class": "us_option",
            "status": "inactive" if expired else contract.get("status", "active"),
            "tradable": bool(contract.get("tradable")) and not expired, "fractionable": False,
            "shortable": True, "name": contract.get("name", symbol)}  # fmt: skip


def _latest_records(client: Any, since_ns: dict[str, int]) -> dict[str, list[Any]]:
    """Each symbol's latest quote as a ``_wire.Quote``, if newer than its ``since_ns``."""
    from .data.latest import latest_quote_records

    found = latest_quote_records(client, list(since_ns))
    return {
        sym: [q] if sym in found and (q := found[sym]).t_ns > since else [] for sym, since in since_ns.items()
    }


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def current_session() -> Session:
    """The session made by the last ``connect()``; ``NoSessionError`` if there is none."""
    session = _current
    if session is None or session.closed:
        raise NoSessionError()
    return session


def replace_current(session: Session | None) -> None:
    """Make ``session`` the current one, closing the previous (``connect`` calls this)."""
    global _current
    with _current_lock:
        previous, _current = _current, session
    if previous is not None and previous is not session:
        previous.close()


def close_current() -> None:
    """Close the current session, if any."""
    replace_current(None)
