"""``python -m alpaca_nb.sim``: run the simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading

from .server import Simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m alpaca_nb.sim",
        description="A local Alpaca simulator (trading + market data, REST and streams).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--seed", type=int, default=0, help="market seed (same seed, same history)")
    parser.add_argument("--symbols", help="comma-separated universe (default: built-in large caps)")
    parser.add_argument(
        "--hours",
        choices=("calendar", "always"),
        default="always",
        help="'always' (default) trades around the clock from today; 'calendar' follows exchange sessions",
    )
    parser.add_argument("--rate-limit", type=int, default=200, help="requests/minute per key (0: off)")
    parser.add_argument("--cache-mb", type=int, default=256, help="memory for generated market days")
    parser.add_argument("--link-mbps", type=float, help="emulate a link of this bandwidth for HTTP answers")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="emulated round-trip time for HTTP answers")
    args = parser.parse_args(argv)
    symbols = args.symbols.split(",") if args.symbols else None
    sim = Simulator(
        args.seed,
        symbols,
        port=args.port,
        hours=args.hours,
        rate_limit=args.rate_limit or None,
        cache_mb=args.cache_mb,
        link_mbps=args.link_mbps,
        rtt_ms=args.rtt_ms,
    ).start()
    paper, live = sim.credentials("paper"), sim.credentials("live")
    print(f"alpaca_nb simulator (seed {args.seed}, hours={args.hours}) is running", flush=True)
    print(f"  REST (trading + data)  {sim.base_url}")
    print(f"  market-data stream     {sim.data_stream_url}   (also /v2/sip, /v2/test)")
    print(f"  crypto stream          {sim.crypto_stream_url}   (crypto REST needs no keys)")
    print(f"  option stream          {sim.option_stream_url}   (msgpack only; also /v1beta1/opra)")
    print(f"  trading stream         {sim.trading_stream_url}")
    print(f"  paper keys             APCA_API_KEY_ID={paper[0]}  APCA_API_SECRET_KEY={paper[1]}")
    print(f"  live keys (simulated)  {live[0]}  {live[1]}")
    print("Press Ctrl-C to stop.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    sim.stop()
    print("simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
