"""Assist through edge-app, all real: Home Assistant 2025.4 with its Wyoming integration added by config flow
against `edge-app serve --wyoming`, mosquitto, and the default ONNX model.

Home Assistant is configured through its REST and websocket APIs: input booleans and a timer helper
(websocket), template switches (one shown as a light by switch_as_x), a template temperature sensor and
a generic_thermostat (config flows), areas Kitchen and Bedroom (area and entity registries), and the
Wyoming integration (config flow). Only the `intent_script` for the timer is YAML: Home Assistant has
no API for it. Commands go through `POST /api/conversation/process` with the edge-app agent, as the
Assist text box sends them; what is checked is what changes in the house and the MQTT result.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from helpers.client_programs import HomeAssistant, cache_dir, http, installed, wait_until
from helpers.mqtt import Collector, Mosquitto, Serve, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "home-assistant.md"


def documented_intent_scripts() -> str:
    """The `intent_script:` YAML block of docs/home-assistant.md, as users copy it (the timer's handler:
    Home Assistant's own HassStartTimer needs a satellite device, which a conversation agent lacks)."""
    blocks = re.findall(r"```yaml\n(intent_script:\n.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/home-assistant.md should show one intent_script block"
    return blocks[0]


DEVICE = "assist"
NOT_UNDERSTOOD = "Sorry, I did not understand that."


def _switch(name: str, boolean: str) -> dict:
    """The template switch step: on and off follow an input boolean."""
    act = lambda service: [{"action": f"input_boolean.{service}", "target": {"entity_id": boolean}}]  # noqa: E731
    return {
        "name": name,
        "value_template": f"{{{{ is_state('{boolean}', 'on') }}}}",
        "turn_on": act("turn_on"),
        "turn_off": act("turn_off"),
    }


def build_house(ha: HomeAssistant) -> dict[str, str]:
    """Areas, a kitchen light, a bedroom thermostat and a kitchen timer, all through the APIs; their entity ids."""
    ha.ws("input_boolean/create", name="Kitchen power")
    ha.ws("input_boolean/create", name="Bedroom AC power")
    ha.ws("timer/create", name="Kitchen", duration="00:10:00")
    switch = ha.flow("template", {"next_step_id": "switch"}, _switch("Kitchen switch", "input_boolean.kitchen_power"))
    assert switch["type"] == "create_entry", switch
    light = ha.flow("switch_as_x", {"entity_id": "switch.kitchen_switch", "target_domain": "light"})
    assert light["type"] == "create_entry", light
    heater = ha.flow("template", {"next_step_id": "switch"}, _switch("Bedroom AC", "input_boolean.bedroom_ac_power"))
    assert heater["type"] == "create_entry", heater
    sensor = ha.flow(
        "template",
        {"next_step_id": "sensor"},
        {"name": "Bedroom temperature", "state": "25", "unit_of_measurement": "°C", "device_class": "temperature"},
    )
    assert sensor["type"] == "create_entry", sensor
    climate = ha.flow(
        "generic_thermostat",
        {
            "name": "Bedroom AC",
            "heater": "switch.bedroom_ac",
            "target_sensor": "sensor.bedroom_temperature",
            "ac_mode": True,
            "cold_tolerance": 0.3,
            "hot_tolerance": 0.3,
        },
    )
    if climate["type"] == "form":  # the presets step
        climate = http("POST", f"{ha.url}/api/config/config_entries/flow/{climate['flow_id']}", {}, ha.token)
    assert climate["type"] == "create_entry", climate
    ids = {"light": "light.kitchen_switch", "climate": "climate.bedroom_ac", "timer": "timer.kitchen"}
    wait_until(lambda: all(ha.state(e) for e in ids.values()), 60, f"{sorted(ids.values())} to exist")
    areas = {a["name"]: a["area_id"] for a in ha.ws("config/area_registry/list")}  # onboarding made some
    for area, entity in (("Kitchen", ids["light"]), ("Bedroom", ids["climate"])):
        area_id = areas.get(area) or ha.ws("config/area_registry/create", name=area)["area_id"]
        ha.ws("config/entity_registry/update", entity_id=entity, area_id=area_id)
    return ids


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    broker = Mosquitto(tmp_path_factory.mktemp("assist-broker")).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def service(broker, default_bundle, tmp_path_factory):
    port = free_port()
    serve = Serve(
        default_bundle,
        broker.url,
        tmp_path_factory.mktemp("assist-state") / "state",
        DEVICE,
        "--wyoming",
        f"tcp://127.0.0.1:{port}",
        "--no-zeroconf",
    ).start()
    bus = Collector(broker.url, [f"edge-app/{DEVICE}/#"])
    try:
        assert bus.wait_status(f"edge-app/{DEVICE}", "online"), serve.output()
        yield port, bus
    finally:
        bus.close()
        serve.stop()


@pytest.fixture(scope="module")
def house(service, tmp_path_factory):
    """(Home Assistant, the edge-app agent's entity id, the house's entity ids)."""
    hass = installed("homeassistant", "homeassistant-2025.4.4/bin/hass")
    if (reason := cache_dir() / "homeassistant-assist.skip").is_file():
        pytest.skip(f"Home Assistant's Wyoming integration cannot be installed here: {reason.read_text().strip()}")
    ha = HomeAssistant(
        hass, tmp_path_factory.mktemp("assist-ha"), "conversation:\nintent:\n" + documented_intent_scripts()
    )
    started = time.monotonic()
    try:
        ha.start()
        ha.onboard()
        ids = build_house(ha)
        entry = ha.flow("wyoming", {"host": "127.0.0.1", "port": service[0]})
        assert entry["type"] == "create_entry" and entry["title"] == "edge-app", entry
        agent = wait_until(
            lambda: next((e for e in ha.states() if e.startswith("conversation.edge_app")), None),
            60,
            "the edge-app conversation entity",
        )
        print(f"Home Assistant started, house built, Wyoming added in {time.monotonic() - started:.1f} s")
        yield ha, agent, ids
    finally:
        ha.stop()


def _says(answer: dict) -> str:
    return answer["response"]["speech"].get("plain", {}).get("speech", "")


def _result_for(bus: Collector, text: str, timeout: float = 30) -> dict:
    """The MQTT result published for an Assist transcript."""

    def found():
        return next((r for r in bus.json(f"edge-app/{DEVICE}/result") if r.get("text") == text), None)

    return wait_until(found, timeout, f"the MQTT result for {text!r}")


# (on, off, language): phrasings Home Assistant's own agent does not act on (the first test shows it)
PHRASINGS = [
    ("could you get the kitchen lights going", "kill the lights in the kitchen", "en"),
    ("주방 불 좀 켜줄래", "주방 조명 좀 꺼줄래", "ko"),
]


def test_home_assistants_own_agent_refuses_the_phrasings_edge_app_understands(house):
    ha, _agent, ids = house
    for text, language in [(t, lang) for on, off, lang in PHRASINGS for t in (on, off)]:
        answer = ha.converse(text, language=language)
        assert answer["response"]["response_type"] == "error", (text, answer)  # no match, or no such area
        assert answer["response"]["data"]["code"] in ("no_intent_match", "no_valid_targets"), (text, answer)
    assert ha.state(ids["light"])["state"] == "off"


@pytest.mark.parametrize("on, off, language", PHRASINGS)
def test_kitchen_light_on_then_off_in_english_and_korean(house, service, on, off, language):
    ha, agent, ids = house
    for text, state in ((on, "on"), (off, "off")):
        answer = ha.converse(text, agent, language)
        assert answer["response"]["response_type"] == "action_done", answer
        wait_until(
            lambda state=state: ha.state(ids["light"])["state"] == state, 15, f"{ids['light']} {state} after {text!r}"
        )
        result = _result_for(service[1], text)
        assert result["source"] == "assist" and result["label"] == f"lights_{state}", result
        assert result["slots"]["room"]["value"] in ("kitchen", "주방"), result


def test_temperature_is_set_on_the_thermostat(house, service):
    ha, agent, ids = house
    answer = ha.converse("make it 21 degrees in the bedroom", agent)
    assert answer["response"]["response_type"] == "action_done", answer
    wait_until(lambda: ha.state(ids["climate"])["attributes"]["temperature"] == 21, 15, "the thermostat at 21")
    assert _result_for(service[1], "make it 21 degrees in the bedroom")["label"] == "ac_set_temperature"


def test_timer_goes_to_the_documented_intent_because_hass_start_timer_needs_a_satellite(house):
    ha, agent, ids = house
    refused = http("POST", f"{ha.url}/api/intent/handle", {"name": "HassStartTimer", "data": {"minutes": 5}}, ha.token)
    assert "timers" in json.dumps(refused).lower(), refused  # "Device does not support timers"
    answer = ha.converse("set a timer for 5 minutes", agent)
    assert answer["response"]["response_type"] == "action_done", answer
    assert _says(answer) == "Timer started for 5 minutes."
    wait_until(lambda: ha.state(ids["timer"])["state"] == "active", 15, "the kitchen timer to run")
    assert ha.state(ids["timer"])["attributes"]["duration"] == "0:05:00"


@pytest.mark.parametrize(
    "text", ["what's the weather like tomorrow", "don't turn on the kitchen lights", "주방 불 켜지 마"]
)
def test_out_of_scope_and_negation_change_nothing(house, service, text):
    ha, agent, ids = house
    before = {e: ha.state(e)["state"] for e in ids.values()}
    answer = ha.converse(text, agent)
    assert answer["response"]["response_type"] == "error", answer
    assert answer["response"]["data"]["code"] == "no_intent_match", answer
    assert _says(answer) in (NOT_UNDERSTOOD, "죄송해요, 무슨 말씀인지 모르겠어요.")
    assert _result_for(service[1], text)["label"] == "out_of_scope"
    assert {e: ha.state(e)["state"] for e in ids.values()} == before
