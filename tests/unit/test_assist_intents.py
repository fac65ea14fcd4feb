"""Labels and slots to Home Assistant intents (pure logic), and the config tables that override them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_app.assist.intents import IntentMap, convert_temperature, detect_language
from edge_app.config import load_config
from edge_app.errors import ConfigError
from edge_app.slots.schema import INTENT_SLOTS


def result(label: str, rejected: bool = False, **slots) -> dict:
    return {"label": label, "score": 0.9, "rejected": rejected, "slots": slots}


def test_every_label_of_the_default_model_has_an_answer():
    mapping = IntentMap()
    for label in INTENT_SLOTS:
        answer = mapping.answer(result(label), "en")
        assert (answer.intent is None) == (label == "out_of_scope"), label


def test_lights_and_climate_carry_domain_and_area_korean_rooms_become_area_names():
    mapping = IntentMap()
    on = mapping.answer(result("lights_on", room={"value": "kitchen", "text": "Kitchen"}), "en")
    assert (on.intent, on.slots) == ("HassTurnOn", {"domain": "light", "area": "kitchen"})
    off = mapping.answer(result("ac_off", room={"value": "안방", "text": "안방"}), "ko")
    assert (off.intent, off.slots, off.text) == ("HassTurnOff", {"domain": "climate", "area": "Bedroom"}, "알겠습니다.")


def test_a_rejected_or_out_of_scope_result_is_not_recognized_in_its_language():
    mapping = IntentMap()
    assert mapping.answer(result("lights_on", rejected=True), "en").intent is None
    refused = mapping.answer(result("out_of_scope"), "ko")
    assert refused.intent is None and refused.text.startswith("죄송해요")


def test_volume_level_goes_to_hass_set_volume_steps_and_mute_to_the_custom_intent():
    mapping = IntentMap()
    level = mapping.answer(result("tv_volume", volume={"value": 30, "unit": "%", "text": "30 percent"}), "en")
    assert (level.intent, level.slots) == ("HassSetVolume", {"volume_level": 30})
    step = mapping.answer(result("tv_volume", volume={"value": "up", "step": 5, "text": "up 5"}), "en")
    assert (step.intent, step.slots) == ("EdgeAppVolumeStep", {"volume": "up", "volume_step": 5})


def test_temperature_is_converted_to_home_assistants_unit_and_timers_carry_their_parts():
    f = IntentMap(temperature_unit="C").answer(
        result("ac_set_temperature", temperature={"value": 72, "unit": "F", "text": "72 degrees"}), "en"
    )
    assert f.slots == {"temperature": 22.2, "temperature_unit": "C"}
    timer = IntentMap().answer(result("timer_set", duration={"value": 5430, "unit": "s", "text": "..."}), "en")
    assert timer.slots == {"duration": 5430, "hours": 1, "minutes": 30, "seconds": 30}


def test_a_slot_without_a_value_is_left_out():
    answer = IntentMap().answer(result("ac_set_temperature", temperature={"text": "warm"}), "en")
    assert answer.intent == "HassClimateSetTemperature" and answer.slots == {}


def test_config_tables_override_unmap_and_add():
    mapping = IntentMap.from_tables(
        {"timer_set": "HassStartTimer", "dryer_status": "", "feed_cat": "FeedCat"},
        {"Kitchen": "Cuisine", "주방": "Küche"},
    )
    assert mapping.answer(result("timer_set", duration={"value": 60}), "en").intent == "HassStartTimer"
    assert mapping.answer(result("dryer_status"), "en").intent is None
    cat = mapping.answer(result("feed_cat", room={"value": "kitchen", "text": "kitchen"}), "en")
    assert (cat.intent, cat.slots) == ("FeedCat", {"area": "Cuisine"})
    assert mapping.answer(result("lights_on", room={"value": "주방", "text": "주방"}), "ko").slots["area"] == "Küche"


def test_the_tables_come_from_toml_or_the_environment_and_bad_values_are_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[assist]\nwyoming = "tcp://0.0.0.0:10700"\n[assist.areas]\n"주방" = "Kitchen"\n')
    cfg = load_config(path, environ={"EDGE_APP_ASSIST_INTENTS": "timer_set=HassStartTimer, washer_start="})
    assert cfg.assist.areas == {"주방": "Kitchen"}
    assert cfg.assist.intents == {"timer_set": "HassStartTimer", "washer_start": ""}
    with pytest.raises(ConfigError, match="assist.areas"):
        load_config(environ={"EDGE_APP_ASSIST_AREAS": "no equals sign"})
    with pytest.raises(ConfigError, match="tcp://HOST:PORT"):
        load_config(overrides={"assist": {"wyoming": "0.0.0.0:10700"}}, environ={})
    with pytest.raises(ConfigError, match="nothing to serve"):
        load_config(overrides={"mqtt": {"enabled": False}}, environ={})


@pytest.mark.parametrize(
    "text, given, expected",
    [
        ("turn on the lights", None, "en"),
        ("불 켜줘", None, "ko"),
        ("TV 볼륨 올려", None, "ko"),
        ("불 켜줘", "en-US", "en"),
        ("lights on", "ko_KR", "ko"),
        ("lights on", "de", "en"),
    ],
)
def test_language_is_the_clients_when_we_speak_it_else_read_from_the_text(text, given, expected):
    assert detect_language(text, given) == expected


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False, width=32), st.text(max_size=8)
)
SLOT = st.one_of(SCALARS, st.dictionaries(st.sampled_from(["value", "text", "unit", "step"]), SCALARS))
RESULTS = st.fixed_dictionaries(
    {
        "label": st.one_of(st.sampled_from(sorted(INTENT_SLOTS)), SCALARS),
        "rejected": st.one_of(st.booleans(), SCALARS),
        "slots": st.one_of(
            SCALARS,
            st.dictionaries(st.sampled_from(["room", "temperature", "volume", "duration", "mode", "device"]), SLOT),
        ),
    }
)


@given(RESULTS, st.sampled_from(["en", "ko"]))
def test_any_result_shape_gets_an_answer_never_an_exception(shape, language):
    answer = IntentMap().answer(shape, language)
    assert answer.text and (answer.intent is None or isinstance(answer.slots, dict))


@given(st.floats(min_value=-40, max_value=120, allow_nan=False))
def test_temperature_conversion_round_trips_within_rounding(value):
    there = convert_temperature(value, "C", "F")
    assert abs(convert_temperature(there, "F", "C") - value) <= 0.1
