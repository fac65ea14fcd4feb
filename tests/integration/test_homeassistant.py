"""Home Assistant 2025.4 against `edge-app serve --ha-discovery`, all real: mosquitto, HA, the ONNX model.

One Home Assistant (onboarded through its REST API, MQTT integration on a test mosquitto) serves the
module; each test runs its own `serve` under its own device id, so their entities never mix. What is
checked is what a user sees: entities in /api/states, the event entity firing with the right event type
and attributes, an automation (the shape docs/home-assistant.md shows) reacting to it, availability
following the service, and the entities going away when discovery is switched off.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from edge_app_tools.harness import ServeProcess
from helpers.client_programs import HomeAssistant, installed, wait_until
from helpers.mqtt import Collector, Mosquitto, Serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The docs' example automations, with an input_boolean standing in for the light (no light hardware
# here), and a real climate entity (generic_thermostat, its "AC" an input_boolean, its room
# temperature a template sensor) for `ac_set_temperature` + the temperature slot.
AUTOMATION_YAML = """
input_boolean:
  kitchen_light:
  bedroom_ac_power:
template:
  - sensor:
      - name: Bedroom temperature
        unit_of_measurement: "°C"
        device_class: temperature
        state: "25"
climate:
  - platform: generic_thermostat
    name: Bedroom AC
    unique_id: bedroom_ac
    heater: input_boolean.bedroom_ac_power
    target_sensor: sensor.bedroom_temperature
    ac_mode: true
    target_temp: 26
automation:
  - alias: AC temperature by voice
    triggers:
      - trigger: state
        entity_id: event.edge_app_bedroom_command
        not_from: unavailable
        not_to: [unavailable, unknown]
    conditions:
      - condition: template
        value_template: >-
          {{ trigger.to_state.attributes.event_type == 'ac_set_temperature'
             and trigger.to_state.attributes.slots.temperature.value is defined }}
    actions:
      - variables:
          t: "{{ trigger.to_state.attributes.slots.temperature }}"
      - action: climate.set_temperature
        target:
          entity_id: climate.bedroom_ac
        data:
          temperature: "{{ t.value if t.unit == 'C' else ((t.value - 32) * 5 / 9) | round(1) }}"
  - alias: Kitchen lights on by voice
    triggers:
      - trigger: state
        entity_id: event.edge_app_kitchen_command
        not_from: unavailable
        not_to: [unavailable, unknown]
    conditions:
      - condition: template
        value_template: "{{ trigger.to_state.attributes.event_type == 'lights_on' }}"
    actions:
      - action: input_boolean.turn_on
        target:
          entity_id: input_boolean.kitchen_light
"""

METRIC_SENSORS = ("messages_per_second", "latency_p95", "queue_depth", "cpu_temperature")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ha-broker")
    broker = Mosquitto(folder).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def ha(broker, tmp_path_factory):
    hass = installed("homeassistant", "homeassistant-2025.4.4/bin/hass")
    home = HomeAssistant(hass, tmp_path_factory.mktemp("ha-config"), AUTOMATION_YAML)
    started = time.monotonic()
    try:
        home.start()
        home.onboard()
        home.add_mqtt(broker.port)
        print(f"Home Assistant started, onboarded and connected to MQTT in {time.monotonic() - started:.1f} s")
        yield home
    finally:
        home.stop()


def _entities(ha: HomeAssistant, device: str) -> dict[str, dict]:
    return ha.entities_of(f"edge_app_{device}_")


def _wait_entities(ha: HomeAssistant, device: str, timeout: float = 60) -> dict[str, dict]:
    want = {
        f"event.edge_app_{device}_command",
        f"sensor.edge_app_{device}_last_label",
        f"sensor.edge_app_{device}_last_score",
    } | {f"sensor.edge_app_{device}_{m}" for m in METRIC_SENSORS}

    def ready():
        found = _entities(ha, device)
        return found if want <= set(found) and all(found[e]["state"] != "unavailable" for e in want) else None

    return wait_until(ready, timeout, f"HA entities {sorted(want)} to exist and be available")


def _fire(ha: HomeAssistant, bus: Collector, device: str, topic: str, payload, timeout: float = 30) -> dict:
    """Publish one message and return the event entity's state once it has fired for it."""
    entity = f"event.edge_app_{device}_command"
    before = ha.state(entity)["state"]
    bus.publish(topic, payload if isinstance(payload, str) else json.dumps(payload))
    return wait_until(
        lambda: (s := ha.state(entity)) and s["state"] not in (before, "unavailable") and s,
        timeout,
        f"{entity} to fire after a message on {topic}",
    )


