"""Options, one run: a full chain into a DataFrame, and option quotes through the hub.

    .venv/bin/python benchmarks/options.py [--rounds 5] [--quotes 500000] [--only chain|ingest]

1. chain: every contract of one underlying (~2,000, all expirations) from the simulator (its own
   process) into a DataFrame indexed by (expiration, strike, type) with bid, ask, last, iv and greeks —
   ours (``Session.option_chain``: calls, puts and contracts asked at once, each page decoded by msgspec
   into only what a row keeps) against alpaca-py's ``OptionHistoricalDataClient.get_option_chain`` (a
   dict of pydantic models, paged at 1,000) plus building the same frame from it by hand, and the same
   contracts from alpaca-py's ``get_option_contracts`` for open interest. Each side runs in a fresh
   process (alternating, ``--rounds`` of each): clients built and a one-week chain asked (imports, first
   calls), then the full chain twice, each on a collected heap; the headline is the second call (steady
   state, as a notebook asks again), and the first is printed too. The simulator reports its own time
   answering each request of the timed call (``RequestRecord.seconds``, compression included): the share
   of each side that is the simulator's. The simulator gzips with ISA-L level 1 here
   (``compression_engine="isal"``): on loopback bytes are free, and its compression CPU, which both sides
   wait for, is not what is measured;
2. ingest: option quotes/s the hub takes from the simulator's pre-encoded replay on the option stream
   (10 a frame, msgpack as Alpaca sends) with 4 QuoteCharts attached.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import comm_capture  # noqa: F401  (before any widget: comm messages are captured, not sent)

UNDERLYING = "AAPL"
_NEAR = dt.date.today() + dt.timedelta(days=7)  # the warm-up: one week of the chain, both sides


def sim_child() -> None:
    """A simulator in its own process: prints its URLs and keys; ``replay N SYM,SYM`` blasts quotes."""
    from alpaca_nb.sim import Simulator

    # ISA-L gzip (docs/simulator.md): on loopback bytes are free, and the server's compression CPU —
    # which both sides wait for, on the same two cores — is not what is measured.
    sim = Simulator(seed=7, hours="always", rate_limit=None, stream_connection_limit=None,
                    compression_engine="isal", compression_level=1).start()  # fmt: skip
    key, secret = sim.credentials()
    print(f"{sim.base_url} {sim.data_stream_url} {sim.option_stream_url} {key} {secret}", flush=True)
    seen = 0
    for line in sys.stdin:
        if line.startswith("served"):  # the simulator's own seconds per request since the last ask
            log = sim.requests
            print(json.dumps([(r.path, r.seconds, r.at) for r in log[seen:]]), flush=True)
            seen = len(log)
            continue
        _, count, symbols = line.split()
        sent, seconds = sim.replay(int(count), batch=10, pre_encoded=True, symbols=symbols.split(","))
        print(f"done {sent} {seconds}", flush=True)


def _start() -> tuple[subprocess.Popen[str], list[str]]:
    child = subprocess.Popen([sys.executable, __file__, "_sim"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    assert child.stdout is not None
    return child, child.stdout.readline().split()


def _session(base: str, stock_url: str, option_url: str, key: str, secret: str) -> Any:
    import alpaca_nb as anb
    from alpaca_nb.config import Endpoints

    where = Endpoints(base, base, stock_url, base.replace("http", "ws") + "/stream", "", option_url)
    return anb.connect("paper", api_key=key, secret_key=secret, endpoints={"paper": where}, rate_limit=None,
                       quiet=True, timeout=60)  # fmt: skip


def run_chain(
    variant: str, base: str, stock_url: str, option_url: str, key: str, secret: str
) -> dict[str, Any]:
    """One side in a fresh process: a one-week chain first (imports, clients), then the full chain twice,
    each timed on a collected heap — the first call in the process, and the next (steady state)."""
    chain = (
        _ours(base, stock_url, option_url, key, secret) if variant == "ours" else _theirs(base, key, secret)
    )
    out: dict[str, Any] = {}
    for name in ("first", "seconds"):
        gc.collect()  # both sides start on a collected heap: neither pays for earlier garbage
        started, t0 = time.time(), time.perf_counter()
        rows = chain()
        out[name] = time.perf_counter() - t0
    return {**out, "rows": rows, "started": started}


def _ours(base: str, stock_url: str, option_url: str, key: str, secret: str) -> Any:
    session = _session(base, stock_url, option_url, key, secret)
    session.option_chain(UNDERLYING, expiration_lte=_NEAR)  # imports and first calls (as alpaca-py's below)
    return lambda: len(session.option_chain(UNDERLYING))


def _theirs(base: str, key: str, secret: str) -> Any:
    import pandas as pd
    from alpaca.data.historical import OptionHistoricalDataClient
    from alpaca.data.requests import OptionChainRequest
    from alpaca.trading.client import TradingClient
    from alpaca.trading.requests import GetOptionContractsRequest

    data = OptionHistoricalDataClient(key, secret, url_override=base)
    trading = TradingClient(key, secret, paper=True, url_override=base)
    horizon = dt.date.today() + dt.timedelta(days=3 * 366)
    data.get_option_chain(
        OptionChainRequest(underlying_symbol=UNDERLYING, expiration_date_lte=_NEAR)
    )  # (as ours)
    trading.get_option_contracts(
        GetOptionContractsRequest(underlying_symbols=[UNDERLYING], expiration_date_lte=_NEAR)
    )
    pd.DataFrame([{"symbol": "x", "expiration": pd.Timestamp("2026-01-02"), "strike": 1.0, "type": "call"}]).set_index(
        ["expiration", "strike", "type"]).sort_index()  # fmt: skip

    def chain() -> int:
        snaps = data.get_option_chain(OptionChainRequest(underlying_symbol=UNDERLYING))
        contracts, token = [], None
        while True:
            ask = GetOptionContractsRequest(underlying_symbols=[UNDERLYING], expiration_date_lte=horizon,
                                            limit=10_000, page_token=token)  # fmt: skip
            page = trading.get_option_contracts(ask)
            contracts += page.option_contracts or []
            token = page.next_page_token
            if not token:
                break
        oi = {c.symbol: float(c.open_interest) if c.open_interest else float("nan") for c in contracts}
        rows = []
        for symbol, snap in snaps.items():  # what a user writes to get a frame out of alpaca-py's models
            body = symbol[-15:]
            g = snap.greeks
            rows.append({
                "expiration": pd.Timestamp(f"20{body[:2]}-{body[2:4]}-{body[4:6]}"), "strike": int(body[7:]) / 1000,
                "type": "call" if body[6] == "C" else "put", "symbol": symbol,
                "bid": snap.latest_quote.bid_price if snap.latest_quote else None,
                "ask": snap.latest_quote.ask_price if snap.latest_quote else None,
                "last": snap.latest_trade.price if snap.latest_trade else None, "iv": snap.implied_volatility,
                "delta": g.delta if g else None, "gamma": g.gamma if g else None, "theta": g.theta if g else None,
                "vega": g.vega if g else None, "rho": g.rho if g else None, "open_interest": oi.get(symbol),
            })  # fmt: skip
        return len(pd.DataFrame(rows).set_index(["expiration", "strike", "type"]).sort_index())

    return chain


def _child(variant: str, urls: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "_run", variant, *urls], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _served(child: subprocess.Popen[str], since: float = 0.0) -> list[tuple[str, float]]:
    """(path, seconds) of the option requests the simulator answered since the last ask (and after the
    wall-clock time ``since``: the timed part of a run, not its warm-up)."""
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("served\n")
    child.stdin.flush()
    return [(p, s) for p, s, at in json.loads(child.stdout.readline()) if "/options/" in p and at >= since]


def chain(rounds: int) -> list[str]:
    child, urls = _start()
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "alpaca": []}
    try:
        _child("ours", urls)  # warm the simulator's chain (its first request builds the contracts)
        for _ in range(rounds):  # alternating, so that a noisy moment hits both sides alike
            for v in ("ours", "alpaca"):
                _served(child)
                run = _child(v, urls)
                run["served"] = _served(child, run["started"])
                runs[v].append(run)
    finally:
        child.terminate()
        child.wait(10)
    med = {v: statistics.median(r["seconds"] for r in runs[v]) for v in runs}
    first = {v: statistics.median(r["first"] for r in runs[v]) for v in runs}
    sim = {v: statistics.median(sum(s for _, s in r["served"]) for r in runs[v]) for v in runs}
    rows = runs["ours"][0]["rows"]
    assert all(r["rows"] == rows for rs in runs.values() for r in rs), runs
    for v in runs:
        each = ", ".join(f"{r['seconds']:.3f}" for r in runs[v])
        print(f"{v:<7} median {med[v]:.3f} s (runs: {each}); the simulator's own time in it: {sim[v]:.3f} s; "
              f"the first call in each process: median {first[v]:.3f} s")  # fmt: skip
        last = runs[v][-1]["served"]
        print(
            "        last run's requests: "
            + ", ".join(f"{p.rsplit('/', 1)[-1]} {s * 1000:.1f} ms" for p, s in last)
        )
    return [
        f"1. option chain of {UNDERLYING} ({rows:,} contracts, every expiration) → DataFrame, steady state (a "
        f"process's second call): ours {med['ours']:.3f} s, alpaca-py get_option_chain + contracts + a hand-built "
        f"frame {med['alpaca']:.3f} s → {med['alpaca'] / med['ours']:.1f}x (target >= 5x); the simulator "
        f"answering took {sim['ours']:.3f} s of ours and {sim['alpaca']:.3f} s of alpaca-py's (each side less "
        f"the simulator's time: {(med['alpaca'] - sim['alpaca']) / max(med['ours'] - sim['ours'], 1e-6):.1f}x); "
        f"a process's first call: ours {first['ours']:.3f} s, alpaca-py {first['alpaca']:.3f} s → "
        f"{first['alpaca'] / first['ours']:.1f}x"
    ]


def ingest(count: int, rounds: int = 3) -> list[str]:
    from alpaca_nb.widgets import QuoteChart

    child, urls = _start()
    assert child.stdin is not None and child.stdout is not None
    session = _session(*urls)
    symbols = list(session.option_chain(UNDERLYING, expiration_lte=dt.date.today() + dt.timedelta(days=30))
                   .symbol.iloc[100:104])  # fmt: skip
    charts = [QuoteChart(sym, window="5min", session=session) for sym in symbols]
    hub = session.stream
    deadline = time.monotonic() + 20
    while hub.stats()["feeds"].get("option", {}).get("state") != "connected" and time.monotonic() < deadline:
        time.sleep(0.05)
    rates: list[float] = []
    sends: list[float] = []  # how fast the simulator itself sent them (its own process)
    for _ in range(rounds):
        before = hub.stats()["messages"]
        child.stdin.write(f"replay {count} {','.join(symbols)}\n")
        child.stdin.flush()
        t0 = time.perf_counter()
        while hub.stats()["messages"] < before + count * 0.999 and time.perf_counter() - t0 < 120:
            time.sleep(0.02)
        rates.append((hub.stats()["messages"] - before) / (time.perf_counter() - t0))
        _, sent, took = child.stdout.readline().split()
        sends.append(int(sent) / float(took))
    points = sum(c.stats["points"] for c in charts)
    for c in charts:
        c.close()
    session.close()
    child.stdin.close()
    child.wait(10)
    rate = statistics.median(rates)
    floor = _decode_floor()
    return [
        f"   msgpack decode alone in this run: {floor:,.0f} quotes/s → the hub ingests {rate / floor:.2f} of it "
        "(the 375k target was set as half of a ~0.75M/s floor)",f"2. option quotes ingested with 4 charts attached: median {rate:,.0f}/s of {rounds} replays of "
            f"{count:,} (each: {', '.join(f'{r:,.0f}' for r in rates)}; charts took {points:,} points; the simulator "
            f"sent at {', '.join(f'{r:,.0f}' for r in sends)}/s) — "
            "target >= 375,000/s"]  # fmt: skip


def _decode_floor() -> float:
    """Quotes/s msgpack alone decodes from 10-quote frames, in this run (what any client is bound by)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stream import decode_floor

    return decode_floor()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quotes", type=int, default=500_000)
    parser.add_argument("--only", choices=("chain", "ingest"), help="run one part")
    args = parser.parse_args()
    parts = {"chain": lambda: chain(args.rounds), "ingest": lambda: ingest(args.quotes)}
    lines = [line for name, run in parts.items() if args.only in (None, name) for line in run()]
    print("\n== summary")
    for line in lines:
        print(line)


if __name__ == "__main__":
    if sys.argv[1:2] == ["_run"]:
        print(json.dumps(run_chain(sys.argv[2], *sys.argv[3:8])))
    elif sys.argv[1:2] == ["_sim"]:
        sim_child()
    else:
        main()
