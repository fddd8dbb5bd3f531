"""Your own trading, looked back on: portfolio history, activities and fills, P&L, watchlists — in the
simulator (validated against Alpaca's spec, through unmodified alpaca-py) and in the toolkit."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from alpaca.trading.requests import (
    CreateWatchlistRequest,
    GetPortfolioHistoryRequest,
    MarketOrderRequest,
    UpdateWatchlistRequest,
)

import alpaca_nb as anb
from alpaca_nb import errors
from alpaca_nb.session import Session, close_current
from alpaca_nb.sim import Simulator
from tests.conftest import trading_client, wait_until
from tests.schemas import SchemaChecker

START = 100_000.0


@pytest.fixture
def world() -> Iterator[tuple[Simulator, Session]]:
    with Simulator(seed=21, hours="always", rate_limit=None, tick_interval=0.05) as sim:
        yield sim, anb.connect("demo", simulator=sim, rate_limit=None, quiet=True)
        close_current()


def _filled(session: Session, order_id: str) -> None:
    assert wait_until(lambda: session.get_order(order_id).status.value == "filled", 10), order_id


def _scripted_day(sim: Simulator, s: Session) -> None:
    """Partial fills, a short and its cover, a cash flow, three symbols; quotes pinned (spread 0.02)."""
    sim.set_price("AAPL", 100, size=3)  # 3 shares a tick: a 10-share order fills 3, 3, 3, 1
    _filled(s, str(s.submit_order("AAPL", qty=10, side="buy").id))  # 10 @ 100.01
    sim.set_price("MSFT", 200)
    _filled(s, str(s.submit_order("MSFT", qty=5, side="sell").id))  # short 5 @ 199.99
    sim.set_price("MSFT", 210)
    _filled(s, str(s.submit_order("MSFT", qty=5, side="buy").id))  # cover 5 @ 210.01
    sim.set_price("AAPL", 110)
    _filled(s, str(s.submit_order("AAPL", qty=4, side="sell").id))  # 4 @ 109.99
    sim.deposit(1000)
    sim.set_price("SPY", 400)
    _filled(s, str(s.submit_order("SPY", qty=2, side="buy").id))  # 2 @ 400.01
    sim.set_price("SPY", 405)


# By hand: cash 100,000 − 1,000.10 + 999.95 − 1,050.05 + 439.96 + 1,000 − 800.02 = 99,589.74;
# equity = cash + 6 × 110 + 2 × 405 = 101,059.74; P&L = equity − 100,000 − 1,000 (a deposit) = 59.74.
REALIZED = {"AAPL": 4 * (109.99 - 100.01), "MSFT": 5 * (199.99 - 210.01), "SPY": 0.0}
UNREALIZED = {"AAPL": 6 * (110 - 100.01), "MSFT": 0.0, "SPY": 2 * (405 - 400.01)}


def test_a_scripted_day_matches_hand_computed_numbers(world: tuple[Simulator, Session]) -> None:
    sim, s = world
    _scripted_day(sim, s)
    account = s.account()
    assert round(account.cash, 2) == 99_589.74 and round(account.equity, 2) == 101_059.74

    fills = s.fills()
    assert list(fills.columns[:5]) == ["symbol", "side", "qty", "price", "order_id"]
    assert str(fills.index.tz) == "UTC" and fills.index.is_monotonic_increasing
    aapl_buys = fills[(fills.symbol == "AAPL") & (fills.side == "buy")]
    assert aapl_buys.qty.tolist() == [3, 3, 3, 1] and set(aapl_buys.price) == {100.01}
    assert aapl_buys.type.tolist() == ["partial_fill"] * 3 + ["fill"]
    assert aapl_buys.leaves_qty.tolist() == [7, 4, 1, 0] and aapl_buys.cum_qty.tolist() == [3, 6, 9, 10]
    assert fills.groupby("symbol").qty.sum().to_dict() == {"AAPL": 14, "MSFT": 10, "SPY": 2}

    pnl = s.pnl()
    assert list(pnl.columns) == ["qty", "avg_cost", "price", "realized", "unrealized", "total"]
    for symbol in REALIZED:
        assert round(pnl.loc[symbol, "realized"], 2) == round(REALIZED[symbol], 2), symbol
        assert round(pnl.loc[symbol, "unrealized"], 2) == round(UNREALIZED[symbol], 2), symbol
    assert round(pnl.total.sum(), 2) == round(account.equity - START - 1000, 2) == 59.74
    positions = s.positions()  # the broker's numbers: no partial close here, so FIFO and average agree
    assert round(positions.loc["AAPL", "unrealized_pl"], 2) == round(pnl.loc["AAPL", "unrealized"], 2)

    history = s.portfolio_history("1D", "1Min", intraday_reporting="continuous")
    assert list(history.columns) == ["equity", "profit_loss", "profit_loss_pct", "drawdown"]
    assert history.attrs["base_value"] == START and history.attrs["timeframe"] == "1Min"
    assert history.equity.iloc[-1] == 101_059.74
    assert history.profit_loss.iloc[-1] == 59.74  # the deposit is not a profit
    assert history.profit_loss_pct.iloc[-1] == pytest.approx(59.74 / 101_000, abs=1e-6)
    daily = s.portfolio_history("1W", "1D", cashflow_types="ALL")
    assert daily.equity.iloc[-1] == 101_059.74 and daily.profit_loss.iloc[-1] == 59.74
    assert daily.cashflow_CSD.iloc[-1] == START + 1000  # the opening deposit and today's

    activities = s.activities()
    assert activities.activity_type.value_counts().to_dict() == {"FILL": len(fills), "CSD": 2}
    assert activities.loc[activities.activity_type == "CSD", "net_amount"].tolist() == [START, 1000.0]


def test_alpaca_py_reads_history_activities_and_watchlists(
    world: tuple[Simulator, Session], checked: SchemaChecker
) -> None:
    sim, s = world
    client = trading_client(sim, checked)  # every answer validated against Alpaca's OpenAPI
    sim.set_price("KO", 60)
    order = client.submit_order(MarketOrderRequest(symbol="KO", qty=3, side="buy", time_in_force="day"))
    _filled(s, str(order.id))  # type: ignore[union-attr]
    sim.deposit(-250)
    for request in (
        GetPortfolioHistoryRequest(period="1D", timeframe="1Min"),
        GetPortfolioHistoryRequest(period="1W", timeframe="1D", cashflow_types="ALL"),
        GetPortfolioHistoryRequest(period="1M", timeframe="15Min", extended_hours=True),
    ):
        history = client.get_portfolio_history(request)
        assert len(history.timestamp) == len(history.equity) >= 1  # type: ignore[union-attr]
    raw = client.get("/account/activities")
    assert [a["activity_type"] for a in raw] == ["CSW", "FILL", "CSD"]  # newest first by default
    fill = raw[1]
    assert fill["id"].split("::")[0].isdigit() and len(fill["id"].split("::")[0]) == 17
    assert {k: fill[k] for k in ("symbol", "side", "qty", "price", "leaves_qty")} == {
        "symbol": "KO", "side": "buy", "qty": "3", "price": "60.01", "leaves_qty": "0"}  # fmt: skip
    assert client.get("/account/activities/FILL") == [fill]
    watch = client.create_watchlist(CreateWatchlistRequest(name="drinks", symbols=["KO", "AAPL"]))
    assert [a.symbol for a in watch.assets] == ["KO", "AAPL"]  # type: ignore[union-attr]
    assert [w.name for w in client.get_watchlists()] == ["drinks"]  # type: ignore[union-attr]
    wid = watch.id  # type: ignore[union-attr]
    client.add_asset_to_watchlist_by_id(wid, "MSFT")
    after = client.remove_asset_from_watchlist_by_id(wid, "AAPL")  # 200 with the watchlist
    assert [a.symbol for a in after.assets] == ["KO", "MSFT"]  # type: ignore[union-attr]
    renamed = client.update_watchlist_by_id(wid, UpdateWatchlistRequest(name="cola", symbols=["KO"]))
    assert renamed.name == "cola"  # type: ignore[union-attr]
    client.delete_watchlist_by_id(wid)
    assert client.get_watchlists() == []
    seen = {path for _, path, _ in checked.seen}
    assert seen >= {"/v2/account/activities", "/v2/account/portfolio/history", "/v2/watchlists"}


def test_activities_are_paged_past_a_hundred(world: tuple[Simulator, Session]) -> None:
    sim, s = world
    for i in range(230):
        sim.deposit(1 + i)
    frame = s.activities("CSD")
    assert len(frame) == 231 and frame.net_amount.tolist() == [START, *map(float, range(1, 231))]
    client = (
        s.trading
    )  # Alpaca's paging: page_token is the last id; desc before it, asc after it; [] at the end
    first = client.get_json("/account/activities", {"page_size": 100})
    second = client.get_json("/account/activities", {"page_size": 100, "page_token": first[-1]["id"]})
    assert float(first[0]["net_amount"]) == 230 and float(second[0]["net_amount"]) == 130
    asc = {"page_size": 100, "direction": "asc", "page_token": second[-1]["id"]}
    last = client.get_json("/account/activities", asc)
    assert float(last[0]["net_amount"]) == 32  # after 31, the last item of the page before
    end = client.get_json("/account/activities", {"direction": "asc", "page_token": frame.id.iloc[-1]})
    assert end == []


def test_watchlists_in_the_toolkit_and_bad_input(world: tuple[Simulator, Session]) -> None:
    _, s = world
    assert s.watchlist("tech", ["AAPL", "MSFT"]) == ["AAPL", "MSFT"]
    assert s.watchlist("tech", "NVDA", add=True) == ["AAPL", "MSFT", "NVDA"]
    assert s.watchlist("tech", "AAPL", remove=True) == ["MSFT", "NVDA"]
    frame = s.watchlists()
    assert frame.index.tolist() == ["tech"] and frame.loc["tech", "symbols"] == ["MSFT", "NVDA"]
    assert s.watchlist("tech", ["SPY"]) == ["SPY"]
    s.watchlist("tech", delete=True)
    assert len(s.watchlists()) == 0
    with pytest.raises(errors.ValidationError):
        s.watchlist("", ["AAPL"])
    with pytest.raises(errors.ValidationError):
        s.watchlist("nothing", delete=True)
    with pytest.raises(errors.ValidationError):
        s.portfolio_history("1 month")
    with pytest.raises(errors.ValidationError):
        s.portfolio_history("1M", "2D")
    with pytest.raises(errors.ValidationError):
        s.activities("FILL; DROP")
    assert s.simulator is not None
    before = len(s.simulator.requests)
    with pytest.raises(errors.ValidationError):
        s.fills("not a symbol!")
    assert len(s.simulator.requests) == before  # refused before sending


def test_review_magics(world: tuple[Simulator, Session]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    sim, s = world
    _scripted_day(sim, s)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    pnl = ip.run_line_magic("alpaca", "pnl")
    assert round(pnl.total.sum(), 2) == 59.74
    fills = ip.run_line_magic("alpaca", "fills AAPL")
    assert set(fills.symbol) == {"AAPL"} and len(fills) == 5
    history = ip.run_line_magic("alpaca", "history --period 1D --timeframe 1Min")
    assert isinstance(history, pd.DataFrame) and "equity" in history
    assert ip.run_line_magic("alpaca", "watch set tech AAPL,MSFT") == ["AAPL", "MSFT"]
    assert ip.run_line_magic("alpaca", "watch").index.tolist() == ["tech"]
    with pytest.raises(errors.ValidationError):
        ip.run_line_magic("alpaca", "watch add tech")
