"""Filling a bar store: only the ranges the manifest lacks, page by page, one file per symbol and
year-piece, each renamed into place whole before the manifest lists it.

The pages come from ``data.pages.fetch_pages`` — the same pipelined page chains as ``Session.bars``,
through the session's client: its timeout, rate limiter, 429s waited out, HTTP and transport errors
translated in ``rest``. Pages are parsed by ``data.frames`` (one place for Alpaca's short keys). A
symbol's bars are held only until its piece is complete (its page chain moved on to the next symbol, or
ended): memory stays at about one symbol-year per page chain, whatever the download's size.

Crash safety: a file is written under a dot-name Hive readers skip, fsynced, then ``os.replace``-d to
its final name; then the manifest is replaced the same way. A download killed anywhere leaves whole
files only, and a manifest listing only whole files; the next download (under the lock) deletes any
file the manifest does not list and fetches that range again. Errors (a 500, a stalled or reset
connection) stop the download with the pieces finished so far kept: run it again to resume.

Concurrency: a download holds ``fcntl.flock`` on ``<root>/.lock`` for its whole run; a second download
into the same store is **refused** (``StoreBusyError``, one line), never interleaved. Readers take no
lock: files and manifest only ever appear whole.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .._wire import AssetClass
from ..errors import InvalidResponseError, StoreBusyError, StoreError, ValidationError
from ..rest import decode_json
from .layout import PART_RE, Range, arrow_schema, bounds, data_files, file_name, iso, series_dir, years
from .manifest import NAME, UNSET, Manifest

# Rewriting the manifest after a piece is skipped while less than SAVE_SHARE times its last write's
# duration has passed: a small manifest is saved after every piece, a big one (many thousand files)
# costs at most ~1/SAVE_SHARE of the download's time.
SAVE_SHARE = 10


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the store's lock (refusing, in one line, if another download holds it)."""
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise StoreBusyError(
                f"{root}: another download (pid {holder}) is writing to this store; downloads into one "
                "store are refused, not interleaved: wait for it to finish, or use another path"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def open_root(path: Any, *, create: bool) -> Path:
    """The store's directory, checked: not a file; if it has content, a store (it has a manifest)."""
    if path is None or str(path) == "":
        raise ValidationError("path: give the store's directory, e.g. path='data/bars'")
    root = Path(path).expanduser()
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root} is a file, not a bar store's directory: choose another path")
    if not root.exists():
        if not create:
            raise StoreError(
                f"no bar store at {root}: fill one with s.download_bars(..., path={str(root)!r})"
            )
        root.mkdir(parents=True)
    if not (root / NAME).exists() and any(p.name not in (".lock",) for p in root.iterdir()):
        raise StoreError(f"{root} is a non-empty directory without {NAME}: not a bar store, left untouched")
    return root


def check_source(manifest: Manifest, asset: AssetClass, feed: str | None, adjustment: str | None) -> None:
    """One feed and one adjustment per store (for stocks; crypto has neither)."""
    if not asset.feeds:
        return
    if manifest.feed == UNSET:
        manifest.feed, manifest.adjustment = feed, adjustment
        return
    if (manifest.feed, manifest.adjustment) != (feed, adjustment):

        def name(v: str | None) -> str:
            return "Alpaca's default" if v is None else repr(v)

        raise StoreError(
            f"{manifest.root} holds stock bars of feed {name(manifest.feed)}, adjustment "
            f"{name(manifest.adjustment)}; asked for feed {name(feed)}, adjustment {name(adjustment)}: "
            "use the same, or another path"
        )


def sweep(root: Path, manifest: Manifest) -> int:
    """Delete what a killed download left: temporary files, and whole files the manifest does not list
    (renamed just before the kill). Files of other names are not ours and are left alone."""
    listed = {name for s in manifest.series.values() for name in s.files}
    removed = 0
    for path in data_files(root):
        ours = PART_RE.match(path.name) or (path.name.startswith(".part-") and path.name.endswith(".tmp"))
        if ours and path.relative_to(root).as_posix() not in listed:
            path.unlink()
            removed += 1
    return removed


