"""The simulator's options over REST through alpaca-py's unmodified clients: contracts, the chain, quotes,
trades, bars and exchange codes, every body checked against Alpaca's OpenAPI; prices checked against an
independent Black-Scholes (``math.erf``), for static arbitrage across strikes and for put-call parity."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.requests import (
    OptionBarsRequest,
    OptionChainRequest,
    OptionLatestQuoteRequest,
    OptionLatestTradeRequest,
    OptionSnapshotRequest,
    OptionTradesRequest,
)
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import GetOptionContractsRequest

from alpaca_nb.sim import Simulator
from alpaca_nb.sim.market.chains import expiry_ns
from tests.schemas import SchemaChecker

SPOT = 145.0  # AAPL pinned here (bid 144.99, ask 145.01)
NOW = int(dt.datetime(2026, 3, 11, 15, 0, tzinfo=dt.UTC).timestamp()) * 10**9  # a Wednesday, 11:00 ET
OCC = re.compile(r"^AAPL\d{6}[CP]\d{8}$")
YEAR = 365 * 86_400 * 10**9


@pytest.fixture(scope="module")
def osim() -> Iterator[Simulator]:
    with Simulator(seed=3, rate_limit=None, clock=lambda: NOW) as sim:
        sim.set_price("AAPL", SPOT)
        yield sim


def clients(sim: Simulator, checked: SchemaChecker) -> tuple[TradingClient, OptionHistoricalDataClient]:
    key, secret = sim.credentials()
    trading = TradingClient(key, secret, url_override=sim.base_url)
    data = OptionHistoricalDataClient(key, secret, url_override=sim.base_url)
    checked.attach(trading)
    checked.attach(data)
    return trading, data


# ----- an independent Black-Scholes (r = 0, the simulator's default) ------------------------------
def ncdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def bs(call: bool, s: float, k: float, t: float, sigma: float) -> dict[str, float]:
    d1 = (math.log(s / k) + 0.5 * sigma * sigma * t) / (sigma * math.sqrt(t))
    d2 = d1 - sigma * math.sqrt(t)
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    price = s * ncdf(d1) - k * ncdf(d2) if call else k * ncdf(-d2) - s * ncdf(-d1)
    return {
        "price": price,
        "delta": ncdf(d1) if call else ncdf(d1) - 1,
        "gamma": pdf / (s * sigma * math.sqrt(t)),
        "theta": -s * pdf * sigma / (2 * math.sqrt(t)) / 365,  # per calendar day
        "vega": s * pdf * math.sqrt(t) / 100,  # per volatility point
        "rho": (k * t * ncdf(d2) if call else -k * t * ncdf(-d2)) / 100,  # per rate point
    }


def parse(symbol: str) -> tuple[dt.date, bool, float]:
    return dt.datetime.strptime(symbol[4:10], "%y%m%d").date(), symbol[10] == "C", int(symbol[11:]) / 1000


def test_contracts_filters_pages_and_lookups(osim: Simulator, checked: SchemaChecker) -> None:
    trading, _ = clients(osim, checked)
    default = trading.get_option_contracts(GetOptionContractsRequest(underlying_symbols=["AAPL"]))
    # Wednesday: the default window reaches through the coming weekend (this Friday's weeklies).
    assert {c.expiration_date for c in default.option_contracts or []} == {dt.date(2026, 3, 13)}
    far = dt.date(2027, 6, 1)
    every: list[Any] = []
    token = None
    while True:
        page = trading.get_option_contracts(
            GetOptionContractsRequest(
                underlying_symbols=["AAPL"], expiration_date_lte=far, limit=500, page_token=token
            )
        )
        every += page.option_contracts or []
        token = page.next_page_token
        if token is None:
            break
    assert 1800 <= len(every) <= 2200 and len({c.symbol for c in every}) == len(every)
    assert all(OCC.match(c.symbol) and c.root_symbol == "AAPL" and c.size == "100" for c in every)
    assert len({c.expiration_date for c in every}) >= 15  # weeklies and monthlies out to a year
    assert max(c.expiration_date for c in every) - dt.date(2026, 3, 11) > dt.timedelta(days=300)
    puts = trading.get_option_contracts(
        GetOptionContractsRequest(
            underlying_symbols=["AAPL"], type="put", strike_price_gte="140", strike_price_lte="150",
            expiration_date="2026-04-17", limit=100,
        )
    ).option_contracts  # fmt: skip
    assert puts and all(c.type == "put" and 140 <= c.strike_price <= 150 for c in puts)
    one = puts[0]
    assert trading.get_option_contract(one.symbol).id == one.id
    assert trading.get_option_contract(one.id).symbol == one.symbol
    assert one.name == f"AAPL Apr 17 2026 {one.strike_price:g} Put"
    key, secret = osim.credentials()
    missing = requests.get(
        osim.base_url + "/v2/options/contracts/AAPL260417C09999000",
        headers={"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}, timeout=10,
    )  # fmt: skip
    assert missing.status_code == 404
    assert missing.json() == {"code": 40410000, "message": "option contract AAPL260417C09999000 not found"}


def test_chain_greeks_and_iv_agree_with_black_scholes(osim: Simulator, checked: SchemaChecker) -> None:
    _, data = clients(osim, checked)
    chain = data.get_option_chain(OptionChainRequest(underlying_symbol="AAPL"))
    assert 1800 <= len(chain) <= 2200
    worst = defaultdict(float)
    checked_count = 0
    for symbol, snap in chain.items():
        expiration, call, strike = parse(symbol)
        t = (expiry_ns(expiration) - NOW) / YEAR
        assert snap.greeks is not None and snap.implied_volatility is not None
        model = bs(call, SPOT, strike, t, snap.implied_volatility)
        q = snap.latest_quote
        assert q is not None
        # The quote brackets the model price at the reported IV (tolerance: float rounding only).
        assert q.bid_price - 1e-9 <= model["price"] <= q.ask_price + 1e-9, symbol
        for name in ("delta", "gamma", "theta", "vega", "rho"):
            worst[name] = max(worst[name], abs(getattr(snap.greeks, name) - model[name]))
        checked_count += 1
    print(f"{checked_count} contracts; largest greek differences: {dict(worst)}")
    # IV and greeks are sent rounded to 8 decimals: they agree to within 1e-6 (rounding and float noise).
    assert all(diff <= 1e-6 for diff in worst.values()), worst


def test_no_static_arbitrage_and_put_call_parity_within_the_spread(
    osim: Simulator, checked: SchemaChecker
) -> None:
    _, data = clients(osim, checked)
    chain = data.get_option_chain(OptionChainRequest(underlying_symbol="AAPL"))
    rows: dict[tuple[dt.date, bool], list[tuple[float, float, float]]] = defaultdict(list)
    for symbol, snap in chain.items():
        expiration, call, strike = parse(symbol)
        q = snap.latest_quote
        assert q is not None and 0 <= q.bid_price < q.ask_price
        rows[expiration, call].append((strike, q.bid_price, q.ask_price))
    parity = 0
    for (expiration, call), quotes in rows.items():
        quotes.sort()
        for (k0, b0, a0), (k1, b1, a1) in itertools.pairwise(quotes):
            # Vertical spreads: the nearer-the-money strike never sells for less than the other buys.
            assert (b1 <= a0) if call else (b0 <= a1), (expiration, call, k0, k1)
            mid0, mid1 = (b0 + a0) / 2, (b1 + a1) / 2
            assert (mid1 <= mid0 + 0.005) if call else (mid0 <= mid1 + 0.005)  # monotone mids
        for (_, _, a0), (_, b1, _), (_, _, a2) in zip(quotes, quotes[1:], quotes[2:], strict=False):
            assert a0 + a2 - 2 * b1 >= 0, (expiration, call)  # a butterfly never pays to be bought
        if call:
            puts = {k: (b, a) for k, b, a in rows[expiration, False]}
            for k, cb, ca in quotes:
                pb, pa = puts[k]
                spread = (ca - cb) / 2 + (pa - pb) / 2 + 0.01  # + half the stock's 2-cent spread
                assert abs((cb + ca) / 2 - (pb + pa) / 2 - (SPOT - k)) <= spread, (expiration, k)
                parity += 1
    assert parity > 900


def test_quotes_trades_bars_and_exchanges(osim: Simulator, checked: SchemaChecker) -> None:
    _, data = clients(osim, checked)
    symbols = ["AAPL260417C00145000", "AAPL260417P00145000"]
    quotes = data.get_option_latest_quote(OptionLatestQuoteRequest(symbol_or_symbols=symbols))
    assert set(quotes) == set(symbols) and all(q.bid_price < q.ask_price for q in quotes.values())
    snaps = data.get_option_snapshot(OptionSnapshotRequest(symbol_or_symbols=symbols))
    assert {s: v.latest_quote.ask_price for s, v in snaps.items()} == {
        s: q.ask_price for s, q in quotes.items()
    }  # type: ignore[union-attr]
    latest = data.get_option_latest_trade(OptionLatestTradeRequest(symbol_or_symbols=symbols))
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    trades = data.get_option_trades(OptionTradesRequest(symbol_or_symbols=symbols, start=start)).data
    for s in symbols:
        assert trades[s] and trades[s][-1].timestamp == latest[s].timestamp
        assert all(isinstance(t.conditions, str) for t in trades[s])
    minutes = data.get_option_bars(
        OptionBarsRequest(symbol_or_symbols=symbols, timeframe=TimeFrame.Minute, start=start)
    ).data
    days = data.get_option_bars(
        OptionBarsRequest(symbol_or_symbols=symbols, timeframe=TimeFrame.Day, start=start)
    ).data
    for s in symbols:  # daily bars aggregate the minutes, which aggregate the trades
        assert (
            sum(b.volume for b in minutes[s])
            == sum(t.size for t in trades[s])
            == sum(b.volume for b in days[s])
        )
        assert len(days[s]) <= 8 and days[s][0].timestamp.astimezone(ZoneInfo("America/New_York")).hour == 0
    codes = data.get_option_exchange_codes()
    assert codes["Q"] == "Nasdaq Options" and {t.exchange for s in symbols for t in trades[s]} <= set(codes)
    key, secret = osim.credentials()
    started = time.perf_counter()
    raw = requests.get(
        osim.base_url + "/v1beta1/options/snapshots/AAPL", params={"limit": 1000},
        headers={"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}, timeout=10,
    )  # fmt: skip
    print(f"chain page of 1000 answered in {time.perf_counter() - started:.3f} s")
    assert raw.status_code == 200 and len(raw.json()["snapshots"]) == 1000 and raw.json()["next_page_token"]
    checked.check("GET", "/v1beta1/options/snapshots/AAPL", raw.status_code, raw.content)
    keyless = requests.get(
        osim.base_url + "/v1beta1/options/quotes/latest", params={"symbols": symbols[0]}, timeout=10
    )
    assert keyless.status_code == 403
