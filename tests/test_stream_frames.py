"""The stream's two decoding paths keep the same records: the msgspec shortcut for frames of quotes and
trades (``_wire.fast_frame_decoder`` + ``StreamHub._ingest_wire``) and the general msgpack path
(``StreamHub._ingest_frame``), for every timestamp size msgpack has, integer and float numbers, and
frames the shortcut must refuse (bars, control messages, a string timestamp) without keeping anything."""

from __future__ import annotations

from collections import deque
from typing import Any

import msgpack
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaca_nb._wire import fast_frame_decoder, wire_nanos
from alpaca_nb.stream import StreamHub

SYMBOLS = ["AAPL", "BTC/USD", "AAPL261218C00200000"]


def _hub() -> StreamHub:
    return StreamHub(None)  # nothing here connects: frames are handed to it as the socket would


def _take(hub: StreamHub, frame: bytes) -> tuple[str, int]:
    """What ``feeds._consume`` does with a frame: the shortcut if it can, else the general path."""
    decode = fast_frame_decoder()[0]
    try:
        return "fast", hub._ingest_wire(decode(frame))
    except (msgspec.DecodeError, ValueError):
        return "general", hub._ingest_frame(msgpack.unpackb(frame, timestamp=2))


def _kept(hub: StreamHub) -> dict[str, Any]:
    return {f"{c}:{s}": list(hub._buffers[(c, s)]) for c, s in sorted(hub._buffers)}


def _pair() -> tuple[StreamHub, StreamHub, list[Any], list[Any]]:
    fast, general = _hub(), _hub()
    got_fast: list[Any] = []
    got_general: list[Any] = []
    for hub, got in ((fast, got_fast), (general, got_general)):
        with hub._lock:  # subscribe without connecting: the routes are what the engine thread reads
            for channel in ("quotes", "trades"):
                for symbol in SYMBOLS:
                    hub._buffers[(channel, symbol)] = deque(maxlen=100)
            hub._tokens[1] = ([(c, s) for c in ("quotes", "trades") for s in SYMBOLS], got.extend)
            hub._index_callbacks()
    return fast, general, got_fast, got_general


stamp = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda s: msgpack.Timestamp(s, 0)),  # 32-bit form
    st.tuples(st.integers(0, 2**34 - 1), st.integers(0, 999_999_999)).map(lambda p: msgpack.Timestamp(*p)),
    st.tuples(st.integers(2**34, 2**40), st.integers(0, 999_999_999)).map(lambda p: msgpack.Timestamp(*p)),
)
number = st.one_of(st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False))
quote = st.fixed_dictionaries({"T": st.just("q"), "S": st.sampled_from(SYMBOLS), "t": stamp, "bp": number,
                               "bs": number, "ap": number, "as": number,
                               "bx": st.just("V"), "c": st.just(["R"])})  # fmt: skip
trade = st.fixed_dictionaries({"T": st.just("t"), "S": st.sampled_from(SYMBOLS), "t": stamp, "p": number,
                               "s": number, "i": st.integers(0, 10**9), "x": st.just("V")})  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(quote, trade), max_size=12))
def test_the_shortcut_keeps_exactly_what_the_general_path_keeps(messages: list[dict[str, Any]]) -> None:
    frame = msgpack.packb(messages, datetime=False)
    fast, general, got_fast, got_general = _pair()
    path, n = _take(fast, frame)
    assert path == "fast"
    assert n == general._ingest_frame(msgpack.unpackb(frame, timestamp=2)) == len(messages)
    assert _kept(fast) == _kept(general)
    assert [(c, s, [tuple(r) for r in rs]) for c, s, rs in got_fast] == [
        (c, s, [tuple(r) for r in rs]) for c, s, rs in got_general
    ]
    for a, b in zip(_kept(fast).values(), _kept(general).values(), strict=True):
        assert [tuple(map(type, r)) for r in a] == [tuple(map(type, r)) for r in b]  # an int stays an int


@pytest.mark.parametrize(
    "odd",
    [
        {
            "T": "b",
            "S": "AAPL",
            "t": msgpack.Timestamp(1, 0),
            "o": 1,
            "h": 1,
            "l": 1,
            "c": 1,
            "v": 1,
            "n": 1,
            "vw": 1.0,
        },
        {"T": "subscription", "quotes": ["AAPL"]},
        {"T": "q", "S": "AAPL", "t": "2024-10-14T14:30:00.12345Z", "bp": 1.0, "bs": 1, "ap": 2.0, "as": 1},
        {"T": "q", "S": "AAPL", "t": 1728916200123456789, "bp": 1.0, "bs": 1, "ap": 2.0, "as": 1},
        {"T": "q", "S": "AAPL", "bp": 1.0, "bs": 1, "ap": 2.0, "as": 1},  # no timestamp at all
    ],
)
def test_frames_the_shortcut_cannot_read_take_the_general_path_whole(odd: dict[str, Any]) -> None:
    first = {"T": "q", "S": "AAPL", "t": msgpack.Timestamp(1_700_000_000, 5), "bp": 1.0, "bs": 1, "ap": 2.0,
             "as": 1}  # fmt: skip
    frame = msgpack.packb([first, odd], datetime=False)
    fast, general, _, _ = _pair()
    path, n = _take(fast, frame)
    assert path == "general"
    assert n == general._ingest_frame(msgpack.unpackb(frame, timestamp=2))
    assert _kept(fast) == _kept(general)  # nothing kept twice, nothing lost
    assert fast.quotes("AAPL")[0][0] == 1_700_000_000 * 10**9 + 5


def test_every_timestamp_size_reads_to_the_nanosecond() -> None:
    for seconds, nanos in [(0, 0), (1_700_000_000, 0), (1_700_000_000, 123_456_789), (2**34 - 1, 999_999_999),
                           (2**35, 7), (-5, 1)]:  # fmt: skip
        packed = msgpack.packb(msgpack.Timestamp(seconds, nanos))
        assert wire_nanos(packed) == seconds * 10**9 + nanos
    for junk in [b"", b"\xd7\xff", msgpack.packb(5), msgpack.packb("2024"), b"\xd7\x01" + bytes(8)]:
        with pytest.raises(ValueError):
            wire_nanos(junk)
