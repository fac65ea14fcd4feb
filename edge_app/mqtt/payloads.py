"""Payloads: what a message in may look like, and what results and errors look like out.

Accepted in: plain UTF-8 text; JSON {"id": ..., "text": ..., extra keys echoed}; JSON
{"items": [...]} for a batch. Anything else is a PayloadError with a reason a sender can act on.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

RESERVED = {"id", "text", "items", "label", "score", "scores", "model", "latency_ms", "ts", "source_topic"}


class PayloadError(ValueError):
    def __init__(self, reason: str, msg_id: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.msg_id = msg_id


@dataclass
class Item:
    id: Any
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    items: list[Item]
    batch: bool  # answer with one {"items": [...]} message


def _item(obj: Any, where: str, default_id: Any) -> Item:
    if isinstance(obj, str):
        obj = {"text": obj}
    if not isinstance(obj, dict):
        raise PayloadError(f"{where} must be a string or an object with a 'text' string", default_id)
    msg_id = obj.get("id", default_id)
    text = obj.get("text")
    if not isinstance(text, str):
        raise PayloadError(f"{where} needs a 'text' string", msg_id)
    if not text.strip():
        raise PayloadError(f"{where} has an empty text", msg_id)
    extra = {k: v for k, v in obj.items() if k not in RESERVED}
    return Item(msg_id, text, extra)


def parse(payload: bytes, max_bytes: int) -> Request:
    """Turn a payload into a Request, or raise PayloadError naming what is wrong."""
    if len(payload) > max_bytes:
        raise PayloadError(f"payload is {len(payload)} bytes, over the limit of {max_bytes} (mqtt.max_payload)")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"payload is not valid UTF-8 (byte {exc.start}); send UTF-8 text or JSON") from None
    stripped = text.strip()
    if not stripped:
        raise PayloadError("payload is empty; send a text or {\"text\": ...}")
    if stripped[0] not in "{[":
        return Request([Item(uuid.uuid4().hex[:12], text)], batch=False)
    try:
        obj = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise PayloadError("a JSON payload must be an object: {\"text\": ...} or {\"items\": [...]}")
    if "items" in obj:
        items = obj["items"]
        if not isinstance(items, list) or not items:
            raise PayloadError("'items' must be a non-empty list", obj.get("id"))
        return Request([_item(x, f"items[{i}]", i) for i, x in enumerate(items)], batch=True)
    if "text" not in obj:
        raise PayloadError("JSON object has neither 'text' nor 'items'", obj.get("id"))
    return Request([_item(obj, "the message", uuid.uuid4().hex[:12])], batch=False)


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def result_object(item: Item, prediction: dict[str, Any]) -> dict[str, Any]:
    """One item's answer: its echoed keys, id and prediction."""
    return {**item.extra, "id": item.id, **prediction}


def envelope(body: dict[str, Any], model: dict[str, str], latency_ms: float, topic: str) -> dict[str, Any]:
    """What every result message carries once, whether it answers one text or a batch."""
    return {**body, "model": model, "latency_ms": round(latency_ms, 2), "ts": now_iso(), "source_topic": topic}


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_payload(reason: str, msg_id: Any, topic: str, size: int) -> bytes:
    return encode({"error": reason, "id": msg_id, "source_topic": topic, "bytes": size, "ts": now_iso()})
