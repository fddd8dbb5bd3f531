"""Pagination of historical market data (bars, quotes, trades), shared by stocks and crypto.

Results are ordered by symbol, then time; ``limit`` counts across symbols; ``sort=desc`` reverses
time within each symbol; the ``next_page_token`` (``null`` on the last page) names the next item's
symbol and timestamp. A source yields day-sized chunks, so a page touches only the days it returns
(plus a peek at the next non-empty chunk for the token).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
import orjson

from ..params import decode_token, encode_token, parse_limit
from ..wire import ApiError

# A chunk: ascending timestamps plus an encoder of items [i, j) (ascending or descending).
Chunk = tuple[np.ndarray, Callable[[int, int, bool], bytes]]
ChunkSource = Callable[[str, int, int, bool], Iterator[Chunk]]


def dumps_run(items: list[dict[str, object]], desc: bool) -> bytes:
    """Items as ``{..},{..}`` (the inside of a JSON list), reversed for ``desc``."""
    if desc:
        items.reverse()
    return orjson.dumps(items)[1:-1]


def page(
    q: Mapping[str, str], key: str, symbols: list[str], start: int, end: int, chunks: ChunkSource
) -> bytes:
    """One page of ``{key: {symbol: [...]}, "next_page_token": ...}`` for ``symbols`` in [start, end]."""
    limit = parse_limit(q.get("limit"))
    sort = q.get("sort", "asc")
    if sort not in ("asc", "desc"):
        raise ApiError(400, 40010000, f"invalid sort: {sort}")
    desc = sort == "desc"
    token = decode_token(q["page_token"]) if q.get("page_token") else None
    runs: dict[str, list[bytes]] = {}
    next_token: str | None = None
    remaining = limit
    for sym in symbols:
        if token and sym < token[0]:
            continue
        lo, hi = start, end
        if token and sym == token[0]:
            lo, hi = (lo, token[1]) if desc else (token[1], hi)
        for ns, encode in chunks(sym, lo, hi, desc):
            n = len(ns)
            if n == 0:
                continue
            if remaining == 0:
                next_token = encode_token(sym, int(ns[-1] if desc else ns[0]))
                break
            take = min(n, remaining)
            i, j = (n - take, n) if desc else (0, take)
            runs.setdefault(sym, []).append(encode(i, j, desc))
            remaining -= take
            if take < n:
                next_token = encode_token(sym, int(ns[n - take - 1] if desc else ns[take]))
                break
        if next_token:
            break
    parts = [b'"' + s.encode() + b'":[' + b",".join(r) + b"]" for s, r in runs.items()]
    token_json = b"null" if next_token is None else b'"' + next_token.encode() + b'"'
    body = b'{"' + key.encode() + b'":{' + b",".join(parts) + b'},"next_page_token":' + token_json + b"}"
    return body
