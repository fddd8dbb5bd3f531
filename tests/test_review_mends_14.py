"""What the adversarial review of the look-back work (issue 14) broke, each a test that failed before the
mend: a key echoed in a 200 that is not JSON (verbose traceback), FIFO lots ordered as strings, a dragged
line past max_notional, a half-made QuoteChart, one failing look-back call staling AccountView, an end
date that was not inclusive, a simulator 500 on a huge period, nanoseconds lost in after/until, a price
pin rewriting the past, and crafted messages raising in the kernel."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from IPython.core.ultratb import VerboseTB

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.config import Endpoints
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from alpaca_nb.sim.market import Pin
from alpaca_nb.trading.history import pnl_frame
from alpaca_nb.widgets import AccountView, BarChart, QuoteChart
from tests import front_end
from tests.conftest import wait_until

KEY, SECRET = "PKLOOKBACKSENT77", "lookback-SECRET-sentinel"


@pytest.fixture
def world() -> Iterator[tuple[Simulator, Session]]:
    with Simulator(seed=17, hours="always", rate_limit=None, tick_interval=0.05,
                   credentials={"paper": (KEY, SECRET)}) as sim:  # fmt: skip
        where = Endpoints(sim.base_url, sim.base_url, sim.data_stream_url, sim.trading_stream_url)
        yield sim, anb.connect("paper", api_key=KEY, secret_key=SECRET, endpoints={"paper": where},
                               rate_limit=None, quiet=True, timeout=2.0)  # fmt: skip
        close_current()


def _verbose(err: BaseException) -> str:
    """What ``%xmode Verbose`` prints for ``err`` (locals and the values of the lines' expressions)."""
    return str(VerboseTB(theme_name="nocolor").text(type(err), err, err.__traceback__))


def _filled(s: Session, order_id: str) -> None:
    assert wait_until(lambda: s.get_order(order_id).status.value == "filled", 10)


def test_a_key_echoed_in_a_200_that_is_not_json_stays_out_of_verbose_tracebacks(
    world: tuple[Simulator, Session],
) -> None:
    sim, s = world
    for path, call in (("/v2/account", s.account), ("/v2/account/activities", s.fills)):
        sim.faults.garbage("GET", path, body=f"<html>debug: APCA-API-KEY-ID={KEY}</html>".encode())
        with pytest.raises(errors.InvalidResponseError) as caught:
            call()
        assert KEY not in str(caught.value) and KEY not in _verbose(caught.value), path


def test_fifo_lots_follow_time_not_the_strings_of_times() -> None:
    def fill(when: str, side: str, qty: int, price: float) -> dict[str, str]:
        return {"activity_type": "FILL", "transaction_time": when, "symbol": "AAPL", "side": side,
                "qty": str(qty), "price": str(price)}  # fmt: skip

    fills = [  # trailing zeros trimmed, as Alpaca writes times: as strings, ".25Z" < ".2Z" and ".5Z" < "Z"
        fill("2024-10-14T14:00:01.5Z", "buy", 10, 105.0),
        fill("2024-10-14T14:00:01Z", "buy", 10, 100.0),
        fill("2024-10-14T14:00:02.25Z", "sell", 10, 120.0),
        fill("2024-10-14T14:00:02.2Z", "buy", 10, 110.0),
    ]
    row = pnl_frame(fills, {"AAPL": 120.0}).loc["AAPL"]
    assert row.realized == 200.0  # the first lot (100) closed by the sell at 120
    assert row.avg_cost == 107.5 and row.unrealized == 250.0 and row.total == 450.0


def test_a_dragged_line_is_held_to_max_notional(world: tuple[Simulator, Session]) -> None:
    sim, s = world
    sim.set_price("KO", 60)
    s.max_notional = 1_000
    order = s.submit_order("KO", qty=10, side="buy", type="limit", limit_price=50, time_in_force="gtc")
    chart = BarChart("KO", "1Day", session=s)
    front_end.send(chart, {"type": "drag", "id": str(order.id), "field": "limit_price", "price": 150})
    front_end.send(chart, {"type": "confirm", "token": chart.proposal["token"]})
    assert "max_notional" in chart.message
    assert not [r for r in sim.requests if r.method == "PATCH"]
    with pytest.raises(errors.PreTradeRefusal, match="max_notional"):
        s.replace_order(str(order.id), limit_price=150)
    for crafted in (10**400, 1e-5, 0.0000001):  # too big for a float; rounds to nothing
        front_end.send(chart, {"type": "drag", "id": str(order.id), "field": "limit_price", "price": crafted})
        assert chart.proposal == {} and chart.message.startswith("refused")
    chart.close()


def test_a_quote_chart_that_fails_to_start_leaves_nothing_behind(world: tuple[Simulator, Session]) -> None:
    from ipywidgets.widgets import widget as ipw

    sim, s = world
    before = set(ipw._instances)
    sim.faults.fail("GET", "/v2/account/activities", 401)
    with pytest.raises(errors.AuthenticationError):
        QuoteChart("AAPL", session=s)
    assert [ipw._instances[k] for k in set(ipw._instances) - before] == []


def test_a_failing_look_back_does_not_stale_the_account_view(world: tuple[Simulator, Session]) -> None:
    sim, s = world
    sim.faults.fail("GET", "/v2/account/portfolio/history", 422)
    view = AccountView(s)
    assert view.status == "live" and view.account["equity"] > 0
    assert view.message.startswith("equity curve or fills not updated")
    view.close()


def test_an_end_date_is_inclusive_for_fills_and_activities(world: tuple[Simulator, Session]) -> None:
    sim, s = world
    sim.set_price("KO", 60)
    _filled(s, str(s.submit_order("KO", qty=1, side="buy").id))
    today = pd.Timestamp.now(tz="America/New_York").date().isoformat()
    assert len(s.fills(start=today, end=today)) == 1
    assert len(s.activities("FILL", end=today)) == 1


def test_the_simulator_answers_a_huge_period_with_422_not_500(world: tuple[Simulator, Session]) -> None:
    _, s = world
    for period in ("1000000A", "99999999999999999999D"):
        with pytest.raises(errors.APIError) as caught:
            s.portfolio_history(period, "1D")
        assert caught.value.status == 422, period


def test_after_and_until_keep_nanoseconds(world: tuple[Simulator, Session]) -> None:
    sim, s = world
    sim.set_price("KO", 60)
    for _ in range(2):
        _filled(s, str(s.submit_order("KO", qty=1, side="buy").id))
    raw = s.trading.get_json("/account/activities", {"activity_types": "FILL", "direction": "asc"})
    last = raw[-1]["transaction_time"]
    assert len(s.fills(end=pd.Timestamp(last))) == 2  # inclusive of the last one, to the nanosecond
    assert s.trading.get_json("/account/activities", {"activity_types": "FILL", "after": last}) == []


def test_a_price_pin_does_not_rewrite_the_past(world: tuple[Simulator, Session]) -> None:
    sim, _ = world
    market = sim.market
    now = market.now()
    before = market.last_trade("KO", now - 10**9)
    market.pin("KO", Pin(61.0, 0.02, 1000, since=now))
    market.pin("KO", Pin(62.0, 0.02, 1000, since=now + 10**9))
    assert market.last_trade("KO", now - 10**9) == before  # before any pin: the market's own price
    assert market.last_trade("KO", now)[0] == 61.0 and market.last_trade("KO", now + 2 * 10**9)[0] == 62.0
    market.pin("KO", None)
    assert market.last_trade("KO", now)[0] == 61.0  # unpinning later leaves the pinned past as it was


def test_crafted_messages_do_not_raise_in_the_kernel(
    world: tuple[Simulator, Session], caplog: pytest.LogCaptureFixture
) -> None:
    _, s = world
    chart = QuoteChart("AAPL", session=s)
    with caplog.at_level("WARNING"):
        for crafted in (None, [1, 2], "ready", 42, {"type": None}):
            front_end.send(chart, crafted)
    # ipywidgets catches a callback's exception and logs it (in a notebook: a traceback in the output)
    assert [r.getMessage() for r in caplog.records if "Exception in callback" in r.getMessage()] == []
    chart.close()
