"""Account, positions, orders and AccountView against the simulated broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from alpaca_nb.trading.account import Account
from tests import comm_capture, front_end
from tests.conftest import wait_until


@pytest.fixture
def session() -> Iterator[Session]:
    with Simulator(seed=12, hours="always", rate_limit=None) as sim:
        yield anb.connect("demo", simulator=sim, quiet=True, rate_limit=None)
        close_current()


def _fill(s: Session, symbol: str, qty: int, side: str = "buy") -> None:
    order = s.submit_order(symbol, qty=qty, side=side)
    assert wait_until(lambda: s.get_order(str(order.id)).status == "filled", 10)


def test_account_positions_orders_to_the_cent(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    sim.set_price("AAPL", 100.00)
    _fill(session, "AAPL", 10)  # at the ask 100.01
    sim.set_price("AAPL", 110.00)
    _fill(session, "AAPL", 10)  # at 110.01 → avg 105.01
    sim.set_price("MSFT", 50.00)
    _fill(session, "MSFT", 20, "sell")  # short at the bid 49.99
    account = session.account()
    assert isinstance(account, Account) and account.mode == "demo"
    assert account.cash == pytest.approx(100_000 - 1000.10 - 1100.10 + 999.80, abs=1e-9)  # 98,899.60
    assert account.long_market_value == 2200.00 and account.short_market_value == -1000.00
    assert account.equity == pytest.approx(98_899.60 + 2200 - 1000, abs=1e-9)  # 100,099.60
    assert account.day_pl == round(account.equity - 100_000, 2) == 99.60
    assert account.day_pl_pct == pytest.approx(0.0996, abs=1e-9)
    card = account._repr_html_()
    assert "DEMO" in card and "$100,099.60" in card and "+99.60" in card
    positions = session.positions()
    assert list(positions.index) == ["AAPL", "MSFT"] and positions.index.name == "symbol"
    assert (
        positions.loc["AAPL", "avg_entry_price"] == 105.01 and positions.loc["AAPL", "unrealized_pl"] == 99.80
    )
    assert positions.loc["MSFT", "qty"] == -20 and positions.loc["MSFT", "side"] == "short"
    assert positions["market_value"].dtype == "float64"
    orders = session.orders("closed")
    assert len(orders) == 3 and orders["submitted_at"].is_monotonic_decreasing  # newest first
    assert str(orders["submitted_at"].dt.tz) == "UTC" and orders["filled_avg_price"].dtype == "float64"
    assert session.orders("open").empty


def test_more_than_500_orders_are_walked_in_windows(session: Session) -> None:
    for i in range(520):
        session.submit_order("KO", qty=1, type="limit", limit_price=1 + i / 100, time_in_force="gtc")
    everything = session.orders("open")
    assert len(everything) == 520 and everything.index.is_unique
    assert everything["submitted_at"].is_monotonic_decreasing
    assert len(session.orders("open", limit=510)) == 510
    newest = session.orders("open", limit=3)
    assert list(newest.index) == list(everything.index[:3])
    with pytest.raises(errors.ValidationError):
        session.orders("pending")


def test_account_view_follows_fills_and_cancels_exactly_one(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    view = anb.AccountView(session)
    assert view.account["mode"] == "demo" and view.positions == [] and view.status == "live"
    assert wait_until(lambda: session.stream.stats()["trading_connections"] >= 1, 10)
    assert wait_until(lambda: sim.call(lambda: any(c.listening for c in sim.streams.trading_clients)), 10)
    time.sleep(0.3)
    sim.set_price("NVDA", 120.00)
    start = time.monotonic()
    session.submit_order("NVDA", qty=4)
    assert wait_until(lambda: any(p["symbol"] == "NVDA" for p in view.positions), 5)
    seconds = time.monotonic() - start
    print(f"\nfill visible in AccountView after {seconds:.3f} s")
    assert seconds < 1.0
    row = next(p for p in view.positions if p["symbol"] == "NVDA")
    assert row["qty"] == 4 and row["avg_entry_price"] == 120.01
    keep = session.submit_order("KO", qty=1, type="limit", limit_price=1, time_in_force="gtc")
    drop = session.submit_order("KO", qty=2, type="limit", limit_price=2, time_in_force="gtc")
    assert wait_until(lambda: {o["id"] for o in view.orders} == {str(keep.id), str(drop.id)}, 5)
    front_end.send(view, {"type": "cancel", "id": str(drop.id)})  # what the row's button sends
    assert wait_until(lambda: [o["id"] for o in view.orders] == [str(keep.id)], 5)
    assert session.get_order(str(drop.id)).status == "canceled"
    assert session.get_order(str(keep.id)).status == "new"
    html = view.static_html()
    assert "NVDA" in html and "DEMO" in html
    view.close()
    assert session.stream.subscriptions()["quotes"] == []


def test_widget_messages_carry_no_secret() -> None:
    key, secret = "PKSENTINELVIEW99", "s3cret-SENTINEL-widget"
    with Simulator(seed=2, hours="always", rate_limit=None, credentials={"paper": (key, secret)}) as sim:
        where = anb.config.Endpoints(sim.base_url, sim.base_url, sim.data_stream_url, sim.trading_stream_url)  # type: ignore[attr-defined]
        s = anb.connect("paper", api_key=key, secret_key=secret, endpoints={"paper": where}, quiet=True)
        start = len(comm_capture.CAPTURED)
        view = anb.AccountView(s)
        chart = anb.QuoteChart("AAPL", session=s, window="1min")
        s.submit_order("AAPL", qty=1)
        time.sleep(1.5)
        front_end.send(chart, {"type": "ready"})
        view.close()
        chart.close()
        messages = comm_capture.CAPTURED[start:]
        assert len(messages) >= 4
        wire = b"".join(m["raw"] for m in messages)
        assert b"SENTINEL" not in wire and key.encode() not in wire and secret.encode() not in wire
        state = str(view.get_state()) + str(chart.get_state())
        assert "SENTINEL" not in state
        s.close()


def test_account_magics(session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    _fill(session, "SPY", 2)
    account = ip.run_line_magic("alpaca", "account")
    assert isinstance(account, Account) and account.long_market_value > 0
    positions = ip.run_line_magic("alpaca", "positions -o pos")
    assert list(positions.index) == ["SPY"] and ip.user_ns["pos"] is positions
    orders = ip.run_line_magic("alpaca", "orders --status all --limit 5")
    assert isinstance(orders, pd.DataFrame) and len(orders) == 1
    with pytest.raises(errors.LiveTradingLockedError):
        ip.run_line_magic("alpaca", "account --live")


def test_widgets_close_cleanly_after_their_session_closed() -> None:
    with Simulator(seed=13, hours="always", rate_limit=None) as sim:
        session = anb.connect("demo", simulator=sim, quiet=True)
        widgets = [
            anb.AccountView(session),
            anb.OrderTicket("AAPL", session=session),
            anb.QuoteChart("AAPL", session=session),
        ]
        hub = session.stream
        session.close()
        for widget in widgets:
            widget.close()  # no error: the stream went away with the session
            assert widget.comm is None  # really closed: its comm to the browser is gone
        assert hub.state.value == "closed"
        alive = [t.name for t in threading.enumerate() if t.name in ("alpaca-nb-stream", "alpaca-nb-pump")]
        assert alive == [], alive
        close_current()


def test_a_view_that_failed_to_start_leaves_nothing_behind(session: Session) -> None:
    import gc
    import sys

    from ipywidgets.widgets import widget as ipw

    before = set(ipw._instances)
    unraisable: list[object] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda info: unraisable.append(info.exc_value)
    try:
        with pytest.raises(errors.LiveTradingLockedError):
            anb.AccountView(session, account="live")
        left = [ipw._instances[k] for k in set(ipw._instances) - before]
        assert left == []  # no half-made widget with an open comm (closing it raised on bad0d12)
        anb.AccountView.__new__(anb.AccountView).close()  # a half-made one closes quietly, too
        gc.collect()
    finally:
        sys.unraisablehook = old_hook
    assert unraisable == []


def test_orders_sharing_a_window_boundary_are_all_listed() -> None:
    """Walking back in windows of 500: orders stamped exactly at a window's edge are not skipped."""
    now = [time.time_ns()]
    with Simulator(seed=14, hours="always", rate_limit=None, clock=lambda: now[0]) as sim:
        s = anb.connect("demo", simulator=sim, quiet=True, rate_limit=None, current=False)
        for i in range(510):
            if i % 3 == 0:
                now[0] += 1_000_000  # three orders per millisecond: 500 falls inside a group of three
            s.submit_order("KO", qty=1, type="limit", limit_price=1, time_in_force="gtc")
        listed = s.orders("open")
        assert len(listed) == 510 and listed.index.is_unique
        assert len(s.orders("open", limit=505)) == 505
        s.close()


