"""Crypto on the client side, against the simulator over real sockets: frames equal alpaca-py's,
the streamed book equals the simulator's, the one pre-trade policy refuses what Alpaca would, the
ticket and the order book speak crypto, and keyless crypto-data mode reads without sending keys."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from alpaca.data.historical import CryptoHistoricalDataClient
from alpaca.data.requests import CryptoBarsRequest
from alpaca.data.timeframe import TimeFrame
from IPython.core.interactiveshell import InteractiveShell

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from alpaca_nb.widgets import OrderBook, OrderTicket
from tests import comm_capture, front_end
from tests.conftest import wait_until


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=31, hours="always", rate_limit=None, stream_connection_limit=None) as s:
        yield s


@pytest.fixture(scope="module")
def session(sim: Simulator) -> Iterator[Session]:
    yield anb.connect("demo", simulator=sim, quiet=True, rate_limit=None)
    close_current()


def _order_count(sim: Simulator) -> int:
    return len(sim.orders("paper")) + len(sim.orders("live"))


# ----- data ---------------------------------------------------------------------------------------
def test_crypto_bars_equal_alpaca_py_df_over_pages_and_symbols(session: Session, sim: Simulator) -> None:
    symbols = ["BTC/USD", "ETH/USD", "DOGE/USD"]
    start, end = pd.Timestamp("2024-10-14 00:00", tz="UTC"), pd.Timestamp("2024-10-22 00:00", tz="UTC")
    ours = session.bars(symbols, "1Min", start=start, end=end, progress=False)
    theirs = (
        CryptoHistoricalDataClient(url_override=sim.base_url)  # keyless, as Alpaca allows
        .get_crypto_bars(
            CryptoBarsRequest(
                symbol_or_symbols=symbols,
                timeframe=TimeFrame.Minute,
                start=start.to_pydatetime(),
                end=end.to_pydatetime(),
            )
        )
        .df
    )
    assert len(ours) > 3 * 10_000  # several pages (10,000 bars a page)
    floats = ["open", "high", "low", "close", "volume", "vwap"]
    assert ours.dtypes.to_dict() == {**dict.fromkeys(floats, "float64"), "trade_count": "int64"}
    assert ours.index.names == ["symbol", "timestamp"]
    theirs = theirs[list(ours.columns)].astype(ours.dtypes.to_dict())
    pd.testing.assert_frame_equal(ours, theirs, check_index_type=False, check_freq=False)
    # one symbol: a DatetimeIndex, the same values as its slice of the MultiIndex frame
    one = session.bars("ETH/USD", "1Min", start=start, end=end, progress=False)
    assert isinstance(one.index, pd.DatetimeIndex) and str(one.index.tz) == "UTC"
    np.testing.assert_array_equal(one.to_numpy(), ours.loc["ETH/USD"].to_numpy())
    assert (one["volume"] % 1 != 0).any()  # fractional volume survives


def test_latest_snapshots_and_the_order_book(session: Session) -> None:
    quotes = session.latest_quotes(["BTC/USD", "ETH/USD"])
    assert list(quotes.index) == ["BTC/USD", "ETH/USD"]
    assert (quotes["ask_price"] > quotes["bid_price"]).all()
    snap = session.snapshots("SOL/USD")
    assert snap.loc["SOL/USD", "price"] > 0 and snap.loc["SOL/USD", "prev_close"] > 0
    book = session.orderbook("BTC/USD", depth=10)
    bids, asks = book[book.side == "bid"], book[book.side == "ask"]
    assert len(bids) == len(asks) == 10
    assert bids.price.is_monotonic_decreasing and asks.price.is_monotonic_increasing
    assert bids.price.iloc[0] < asks.price.iloc[0]  # never crossed
    for bad, pattern in [
        (lambda: session.bars(["BTC/USD", "AAPL"], "1Day"), "one asset class per call"),
        (lambda: session.bars("BTCUSD", "1Day", start="2024-10-01"), "write it with the slash"),
        (lambda: session.bars("BTC/USD", "1Day", feed="sip"), "feed does not apply"),
        (lambda: session.orderbook("AAPL"), "one crypto pair"),
        (lambda: session.latest_quotes(["ETH/USD", "MSFT"]), "one asset class per call"),
    ]:
        with pytest.raises(errors.AlpacaNbError, match=pattern) as info:
            bad()
        assert "\n" not in str(info.value)


def test_the_streamed_book_is_the_simulators_book(session: Session, sim: Simulator) -> None:
    """The hub rebuilds the book from one snapshot and many increments; at any tick it received, it is
    exactly the simulator's book for that tick (and never crossed)."""
    hub = session.stream
    token = hub.subscribe(orderbooks=["ETH/USD"])
    try:
        assert wait_until(lambda: (hub.book("ETH/USD") or _Empty).updates >= 8, timeout=20)
        book = hub.book("ETH/USD")
        assert book is not None
        for _ in range(3):
            with book._lock:
                bids, asks, t_ns = dict(book.bids), dict(book.asks), book.t_ns
            expected = sim.call(lambda t=t_ns: sim.orderbooks.at("ETH/USD", t))
            assert bids == dict(expected.bids) and asks == dict(expected.asks)
            assert max(bids) < min(asks)
            time.sleep(0.3)
        assert len(bids) == len(asks) == 50
    finally:
        hub.unsubscribe(token)


