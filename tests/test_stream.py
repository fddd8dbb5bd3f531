"""StreamHub: one connection, ref-counted subscriptions, ring buffers, reconnects, clean close."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from alpaca_nb.stream import StreamHub, StreamState
from tests.conftest import wait_until


@pytest.fixture
def session() -> Iterator[Session]:
    with Simulator(seed=5, hours="always", rate_limit=None) as sim:
        s = anb.connect("demo", simulator=sim, quiet=True)
        yield s
        close_current()


def _server_quotes(sim: Simulator) -> set[str]:
    return sim.call(lambda: set().union(*(c.subs["quotes"] for c in sim.streams.data_clients)) or set())


def test_quotes_and_trades_land_in_bounded_buffers(session: Session) -> None:
    hub = StreamHub(session._accounts["paper"], buffer_size=5)
    seen: list[tuple[str, str]] = []
    try:
        hub.subscribe(
            quotes=["AAPL", "MSFT"],
            trades=["SPY"],
            callback=lambda batch: seen.extend(b[:2] for b in batch for _ in b[2]),
        )
        assert wait_until(lambda: hub.state is StreamState.CONNECTED, 10)
        # SPY trades ~12 times a minute (Poisson): 60 s leaves a 1-in-160,000 chance of none.
        assert wait_until(lambda: len(hub.quotes("AAPL")) == 5 and len(hub.trades("SPY")) >= 1, 60)
        quotes = hub.quotes("AAPL")
        assert len(quotes) == 5  # bounded
        assert all(q[1] < q[3] for q in quotes)  # bid < ask
        assert [q[0] for q in quotes] == sorted(q[0] for q in quotes)
        stats = hub.stats()
        assert stats["messages"] >= 6 and stats["last_message_age_s"] < 5 and stats["reconnects"] == 0
        assert ("quotes", "AAPL") in seen and ("trades", "SPY") in seen
        assert hub.quotes("GOOGL") == []
    finally:
        hub.close()


def test_one_connection_shared_and_ref_counted(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    hub = session.stream
    first = hub.subscribe(quotes=["AAPL", "MSFT"])
    second = hub.subscribe(quotes=["AAPL"])
    assert wait_until(lambda: _server_quotes(sim) == {"AAPL", "MSFT"}, 10)
    assert sim.stream_clients() == 1  # one data connection for every consumer
    hub.unsubscribe(first)
    assert wait_until(lambda: _server_quotes(sim) == {"AAPL"}, 10)  # AAPL still wanted by `second`
    hub.unsubscribe(second)
    assert wait_until(lambda: _server_quotes(sim) == set(), 10)
    assert hub.subscriptions() == {"quotes": [], "trades": [], "bars": []}


def test_reconnects_and_resubscribes_after_drops(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    hub = session.stream
    hub.subscribe(quotes=["AAPL", "MSFT", "SPY"])
    assert wait_until(lambda: hub.state is StreamState.CONNECTED and hub.stats()["messages"] > 0, 10)
    for n in range(1, 4):
        sim.faults.drop_streams()
        assert wait_until(
            lambda n=n: hub.stats()["reconnects"] == n and hub.state is StreamState.CONNECTED, 15
        )
        before = hub.stats()["messages"]
        assert wait_until(lambda b=before: hub.stats()["messages"] > b, 10)  # data flows again
    assert _server_quotes(sim) == {"AAPL", "MSFT", "SPY"}  # resubscribed
    print(f"\nreconnects survived: {hub.stats()['reconnects']}")


def test_a_quiet_feed_is_stale_not_dead(session: Session) -> None:
    """Silence with pings answered: the badge says "stale"; nothing reconnects (bad0d12: every 15 s)."""
    sim = session.simulator
    assert sim is not None
    hub = StreamHub(session._accounts["paper"], ping_interval=1.0, stale_after=1.0)
    try:
        hub.subscribe(quotes=["AAPL", "MSFT", "SPY", "QQQ"])
        assert wait_until(lambda: hub.state is StreamState.CONNECTED and hub.stats()["messages"] > 0, 10)
        connections = hub.stats()["connections"]
        sim.faults.silence_streams(6)
        assert wait_until(lambda: hub.stats()["stale"], 5)
        time.sleep(4)
        assert hub.stats()["connections"] == connections and hub.state is StreamState.CONNECTED
        assert wait_until(lambda: not hub.stats()["stale"], 10)  # data again: fresh, same connection
        assert hub.stats()["connections"] == connections
    finally:
        sim.faults.clear()
        hub.close()


def test_a_dead_peer_is_found_by_its_missing_pongs(session: Session) -> None:
    """No pong (the peer reads nothing): a new connection within two ping intervals."""
    sim = session.simulator
    assert sim is not None
    hub = StreamHub(session._accounts["paper"], ping_interval=1.0, stale_after=1.0)
    try:
        hub.subscribe(quotes=["AAPL"])
        assert wait_until(lambda: hub.state is StreamState.CONNECTED and hub.stats()["messages"] > 0, 10)
        connections = hub.stats()["connections"]
        sim.faults.freeze_streams(30)
        start = time.monotonic()
        assert wait_until(lambda: hub.stats()["drops"] > 0, 10)
        found = time.monotonic() - start
        assert wait_until(lambda: hub.stats()["connections"] > connections, 10)
        replaced = time.monotonic() - start
        print(f"\nno pong: dropped after {found:.2f} s, reconnected after {replaced:.2f} s (ping every 1 s)")
        assert found <= 2 * hub.ping_interval + 0.25
    finally:
        sim.faults.clear()
        hub.close()


@pytest.mark.slow
def test_a_bars_only_subscription_on_a_quiet_feed_never_reconnects(session: Session) -> None:
    """Minute bars arrive once a minute: 60 s of that is a healthy stream (bad0d12: 2 reconnects)."""
    hub = session.stream
    hub.subscribe(bars=["AAPL"])
    assert wait_until(lambda: hub.state is StreamState.CONNECTED, 10)
    time.sleep(60)
    stats = hub.stats()
    print(f"\nbars only, 60 s: reconnects={stats['reconnects']} connections={stats['connections']}")
    assert stats["reconnects"] == 0 and stats["connections"] == 1


def test_work_handed_to_the_engine_before_its_loop_runs_is_not_lost() -> None:
    from alpaca_nb.stream.engine import Engine

    class Slow(Engine):
        def _run(self, loop: Any) -> None:
            time.sleep(0.3)  # the thread is late: the loop exists but does not run yet
            super()._run(loop)

    done: list[int] = []
    engine = Slow(on_error=lambda err: None)
    engine.start()
    for i in range(100):
        assert engine.call(done.append, i)
    assert wait_until(lambda: len(done) == 100, 5) and done == list(range(100))
    engine.stop()
    assert not engine.call(done.append, 0)  # stopped: refused, not silently queued


def test_close_leaves_no_thread_and_refuses_new_work(session: Session) -> None:
    hub = session.stream
    hub.subscribe(quotes=["AAPL"])
    assert wait_until(lambda: hub.state is StreamState.CONNECTED, 10)
    assert any(t.name == "alpaca-nb-stream" for t in threading.enumerate())
    session.close()
    assert hub.state is StreamState.CLOSED
    assert not any(t.name == "alpaca-nb-stream" for t in threading.enumerate())
    with pytest.raises(errors.StreamError):
        hub.subscribe(quotes=["AAPL"])
    with pytest.raises(errors.ValidationError):
        StreamHub(session._accounts["paper"]).subscribe(quotes=["not a symbol"])


def test_stream_magic(session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    ip.run_line_magic("alpaca", "stream start AAPL,MSFT")
    assert "quotes AAPL, MSFT" in capsys.readouterr().out
    assert wait_until(lambda: session.stream.stats()["messages"] > 0, 10)
    ip.run_line_magic("alpaca", "stream status -o st")
    out = capsys.readouterr().out
    assert "stream connected" in out and ip.user_ns["st"]["messages"] > 0
    ip.run_line_magic("alpaca", "status")
    assert "stream        connected, 2 subscriptions" in capsys.readouterr().out
    ip.run_line_magic("alpaca", "stream stop")
    assert "stream stopped" in capsys.readouterr().out
    assert not any(t.name == "alpaca-nb-stream" for t in threading.enumerate())


def test_trade_updates_reach_callbacks(session: Session) -> None:
    sim = session.simulator
    assert sim is not None
    events: list[dict[str, object]] = []
    hub = session.stream
    hub.on_trade_update(events.append)
    assert wait_until(lambda: hub.stats()["trading_connections"] == 1, 10)
    assert wait_until(lambda: sim.call(lambda: any(c.listening for c in sim.streams.trading_clients)), 10)
    sim.set_price("KO", 60.0)
    order = session.submit_order("KO", qty=3)
    assert wait_until(lambda: any(e["event"] == "fill" for e in events), 10)
    mine = [e for e in events if e["order"]["id"] == str(order.id)]  # type: ignore[index]
    assert [e["event"] for e in mine] == ["new", "fill"]
    assert mine[-1]["price"] == "60.01" and mine[-1]["position_qty"] == "3"
    assert hub.trade_updates()[-1]["event"] == "fill"
    session.close()
    assert not any(t.name == "alpaca-nb-stream" for t in threading.enumerate())
