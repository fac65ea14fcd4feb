"""Payloads: what a message in may look like, and what results and errors look like out.

Accepted in: plain UTF-8 text; JSON {"id": ..., "text": ..., extra keys echoed}; JSON
{"items": [...]} for a batch. Anything else is a PayloadError with a reason a sender can act on.

Limits are checked before the expensive step they protect: bytes before decoding, nesting depth
before `json.loads` (CPython's parser recurses, so `"[" * 1500` would raise RecursionError),
items and characters before anything reaches the model. Strings must be valid Unicode: JSON may
spell lone surrogates (`"\\ud800"`), which Python decodes but cannot encode back to UTF-8.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..config import Config

RESERVED = {"id", "text", "items", "label", "score", "scores", "model", "latency_ms", "ts", "source_topic"}
MAX_ECHOED_ID_CHARS = 200  # an id longer than this is not echoed in an error (it may be why we refuse)


@dataclass(frozen=True)
class PayloadLimits:
    """What one input message may hold; defaults suit a 1-2 GB board (see README, docs/reliability.md)."""

    max_bytes: int = 65536
    max_items: int = 64
    max_text_chars: int = 4096
    max_json_depth: int = 16

    @classmethod
    def from_config(cls, cfg: Config) -> PayloadLimits:
        m = cfg.mqtt
        return cls(m.max_payload, m.max_items, m.max_text_chars, m.max_json_depth)


class PayloadError(ValueError):
    """A message we refuse; `kind` is a stable machine-readable name for the reason."""

    def __init__(self, reason: str, msg_id: Any = None, kind: str = "invalid"):
        super().__init__(reason)
        self.reason = reason
        self.msg_id = msg_id
        self.kind = kind


@dataclass
class Item:
    id: Any
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    items: list[Item]
    batch: bool  # answer with one {"items": [...]} message


def json_depth(text: str) -> int:
    """Deepest nesting of [ and { outside strings, in one linear pass (no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _valid_unicode(obj: Any) -> bool:
    """False if any string (key or value) holds a lone surrogate, which UTF-8 cannot carry."""
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return True


def _item(obj: Any, where: str, default_id: Any, limits: PayloadLimits) -> Item:
    if isinstance(obj, str):
        obj = {"text": obj}
    if not isinstance(obj, dict):
        raise PayloadError(f"{where} must be a string or an object with a 'text' string", default_id, "schema")
    msg_id = obj.get("id", default_id)
    text = obj.get("text")
    if not isinstance(text, str):
        raise PayloadError(f"{where} needs a 'text' string", msg_id, "schema")
    if not text.strip():
        raise PayloadError(f"{where} has an empty text", msg_id, "empty")
    if len(text) > limits.max_text_chars:
        raise PayloadError(
            f"{where} has {len(text)} characters, over the limit of {limits.max_text_chars} (mqtt.max_text_chars)",
            msg_id,
            "too_long",
        )
    extra = {k: v for k, v in obj.items() if k not in RESERVED}
    return Item(msg_id, text, extra)


def _decode(payload: bytes, limits: PayloadLimits) -> str:
    if len(payload) > limits.max_bytes:
        raise PayloadError(
            f"payload is {len(payload)} bytes, over the limit of {limits.max_bytes} (mqtt.max_payload)",
            kind="too_large",
        )
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"payload is not valid UTF-8 (byte {exc.start}); send UTF-8 text or JSON", kind="bad_unicode"
        ) from None


def _load_json(text: str, limits: PayloadLimits) -> Any:
    depth = json_depth(text)
    if depth > limits.max_json_depth:
        raise PayloadError(
            f"JSON nests {depth} levels deep, over the limit of {limits.max_json_depth} (mqtt.max_json_depth)",
            kind="too_deep",
        )
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", kind="malformed"
        ) from None
    except RecursionError:  # depth is checked above; this is the belt to those braces
        raise PayloadError("JSON nests too deep to read", kind="too_deep") from None
    except ValueError as exc:  # NaN / Infinity: not JSON, and not echoable as JSON
        raise PayloadError(f"malformed JSON ({exc})", kind="malformed") from None
    if not _valid_unicode(obj):
        raise PayloadError(
            "JSON holds a string that is not valid Unicode (a lone surrogate such as \\ud800)", kind="bad_unicode"
        )
    return obj


def parse(payload: bytes, limits: PayloadLimits) -> Request:
    """Turn a payload into a Request, or raise PayloadError naming what is wrong."""
    text = _decode(payload, limits)
    stripped = text.strip()
    if not stripped:
        raise PayloadError('payload is empty; send a text or {"text": ...}', kind="empty")
    if stripped[0] not in "{[":
        if len(text) > limits.max_text_chars:
            raise PayloadError(
                f"text has {len(text)} characters, over the limit of {limits.max_text_chars} (mqtt.max_text_chars)",
                kind="too_long",
            )
        return Request([Item(uuid.uuid4().hex[:12], text)], batch=False)
    obj = _load_json(stripped, limits)
    if not isinstance(obj, dict):
        raise PayloadError('a JSON payload must be an object: {"text": ...} or {"items": [...]}', kind="schema")
    if "items" in obj:
        items = obj["items"]
        if not isinstance(items, list) or not items:
            raise PayloadError("'items' must be a non-empty list", obj.get("id"), "schema")
        if len(items) > limits.max_items:
            raise PayloadError(
                f"'items' has {len(items)} entries, over the limit of {limits.max_items} (mqtt.max_items)",
                obj.get("id"),
                "too_many_items",
            )
        return Request([_item(x, f"items[{i}]", i, limits) for i, x in enumerate(items)], batch=True)
    if "text" not in obj:
        raise PayloadError("JSON object has neither 'text' nor 'items'", obj.get("id"), "schema")
    return Request([_item(obj, "the message", uuid.uuid4().hex[:12], limits)], batch=False)


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the millisecond with a Z: the `ts` of every message we publish."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def result_object(item: Item, prediction: dict[str, Any]) -> dict[str, Any]:
    """One item's answer: its echoed keys, id, the text it classified (so a subscriber such as a Home
    Assistant event needs no second lookup) and the prediction."""
    return {**item.extra, "id": item.id, "text": item.text, **prediction}


def envelope(body: dict[str, Any], model: dict[str, str], latency_ms: float, topic: str) -> dict[str, Any]:
    """What every result message carries once, whether it answers one text or a batch."""
    return {**body, "model": model, "latency_ms": round(latency_ms, 2), "ts": now_iso(), "source_topic": topic}


def encode(obj: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON. Never raises on strings: anything UTF-8 cannot carry is \\u-escaped (ASCII JSON)."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def echoable_id(msg_id: Any) -> Any:
    """The id to echo in an error: only a short scalar (a refused message's id may be the problem)."""
    if msg_id is None or isinstance(msg_id, (bool, int, float)):
        return msg_id if not isinstance(msg_id, float) or msg_id == msg_id and abs(msg_id) != float("inf") else None
    if isinstance(msg_id, str) and len(msg_id) <= MAX_ECHOED_ID_CHARS:
        return msg_id
    return None


def error_payload(reason: str, msg_id: Any, topic: str, size: int, kind: str = "invalid") -> bytes:
    return encode(
        {
            "error": reason,
            "kind": kind,
            "id": echoable_id(msg_id),
            "source_topic": topic,
            "bytes": size,
            "ts": now_iso(),
        }
    )
