"""Home Assistant MQTT discovery: the last label and score as sensors, available while we are online."""

from __future__ import annotations

import json

from .. import __version__
from .topics import Topics


def discovery_messages(topics: Topics, model: dict[str, str]) -> list[tuple[str, str]]:
    """Retained config messages; Home Assistant creates the sensors when it sees them."""
    device = {
        "identifiers": [f"edge_app_{topics.device_id}"],
        "name": f"edge-app {topics.device_id}",
        "model": model["name"],
        "sw_version": __version__,
        "manufacturer": "edge-app",
    }
    common = {
        "state_topic": topics.result,
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }
    label = {
        **common,
        "name": "Last label",
        "unique_id": f"edge_app_{topics.device_id}_label",
        "value_template": "{{ value_json.label }}",
        "json_attributes_topic": topics.result,
        "json_attributes_template": "{{ {'id': value_json.id, 'text_topic': value_json.source_topic} | tojson }}",
        "icon": "mdi:label",
    }
    score = {
        **common,
        "name": "Last score",
        "unique_id": f"edge_app_{topics.device_id}_score",
        "value_template": "{{ value_json.score }}",
        "state_class": "measurement",
        "icon": "mdi:gauge",
    }
    return [(topics.ha_discovery("label"), json.dumps(label)), (topics.ha_discovery("score"), json.dumps(score))]