def plan(
    manifest: Manifest, asset: AssetClass, timeframe: str, symbols: list[str], span: Range
) -> dict[Range, list[str]]:
    """The pieces to fetch, grouped: ``{(lo, hi): symbols missing exactly that piece}``, each piece
    within one UTC year."""
    groups: dict[Range, list[str]] = {}
    for symbol in symbols:
        for gap in manifest.missing(asset.key, timeframe, symbol, *span):
            for _, piece in years(*gap):
                groups.setdefault(piece, []).append(symbol)
    return dict(sorted(groups.items()))


class PieceWriter:
    """Writes one symbol's piece: a Parquet file, renamed into place whole, then the manifest."""

    def __init__(self, root: Path, manifest: Manifest, asset: AssetClass, timeframe: str) -> None:
        self.root, self.manifest, self.asset, self.timeframe = root, manifest, asset, timeframe
        self.schema = arrow_schema(asset)
        self.rows = 0
        self.dirty = False
        self.saved_at = self.save_cost = 0.0

    def write(self, symbol: str, piece: Range, parts: list[dict[str, np.ndarray]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        key = self.manifest.key(self.asset.key, self.timeframe, symbol)
        rel: str | None = None
        n = sum(len(p["t"]) for p in parts)
        if n:
            t = np.concatenate([p["t"] for p in parts])
            if not (t[0] >= piece[0] and t[-1] < piece[1] and (np.diff(t) > 0).all()):
                raise InvalidResponseError(
                    f"{symbol} {self.timeframe}: the answer's bars are not in order within "
                    f"{iso(piece[0])} → {iso(piece[1])}"
                )
            columns = [pa.array(t // 1000, pa.int64()).cast(self.schema.field("timestamp").type)]
            columns += [
                pa.array(np.concatenate([p[f.name] for p in parts]), f.type) for f in list(self.schema)[1:]
            ]
            table = pa.Table.from_arrays(columns, schema=self.schema)
            year = next(years(*piece))[0]
            rel = f"{series_dir(self.asset, self.timeframe, symbol)}/year={year}/{file_name(*piece)}"
            final = self.root / rel
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.stem}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                pq.write_table(table, f, compression="zstd", row_group_size=256 * 1024)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        self.manifest.add(key, piece, rel, n)
        self.rows += n
        self.dirty = True
        if time.monotonic() - self.saved_at >= SAVE_SHARE * self.save_cost:
            self.save()

    def save(self) -> None:
        """Replace the manifest: after a piece unless the last save was too recent for its cost
        (``SAVE_SHARE``), and always at the end, also after an error. A kill between two saves costs
        the pieces written since the last one: their files are swept and fetched again next time."""
        if self.dirty:
            t0 = time.monotonic()
            self.manifest.save()
            self.save_cost = time.monotonic() - t0
            self.dirty = False
        self.saved_at = self.save_cost = 0.0


def fetch_group(
    client: Any,
    writer: PieceWriter,
    params: dict[str, Any],
    piece: Range,
    symbols: list[str],
    page_limit: int,
    on_done: Any,
) -> None:
    """Fetch one piece for ``symbols`` (pipelined page chains) and write each symbol as soon as its
    chain has moved past it."""
    from ..data.bars import check_known
    from ..data.frames import bar_columns, symbol_rows, wire_shape
    from ..data.pages import count_items, fetch_pages, next_token

    asset = writer.asset
    path = asset.data_path("bars")
    what = f"GET /{asset.data_version}{path}"
    query = dict(params, symbols=",".join(symbols), start=_rfc3339(piece[0]), end=_rfc3339(piece[1] - 1000))
    current: dict[int, tuple[str, list[dict[str, np.ndarray]]]] = {}  # chain → (symbol, parts so far)
    written: set[str] = set()
    asked = set(symbols)

    def finish(chain: int) -> None:
        symbol, parts = current.pop(chain)
        writer.write(symbol, piece, parts)
        written.add(symbol)
        on_done(sum(len(p["t"]) for p in parts))

    pages = fetch_pages(client, path, query, None, count_items, page_limit=page_limit)
    try:
        for chain, body in pages:
            with wire_shape(what, "bars"):  # a page not of Alpaca's shape: one line, nothing written of it
                payload = decode_json(body, what, "GET", path)
                page = [(symbol, bar_columns(rows, asset)) for symbol, rows in symbol_rows(payload, "bars")]
            for symbol, columns in page:
                if symbol not in asked or symbol in written:
                    raise InvalidResponseError(f"{what}: bars of {symbol} where none were expected")
                if chain in current and current[chain][0] != symbol:
                    finish(chain)
                current.setdefault(chain, (symbol, []))[1].append(columns)
            if next_token(body) is None and chain in current:
                finish(chain)
    finally:
        pages.close()
    empty = [s for s in symbols if s not in written]
    if empty:
        known = [s for s in empty if writer.manifest.get(asset.key, writer.timeframe, s).files]
        if len(known) < len(empty):
            check_known(client, [s for s in empty if s not in known])  # an unknown symbol is an error
        for symbol in empty:
            writer.write(symbol, piece, [])
            on_done(0)


def _rfc3339(ns: int) -> str:
    import pandas as pd

    return pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def download(
    client: Any,
    symbols: str | Sequence[str],
    timeframe: Any,
    start: Any,
    end: Any = None,
    *,
    path: Any,
    feed: str | None = None,
    adjustment: str | None = None,
    progress: bool | None = None,
    page_limit: int | None = None,
) -> Any:
    """Fill the store at ``path`` with what it lacks of ``symbols``' bars (see ``Session.download_bars``)."""
    from ..data.bars import symbols_for
    from ..data.pages import PAGE_LIMIT
    from ..data.params import bar_params
    from .reader import BarStore

    syms, _ = symbols_for(client, symbols)
    asset: AssetClass = client.asset
    if asset.key not in ("stock", "crypto"):
        raise ValidationError(f"the bar store holds stock and crypto bars, not {asset.label}s")
    if page_limit is not None and (isinstance(page_limit, bool) or not isinstance(page_limit, int)
                                   or not 1 <= page_limit <= PAGE_LIMIT):  # fmt: skip
        raise ValidationError(f"page_limit must be an integer from 1 to {PAGE_LIMIT:,}, not {page_limit!r}")
    if start is None:
        raise ValidationError("start: a download needs a start (e.g. start='2024-01-01')")
    params = bar_params(syms, timeframe, start, end, limit=None, feed=feed, adjustment=adjustment,
                        sort="asc", tz=None, asset=asset)  # fmt: skip
    tf = params.pop("timeframe")
    params = {k: v for k, v in params.items() if k not in ("symbols", "start", "end")}
    from .._wire import to_utc

    span = bounds(to_utc(start, "start"), to_utc(end, "end"), tf, time.time_ns())
    root = open_root(path, create=True)
    with locked(root):
        manifest = Manifest.load(root)
        check_source(manifest, asset, params.get("feed"), params.get("adjustment"))
        sweep(root, manifest)
        manifest.save()  # the store exists (and its feed is fixed) from the first download on
        groups = plan(manifest, asset, tf, sorted(syms), span) if span[0] < span[1] else {}
        writer = PieceWriter(root, manifest, asset, tf)
        bar = (
            _progress(sum(map(len, groups.values())), tf, root) if progress is not False and groups else None
        )

        def done(rows: int) -> None:
            if bar is not None:
                bar.update(1)
                bar.set_postfix(bars=f"{writer.rows:,}", refresh=False)

        try:
            for piece, group in groups.items():
                fetch_group(client, writer, dict(params, timeframe=tf), piece, group,
                            page_limit or PAGE_LIMIT, done)  # fmt: skip
        finally:
            writer.save()
            if bar is not None:
                bar.close()
    return BarStore(root)


def _progress(total: int, timeframe: str, root: Path) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"download bars {timeframe} → {root.name}", unit=" symbol-pieces",
                leave=False)  # fmt: skip


__all__ = ["download", "locked", "open_root"]