def _serve(bundle: Path, broker: Mosquitto, tmp_path: Path, device: str, *extra: str) -> ServeProcess:
    return Serve(bundle, broker.url, tmp_path / f"state-{device}", device, *extra).start()


def test_event_entity_sensors_and_automation_for_single_and_batch_results(ha, broker, default_bundle, tmp_path):
    serve = _serve(default_bundle, broker, tmp_path, "kitchen", "--ha-discovery")
    bus = Collector(broker.url, ["edge-app/kitchen/#"])
    try:
        entities = _wait_entities(ha, "kitchen")
        labels = json.loads((default_bundle / "manifest.json").read_text())["labels"]
        event = entities["event.edge_app_kitchen_command"]
        assert set(event["attributes"]["event_types"]) == set(labels) | {"out_of_scope"}
        diagnostics = entities["sensor.edge_app_kitchen_latency_p95"]["attributes"]
        assert diagnostics["unit_of_measurement"] == "ms"

        fired = _fire(ha, bus, "kitchen", "edge-app/kitchen/classify", {"id": "c1", "text": "turn on the lights"})
        assert fired["attributes"]["event_type"] == "lights_on"
        assert fired["attributes"]["id"] == "c1" and 0 < fired["attributes"]["score"] <= 1
        wait_until(
            lambda: ha.state("input_boolean.kitchen_light")["state"] == "on",
            10,
            "the example automation to switch the kitchen light on",
        )
        assert ha.state("sensor.edge_app_kitchen_last_label")["state"] == "lights_on"

        again = _fire(ha, bus, "kitchen", "edge-app/kitchen/classify", {"id": "c2", "text": "turn on the lights"})
        assert again["attributes"]["event_type"] == "lights_on" and again["attributes"]["id"] == "c2"
        assert again["state"] != fired["state"]  # the same command twice fires twice

        batch = {
            "items": [
                {"id": "b1", "text": "switch the lights off"},
                {"id": "b2", "text": "preheat the oven to 200 degrees"},
            ]
        }
        fired = _fire(ha, bus, "kitchen", "edge-app/kitchen/classify", batch)
        assert fired["attributes"]["event_type"] == "oven_preheat" and fired["attributes"]["id"] == "b2"
        assert fired["attributes"]["items"] == ["lights_off", "oven_preheat"]
        label = wait_until(
            lambda: (s := ha.state("sensor.edge_app_kitchen_last_label"))["state"] == "oven_preheat" and s,
            10,
            "the last-label sensor to show the batch's last label",
        )
        assert label["attributes"]["batch_size"] == 2 and label["attributes"]["id"] == "b2"
        score = ha.state("sensor.edge_app_kitchen_last_score")["state"]
        assert 0 < float(score) <= 1
        for metric in ("messages_per_second", "latency_p95", "queue_depth"):  # the metric keys the service sends
            sensor = f"sensor.edge_app_kitchen_{metric}"
            wait_until(lambda sensor=sensor: float(ha.state(sensor)["state"]) >= 0, 10, f"{sensor} to show a number")

        serve.stop()
        wait_until(
            lambda: ha.state("event.edge_app_kitchen_command")["state"] == "unavailable",
            10,
            "the event entity to go unavailable when the service stops",
        )
    finally:
        bus.close()
        serve.stop()
    log = ha.log_text()
    assert "LoggingUndefined" not in log and "has no attribute 'label'" not in log, log[-3000:]