class _Empty:
    updates = 0


# ----- trading --------------------------------------------------------------------------------------
def test_a_crypto_order_fills_and_shows_as_a_position(session: Session, sim: Simulator) -> None:
    order = session.submit_order("SOL/USD", qty=0.37, side="buy", type="market")
    assert str(order.time_in_force.value) == "gtc"  # crypto's usual time in force
    assert wait_until(lambda: "SOLUSD" in session.positions().index, timeout=10)
    assert session.positions().loc["SOLUSD", "qty"] == pytest.approx(0.37)
    notional = session.submit_order("SOL/USD", notional=25, side="buy", type="market")
    assert float(notional.notional) == pytest.approx(25)
    fills = session.fills("SOL/USD")  # activities name the pair as positions do (SOLUSD): found all the same
    assert len(fills) >= 2 and set(fills.symbol) == {"SOL/USD"}
    assert "SOLUSD" in session.pnl().index
    closed = session.close_position("SOL/USD")  # the slash form finds the BTCUSD-style position
    assert str(closed.symbol) == "SOL/USD"
    assert wait_until(lambda: "SOLUSD" not in session.positions().index, timeout=10)


def _bad_orders() -> Iterator[tuple[str, dict[str, Any]]]:
    """(symbol, fields) that Alpaca refuses for crypto: below the minimum size, off the increment, short
    sells, day-like times in force, unknown pairs, BTCUSD for BTC/USD, stock-only types and classes,
    prices off the pair's increment, too many decimals, too big, too small."""
    # pair: (sizes below its minimum, sizes off its increment, a price off its increment)
    pairs = {
        "BTC/USD": (("0.00001", "0.00009", "0.000099"), ("0.00015", "0.01234", "1.00001"), "60000.5"),
        "ETH/USD": (("0.0001", "0.0009", "0.00099"), ("0.0015", "0.1234", "2.0001"), "3000.05"),
        "SOL/USD": (("0.001", "0.009", "0.0099"), ("0.015", "1.234", "3.001"), "150.005"),
        "DOGE/USD": (("0.5", "0.1", "0.99"), ("1.5", "12.34", "100.1"), "0.123456"),
        "LINK/USD": (("0.01", "0.05", "0.099"), ("0.15", "1.23", "10.01"), "15.0005"),
        "AVAX/USD": (("0.001", "0.005", "0.0099"), ("0.015", "1.234", "2.001"), "30.0005"),
        "LTC/USD": (("0.001", "0.005", "0.0099"), ("0.015", "1.234", "2.001"), "80.005"),
    }
    for symbol, (tiny, off_step, off_tick) in pairs.items():
        cases: list[dict[str, Any]] = [{"qty": q} for q in tiny + off_step]
        cases += [{"qty": q, "side": "sell"} for q in ("1", "100", tiny[0], off_step[0])]  # short sells
        cases += [
            {"qty": "1", "type": "limit", "limit_price": off_tick},
            {"qty": "1", "type": "stop_limit", "limit_price": off_tick, "stop_price": off_tick},
            {"qty": "1", "type": "stop", "stop_price": "100"}, {"qty": "1", "type": "trailing_stop"},
            {"qty": "0.0000000001"}, {"notional": "0.5"}, {"notional": "250000"}, {"qty": "1000000000"},
            {"qty": "1", "order_class": "bracket"}, {"qty": "1", "extended_hours": True},
            {"qty": "-1"}, {"qty": "0"}, {"qty": "abc"}, {"qty": "1e999"},
        ]  # fmt: skip
        cases += [{"qty": "1", "time_in_force": tif} for tif in ("day", "opg", "cls", "fok", "forever")]
        for case in cases:
            yield symbol, case
    confused = ("BTCUSD", "ETHUSD", "btcusd", "SOLUSD", "FOO/USD", "BTC/EUR", "XYZ/USD", "BTC-USD", "BTC/",
                "/USD", "BTC//USD", "BTC/USD/X", "ETH/USDXX", "DOGEUSD")  # fmt: skip
    for symbol in confused:
        for case in ({"qty": "1"}, {"qty": "0.01"}, {"notional": "10"}, {"qty": "1", "side": "sell"}):
            yield symbol, case


