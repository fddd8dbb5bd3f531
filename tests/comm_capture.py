# Copied from the project recipes (shared/recipes/comm_capture.py).
"""Measure what a widget really sends to the browser, without a browser.

Replace `comm.create_comm` before any widget is created; every comm message is then serialized exactly as
ipykernel would (json_clean + jupyter_client Session, HMAC-signed) and its size recorded instead of sent.
Use it in benchmarks and tests for bytes-per-update and messages-per-second figures.

    import comm_capture            # before importing ipywidgets/anywidget/your widgets
    ...create and drive widgets...
    comm_capture.CAPTURED          # list of dicts: msg_type, method, state_keys, wire_bytes, buffer_bytes, comm_id
"""

from __future__ import annotations

import time

import comm
from comm.base_comm import BaseComm
from ipykernel.jsonutil import json_clean
from jupyter_client.session import Session

SESSION = Session(key=b"capture-key", username="kernel")
CAPTURED: list[dict] = []


class CaptureComm(BaseComm):
    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        data = {} if data is None else data
        content = json_clean(dict(data=data, comm_id=self.comm_id, **keys))
        msg = SESSION.msg(msg_type, content=content, metadata=json_clean(metadata or {}))
        frames = SESSION.serialize(msg, ident=self.topic)
        buf = sum(memoryview(b).nbytes for b in (buffers or []))
        CAPTURED.append(
            {
                "t": time.monotonic(),
                "comm_id": self.comm_id,
                "msg_type": msg_type,
                "method": data.get("method"),
                "state_keys": sorted((data.get("state") or {}).keys()),
                "wire_bytes": sum(len(f) for f in frames) + buf,
                "buffer_bytes": buf,
                # what went over the wire, for content checks (e.g. no secrets in widget messages)
                "raw": b"".join(bytes(f) for f in frames) + b"".join(bytes(b) for b in (buffers or [])),
            }
        )


comm.create_comm = lambda *a, **kw: CaptureComm(*a, **kw)
