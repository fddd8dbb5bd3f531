"""``Simulator``: the local Alpaca stand-in, served on one 127.0.0.1 port from a background thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TypeVar

from aiohttp import web

from .broker import Broker
from .faults import Faults
from .http import Gate, RateLimiter, RequestRecord
from .market import Hours, Market, Pin
from .market.crypto import CryptoMarket
from .market.options import OptionsMarket
from .market.orderbook import OrderBooks
from .market.venues import Venues
from .option_hooks import OptionHooks
from .routes.account import AccountRoutes
from .routes.analytics import AnalyticsRoutes
from .routes.crypto import CryptoRoutes
from .routes.crypto_feed import CryptoFeed
from .routes.option_contracts import OptionContractRoutes
from .routes.option_feed import OptionFeed
from .routes.options import OptionDataRoutes
from .routes.stocks import DataRoutes, Plan
from .routes.streams import StreamServer
from .routes.trading import TradingRoutes
from .transport import Compressor, Link

T = TypeVar("T")
AccountName = Literal["paper", "live"]


class Simulator(OptionHooks):
    """A seeded, deterministic Alpaca (trading REST, market-data REST, both WebSocket streams).

    The unmodified alpaca-py clients work against it with ``url_override``; so does alpaca_nb's
    demo mode. Everything runs on one asyncio loop in one daemon thread; ``stop()`` joins it.

    Parameters
    ----------
    seed:
        Same seed, same market history.
    symbols:
        The universe (default: AAPL, MSFT, GOOGL, AMZN, NVDA, TSLA, META, AMD, NFLX, JPM, V, KO,
        SPY, QQQ, IWM; FAKEPACA is always on ``/v2/test``).
    port, host:
        Where to listen; port 0 picks a free port. Keep ``host`` on loopback.
    hours:
        ``"calendar"``: the market trades only in exchange sessions. ``"always"``: from today on
        it trades around the clock (demo mode uses this so charts move at any hour).
    rate_limit:
        Requests per minute per key, for trading and for market data separately (``None``: off).
    plan:
        ``"basic"`` refuses recent SIP data (403, as Alpaca's free plan); ``"unlimited"`` doesn't.
    tick_interval:
        Seconds between live stream frames (and order-matching passes).
    stream_connection_limit:
        Market-data connections per key and feed (Alpaca allows 1; extra ones get error 406).
    clock:
        Nanoseconds since the epoch (default ``time.time_ns``); tests may shift it.
    credentials:
        Keys to accept instead of the demo keys, e.g. ``{"paper": (key_id, secret)}``.
    link_mbps, rtt_ms:
        An emulated network link for HTTP answers (benchmarks, tests): each answer waits ``rtt_ms``
        before its first byte, then its bytes leave at ``link_mbps`` megabits per second, one budget
        shared by every connection. Default: none (loopback speed).
    compression_level, compression_engine:
        zlib level (1-9) for gzip/deflate answers to requests that accept them, as Alpaca sends;
        ``compression_engine="isal"`` compresses with ISA-L instead (levels 0-3: 6-8x faster, bodies
        ~15% bigger) — for loopback benchmarks, where the server's CPU is not what is measured.
    ssl_context:
        Serve HTTPS and WSS with this server context (tests of certificate handling); URLs say so.
    crypto_symbols:
        The crypto pairs (default: BTC/USD, ETH/USD, SOL/USD, LTC/USD, DOGE/USD, AVAX/USD,
        LINK/USD). Crypto trades 24/7 whatever ``hours`` says; its market data needs no keys.
    orderbook_levels, orderbook_interval:
        Levels per side of the crypto order books, and seconds between book ticks (default 50
        levels, 0.1 s: the book changes ten times a second; the stream sends the increments at
        each ``tick_interval``, so set both for a faster book).
    option_rate:
        The interest rate of the options' Black-Scholes prices (default 0: puts never trade
        below their exercise value, and put-call parity reads ``C - P = S - K``).

    Options are listed for every stock of the universe (OCC symbols, e.g. ``AAPL261218C00200000``):
    see ``option_stream_url``, ``set_options_level`` and ``expire_options``.

    Examples
    --------
    >>> from alpaca_nb import Simulator
    >>> from alpaca.trading.client import TradingClient
    >>> with Simulator(seed=7) as sim:
    ...     key, secret = sim.credentials("paper")
    ...     client = TradingClient(key, secret, url_override=sim.base_url)
    ...     client.get_account().status
    <AccountStatus.ACTIVE: 'ACTIVE'>
    """

    def __init__(
        self,
        seed: int = 0,
        symbols: list[str] | tuple[str, ...] | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        hours: Hours = "calendar",
        rate_limit: int | None = 200,
        plan: Plan = "unlimited",
        starting_cash: float = 100_000,
        tick_interval: float = 0.1,
        stream_connection_limit: int | None = 1,
        cache_mb: int = 256,
        clock: Callable[[], int] = time.time_ns,
        credentials: dict[str, tuple[str, str]] | None = None,
        link_mbps: float | None = None,
        rtt_ms: float = 0.0,
        compression_level: int = 6,
        compression_engine: str = "zlib",
        ssl_context: ssl.SSLContext | None = None,
        crypto_symbols: list[str] | tuple[str, ...] | None = None,
        orderbook_levels: int = 50,
        orderbook_interval: float = 0.1,
        option_rate: float = 0.0,
    ) -> None:
        self.seed = seed
        self.host = host
        self.ssl_context = ssl_context
        self._requested_port = port
        self.port: int | None = None
        self.market = Market(seed, symbols, hours=hours, cache_bytes=cache_mb * 2**20, clock=clock)
        self.crypto_market = CryptoMarket(
            seed, crypto_symbols, cache_bytes=cache_mb * 2**20 // 2, clock=clock
        )
        self.orderbooks = OrderBooks(self.crypto_market, levels=orderbook_levels, interval=orderbook_interval)
        self.options_market = OptionsMarket(
            self.market, seed, rate=option_rate, cache_bytes=cache_mb * 2**20 // 4
        )
        self.venues = Venues(self.market, self.crypto_market, self.options_market)
        self.broker = Broker(self.venues, seed=seed, starting_cash=starting_cash, credentials=credentials)
        self.streams = StreamServer(
            self.market,
            self.broker,
            crypto=CryptoFeed(self.crypto_market, self.orderbooks),
            options=OptionFeed(self.options_market, quote_limit=200 if plan == "basic" else 1000),
            tick_interval=tick_interval,
            connection_limit=stream_connection_limit,
        )
        self.faults = Faults(self.streams, self._call_soon)
        self.link = Link(link_mbps, rtt_ms)
        self._request_log: deque[RequestRecord] = deque(maxlen=100_000)
        self._gate = Gate(
            self.broker,
            self.faults,
            RateLimiter(rate_limit),
            RateLimiter(rate_limit),
            self._request_log,
            Compressor(compression_level, engine=compression_engine),
            self.link,
        )
        self._data = DataRoutes(self.market, plan=plan, cache_bytes=cache_mb * 2**20 * 3 // 4)
        self._crypto = CryptoRoutes(self.crypto_market, self.orderbooks, cache_bytes=cache_mb * 2**20 // 4)
        self._options = OptionDataRoutes(self.options_market)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = f"running at {self.base_url}" if self.running else "stopped"
        return f"<Simulator seed={self.seed} hours={self.market.hours!r} {state}>"

    # ----- lifecycle --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.port is not None

    def start(self) -> Simulator:
        """Start serving in a background thread; returns self once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._run, name=f"alpaca-nb-sim:{self.seed}", daemon=True)
        self._thread.start()
        self._started.wait(30)
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        """Close every connection, stop the loop and join the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self._loop = None
        self.port = None

    def __enter__(self) -> Simulator:
        return self.start() if self._thread is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as err:  # reported by start()
            self._error = err
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)  # e.g. a request held by a stall fault
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        app = web.Application(middlewares=[self._gate.middleware])
        AccountRoutes(self.broker).add_to(app)
        AnalyticsRoutes(self.broker).add_to(app)
        TradingRoutes(self.broker).add_to(app)
        self._data.add_to(app)
        self._crypto.add_to(app)
        self._options.add_to(app)
        OptionContractRoutes(self.broker, self.options_market).add_to(app)
        self.streams.add_to(app)  # last: its /v2/{feed} route must not shadow the REST routes
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.host, self._requested_port, reuse_address=True, ssl_context=self.ssl_context
        )
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.streams.start()

    async def _shutdown(self) -> None:
        await self.streams.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _call_soon(self, fn: Callable[[], Any]) -> None:
        if self._loop is None:
            raise RuntimeError("simulator is not running")
        self._loop.call_soon_threadsafe(fn)

    def call(self, fn: Callable[[], T], timeout: float = 10) -> T:
        """Run ``fn`` on the simulator's loop thread and return its result (safe inspection)."""
        if self._loop is None:
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    # ----- addresses and keys -----------------------------------------------------------------
    def _root(self, scheme: str) -> str:
        if self.port is None:
            raise RuntimeError("simulator is not running: call start() first")
        if self.ssl_context is not None:
            scheme += "s"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def http_bytes_sent(self) -> int:
        """Bytes of HTTP answers sent so far (status lines, headers, bodies as compressed); for
        benchmarks comparing what clients cost on the wire. WebSocket traffic is not counted."""
        return self._gate.bytes_sent

    @property
    def base_url(self) -> str:
        """REST root for ``TradingClient`` and ``StockHistoricalDataClient`` (they add ``/v2``)."""
        return self._root("http")

    @property
    def data_stream_url(self) -> str:
        """Full market-data stream URL (IEX feed) for ``StockDataStream(url_override=...)``."""
        return self._root("ws") + "/v2/iex"

    @property
    def sip_stream_url(self) -> str:
        return self._root("ws") + "/v2/sip"

    @property
    def test_stream_url(self) -> str:
        """The always-on FAKEPACA test stream."""
        return self._root("ws") + "/v2/test"

    @property
    def crypto_stream_url(self) -> str:
        """Full crypto stream URL for ``CryptoDataStream(url_override=...)``."""
        return self._root("ws") + "/v1beta3/crypto/us"

    @property
    def trading_stream_url(self) -> str:
        """Full trade-updates stream URL for ``TradingStream(url_override=...)``."""
        return self._root("ws") + "/stream"

    def credentials(self, account: AccountName = "paper") -> tuple[str, str]:
        """The demo ``(key_id, secret_key)`` of the simulated ``"paper"`` or ``"live"`` account."""
        acct = self.broker.accounts.get(account)
        if acct is None:
            raise ValueError("account must be 'paper' or 'live'")
        return acct.key_id, acct.secret

    # ----- test hooks -------------------------------------------------------------------------
    def set_price(self, symbol: str, price: float, *, spread: float = 0.02, size: int = 1_000_000) -> None:
        """Pin ``symbol``'s quote at ``price`` ± ``spread``/2 with ``size`` shares (or coins, for a
        crypto pair such as ``"BTC/USD"``) on each side.

        Fills and valuations then use these numbers, so tests can compute them by hand.
        """
        market = self.crypto_market if symbol in self.crypto_market.universe else self.market
        if symbol not in market.universe:
            raise KeyError(f"{symbol} is not in the simulator's universe")
        market.pin(symbol, Pin(price, spread, size, since=self.market.now()))

    def clear_price(self, symbol: str | None = None) -> None:
        for market in (self.market, self.crypto_market):
            for pinned in [symbol] if symbol is not None else list(market.pins):
                if pinned in market.universe:
                    market.pin(pinned, None)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every REST request received so far (method, path, account, status, client_order_id)."""
        return list(self._request_log)

    def orders(self, account: AccountName = "paper") -> list[dict[str, Any]]:
        """All orders of an account as Alpaca JSON, oldest first."""
        acct = self.broker.accounts[account]
        return self.call(lambda: [o.to_json() for o in acct.orders.values()])

    def replay(
        self,
        count: int,
        *,
        batch: int = 10,
        pre_encoded: bool = True,
        symbols: list[str] | None = None,
        channel: str = "quotes",
    ) -> tuple[int, float]:
        """Blast ``count`` messages to connected data clients; returns (messages sent, seconds).

        Stock symbols (default: four of the universe) go to stock-stream clients as quotes; crypto
        pairs (``["BTC/USD", ...]``) go to crypto-stream clients as ``channel`` — ``"quotes"``,
        ``"trades"`` or ``"orderbooks"`` (book increments after a whole-book reset); option
        contracts (``["AAPL261218C00200000", ...]``) go to option-stream clients as quotes.
        """
        if self._loop is None:
            raise RuntimeError("simulator is not running")
        coro = self.streams.replay(
            count, batch=batch, pre_encoded=pre_encoded, symbols=symbols, channel=channel
        )
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def deposit(self, amount: float, account: AccountName = "paper") -> None:
        """Move cash in (``amount`` > 0) or out of an account: a CSD/CSW activity, as a transfer would."""
        from decimal import Decimal

        self.call(lambda: self.broker.accounts[account].deposit(Decimal(str(amount)), self.market.now()))

    def busy_feed(self, rate: float, seconds: float, symbols: list[str]) -> int:
        """Send a busy live feed (``rate`` quotes/s for ``seconds``, stamped now) and wait for it to end;
        returns the quotes sent. For load tests: live subscribers see it as real quotes."""
        if self._loop is None:
            raise RuntimeError("simulator is not running")
        coro = self.streams.busy(rate, seconds, symbols)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(seconds + 30)

    def stream_clients(self) -> int:
        """Authenticated market-data stream connections."""
        return self.call(lambda: sum(c.account is not None for c in self.streams.data_clients))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10, interval: float = 0.02) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return predicate()