def test_bad_crypto_orders_send_nothing_from_any_entry_point(session: Session, sim: Simulator) -> None:
    """Every generated bad crypto order, through Session.submit_order, the ticket (as the browser writes
    it) and `%alpaca buy/sell`: one line, nothing sent. ≥ 1,000 inputs in all."""
    cases = list(_bad_orders())
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    ticket = OrderTicket(session=session)
    tried = 0
    before = _order_count(sim)
    try:
        for (symbol, case), entry in itertools.product(cases, ("session", "ticket", "magic", "magic-live")):
            side = case.get("side", "buy")
            fields = {k: v for k, v in case.items() if k != "side"}
            message = _try(entry, session, ticket, ip, symbol, side, fields)
            assert message and "\n" not in message.strip(), (entry, symbol, case, message)
            assert _order_count(sim) == before, (entry, symbol, case)
            tried += 1
    finally:
        ticket.close()
    print(f"\nbad crypto order inputs tried: {tried}")
    assert tried >= 1000


def _try(entry: str, session: Session, ticket: OrderTicket, ip: Any, symbol: str, side: str,
         fields: dict[str, Any]) -> str:  # fmt: skip
    if entry == "session":
        try:
            session.submit_order(symbol, side=side, **fields)
        except errors.AlpacaNbError as err:
            return str(err)
        return ""
    if entry == "ticket":
        state = {"symbol": symbol, "side": side, "qty": "", "notional": "", "order_type": "market",
                 "tif": "gtc", "limit_price": "", "stop_price": "", "order_class": "simple",
                 "extended_hours": False}  # fmt: skip
        names = {"type": "order_type", "time_in_force": "tif"}
        state.update({names.get(k, k): v for k, v in fields.items()})
        front_end.write(ticket, **state)
        ticket.message = ""
        front_end.send(ticket, {"type": "submit"})
        return ticket.message
    flags = {"qty": None, "notional": "--notional", "limit_price": "--limit", "stop_price": "--stop",
             "time_in_force": "--tif", "type": None, "order_class": None,
             "extended_hours": "--extended-hours"}  # fmt: skip
    qty = fields.get("qty", "0")
    words = [side, str(qty), symbol]
    for key, value in fields.items():
        if flags.get(key):
            words += [flags[key], str(value)]
        elif key == "type" and value in ("stop", "trailing_stop"):
            words += ["--trail-percent", "1"] if value == "trailing_stop" else ["--stop", "100"]
        elif key == "order_class":
            words += ["--take-profit", "100000", "--stop-loss", "1"]
    if entry == "magic-live":
        words.append("--live")  # locked: the interlock refuses first, and says so in one line
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        result = ip.run_cell(f"%alpaca {' '.join(words)}")
    assert result.error_in_exec is not None, words
    return out.getvalue().strip()


# ----- widgets ----------------------------------------------------------------------------------------
def test_the_ticket_speaks_crypto_and_fills(session: Session, sim: Simulator) -> None:
    ticket = OrderTicket("ETH/USD", session=session)
    try:
        assert ticket.choices["tif"] == ["gtc", "ioc"] and ticket.tif == "gtc"
        assert "stop" not in ticket.choices["order_type"] and ticket.choices["order_class"] == ["simple"]
        front_end.write(ticket, tif="day")  # the browser writes what the kernel did not offer
        front_end.send(ticket, {"type": "submit"})
        assert "time_in_force" in ticket.message and _order_count(sim) >= 0
        front_end.write(ticket, tif="gtc", qty="0.25", side="buy", order_type="market")
        front_end.send(ticket, {"type": "submit"})
        assert ticket.order_id, ticket.message
        assert wait_until(lambda: ticket.order_status == "filled", timeout=15), ticket.status_line
        assert "0.25 filled" in ticket.status_line
        front_end.write(ticket, symbol="AAPL")  # back to a stock: its choices again
        assert "day" in ticket.choices["tif"]
    finally:
        ticket.close()


