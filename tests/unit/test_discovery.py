"""Home Assistant discovery configs: pure logic, fast. The real Home Assistant runs in test_homeassistant.py.

The templates are rendered here with plain Jinja2 (what HA's templates are built on) to pin the cases
that broke before: batch results, non-result messages, values missing from a result.
"""

from __future__ import annotations

import json
import time

import jinja2
import pytest

from edge_app.config import load_config
from edge_app.mqtt.discovery import OUT_OF_SCOPE, announce, clear_messages, discovery_messages, result_filter
from edge_app.mqtt.topics import Topics
from helpers.mqtt import mosquitto  # noqa: F401

LABELS = ["lights_on", "lights_off", "oven_preheat"]


def topics(inputs=(), result_topic="", device="kitchen") -> Topics:
    cfg = load_config(
        None, {"device_id": device, "mqtt": {"inputs": list(inputs) or None, "result_topic": result_topic or None}}
    )
    return Topics.from_config(cfg)


def configs(t: Topics) -> dict[str, dict]:
    return {topic: json.loads(payload) for topic, payload in discovery_messages(t, "default", LABELS)}


class This:
    """HA's `this`: the entity's current state object."""

    def __init__(self, state="unknown", attributes=None):
        self.state, self.attributes = state, attributes or {}


def render(template: str, payload, this: This | None = None) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["tojson"] = json.dumps  # HA's tojson; jinja's own escapes HTML
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    try:
        value_json = json.loads(raw)
    except ValueError:
        value_json = jinja2.Undefined(name="value_json")  # HA leaves value_json undefined for non-JSON payloads
    return env.from_string(template).render(value=raw, value_json=value_json, this=this or This())


SINGLE = {"id": "c1", "label": "lights_on", "score": 0.93, "scores": [], "model": {}, "source_topic": "x/classify"}
BATCH = {
    "items": [
        {"id": 0, "label": "lights_off", "score": 0.8},
        {"id": 1, "label": "oven_preheat", "score": 0.9, "slots": {"temperature": "200"}},
    ],
    "model": {},
    "source_topic": "x/classify",
}
REJECTED = {"id": "r", "label": "out_of_scope", "score": 0.4, "rejected": True, "source_topic": "x"}


def test_event_entity_carries_labels_and_follows_status():
    event = configs(topics())["homeassistant/event/edge_app_kitchen/command/config"]
    assert event["event_types"] == [*LABELS, OUT_OF_SCOPE]
    assert event["state_topic"] == "edge-app/kitchen/result"
    assert event["availability_topic"] == "edge-app/kitchen/status"
    assert event["object_id"] == "edge_app_kitchen_command"


@pytest.mark.parametrize(
    "payload, event_type, item_id, items",
    [
        (SINGLE, "lights_on", "c1", ["lights_on"]),
        (BATCH, "oven_preheat", 1, ["lights_off", "oven_preheat"]),
        (REJECTED, OUT_OF_SCOPE, "r", ["out_of_scope"]),
    ],
)
def test_event_template_single_batch_and_rejected(payload, event_type, item_id, items):
    event = configs(topics())["homeassistant/event/edge_app_kitchen/command/config"]
    out = json.loads(render(event["value_template"], payload))
    assert out["event_type"] == event_type and out["id"] == item_id and out["items"] == items
    assert out["slots"] == payload.get("items", [payload])[-1].get("slots", {})


@pytest.mark.parametrize("payload", ["plain text on a shared topic", {"error": "bad"}, {"items": "x"}])
def test_event_template_renders_nothing_for_non_results(payload):
    event = configs(topics())["homeassistant/event/edge_app_kitchen/command/config"]
    assert render(event["value_template"], payload).strip() == ""  # HA ignores an empty event payload


def test_sensor_templates_handle_batch_and_keep_state_otherwise():
    c = configs(topics())
    label = c["homeassistant/sensor/edge_app_kitchen/label/config"]
    score = c["homeassistant/sensor/edge_app_kitchen/score/config"]
    assert render(label["value_template"], SINGLE) == "lights_on"
    assert render(label["value_template"], BATCH) == "oven_preheat"
    assert render(score["value_template"], BATCH) == "0.9"
    assert render(label["value_template"], "not json", This("lights_on")) == "lights_on"
    attrs = json.loads(render(label["json_attributes_template"], BATCH))
    assert attrs == {
        "id": 1,
        "score": 0.9,
        "rejected": False,
        "slots": {"temperature": "200"},
        "batch_size": 2,
        "source_topic": "x/classify",
    }
    kept = {"id": "old"}
    assert json.loads(render(label["json_attributes_template"], {"error": "x"}, This("a", kept))) == kept


