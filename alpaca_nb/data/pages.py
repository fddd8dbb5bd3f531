"""Pages of answers, fetched ahead over ``rest.PipelinedGets``: ``fetch_pages`` (one path, its symbols
dealt into chains) and ``fetch_chains`` (several paths at once: an option chain's snapshots and
contracts)."""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from typing import Any

from ..rest import PipelinedGets

PAGE_LIMIT = 10_000
_T_KEY = re.compile(rb'"t":')
_TOKEN_RE = re.compile(rb'"next_page_token":\s*(null|"([^"]*)")')


def next_token(body: bytes | memoryview) -> str | None:
    """The page token, read from the end of the body without parsing it."""
    m = _TOKEN_RE.search(body, max(0, len(body) - 2048))
    if m is None:
        m = _TOKEN_RE.search(body)
    return m.group(2).decode() if m and m.group(2) is not None else None


# ----- fetching ---------------------------------------------------------------------------------
CHAINS = 3  # page chains fetched at once (benchmarks/bars.py: over a link, the others hide one's round trip)


def fetch_pages(
    client: Any,
    path: str,
    params: dict[str, Any],
    limit: int | None,
    count: Any,
    *,
    chains: int | None = None,
    page_limit: int = PAGE_LIMIT,
) -> Generator[tuple[int, memoryview], None, None]:
    """Yield ``(chain, body)`` for every page; each chain's next page is requested before its current one
    is parsed.

    Without a ``limit`` and with several symbols, the symbols are dealt into ``chains`` (default
    ``CHAINS``) independent page
    chains, each on its own connection with one request in flight: over a slow link, one chain's
    round trip overlaps another's transfer (benchmarks/bars.py). Pages of one chain arrive in order;
    a symbol lives in one chain only."""
    symbols = str(params.get("symbols", "")).split(",")
    k = 1 if limit is not None else max(1, min(chains or CHAINS, len(symbols)))
    queries = [dict(params, symbols=",".join(symbols[i::k])) for i in range(k)] if k > 1 else [params]
    connector = client._connector()
    pipes = [PipelinedGets(client, connector) for _ in queries]
    yield from _follow(pipes, [path] * k, queries, [page_limit] * k, limit, count)


def fetch_chains(
    chains: Sequence[tuple[Any, str, dict[str, Any], int]],
) -> Generator[tuple[int, memoryview], None, None]:
    """Yield ``(i, body)`` for every page of every chain ``i``, given as ``(client, path, params, page
    size)``: all chains at once, each on its own connection with one request in flight, its next page
    requested before its current one is yielded — e.g. an option chain's snapshots (market-data API)
    and its contracts (trading API) in one thread."""
    connectors: dict[int, Any] = {}
    pipes = [PipelinedGets(c, connectors.setdefault(id(c), c._connector())) for c, _, _, _ in chains]
    paths, queries, sizes = [c[1] for c in chains], [c[2] for c in chains], [c[3] for c in chains]
    yield from _follow(pipes, paths, queries, sizes, None, None)


def _follow(
    pipes: list[PipelinedGets],
    paths: list[str],
    queries: list[dict[str, Any]],
    page_limits: list[int],
    limit: int | None,
    count: Any,
) -> Generator[tuple[int, memoryview], None, None]:
    got = 0
    try:
        for pipe, path, query, size in zip(pipes, paths, queries, page_limits, strict=True):
            pipe.send(path, dict(query, limit=min(size, limit) if limit else size))
        active = list(range(len(pipes)))
        while active:
            for i in list(active):
                body = pipes[i].receive()
                got += count(body) if limit is not None else 0
                token = next_token(body)
                if token is not None and (limit is None or got < limit):
                    more = min(page_limits[i], limit - got) if limit else page_limits[i]
                    pipes[i].send(paths[i], dict(queries[i], page_token=token, limit=more))
                else:
                    active.remove(i)
                yield i, body
    finally:
        for pipe in pipes:
            pipe.release()


def count_items(body: bytes | memoryview) -> int:
    return len(_T_KEY.findall(body))
