"""Property: whatever arrives, a real `serve` on a real mosquitto stays up and answers every
message exactly once: each good command with its result, each bad one with an error.

Every message is an MQTT 5 request with its own Correlation Data, so each answer is matched to
the message it answers. Hypothesis draws batches of payloads (random bytes, deep and odd JSON,
invalid Unicode, huge batches, oversize texts and payloads) mixed with good commands. About
3,000 messages per run keep it well under a minute; set EDGE_APP_PROPERTY_EXAMPLES for a longer
run (docs/reliability.md reports one).
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_app.mqtt.payloads import PayloadError, PayloadLimits, parse
from helpers.mqtt import Collector, Serve, mosquitto  # noqa: F401

pytestmark = pytest.mark.slow
PREFIX = "edge-app/prop"
EXAMPLES = int(os.environ.get("EDGE_APP_PROPERTY_EXAMPLES", "16"))
TEXTS = ["turn on the lights", "preheat the oven", "is the dryer done", "dock the vacuum", "tv volume up"]

good = st.builds(
    lambda text, extra: json.dumps({"text": text, **extra}).encode(),
    st.sampled_from(TEXTS),
    st.dictionaries(st.sampled_from(["room", "who", "n"]), st.integers(0, 9) | st.text(max_size=8), max_size=2),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=15,
)
bad = st.one_of(
    st.binary(max_size=200),
    st.binary(min_size=1, max_size=50).map(lambda b: b"\xff" + b),  # never UTF-8
    st.integers(17, 3000).flatmap(lambda n: st.sampled_from([b"[" * n, b'{"a":' * n, b"[" * n + b"]" * n])),
    st.sampled_from(["\\ud800", "\\udfff", "\\udbff"]).map(
        lambda s: ('{"id":"' + s + '","text":"hi' + s + '"}').encode()
    ),
    st.integers(65, 1500).map(lambda n: json.dumps({"items": ["lights on"] * n}).encode()),
    st.integers(4097, 20000).map(lambda n: json.dumps({"text": "a" * n}).encode()),
    st.integers(65537, 120000).map(lambda n: b"b" * n),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"", b"   ", b'{"items": []}', b'{"text": ""}', b'{"text": 1}', b"[1]", b'{"items": [{}]}']),
)
messages = st.lists(
    st.tuples(st.booleans(), good, bad).map(lambda t: (t[0], t[1] if t[0] else t[2])), min_size=100, max_size=400
)


def expected_kind(payload: bytes) -> str:
    """What the answer must be: the parser is tested on its own; here the point is one answer each."""
    try:
        parse(payload, PayloadLimits())
        return "result"
    except PayloadError:
        return "error"


@pytest.fixture
def service(default_bundle, mosquitto, tmp_path):
    serve = Serve(default_bundle, mosquitto.url, tmp_path / "state", "prop").start()
    bus = Collector(mosquitto.url, [f"{PREFIX}/replies/#", f"{PREFIX}/status"])
    assert bus.wait_status(PREFIX, "online"), serve.output()
    yield serve, bus
    bus.close()
    serve.stop(signal.SIGKILL)


def test_every_message_gets_exactly_one_answer(service):
    serve, bus = service
    sent: dict[bytes, str] = {}
    topics: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(messages)
    def one_round(batch):
        reply_to = f"{PREFIX}/replies/{uuid.uuid4().hex[:8]}"
        topics.append(reply_to)
        mine = {}
        for _is_good, payload in batch:
            corr = uuid.uuid4().bytes
            mine[corr] = expected_kind(payload)
            bus.publish(f"{PREFIX}/classify", payload, ResponseTopic=reply_to, CorrelationData=corr)
        sent.update(mine)
        assert bus.wait_for(lambda: len(bus.messages[reply_to]) >= len(mine), 60), (
            f"{len(bus.messages[reply_to])} of {len(mine)} answered\n" + serve.output()[-2000:]
        )
        for m in bus.messages[reply_to]:
            body = json.loads(m.payload)
            want = mine[m.properties.CorrelationData]
            assert ("error" in body) == (want == "error"), body
            assert want == "error" or "label" in body or "items" in body
        assert serve.proc.poll() is None

    one_round()
    bus.wait_for(lambda: False, 1.0)  # room for a late duplicate to show up
    answers = Counter(m.properties.CorrelationData for t in topics for m in bus.messages[t])
    assert set(answers) == set(sent) and max(answers.values()) == 1, "an answer is missing or was sent twice"
    assert serve.proc.poll() is None
    print(f"property run: {len(sent)} messages, {sum(k == 'error' for k in sent.values())} bad, all answered once")