def test_metric_sensors_read_the_keys_the_service_publishes():
    from edge_app.mqtt.metrics import Metrics

    snapshot = Metrics().snapshot({"queue_depth": 3})
    metric_configs = [c for c in configs(topics()).values() if c.get("entity_category") == "diagnostic"]
    assert {c["name"] for c in metric_configs} == {
        "Messages per second",
        "Latency p95",
        "Queue depth",
        "CPU temperature",
    }
    for config in metric_configs:
        assert config["state_topic"] == "edge-app/kitchen/metrics"
        key = config["value_template"].split("value_json.")[1].split()[0]
        assert key in snapshot, key


@pytest.mark.parametrize(
    "inputs, result_topic, expected",
    [
        ((), "", "edge-app/kitchen/result"),
        (("home/+/say",), "{input}/result", "home/+/say/result"),
        (("home/kitchen/say",), "{input}/result", "home/kitchen/say/result"),
        (("home/kitchen/say", "home/hall/say"), "{input}/result", "home/+/say/result"),
        (("home/#",), "{input}/result", "home/#"),
        (("home/a/say", "home/b"), "{input}/result", "home/#"),
        (("home/+/say", "office/+/say"), "results/all", "results/all"),
    ],
)
def test_state_topic_matches_every_result_topic(inputs, result_topic, expected):
    t = topics(inputs, result_topic)
    assert result_filter(t) == expected
    assert all(c["state_topic"] == expected for c in configs(t).values() if c.get("entity_category") is None)


def test_off_clears_every_topic_on_announces():
    t = topics()
    published: list[tuple] = []
    announce(
        lambda topic, payload, qos, retain: published.append((topic, payload, qos, retain)), t, False, "default", LABELS
    )
    assert {p[0] for p in published} == set(configs(t)) == {topic for topic, _ in clear_messages(t)}
    assert all(p[1:] == ("", 1, True) for p in published)


def test_off_clears_only_after_an_announce_when_a_marker_is_kept(tmp_path):
    """A device that never announced never writes under homeassistant/ (an ACL may forbid it)."""
    t, marker = topics(), tmp_path / "state" / "marker"
    published: list[str] = []

    def publish(topic, payload, qos, retain):
        published.append(topic)

    announce(publish, t, False, "default", LABELS, marker=marker)
    assert published == [] and not marker.exists()
    announce(publish, t, True, "default", LABELS, marker=marker)
    assert marker.exists() and set(published) == set(configs(t))
    published.clear()
    announce(publish, t, False, "default", LABELS, marker=marker)
    assert set(published) == set(configs(t)) and not marker.exists()
    published.clear()
    announce(publish, t, False, "default", LABELS, marker=marker)
    assert published == []


def test_clear_command_removes_retained_configs_from_the_broker(mosquitto, tmp_path):
    """What `deploy/install.sh --uninstall` runs: the configs a service left retained are gone afterwards."""
    import subprocess

    from helpers.mqtt import EDGE_APP, Collector

    t = topics()
    setter = Collector(mosquitto.url, [])
    for topic, payload in discovery_messages(t, "default", LABELS):
        setter.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    setter.close()
    config = tmp_path / "config.toml"
    config.write_text(f'device_id = "kitchen"\n[mqtt]\nbroker = "{mosquitto.url}"\n')
    module = [EDGE_APP[0], "-m", "edge_app.mqtt.discovery"]
    done = subprocess.run([*module, "clear", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    watcher = Collector(mosquitto.url, ["homeassistant/#"])  # retained configs would arrive on subscribe
    time.sleep(1)
    watcher.close()
    assert not watcher.messages

    config.write_text('device_id = "kitchen"\n[mqtt]\nbroker = "mqtt://127.0.0.1:1"\n')
    failed = subprocess.run(
        [*module, "clear", "--config", str(config), "--timeout", "3"], capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 1 and "could not clear" in failed.stderr and "Traceback" not in failed.stderr
