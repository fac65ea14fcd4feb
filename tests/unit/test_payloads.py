"""edge_app/mqtt/payloads.py without a broker: parse and its limits, and the error payload. Each
bug of issue #10 has a test here that failed on the old code."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_app.mqtt.payloads import PayloadError, PayloadLimits, encode, error_payload, json_depth, parse

LIMITS = PayloadLimits()


def rejected(payload: bytes, limits: PayloadLimits = LIMITS) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(payload, limits)
    error_payload(info.value.reason, info.value.msg_id, "t", len(payload), info.value.kind)  # must not raise
    return info.value


def test_lone_surrogate_id_is_refused_and_error_payload_encodes():
    # old code: parse accepted it, error_payload/encode raised UnicodeEncodeError on the network thread
    assert rejected(b'{"id":"\\ud800"}').kind == "bad_unicode"
    assert rejected(b'{"id":"\\ud800","text":"turn on the lights"}').kind == "bad_unicode"
    assert json.loads(error_payload("x", "\ud800", "t", 1))["id"] == "\ud800"  # ASCII-escaped, valid JSON
    assert json.loads(encode({"a": "\udfff"}))["a"] == "\udfff"


def test_deep_json_is_refused_before_the_parser_recurses():
    # old code: RecursionError escaped parse()
    assert rejected(b"[" * 1500).kind == "too_deep"
    assert rejected(b'{"text": "x", "a": ' + b"[" * 10000 + b"]" * 10000 + b"}").kind == "too_deep"
    assert parse(b'{"text": "x", "a": [[1]]}', LIMITS).items[0].extra == {"a": [[1]]}


def test_limits_items_chars_bytes_and_not_json_constants():
    assert rejected(json.dumps({"items": ["a"] * 65}).encode()).kind == "too_many_items"
    assert len(parse(json.dumps({"items": ["a"] * 64}).encode(), LIMITS).items) == 64
    assert rejected(json.dumps({"text": "a" * 4097}).encode()).kind == "too_long"
    assert rejected(("a" * 4097).encode()).kind == "too_long"
    assert rejected(b"a" * 65537).kind == "too_large"
    assert rejected(b'{"text": "x", "n": NaN}').kind == "malformed"
    small = PayloadLimits(max_bytes=100, max_items=2, max_text_chars=5, max_json_depth=2)
    assert rejected(b'{"items": ["a", "b", "c"]}', small).kind == "too_many_items"
    assert rejected(b'{"text": "x", "a": [[1]]}', small).kind == "too_deep"


def test_error_ids_echo_only_short_scalars():
    assert json.loads(error_payload("r", "k1", "t", 1))["id"] == "k1"
    assert json.loads(error_payload("r", {"nested": [1]}, "t", 1))["id"] is None
    assert json.loads(error_payload("r", "x" * 1000, "t", 1))["id"] is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_only_ever_raises_payload_error(payload):
    try:
        request = parse(payload, LIMITS)
    except PayloadError as exc:
        error_payload(exc.reason, exc.msg_id, "t", len(payload), exc.kind)
        return
    for item in request.items:
        encode({"id": item.id, "text": item.text, **item.extra})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_depth_matches_the_structure(value):
    def depth(v):
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    assert json_depth(json.dumps(value)) == depth(value)