def test_slots_are_attributes_and_an_automation_sets_the_climate_temperature(ha, broker, default_bundle, tmp_path):
    """A joint bundle's slots reach HA: the result sensor's attributes carry them after a classify, a
    template reading slots.temperature.value renders 22, and the docs' automation sets a climate entity."""
    from edge_app.slots.values import read_value

    if not json.loads((default_bundle / "manifest.json").read_text()).get("slot_tags"):
        pytest.skip("the test bundle is a plain sequence classifier (no slot_tags): build a joint one")
    serve = _serve(default_bundle, broker, tmp_path, "bedroom", "--ha-discovery")
    bus = Collector(broker.url, ["edge-app/bedroom/#"])
    sensor = "sensor.edge_app_bedroom_last_label"
    try:
        _wait_entities(ha, "bedroom")
        fired = _fire(
            ha, bus, "bedroom", "edge-app/bedroom/classify", {"id": "t1", "text": "set the bedroom ac to 22 degrees"}
        )
        assert fired["attributes"]["event_type"] == "ac_set_temperature"
        slots = fired["attributes"]["slots"]
        assert "22" in slots["temperature"]["text"] and slots["room"]["text"] == "bedroom", slots
        label = wait_until(
            lambda: (s := ha.state(sensor)) and s["attributes"].get("id") == "t1" and s,
            10,
            "the last-label sensor to take the result",
        )
        assert label["attributes"]["slots"] == slots
        if read_value("temperature", "22 degrees").get("value") != 22:
            pytest.skip("the value parsers (edge_app/slots/values.py) are the stub: no values to act on yet")
        assert ha.render("{{ state_attr('" + sensor + "', 'slots').temperature.value }}") == 22
        wait_until(
            lambda: ha.state("climate.bedroom_ac")["attributes"]["temperature"] == 22,
            10,
            "the docs' automation to set climate.bedroom_ac to 22",
        )
    finally:
        bus.close()
        serve.stop()


def test_derived_result_topics_reach_home_assistant(ha, broker, default_bundle, tmp_path):
    serve = _serve(
        default_bundle,
        broker,
        tmp_path,
        "hall",
        "--ha-discovery",
        "--input",
        "home/+/say",
        "--result-topic",
        "{input}/result",
    )
    bus = Collector(broker.url, ["home/#"])
    try:
        _wait_entities(ha, "hall")
        fired = _fire(ha, bus, "hall", "home/hall/say", "preheat the oven to 180 degrees")
        assert fired["attributes"]["event_type"] == "oven_preheat"
        assert fired["attributes"]["source_topic"] == "home/hall/say"
        assert bus.payloads("home/hall/say/result")
        wait_until(
            lambda: ha.state("sensor.edge_app_hall_last_label")["state"] == "oven_preheat",
            10,
            "the last-label sensor to follow a derived result topic",
        )
    finally:
        bus.close()
        serve.stop()


def test_last_label_sensor_follows_batch_results_and_derived_topics(ha, broker, default_bundle, tmp_path):
    """Only the sensors (which the old discovery had too): a batch and a derived result topic both broke them."""
    label = "sensor.edge_app_porch_last_label"

    def shows(value: str):
        return wait_until(
            lambda: (s := ha.state(label)) and s["state"] == value and s,
            15,
            f"{label} to show {value!r} (now {(ha.state(label) or {}).get('state')!r})",
        )

    serve = _serve(default_bundle, broker, tmp_path, "porch", "--ha-discovery")
    bus = Collector(broker.url, ["edge-app/porch/#"])
    try:
        wait_until(lambda: (s := ha.state(label)) and s["state"] != "unavailable", 60, f"{label} to be available")
        bus.publish("edge-app/porch/classify", "turn on the lights")
        shows("lights_on")
        bus.publish("edge-app/porch/classify", json.dumps({"items": ["switch the lights off", "start the vacuum"]}))
        shows("vacuum_start")
    finally:
        bus.close()
        serve.stop()
    serve = _serve(
        default_bundle,
        broker,
        tmp_path,
        "porch",
        "--ha-discovery",
        "--input",
        "home/+/say",
        "--result-topic",
        "{input}/result",
    )
    bus = Collector(broker.url, ["home/#"])
    try:
        wait_until(lambda: ha.state(label)["state"] != "unavailable", 60, f"{label} to be available again")
        # HA resubscribes to the new state topic shortly after it reads the changed config: say it until heard
        wait_until(
            lambda: (
                bus.publish("home/porch/say", "preheat the oven to 180 degrees")
                and time.sleep(1)
                or ha.state(label)["state"] == "oven_preheat"
            ),
            20,
            f"{label} to follow the derived result topic",
        )
        assert bus.payloads("home/porch/say/result")
    finally:
        bus.close()
        serve.stop()


