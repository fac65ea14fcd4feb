"""Home Assistant MQTT discovery: what a home automation sees of this device.

Per device (`edge-app <device id>`):
- an `event` entity, *Command*, whose `event_types` are the bundle's labels: an automation triggers on
  "lights_on happened" (with score, slots, id, text when the result carries them), even when the same
  command comes twice, which a state cannot show;
- sensors *Last label* and *Last score*, for dashboards;
- diagnostic sensors from `<prefix>/metrics`: messages/s, latency p95, queue depth, CPU temperature.

All of them follow `<prefix>/status` (online / offline, the Last Will). The configs are retained, so they
are published again when the model changes (new labels) and cleared (empty retained payloads) when
discovery is off, so a device that once announced itself does not leave ghosts behind.

Results may be single (`{"label": ...}`) or a batch (`{"items": [{"label": ...}, ...]}`); every template
handles both. They test `'items' in value_json`: both `value_json.items` and `value_json['items']` find
the dict's `items` method when the key is missing (Jinja falls back between item and attribute). A batch
is one MQTT message and so one event (HA's MQTT event entity fires once per message): the last item is
the event, as for the sensors, and its `items` attribute lists every item's label.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import load_config
from ..errors import EdgeAppError
from .connection import BrokerAddress, detect_protocol, make_client
from .topics import HA_DISCOVERY_PREFIX, Topics

log = logging.getLogger(__name__)
DISCOVERY_MARKER = "ha-discovery-announced"  # in the state dir: configs went out, so "off" must clear them

# The event type for a command the classifier rejected (result "rejected": true), whatever its label.
OUT_OF_SCOPE = "out_of_scope"

# The last result in a message: the message itself, or the last item of a batch.
_LAST = (
    "{% set batch = value_json is mapping and 'items' in value_json and value_json['items'] is sequence"
    " and value_json['items'] is not string and value_json['items'] | length > 0 %}"
    "{% set r = value_json['items'][-1] if batch else value_json %}"
    "{% set ok = r is mapping and r.label is defined %}"
)

# key (in the config topic) -> sensor config: what the device announces besides the event.
_RESULT_SENSORS: dict[str, dict[str, Any]] = {
    "label": {
        "name": "Last label",
        "icon": "mdi:label",
        "value_template": _LAST + "{{ r.label if ok else this.state }}",
        "json_attributes_template": _LAST
        + (
            "{{ ({'id': r.id | default(none), 'score': r.score | default(none),"
            " 'rejected': r.rejected | default(false), 'slots': r.slots | default({}),"
            " 'batch_size': value_json['items'] | length if batch else 1,"
            " 'source_topic': value_json.source_topic | default(none)} if ok else this.attributes) | tojson }}"
        ),
    },
    "score": {
        "name": "Last score",
        "icon": "mdi:gauge",
        "state_class": "measurement",
        "value_template": _LAST + "{{ r.score if ok else this.state }}",
    },
}

# Metric keys as edge_app/mqtt/metrics.py and service.py publish them on <prefix>/metrics.
_METRIC_SENSORS: dict[str, dict[str, Any]] = {
    "messages_per_s": {"name": "Messages per second", "icon": "mdi:speedometer", "unit_of_measurement": "msg/s"},
    "latency_p95_ms": {
        "name": "Latency p95",
        "icon": "mdi:timer-outline",
        "unit_of_measurement": "ms",
        "device_class": "duration",
    },
    "queue_depth": {"name": "Queue depth", "icon": "mdi:tray-full"},
    "cpu_temp_c": {"name": "CPU temperature", "unit_of_measurement": "°C", "device_class": "temperature"},
}

EVENT_KEY = "command"


def config_topic(topics: Topics, component: str, key: str) -> str:
    """HA's discovery topic layout: <discovery prefix>/<component>/<node id>/<object id>/config."""
    return f"{HA_DISCOVERY_PREFIX}/{component}/edge_app_{topics.device_id}/{key}/config"


def known_config_topics(topics: Topics) -> list[str]:
    """Every config topic this device id may ever have published: what `clear_messages` empties."""
    keys = [("event", EVENT_KEY)] + [("sensor", k) for k in (*_RESULT_SENSORS, *_METRIC_SENSORS)]
    return [config_topic(topics, component, key) for component, key in keys]


def result_filter(topics: Topics) -> str:
    """One subscription filter that matches every topic a result can be published on.

    Plain results go to `<prefix>/result`. With `mqtt.result_topic = "{input}/result"` each input filter
    has its own result topic: `home/+/say` -> `home/+/say/result`, itself a valid filter HA can subscribe to.
    Several inputs merge level by level (`+` where they differ). Where no exact filter exists (a `#` input,
    or inputs of different depths) the filter is their common prefix + `#`; it also matches non-result
    messages, which every template below ignores (they keep the last state).
    Replies sent to a v5 response topic are not results for HA: they go to whoever asked.
    """
    filters = []
    for pattern in topics.inputs:
        derived = topics.result_for(pattern).split("/")
        if "#" in derived[:-1]:  # '#' must be the last level: cut there
            derived = derived[: derived.index("#") + 1]
        filters.append(derived)
    first = filters[0]
    if all(f == first for f in filters):
        return "/".join(first)
    if all(len(f) == len(first) and "#" not in f for f in filters):
        return "/".join(level if all(f[i] == level for f in filters) else "+" for i, level in enumerate(first))
    common: list[str] = []
    for levels in zip(*filters):
        if len(set(levels)) != 1 or "#" in levels or "+" in levels:
            break
        common.append(levels[0])
    return "/".join([*common, "#"])


