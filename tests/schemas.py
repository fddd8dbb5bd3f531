"""Validate REST bodies against Alpaca's published OpenAPI specs (Trading v2, Market Data v2).

OpenAPI 3.0 is not JSON Schema: ``nullable: true`` becomes ``type: [T, "null"]`` here, and ``$ref``s
resolve against the whole spec document. The activities-by-type answer says ``oneOf`` trade or non-trade
activity, but the two schemas overlap (neither requires a field, so every FILL matches both and no
``oneOf`` could pass, for Alpaca's own bodies too): it is read as ``anyOf``, as the list route says.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parent.parent


def shared_dir(name: str) -> Path:
    """``../shared/<name>`` beside the checkout (CI lays it there), or ``$ALPACA_SHARED_DIR/<name>``."""
    base = Path(os.environ.get("ALPACA_SHARED_DIR", ROOT.parent / "shared"))
    path = base / name
    if not path.is_dir():
        raise FileNotFoundError(f"{path} not found: set ALPACA_SHARED_DIR to the folder holding {name}/")
    return path


def _openapi_to_jsonschema(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if k not in ("example", "examples")}
        alternatives = out.get("oneOf")
        if isinstance(alternatives, list) and all("Activities" in str(a.get("$ref")) for a in alternatives):
            out["anyOf"] = out.pop("oneOf")
        if out.pop("nullable", False):
            if "type" in out:
                out["type"] = [out["type"], "null"]
            elif "$ref" in out:
                out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        return out
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    return node


@dataclass
class _Operation:
    pattern: re.Pattern[str]
    method: str
    responses: dict[str, Any]
    spec: dict[str, Any]


@dataclass
class SchemaChecker:
    operations: list[_Operation]
    failures: list[str] = field(default_factory=list)
    seen: list[tuple[str, str, int]] = field(default_factory=list)

    @staticmethod
    def load() -> SchemaChecker:
        ops: list[_Operation] = []
        spec_dir = shared_dir("alpaca-spec")
        for name in ("trading-api.json", "market-data-api.json"):
            spec = _openapi_to_jsonschema(json.loads((spec_dir / name).read_text()))
            # Literal paths before templated ones (/v2/stocks/bars before /v2/stocks/{symbol}/bars).
            for path in sorted(spec["paths"], key=lambda p: ("{" in p, p)):
                regex = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"
                for method, op in spec["paths"][path].items():
                    if isinstance(op, dict) and "responses" in op:
                        ops.append(_Operation(re.compile(regex), method.upper(), op["responses"], spec))
        return SchemaChecker(ops)

    def schema_for(self, method: str, path: str, status: int) -> dict[str, Any] | None:
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                response = op.responses.get(str(status))
                if response is None or "$ref" in response:
                    return None
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema is None:
                    return None
                return {**schema, "components": op.spec["components"]}
        return None

    def check(self, method: str, path: str, status: int, body: bytes) -> None:
        self.seen.append((method, path, status))
        if status >= 400:
            payload = json.loads(body)
            if not (isinstance(payload.get("code"), int) and isinstance(payload.get("message"), str)):
                self.failures.append(
                    f"{method} {path} {status}: error body lacks code/message: {body[:200]!r}"
                )
            return
        schema = self.schema_for(method, path, status)
        if schema is None:
            if body and status != 204:
                self.failures.append(f"{method} {path} {status}: no schema in the spec for this answer")
            return
        errors = list(jsonschema.Draft7Validator(schema).iter_errors(json.loads(body)))
        for err in errors[:3]:
            where = "/".join(map(str, err.absolute_path))
            self.failures.append(f"{method} {path} {status} at {where}: {err.message[:200]}")

    def attach(self, client: Any) -> None:
        """Check every response the alpaca-py client's requests session receives."""

        def hook(response: Any, *args: Any, **kwargs: Any) -> Any:
            path = response.request.path_url.split("?")[0]
            self.check(response.request.method, path, response.status_code, response.content)
            return response

        client._session.hooks["response"].append(hook)