def test_account_view_shows_the_curve_blotter_and_pnl_of_a_fill_within_a_second(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    sim.set_price("MSFT", 200.00)
    _fill(session, "MSFT", 5)  # 5 @ 200.01
    view = anb.AccountView(session)
    assert view.fills[0]["symbol"] == "MSFT" and view.fills[0]["qty"] == 5
    assert view.curve and view.curve[-1][1] == round(view.account["equity"], 2)
    assert wait_until(lambda: session.stream.stats()["trading_connections"] >= 1)
    sim.set_price("MSFT", 210.00)
    start = time.monotonic()
    order = session.submit_order("MSFT", qty=2, side="sell")  # 2 @ 209.99: realized 2 × 9.98
    assert wait_until(lambda: len(view.fills) == 2, 5)
    blotter_s = time.monotonic() - start
    assert view.fills[0] == {**view.fills[0], "symbol": "MSFT", "side": "sell", "qty": 2.0, "price": 209.99}
    assert wait_until(lambda: view.pnl and view.pnl[0]["realized"] == 19.96, 5)
    pnl_s = time.monotonic() - start
    print(f"\nfill → blotter {blotter_s:.2f} s, → P&L {pnl_s:.2f} s")
    assert blotter_s < 1.0 and pnl_s < 1.0
    row = view.pnl[0]
    assert row["symbol"] == "MSFT" and row["qty"] == 3 and row["unrealized"] == round(3 * (210 - 200.01), 2)
    assert str(order.id) not in {o["id"] for o in view.orders}
    picture = view.static_html()
    assert "Fills" in picture and "209.99" in picture and "P&amp;L by symbol" in picture
    view.close()