def test_the_order_book_widget_sends_small_frames_and_picks_kernel_prices(session: Session) -> None:
    ticket = OrderTicket("AAPL", session=session)
    book = OrderBook("BTC/USD", session=session, depth=50, ticket=ticket)
    try:
        start = len(comm_capture.CAPTURED)
        assert wait_until(lambda: book.stats["frames"] >= 10, timeout=20)
        frames = [m for m in comm_capture.CAPTURED[start:]
                  if m["comm_id"] == book.comm.comm_id and m["method"] == "custom"]  # fmt: skip
        assert len(frames) >= 10 and max(m["wire_bytes"] for m in frames) <= 2048, [
            m["wire_bytes"] for m in frames
        ]
        bids, asks = book.levels()
        assert len(bids) == len(asks) == 50 and bids[0][0] < asks[0][0]
        # crafted picks: nothing happens, each counted as refused
        refused = book._refused
        crafted: list[Any] = [
            ("bid", -1),
            ("bid", 50),
            ("mid", 0),
            ("ask", "0"),
            ("ask", True),
            ("bid", 10**20),
            ("ask", 1.0),
        ]
        for side, index in crafted:
            front_end.send(book, {"type": "pick", "side": side, "index": index})
        for other in [{"type": "pick", "price": 1}, {"type": "nonsense"}]:
            front_end.send(book, other)
        assert book._refused == refused + 9 and ticket.limit_price == "" and ticket.symbol == "AAPL"
        front_end.send(book, {"type": "pick", "side": "ask", "index": 3})
        bids, asks = book.levels()
        assert ticket.symbol == "BTC/USD" and ticket.order_type == "limit"
        assert float(ticket.limit_price) == asks[3][0]  # the kernel's own price for that level
        assert ticket.tif == "gtc"
    finally:
        book.close()
        ticket.close()
    with pytest.raises(errors.ValidationError):
        OrderBook("AAPL", session=session)


def test_a_quote_chart_follows_crypto_and_stocks_together(session: Session) -> None:
    chart = anb.QuoteChart(["BTC/USD", "AAPL"], window="2min", session=session)
    try:
        assert wait_until(lambda: all(s.history["quotes"] for s in chart._series.values()), timeout=20)
        feeds = session.stream.stats()["feeds"]
        assert feeds["crypto"]["state"] == feeds["stock"]["state"] == "connected"
        assert feeds["crypto"]["url"].endswith("/v1beta3/crypto/us")
    finally:
        chart.close()


def test_crypto_trades_around_the_clock_when_stocks_are_closed() -> None:
    """hours="calendar": on a Sunday night stocks queue, crypto still quotes, streams and fills."""
    with Simulator(seed=5, hours="calendar", rate_limit=None) as sim:
        s = anb.connect("demo", simulator=sim, quiet=True, rate_limit=None, current=False)
        try:
            order = s.submit_order("BTC/USD", qty=0.001, side="buy", type="market")
            assert wait_until(lambda: s.get_order(str(order.id)).status.value == "filled", timeout=10)
            token = s.stream.subscribe(quotes=["LTC/USD"])
            # LTC/USD quotes ~0.3-0.6 times a second here (Poisson): 10 s missed ~4% of the time, 30 s ~1e-4
            assert wait_until(lambda: s.stream.latest_quote("LTC/USD") is not None, timeout=30)
            s.stream.unsubscribe(token)
        finally:
            s.close()


# ----- keyless -----------------------------------------------------------------------------------------
def test_crypto_data_mode_reads_without_keys_and_trades_nothing(sim: Simulator) -> None:
    s = anb.connect("crypto-data", data_url=sim.base_url, quiet=True, current=False)
    try:
        seen = len(sim.requests)
        bars = s.bars(["BTC/USD", "LINK/USD"], "1Hour", start="2024-10-01", end="2024-10-03", progress=False)
        assert set(bars.index.get_level_values("symbol")) == {"BTC/USD", "LINK/USD"}
        assert s.orderbook("AVAX/USD", depth=5).shape == (10, 4)
        new = sim.requests[seen:]
        assert new and all(r.account is None for r in new)  # no keys reached the server
        refusals: list[tuple[Any, str]] = [
            (lambda: s.bars("AAPL"), "crypto-data mode reads only"),
            (lambda: s.submit_order("BTC/USD", qty=0.01), "no account"),
            (lambda: s.account(), "no account"),
            (lambda: s.positions(), "no account"),
        ]
        for call, pattern in refusals:
            with pytest.raises(errors.ConfigurationError, match=pattern):
                call()
        assert all(r.method == "GET" for r in sim.requests[seen:])  # nothing but reads
        hub = s.stream
        token = hub.subscribe(quotes=["BTC/USD"], orderbooks=["BTC/USD"])
        assert wait_until(lambda: hub.latest_quote("BTC/USD") is not None and hub.orderbook("BTC/USD")[0], 10)
        with pytest.raises(errors.StreamError, match="without keys"):
            hub.subscribe(quotes=["AAPL"])
        hub.unsubscribe(token)
        assert re.search(r"keyless|no account", repr(s))
    finally:
        s.close()
