"""The bar store's manifest, ``<root>/_manifest.json``: which ranges of which series have been fetched,
and which file holds each piece.

The manifest is the store's truth: a range is in it only once its file is complete and renamed into
place, so a download killed at any moment leaves a manifest that describes exactly the data on disk
(a file renamed just before the kill is not listed: the next download deletes it and fetches its range
again). It is replaced atomically (temporary file, fsync, ``os.replace``), so a reader never sees half
of one. A SHA-256 of its content catches a manifest edited by hand: the store then refuses to read or
write (one line saying so) instead of trusting ranges nobody fetched. Example::

    {"format": "alpaca_nb bar store", "version": 1, "feed": "iex", "adjustment": null,
     "series": {"stock/1Min/AAPL": {"ranges": [["2024-01-02T05:00:00Z", "2024-01-04T05:00:00Z"]],
                "files": {"asset=stock/timeframe=1Min/symbol=AAPL/year=2024/part-….parquet":
                          {"start": "2024-01-02T05:00:00Z", "end": "2024-01-04T05:00:00Z", "rows": 1920}}}},
     "sha256": "…"}

``feed`` and ``adjustment`` (null: Alpaca's default) are fixed by the store's first stock download:
one partition per symbol cannot hold two versions of the same bars.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .layout import Range, asset_of, from_iso, gaps, iso, merged

NAME = "_manifest.json"
FORMAT = "alpaca_nb bar store"
VERSION = 1
UNSET = "unset"  # feed/adjustment before the first stock download


@dataclass
class Part:
    start: int
    end: int
    rows: int


@dataclass
class Series:
    ranges: list[Range] = field(default_factory=list)
    files: dict[str, Part] = field(default_factory=dict)


@dataclass
class Manifest:
    """The manifest in memory; ``load`` checks everything it reads."""

    root: Path
    feed: str | None = UNSET
    adjustment: str | None = UNSET
    series: dict[str, Series] = field(default_factory=dict)

    @staticmethod
    def key(asset: str, timeframe: str, symbol: str) -> str:
        return f"{asset}/{timeframe}/{symbol}"

    def get(self, asset: str, timeframe: str, symbol: str) -> Series:
        return self.series.get(self.key(asset, timeframe, symbol)) or Series()

    def missing(self, asset: str, timeframe: str, symbol: str, lo: int, hi: int) -> list[Range]:
        return gaps(self.get(asset, timeframe, symbol).ranges, lo, hi)

    def add(self, key: str, piece: Range, file: str | None, rows: int) -> None:
        """Record a fetched piece (and the file holding its bars; None when it has none)."""
        series = self.series.setdefault(key, Series())
        series.ranges = merged([*series.ranges, piece])
        if file is not None:
            series.files[file] = Part(piece[0], piece[1], rows)

    # ----- on disk ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"format": FORMAT, "version": VERSION, "feed": self.feed,
                                "adjustment": self.adjustment, "series": {}}  # fmt: skip
        for key in sorted(self.series):
            s = self.series[key]
            body["series"][key] = {
                "ranges": [[iso(a), iso(b)] for a, b in s.ranges],
                "files": {name: {"start": iso(p.start), "end": iso(p.end), "rows": p.rows}
                          for name, p in sorted(s.files.items())},
            }  # fmt: skip
        body["sha256"] = _digest(body)
        return body

    def save(self) -> None:
        """Replace the manifest atomically (a reader sees the old one or the new one, whole)."""
        path = self.root / NAME
        tmp = self.root / f".{NAME}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(json.dumps(self.to_json(), indent=1).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, root: Path) -> Manifest:
        """The manifest of the store at ``root`` (an empty one if there is none yet)."""
        path = root / NAME
        if not path.exists():
            return cls(root)
        try:
            body = json.loads(path.read_bytes())
            return cls._checked(root, body)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            reason = str(err).strip("'\"") or type(err).__name__
            raise StoreError(
                f"{path} is not a manifest this version of alpaca_nb wrote ({reason}); was it edited by "
                "hand? Nothing was changed: restore it, or download into a new path"
            ) from None

    @classmethod
    def _checked(cls, root: Path, body: Any) -> Manifest:
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise ValueError("no alpaca_nb bar-store format mark")
        if body.get("version") != VERSION:
            raise ValueError(f"version {body.get('version')!r}, expected {VERSION}")
        if body.get("sha256") != _digest({k: v for k, v in body.items() if k != "sha256"}):
            raise ValueError("its sha256 does not match its content")
        out = cls(root, feed=body["feed"], adjustment=body["adjustment"])
        for key, raw in body["series"].items():
            asset_of(key.split("/", 2)[0])
            series = Series([(from_iso(a), from_iso(b)) for a, b in raw["ranges"]])
            if series.ranges != merged(series.ranges) or any(a >= b for a, b in series.ranges):
                raise ValueError(f"{key}: ranges not sorted, merged and non-empty")
            for name, p in raw["files"].items():
                part = Part(from_iso(p["start"]), from_iso(p["end"]), int(p["rows"]))
                if gaps(series.ranges, part.start, part.end):
                    raise ValueError(f"{name}: its range is outside the series' ranges")
                series.files[name] = part
            out.series[key] = series
        return out


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
