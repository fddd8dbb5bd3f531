"""Options on the client side, against the simulator over real sockets: contracts and chains equal
alpaca-py's, our Black-Scholes agrees with an independent one, single-leg and multi-leg orders pass the
one policy and exist exactly once, payoffs are exact, and bad option inputs send nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from alpaca.data.historical import OptionHistoricalDataClient
from alpaca.data.requests import OptionChainRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import GetOptionContractsRequest
from IPython.core.interactiveshell import InteractiveShell

import alpaca_nb as anb
from alpaca_nb import blackscholes as bs
from alpaca_nb import errors
from alpaca_nb._wire import parse_occ
from alpaca_nb.data.options import chain_frame
from alpaca_nb.session import Session
from alpaca_nb.sim import Simulator
from alpaca_nb.trading.payoff import LegShape, payoff
from tests.conftest import wait_until
from tests.test_orders import FAULTS, arm


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=51, hours="always", rate_limit=None, stream_connection_limit=None) as s:
        bid, ask, *_ = s.call(lambda: s.market.quote_at("AAPL"))
        s.set_price("AAPL", round((bid + ask) / 2, 2))  # option quotes follow a pinned underlying: stable
        yield s


@pytest.fixture(scope="module")
def session(sim: Simulator) -> Iterator[Session]:
    s = anb.connect(
        "demo", simulator=sim, quiet=True, rate_limit=None, timeout=2.0
    )  # current: the magics too
    yield s
    s.close()


@pytest.fixture(scope="module")
def chain(session: Session) -> pd.DataFrame:
    return session.option_chain("AAPL")


def _spread(session: Session, chain: pd.DataFrame, nth: int = 3) -> tuple[str, str, float]:
    """A bull call spread near the money: (long call, short call, a debit limit that fills)."""
    spot = _spot(session)
    expiry = sorted(set(chain.index.get_level_values("expiration")))[nth]
    calls = chain.xs((expiry, "call"), level=("expiration", "type"))
    strikes = calls.index.to_numpy()
    i = int(np.abs(strikes - spot).argmin())
    low, high = calls.iloc[i], calls.iloc[i + 2]
    return str(low.symbol), str(high.symbol), round(float(low.ask - high.bid) + 0.05, 2)


def _spot(session: Session) -> float:
    q = session.latest_quotes("AAPL")
    return float((q.bid_price.iloc[0] + q.ask_price.iloc[0]) / 2)


# ----- data ----------------------------------------------------------------------------------------
def test_contracts_and_chain_equal_alpaca_py(session: Session, sim: Simulator, chain: pd.DataFrame) -> None:
    key, secret = sim.credentials()
    trading = TradingClient(key, secret, paper=True, url_override=sim.base_url)
    theirs, token = [], None
    horizon = dt.date.today() + dt.timedelta(days=3 * 366)
    while True:
        ask = GetOptionContractsRequest(
            underlying_symbols=["AAPL"], expiration_date_lte=horizon, limit=1000, page_token=token
        )
        page = trading.get_option_contracts(ask)
        theirs += page.option_contracts or []
        token = page.next_page_token
        if not token:
            break
    ours = session.option_contracts("AAPL")
    assert len(ours) == len(theirs) > 1000
    assert set(ours.index) == {c.symbol for c in theirs}
    one = theirs[len(theirs) // 2]
    row = ours.loc[one.symbol]
    assert row.strike == float(one.strike_price) and row.type == one.type.value
    assert row.expiration.date() == one.expiration_date
    snaps = OptionHistoricalDataClient(key, secret, url_override=sim.base_url).get_option_chain(
        OptionChainRequest(underlying_symbol="AAPL")
    )
    chain = session.option_chain("AAPL")  # read right after theirs
    assert set(chain.symbol) == set(snaps)
    assert chain.index.names == ["expiration", "strike", "type"] and chain.index.is_monotonic_increasing
    for symbol in list(snaps)[::97]:
        mine = chain[chain.symbol == symbol].iloc[0]
        snap = snaps[symbol]
        # the same market a moment apart (time decay may move a quote by a cent, a greek in its 7th digit)
        assert mine.bid == pytest.approx(snap.latest_quote.bid_price, abs=0.011)
        assert mine.ask == pytest.approx(snap.latest_quote.ask_price, abs=0.011)
        assert mine.iv == pytest.approx(snap.implied_volatility, rel=1e-3)
        assert mine.delta == pytest.approx(snap.greeks.delta, abs=1e-3)
        assert not mine.computed
    assert chain.open_interest.notna().all()


def _bs_independent(s: float, k: float, t: float, v: float, call: bool, r: float) -> dict[str, float]:
    n = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    d1 = (math.log(s / k) + (r + v * v / 2) * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    price = s * n(d1) - k * math.exp(-r * t) * n(d2) if call else k * math.exp(-r * t) * n(-d2) - s * n(-d1)
    theta = -s * pdf(d1) * v / (2 * math.sqrt(t)) + (
        -r * k * math.exp(-r * t) * n(d2) if call else r * k * math.exp(-r * t) * n(-d2)
    )
    return {"price": price, "delta": n(d1) if call else n(d1) - 1, "gamma": pdf(d1) / (s * v * math.sqrt(t)),
            "theta": theta / 365, "vega": s * pdf(d1) * math.sqrt(t) / 100}  # fmt: skip


def test_the_chain_frame_equals_one_built_row_by_row(session: Session, sim: Simulator) -> None:
    """The columnar build (ChainRows: one float array, OCC parts read with numpy, the index from codes)
    gives what a plain per-snapshot loop gives, dtypes included; the whole chain asks no stock quote."""
    data = session.data_client("AAPL261218C00200000")
    snaps: dict[str, Any] = {}
    params: dict[str, Any] = {"limit": 1000}
    while True:
        page = data.get_json("/options/snapshots/AAPL", params)
        snaps.update(page["snapshots"])
        if not page.get("next_page_token"):
            break
        params["page_token"] = page["next_page_token"]
    contracts = session.option_contracts("AAPL")
    got = chain_frame(snaps, contracts, None)
    symbols = sorted(snaps)
    parts = [parse_occ(s) for s in symbols]
    rows = [snaps[s] for s in symbols]
    want = pd.DataFrame(
        {
            "symbol": pd.array(symbols, dtype=object),
            "bid": [r["latestQuote"]["bp"] for r in rows],
            "ask": [r["latestQuote"]["ap"] for r in rows],
            "last": [(r.get("latestTrade") or {}).get("p", np.nan) for r in rows],
            "iv": [r["impliedVolatility"] for r in rows],
            **{g: [r["greeks"][g] for r in rows] for g in ("delta", "gamma", "theta", "vega", "rho")},
            "open_interest": [contracts.open_interest[s] for s in symbols],
            "computed": False,
        },
        index=pd.MultiIndex.from_arrays(
            [
                pd.to_datetime([p.expiration for p in parts]),
                [p.strike for p in parts],
                [p.type for p in parts],
            ],
            names=["expiration", "strike", "type"],
        ),
    ).sort_index()
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    before = sum(r.path.endswith("/quotes/latest") for r in sim.requests)
    chain = session.option_chain("AAPL")
    assert sum(r.path.endswith("/quotes/latest") for r in sim.requests) == before  # greeks were all there
    assert chain.index.equals(got.index) and (chain.dtypes == got.dtypes).all()
    served = [r for r in sim.requests if r.path.startswith("/v1beta1/options/snapshots/")][-2:]
    assert all(r.seconds > 0 for r in served)  # the simulator timed its own answers
    with pytest.raises(errors.InvalidResponseError, match="AAPL261218X00200000"):
        chain_frame({"AAPL261218X00200000": {}}, None, None)


def test_our_black_scholes_agrees_with_an_independent_one_and_inverts() -> None:
    """Tolerance 1e-9 on prices and greeks; implied vol recovered to 1e-6."""
    rng = random.Random(3)
    for _ in range(200):
        s, k = rng.uniform(20, 500), rng.uniform(20, 500)
        t, v, call = rng.uniform(0.01, 2), rng.uniform(0.05, 1.5), rng.random() < 0.5
        ref = _bs_independent(s, k, t, v, call, bs.RISK_FREE)
        assert float(bs.price(s, k, t, v, call)) == pytest.approx(ref["price"], abs=1e-9)
        got = bs.greeks(s, k, t, v, call)
        for name in ("delta", "gamma", "theta", "vega"):
            assert float(got[name]) == pytest.approx(ref[name], abs=1e-9), name
        if ref["price"] > 0.01 and ref["vega"] > 0.05:  # where the price says something about vol
            assert float(bs.implied_vol(ref["price"], s, k, t, call)) == pytest.approx(v, abs=1e-6)


def test_missing_greeks_are_computed_and_marked(session: Session, chain: pd.DataFrame) -> None:
    near_money = chain[(chain.delta.abs() > 0.25) & (chain.delta.abs() < 0.75)]
    symbols = list(near_money.symbol.iloc[::4][:40])
    data = session.data_client(symbols)
    snaps = data.get_json("/options/snapshots", {"symbols": ",".join(symbols)})["snapshots"]
    given = {s: dict(v) for s, v in snaps.items()}
    for snap in snaps.values():
        snap.pop("greeks", None)
        snap.pop("impliedVolatility", None)
    frame = chain_frame(snaps, None, _spot(session))
    assert frame.computed.all()
    near = [abs(given[sym]["greeks"]["delta"]) for sym in frame.symbol]
    usable = frame[
        (frame.bid > 0.05) & (frame.ask > frame.bid) & (np.array(near) > 0.2) & (np.array(near) < 0.8)
    ]
    assert len(usable) > 5  # near the money, where a price pins the volatility down
    for _, row in usable.iterrows():  # from the mid, at our flat rate: close to the simulator's own
        assert row.iv == pytest.approx(given[row.symbol]["impliedVolatility"], abs=0.08)
        assert row.delta == pytest.approx(given[row.symbol]["greeks"]["delta"], abs=0.08)


# ----- payoff ----------------------------------------------------------------------------------------
def test_payoffs_are_exact() -> None:
    vertical = payoff([LegShape(1, True, 100), LegShape(-1, True, 110)], 4.0)
    assert (vertical.max_loss, vertical.max_gain, vertical.breakevens) == (4.0, 6.0, (104.0,))
    straddle = payoff([LegShape(1, True, 100), LegShape(1, False, 100)], 7.5)
    assert straddle.max_gain == math.inf and straddle.max_loss == 7.5 and straddle.breakevens == (92.5, 107.5)
    condor = payoff(
        [LegShape(1, False, 90), LegShape(-1, False, 95), LegShape(-1, True, 105), LegShape(1, True, 110)],
        -2.0,
    )
    assert condor.max_gain == 2.0 and condor.max_loss == 3.0 and condor.breakevens == (93.0, 107.0)
    butterfly = payoff([LegShape(1, True, 95), LegShape(-2, True, 100), LegShape(1, True, 105)], 1.0)
    assert butterfly.max_gain == 4.0 and butterfly.max_loss == 1.0 and butterfly.breakevens == (96.0, 104.0)
    naked = payoff([LegShape(1, True, 100), LegShape(-2, True, 105)], 0.5)
    assert naked.max_loss == math.inf


def test_a_calendar_is_drawn_at_its_first_expiration_with_the_far_leg_still_alive() -> None:
    """A long calendar (sell the near call, buy the far one, same strike): at the near expiry the far call
    still has time value, so the P&L peaks near the strike and loses at most the debit far away — not the
    "both legs at intrinsic" line, which would be flat at -debit everywhere."""
    from alpaca_nb.trading.payoff import payoff_frame

    legs = [LegShape(-1, True, 100.0), LegShape(1, True, 100.0)]
    near, far, vol, debit = 30 / 365, 90 / 365, 0.3, 2.5
    pnl = payoff_frame(legs, debit, spot=100.0, years=[near, far], vols=[vol, vol], points=401)
    at = pnl.at_expiry
    # independently: at the near expiry the far call has 60 days left (Black-Scholes by hand, 4% rate)
    s0, k, t, r = 100.0, 100.0, far - near, 0.04
    d1 = (math.log(s0 / k) + (r + 0.5 * vol**2) * t) / (vol * math.sqrt(t))
    n = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    call = s0 * n(d1) - k * math.exp(-r * t) * n(d1 - vol * math.sqrt(t))
    strike_row = at.index[np.argmin(np.abs(at.index - 100.0))]
    assert at[strike_row] == pytest.approx((call - debit) * 100, rel=0.05)  # the peak: a gain at the strike
    assert at.idxmax() == pytest.approx(100.0, abs=2.0)
    assert (
        at.iloc[0] > -debit * 100 - 1e-6 and at.iloc[-1] > -debit * 100 - 1e-6
    )  # never worse than the debit
    assert at.iloc[0] < 0 and at.iloc[-1] < 0
    assert pnl.attrs["max_gain"] == pytest.approx(at.max()) and pnl.attrs["max_loss"] < debit * 100 + 1e-6
    low, high = pnl.attrs["breakevens"]
    assert low < 100.0 < high
    assert "first expiration" in pnl.attrs["at"]


# ----- orders ----------------------------------------------------------------------------------------
def test_a_single_leg_and_a_spread_fill_and_show_as_positions(
    session: Session, sim: Simulator, chain: pd.DataFrame
) -> None:
    long_call, short_call, debit = _spread(session, chain)
    ask = float(chain[chain.symbol == long_call].ask.iloc[0])
    single = session.submit_order(long_call, qty=1, type="limit", limit_price=round(ask + 0.1, 2))
    assert str(single.time_in_force.value) == "day"
    spread = session.submit_order(legs=[anb.Leg(long_call, "buy"), anb.Leg(short_call, "sell")], qty=2,
                                  type="limit", limit_price=debit)  # fmt: skip
    assert spread.order_class.value == "mleg" and len(spread.legs or []) == 2
    assert wait_until(lambda: session.get_order(str(spread.id)).status.value == "filled", timeout=10)
    legs = session.get_order(str(spread.id)).legs or []
    assert all(leg.status.value == "filled" for leg in legs)  # together
    positions = session.positions()
    assert positions.loc[long_call, "qty"] == 3 and positions.loc[short_call, "qty"] == -2
    held = positions.loc[long_call]
    assert held.market_value == pytest.approx(held.qty * held.current_price * 100, rel=1e-6)


def test_a_spread_exists_exactly_once_under_every_fault(
    session: Session, sim: Simulator, chain: pd.DataFrame
) -> None:
    long_call, short_call, debit = _spread(session, chain, nth=5)
    rng = random.Random(16)
    outcome = Counter[str]()
    coids = []
    for i, fault in enumerate(FAULTS * 2):
        coid = f"mleg-{i}"
        coids.append(coid)
        arm(sim, fault, "POST", "/v2/orders", rng)
        for _ in range(3):
            try:
                session.submit_order(legs=[anb.Leg(long_call, "buy"), anb.Leg(short_call, "sell")], qty=1,
                                     type="limit", limit_price=debit, client_order_id=coid)  # fmt: skip
                outcome["placed"] += 1
                break
            except errors.OrderStateUnknownError:
                outcome["unknown"] += 1
                sim.faults.clear()
        sim.faults.clear()

    time.sleep(0.8)  # stalled requests land
    on_server = Counter(o["client_order_id"] for o in sim.orders() if o["client_order_id"] in coids)
    print(f"\nmleg under faults: {dict(outcome)}; on the server {len(on_server)} of {len(coids)}")
    assert set(on_server) == set(coids) and max(on_server.values()) == 1
    for order in sim.orders():
        if order["client_order_id"] in coids:
            statuses = {leg["status"] for leg in order.get("legs") or []}
            assert len(statuses) == 1  # all legs alike: filled together, or none


def _bad_option_orders(session: Session, chain: pd.DataFrame) -> Iterator[tuple[str, dict[str, Any]]]:
    long_call, short_call, debit = _spread(session, chain)
    put = str(chain[chain.index.get_level_values("type") == "put"].symbol.iloc[10])
    other = str(
        session.option_chain("MSFT", expiration_lte=dt.date.today() + dt.timedelta(days=20)).symbol.iloc[5]
    )
    expired = "AAPL240119C00100000"
    singles: list[dict[str, Any]] = [
        {"symbol": long_call, "qty": q} for q in ("1.5", "0", "-1", "abc", "1e999", "0.1")
    ] + [
        {"symbol": long_call, "qty": 1, "time_in_force": tif} for tif in ("gtc", "ioc", "fok", "opg")
    ] + [
        {"symbol": long_call, "notional": 100},
        {"symbol": long_call, "qty": 1, "type": "stop", "stop_price": 1},
        {"symbol": long_call, "qty": 1, "type": "limit", "limit_price": "1.005"},
        {"symbol": short_call, "qty": 1, "side": "sell"},
        {"symbol": short_call, "qty": 5, "side": "sell"},
        {"symbol": expired, "qty": 1}, {"symbol": "AAPL261318C00100000", "qty": 1},
        {"symbol": "AAPL26121C00100000", "qty": 1}, {"symbol": "AAPL261218X00100000", "qty": 1},
        {"symbol": "AAPL261218C0010000", "qty": 1}, {"symbol": "TOOLONGROOT261218C00100000", "qty": 1},
        {"symbol": long_call, "qty": 1, "extended_hours": True},
    ]  # fmt: skip
    for case in singles:
        yield "single", case
    legs_bad: list[list[anb.Leg]] = [
        [anb.Leg(long_call, "buy", 0), anb.Leg(short_call, "sell")],
        [anb.Leg(long_call, "buy", 2), anb.Leg(short_call, "sell", 4)],
        [anb.Leg(long_call, "buy"), anb.Leg(other, "sell")],
        [anb.Leg(long_call, "buy"), anb.Leg(long_call, "sell")],
        [anb.Leg(long_call, "buy")],
        [anb.Leg(long_call, "buy")] * 5,
        [anb.Leg(long_call, "buy"), anb.Leg(short_call, "sell", 2)],  # a naked short call inside
        [anb.Leg(short_call, "sell"), anb.Leg(put, "sell")],  # a short call with nothing over it
        [anb.Leg(long_call, "buy"), anb.Leg(expired, "sell")],
        [anb.Leg(long_call, "buy"), anb.Leg("AAPL", "sell")],
        [anb.Leg(long_call, "hold"), anb.Leg(short_call, "sell")],
        [anb.Leg(long_call, "buy", position_intent="sell_to_open"), anb.Leg(short_call, "sell")],
    ]
    for legs in legs_bad:
        yield "legs", {"legs": legs, "qty": 1, "type": "limit", "limit_price": debit}
    good = [anb.Leg(long_call, "buy"), anb.Leg(short_call, "sell")]
    for limit in (-1.0, 50.0, 2.005, "x", None, math.inf):  # outside what the legs can be worth, or no price
        yield "legs", {"legs": good, "qty": 1, "type": "limit", "limit_price": limit}
    for qty in (0, 1.5, -2, "two"):
        yield "legs", {"legs": good, "qty": qty, "type": "limit", "limit_price": debit}
    yield "legs", {"legs": good, "qty": 1, "type": "limit", "limit_price": debit, "time_in_force": "gtc"}
    yield "legs", {"legs": good, "qty": 1, "type": "stop", "limit_price": debit}
    yield "legs", {"legs": good, "qty": 1, "type": "limit", "limit_price": debit, "symbol": "AAPL"}


def test_bad_option_inputs_send_nothing(session: Session, sim: Simulator, chain: pd.DataFrame) -> None:
    """≥ 1,000 bad option orders (each case through Session.submit_order at each of 30 seeds of
    client_order_id and through `%alpaca buy/sell` for single legs): one line each, nothing sent."""
    cases = list(_bad_option_orders(session, chain))
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    before = len(sim.orders())
    tried = 0
    for (kind, case), n in itertools.product(cases, range(22)):
        fields = dict(case, client_order_id=f"bad-{tried}")
        try:
            session.submit_order(**fields)
            raise AssertionError(f"sent: {case}")
        except errors.AlpacaNbError as err:
            assert "\n" not in str(err)
        tried += 1
        if kind == "single" and n == 0:
            words = ["sell" if case.get("side") == "sell" else "buy", str(case.get("qty", 0)), case["symbol"]]
            if "limit_price" in case:
                words += ["--limit", str(case["limit_price"])]
            if "time_in_force" in case:
                words += ["--tif", case["time_in_force"]]
            if "notional" in case:
                words += ["--notional", str(case["notional"])]
            if case.get("extended_hours") or case.get("type") == "stop":
                continue  # no such flag / a stop order via --stop: checked above through the session
            result = ip.run_cell(f"%alpaca {' '.join(words)}")
            assert isinstance(result.error_in_exec, errors.AlpacaNbError | ValueError), (
                words,
                result.error_in_exec,
            )
            assert not isinstance(result.error_in_exec, errors.NoSessionError)
            tried += 1
    assert len(sim.orders()) == before
    print(f"\nbad option inputs tried: {tried}")
    assert tried >= 1000


def test_levels_are_enforced(sim: Simulator, chain: pd.DataFrame) -> None:
    s = anb.connect("demo", simulator=sim, quiet=True, rate_limit=None, current=False)
    try:
        long_call, short_call, debit = _spread(s, chain)
        sim.set_options_level("paper", 2)
        with pytest.raises(errors.PreTradeRefusal, match="level 3"):
            s.submit_order(legs=[anb.Leg(long_call, "buy"), anb.Leg(short_call, "sell")], qty=1, type="limit",
                           limit_price=debit)  # fmt: skip
        sim.set_options_level("paper", 1)
        with pytest.raises(errors.PreTradeRefusal, match="level 2"):
            s.submit_order(long_call, qty=1, type="limit", limit_price=debit)
    finally:
        sim.set_options_level("paper", 3)
        s.close()


def test_option_quotes_stream_into_a_chart_and_the_chain_magic(session: Session, chain: pd.DataFrame) -> None:
    symbol = str(chain.symbol.iloc[len(chain) // 2])
    chart = anb.QuoteChart([symbol, "AAPL"], session=session)
    try:
        assert wait_until(lambda: len(chart._series[symbol].history["quotes"]) >= 3, timeout=20)
        assert session.stream.stats()["feeds"]["option"]["state"] == "connected"
    finally:
        chart.close()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "alpaca_nb")
    expiry = str(chain.index.get_level_values("expiration")[0].date())
    frame = ip.run_line_magic("alpaca", f"chain AAPL --expiry {expiry} --type put")
    assert set(frame.index.get_level_values("type")) == {"put"} and len(frame) > 10


# ----- widgets -------------------------------------------------------------------------------------------
def test_the_chain_widget_builds_a_spread_in_a_ticket_from_clicks(session: Session, sim: Simulator) -> None:
    from alpaca_nb.widgets import OptionChain, OrderTicket
    from tests import front_end

    ticket = OrderTicket(session=session)
    view = OptionChain("AAPL", session=session, strikes=8, ticket=ticket)
    try:
        assert wait_until(lambda: view.stats["frames"] >= 1, timeout=15)
        seq = max(view._recent)
        refused = view._refused
        for bad in [{"row": -1}, {"row": 8}, {"row": True}, {"row": "1"}, {"side": "both"}, {"field": "mid"},
                    {"seq": seq + 100}, {"seq": "x"}]:  # fmt: skip
            front_end.send(
                view, {"type": "pick", "row": 3, "side": "call", "field": "ask", "seq": seq, **bad}
            )
        front_end.write(view, expiration="2099-01-01")  # not a listed date
        assert view._refused == refused + 9 and ticket.legs == [] and view.expiration != "2099-01-01"
        # a contract (or price) the browser names is not read: the row's own contract is the leg
        time.sleep(0.12)
        front_end.send(view, {"type": "pick", "row": 3, "side": "call", "field": "ask", "seq": seq,
                              "symbol": "AAPL270101C00100000", "price": 0.01})  # fmt: skip
        time.sleep(0.12)  # a click is a person's: ten a second at most are taken
        front_end.send(view, {"type": "pick", "row": 3, "side": "call", "field": "ask", "seq": seq})
        time.sleep(0.12)
        front_end.send(view, {"type": "pick", "row": 5, "side": "call", "field": "bid", "seq": seq})
        rows = view._recent[seq]
        assert [(leg["symbol"], leg["side"]) for leg in ticket.legs] == [
            (rows[3]["call"]["symbol"], "buy"), (rows[5]["call"]["symbol"], "sell")]  # fmt: skip
        assert wait_until(lambda: bool(ticket.spread), timeout=10)
        spread = ticket.spread
        assert spread["max_loss"] > 0 and spread["breakevens"][0] == pytest.approx(
            rows[3]["strike"] + spread["net"]
        )
        front_end.send(ticket, {"type": "remove-leg", "symbol": "AAPL270101C00100000"})  # not one of its legs
        assert len(ticket.legs) == 2
        front_end.write(ticket, qty="1", limit_price=f"{spread['net'] + 0.05:.2f}")
        front_end.send(ticket, {"type": "submit"})
        assert ticket.order_id, ticket.message
        assert wait_until(lambda: ticket.order_status == "filled", timeout=15), ticket.status_line
        assert "anb-option-chain-picture" in view.static_html()
    finally:
        view.close()
        ticket.close()


@pytest.mark.parametrize(
    ("name", "count", "unbounded_gain"),
    [("call_vertical", 2, False), ("put_vertical", 2, False), ("straddle", 2, True), ("strangle", 2, True),
     ("iron_condor", 4, False), ("butterfly", 3, False), ("calendar", 2, False)],
)  # fmt: skip
def test_strategy_templates_fill_the_ticket(
    session: Session, name: str, count: int, unbounded_gain: bool
) -> None:
    from alpaca_nb.widgets import OrderTicket

    ticket = OrderTicket(session=session)
    try:
        ticket.use_strategy(name, "AAPL", width=2 if name == "iron_condor" else 1)
        assert len(ticket.legs) == count
        assert wait_until(
            lambda: bool(ticket.spread), timeout=10
        )  # figured on the REST thread, shown by the pump
        assert (ticket.spread.get("max_gain") is None) == unbounded_gain, ticket.spread
        assert ticket.spread.get("max_loss") is not None
    finally:
        ticket.close()


def test_a_live_spread_needs_a_confirmation_bound_to_its_legs(sim: Simulator, chain: pd.DataFrame) -> None:
    from alpaca_nb.widgets import OrderTicket
    from tests import front_end

    s = anb.connect("demo", simulator=sim, allow_live=True, quiet=True, rate_limit=None, current=False)
    ticket = OrderTicket(session=s)
    try:
        long_call, short_call, debit = _spread(s, chain)
        ticket.set_legs([{"symbol": long_call, "side": "buy"}, {"symbol": short_call, "side": "sell"}])
        front_end.write(ticket, account="live", qty="1", limit_price=f"{debit:.2f}")
        before = len(sim.orders("live"))
        front_end.send(ticket, {"type": "submit"})
        token = ticket.review_token
        assert ticket.confirming and long_call in ticket.confirm_text and "mleg" in ticket.confirm_text
        front_end.send(ticket, {"type": "remove-leg", "symbol": short_call})  # a changed order
        front_end.send(ticket, {"type": "confirm", "token": token})
        assert "refused" in ticket.message and len(sim.orders("live")) == before
    finally:
        ticket.close()
        s.close()


def test_the_account_view_marks_options_by_the_hundred_and_shows_their_greeks(
    session: Session, chain: pd.DataFrame
) -> None:
    from alpaca_nb.widgets import AccountView

    long_call, _, _ = _spread(session, chain, nth=4)
    ask = float(chain[chain.symbol == long_call].ask.iloc[0])
    order = session.submit_order(long_call, qty=2, type="limit", limit_price=round(ask + 0.2, 2))
    assert wait_until(lambda: session.get_order(str(order.id)).status.value == "filled", timeout=10)
    view = AccountView(session=session)
    try:
        assert wait_until(lambda: any(p["symbol"] == long_call for p in view.positions), timeout=10)
        row = next(p for p in view.positions if p["symbol"] == long_call)
        assert row["delta"] is not None and row["multiplier"] == 100
        view._mark_to_quotes()  # between refreshes: re-marked at the live mid, still × 100
        row = next(p for p in view.positions if p["symbol"] == long_call)
        assert row["market_value"] == pytest.approx(row["qty"] * row["current_price"] * 100, rel=1e-6)
    finally:
        view.close()
