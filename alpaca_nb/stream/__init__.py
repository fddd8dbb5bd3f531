"""Streams: ``hub`` (the facade, ``StreamHub``: its docstring holds the threading rule and the events),
``engine`` (the loop thread), ``feeds`` (alpaca-py's streams, one per feed and per trading account) and
``pumps`` (each widget's schedule on the frame thread; slow work on the REST thread)."""

from __future__ import annotations

from .hub import CHANNELS, Batch, StreamHub, StreamState

__all__ = ["CHANNELS", "Batch", "StreamHub", "StreamState"]