def _event_template() -> str:
    """Render the JSON HA's MQTT event entity wants: event_type plus attributes; nothing for non-results."""
    return _LAST + (
        "{% if ok %}{{ {'event_type': ('" + OUT_OF_SCOPE + "' if r.rejected | default(false) else r.label),"
        " 'label': r.label, 'score': r.score | default(none), 'id': r.id | default(none),"
        " 'text': r.text | default(none), 'slots': r.slots | default({}),"
        " 'rejected': r.rejected | default(false),"
        " 'source_topic': value_json.source_topic | default(none),"
        " 'items': value_json['items'] | map(attribute='label') | list if batch else [r.label]} | tojson }}"
        "{% endif %}"
    )


def discovery_messages(topics: Topics, model_name: str, labels: list[str]) -> list[tuple[str, str]]:
    """Retained (topic, config) pairs; Home Assistant creates or updates the entities when it sees them."""
    device = {
        "identifiers": [f"edge_app_{topics.device_id}"],
        "name": f"edge-app {topics.device_id}",
        "model": model_name,
        "sw_version": __version__,
        "manufacturer": "edge-app",
    }
    common = {
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }
    state_topic = result_filter(topics)

    def entity(key: str, **config: Any) -> dict[str, Any]:
        # object_id fixes the entity id: sensor.edge_app_<device id>_last_label, event.edge_app_<device id>_command
        object_id = f"edge_app_{topics.device_id}_{config['name'].lower().replace(' ', '_')}"
        return {**common, "unique_id": f"edge_app_{topics.device_id}_{key}", "object_id": object_id, **config}

    event_types = list(dict.fromkeys([*labels, OUT_OF_SCOPE]))
    out = [
        (
            config_topic(topics, "event", EVENT_KEY),
            entity(
                EVENT_KEY,
                name="Command",
                icon="mdi:message-text",
                state_topic=state_topic,
                event_types=event_types,
                value_template=_event_template(),
            ),
        )
    ]
    for key, config in _RESULT_SENSORS.items():
        extra = {"json_attributes_topic": state_topic} if "json_attributes_template" in config else {}
        out.append((config_topic(topics, "sensor", key), entity(key, state_topic=state_topic, **extra, **config)))
    for key, config in _METRIC_SENSORS.items():
        out.append(
            (
                config_topic(topics, "sensor", key),
                entity(
                    key,
                    state_topic=topics.metrics,
                    entity_category="diagnostic",
                    state_class="measurement",
                    value_template="{{ value_json." + key + " }}",
                    **config,
                ),
            )
        )
    return [(topic, json.dumps(config)) for topic, config in out]


def clear_messages(topics: Topics) -> list[tuple[str, str]]:
    """Empty retained payloads on every known config topic: HA removes those entities, the broker forgets them."""
    return [(topic, "") for topic in known_config_topics(topics)]


def announce(
    publish: Callable[..., Any],
    topics: Topics,
    enabled: bool,
    model_name: str,
    labels: list[str],
    marker: Path | None = None,
) -> None:
    """Publish the configs (discovery on) or clear them (off), retained, QoS 1.

    Called on every connect and after a model swap. `publish` is paho's `client.publish`. Off means "this
    device has no HA entities": the known topics are cleared when `marker` (a file in the state dir, written
    whenever configs go out) says an earlier run announced them. A device that never announced never writes
    under homeassistant/, which a broker ACL may forbid (mosquitto drops a client whose publish it refuses).
    Without a marker path, off always clears.
    """
    if not enabled and marker is not None and not marker.exists():
        return
    messages = discovery_messages(topics, model_name, labels) if enabled else clear_messages(topics)
    for topic, payload in messages:
        publish(topic, payload, qos=1, retain=True)
    if marker is not None:
        if enabled:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            marker.unlink(missing_ok=True)
    log.log(
        logging.INFO if enabled else logging.DEBUG,
        "Home Assistant discovery %s (%d config topics under %s/)",
        "published" if enabled else "cleared",
        len(messages),
        HA_DISCOVERY_PREFIX,
    )


def clear_on_broker(cfg, timeout: float = 15.0) -> None:
    """Connect with the service's broker settings, clear this device's configs, disconnect.

    For `deploy/install.sh --uninstall`, when the service will never start again to do it. Raises
    BrokerError (from the connection probe) or TimeoutError, both naming the broker.
    """
    topics = Topics.from_config(cfg)
    address = BrokerAddress.parse(cfg.mqtt.broker, cfg.mqtt.username)
    client = make_client(cfg, address, detect_protocol(cfg, address), f"{cfg.client_id}-uninstall", manual_ack=False)
    connected = threading.Event()
    client.on_connect = lambda _c, _u, _f, reason, _p: None if reason.is_failure else connected.set()
    client.connect(address.host, address.port, keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise TimeoutError(f"broker {address.url} did not accept a connection within {timeout:.0f} s")
        infos = [client.publish(topic, payload, qos=1, retain=True) for topic, payload in clear_messages(topics)]
        for info in infos:
            info.wait_for_publish(timeout)
    finally:
        client.disconnect()
        client.loop_stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m edge_app.mqtt.discovery clear --config FILE`: what uninstall runs; no model needed."""
    parser = argparse.ArgumentParser(
        prog="python -m edge_app.mqtt.discovery",
        description="Remove this device's Home Assistant entities (empty retained configs).",
    )
    parser.add_argument("action", choices=["clear"])
    parser.add_argument("--config", help="the service's TOML config (broker, device id, credentials)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the broker")
    args = parser.parse_args(argv)
    cfg = load_config(args.config, {})
    try:
        clear_on_broker(cfg, args.timeout)
    except (EdgeAppError, OSError, TimeoutError) as exc:
        print(f"could not clear the Home Assistant discovery configs: {exc}", file=sys.stderr)
        return 1
    print(f"cleared the Home Assistant discovery configs of device {cfg.resolved_device_id} on {cfg.mqtt.broker}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
