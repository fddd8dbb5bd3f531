"""The trade-updates stream's protocol (``/stream``): no greeting; ``authenticate`` (or ``auth``),
then ``listen`` to ``trade_updates``; JSON in binary frames, as Alpaca's paper endpoint sends them."""

from __future__ import annotations

import orjson

from ..broker import Broker
from .stream_clients import TradingStreamClient


def on_trading_message(broker: Broker, client: TradingStreamClient, data: str | bytes) -> bool:
    """Answer one client message; False when the connection should close (failed authentication)."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        client.send(orjson.dumps({"stream": "error", "data": {"error_message": "invalid syntax"}}))
        return True
    action, body = payload.get("action"), payload.get("data") or {}
    if action in ("authenticate", "auth"):
        key = body.get("key_id") if action == "authenticate" else payload.get("key")
        secret = body.get("secret_key") if action == "authenticate" else payload.get("secret")
        client.account = broker.authenticate(key, secret)
        status = "authorized" if client.account else "unauthorized"
        client.send(orjson.dumps({"stream": "authorization", "data": {"status": status, "action": action}}))
        return client.account is not None
    if action == "listen":
        if client.account is None:
            msg = {
                "stream": "authorization",
                "data": {"status": "unauthorized", "action": "listen"},
            }
            client.send(orjson.dumps(msg))
            return True
        streams = [s for s in body.get("streams", []) if s == "trade_updates"]
        client.listening = bool(streams)
        client.send(orjson.dumps({"stream": "listening", "data": {"streams": streams}}))
        return True
    client.send(orjson.dumps({"stream": "error", "data": {"error_message": f"unknown action {action!r}"}}))
    return True
