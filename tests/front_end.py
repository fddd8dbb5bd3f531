"""Drive a widget exactly as its browser front end does: comm messages into the kernel.

ipykernel hands each ``comm_msg`` from the browser to ``Comm.handle_msg``; ipywidgets turns
``method: "update"`` into ``set_state`` (a trait written from JavaScript) and ``method: "custom"`` into
the widget's ``on_msg`` callbacks (a button press). These helpers build those messages, so a test
reaches the kernel through the same door a crafted message would.
"""

from __future__ import annotations

import uuid
from typing import Any


def _deliver(widget: Any, data: dict[str, Any]) -> None:
    msg = {
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": "comm_msg"},
        "parent_header": {},
        "metadata": {},
        "content": {"comm_id": widget.comm.comm_id, "data": data},
        "buffers": [],
    }
    widget.comm.handle_msg(msg)


def write(widget: Any, **state: Any) -> None:
    """The browser writes synced traits (``model.set(...); model.save_changes()``)."""
    _deliver(widget, {"method": "update", "state": state, "buffer_paths": []})


def send(widget: Any, content: Any) -> None:
    """The browser sends a custom message (``model.send(content)``)."""
    _deliver(widget, {"method": "custom", "content": content})