def relabel(source: Path, dest: Path, old: str, new: str) -> Path:
    """A consistent copy of a bundle whose label `old` is called `new`: manifest, eval samples, file hashes."""
    from edge_app.bundle import EVAL_SAMPLES_FILE, MANIFEST, write_manifest

    shutil.copytree(source, dest)
    manifest = json.loads((dest / MANIFEST).read_text())
    assert old in manifest["labels"]
    manifest["labels"] = [new if x == old else x for x in manifest["labels"]]
    manifest["name"] = f"{manifest['name']}-relabelled"
    samples = dest / EVAL_SAMPLES_FILE
    if samples.is_file():
        text = samples.read_text()
        samples.write_text(text.replace(f'"{old}"', f'"{new}"'))
    fields = {k: v for k, v in manifest.items() if k not in ("files", "format_version")}
    write_manifest(dest, fields)
    return dest


def test_event_types_follow_a_label_change_over_the_air(ha, broker, default_bundle, tmp_path):
    """A signed update (OTA takes nothing else) whose labels differ: HA's event types follow it."""
    from edge_app.bundle import Bundle, sign_bundle
    from edge_app.signing import generate, load_signing_key

    generate(tmp_path / "keys")
    key = load_signing_key(tmp_path / "keys" / "signing.key")
    bundles = tmp_path / "ota-bundles"
    running = shutil.copytree(default_bundle, tmp_path / "running")
    sign_bundle(running, key, 1)
    renamed = relabel(default_bundle, bundles / "relabelled", "lights_on", "attic_lights_on")
    sign_bundle(renamed, key, 2)
    env = {"EDGE_APP_TRUST_KEYS": str(tmp_path / "keys" / "signing.pub"), "EDGE_APP_OTA_BUNDLES_DIR": str(bundles)}
    serve = Serve(running, broker.url, tmp_path / "state-attic", "attic", "--ha-discovery", "--ota", env=env).start()
    bus = Collector(broker.url, ["edge-app/attic/#"])
    try:
        _wait_entities(ha, "attic")
        sha = Bundle.load(renamed).sha256
        bus.publish("edge-app/attic/cmd/model", json.dumps({"id": "u1", "location": "relabelled", "sha256": sha}))
        assert bus.wait_for(lambda: bus.payloads("edge-app/attic/cmd/result"), 120), serve.output()
        reply = bus.json("edge-app/attic/cmd/result")[-1]
        assert reply["ok"], reply
        wait_until(
            lambda: "attic_lights_on" in ha.state("event.edge_app_attic_command")["attributes"]["event_types"],
            20,
            "HA to take the new labels as event types",
        )
        assert "lights_on" not in ha.state("event.edge_app_attic_command")["attributes"]["event_types"]
        fired = _fire(ha, bus, "attic", "edge-app/attic/classify", "turn on the lights")
        assert fired["attributes"]["event_type"] == "attic_lights_on"
    finally:
        bus.close()
        serve.stop()


def test_discovery_off_removes_the_entities(ha, broker, default_bundle, tmp_path):
    serve = _serve(default_bundle, broker, tmp_path, "cellar", "--ha-discovery")
    try:
        _wait_entities(ha, "cellar")
    finally:
        serve.stop()
    serve = _serve(default_bundle, broker, tmp_path, "cellar")  # the same device id, discovery off
    bus = Collector(broker.url, ["edge-app/cellar/status"])
    try:
        assert bus.wait_status("edge-app/cellar", "online"), serve.output()
        wait_until(lambda: not _entities(ha, "cellar"), 30, "HA to remove the cellar entities")
    finally:
        bus.close()
        serve.stop()
    late = Collector(broker.url, ["homeassistant/+/edge_app_cellar/#"])  # a retained config would arrive now
    time.sleep(1)
    late.close()
    assert not late.messages, sorted(late.messages)
