"""Our labels and slots as Home Assistant intents: the answer the Wyoming service gives Assist.

A result (the dict published on `<prefix>/result`) becomes an `Answer`: an intent name and its
slots, or no intent (`out_of_scope`, a rejected score, a label nobody mapped). Built-in names and
slot names are those of Home Assistant 2025.4's intent handlers; labels without a built-in intent
get `EdgeApp...` names that an `intent_script` handles (docs/home-assistant.md shows them).
The config's `assist.intents` and `assist.areas` tables override any entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..text import is_hangul

LANGUAGES = ("en", "ko")


@dataclass(frozen=True)
class Rule:
    """How one label becomes an intent: its name, fixed slots, and which of our slots it takes."""

    intent: str
    fixed: tuple[tuple[str, str], ...] = ()
    slots: tuple[str, ...] = ()  # ours, translated by `slot_values`


# Timers: Home Assistant 2025.4 starts a HassStartTimer only for a satellite device that supports timers;
# a conversation agent has no device, so timers go to an intent_script (docs/home-assistant.md).
DEFAULT_RULES: dict[str, Rule] = {
    "lights_on": Rule("HassTurnOn", (("domain", "light"),), ("room",)),
    "lights_off": Rule("HassTurnOff", (("domain", "light"),), ("room",)),
    "ac_on": Rule("HassTurnOn", (("domain", "climate"),), ("room",)),
    "ac_off": Rule("HassTurnOff", (("domain", "climate"),), ("room",)),
    "ac_set_temperature": Rule("HassClimateSetTemperature", (), ("temperature", "room")),
    "tv_volume": Rule("HassSetVolume", (), ("volume", "room")),  # relative or mute: EdgeAppVolumeStep
    "vacuum_start": Rule("HassVacuumStart", (), ("room",)),
    "vacuum_dock": Rule("HassVacuumReturnToBase", (), ()),
    "timer_set": Rule("EdgeAppStartTimer", (), ("duration",)),
    "washer_start": Rule("EdgeAppWasherStart", (), ("mode",)),
    "dryer_status": Rule("EdgeAppDryerStatus", (), ()),
    "oven_preheat": Rule("EdgeAppOvenPreheat", (), ("temperature", "mode")),
    "fridge_temperature": Rule("EdgeAppFridgeTemperature", (), ("temperature", "mode")),
}
VOLUME_STEP_INTENT = "EdgeAppVolumeStep"  # HassSetVolume takes only a level; up, down and mute go here

# Korean room names as the English area names Home Assistant users most often have; `assist.areas`
# maps any room (in either language) to the user's own area name or alias.
DEFAULT_AREAS: dict[str, str] = {
    "거실": "Living Room",
    "마루": "Living Room",
    "주방": "Kitchen",
    "부엌": "Kitchen",
    "식당": "Dining Room",
    "안방": "Bedroom",
    "침실": "Bedroom",
    "큰방": "Bedroom",
    "작은방": "Spare Room",
    "건넌방": "Spare Room",
    "아이방": "Kids Room",
    "아이 방": "Kids Room",
    "아기방": "Nursery",
    "놀이방": "Playroom",
    "공부방": "Study",
    "서재": "Study",
    "작업실": "Office",
    "손님방": "Guest Room",
    "게스트룸": "Guest Room",
    "욕실": "Bathroom",
    "화장실": "Bathroom",
    "현관": "Hallway",
    "복도": "Hallway",
    "옷방": "Dressing Room",
    "드레스룸": "Dressing Room",
    "다용도실": "Utility Room",
    "세탁실": "Laundry Room",
    "베란다": "Balcony",
    "테라스": "Terrace",
    "다락방": "Attic",
    "지하실": "Basement",
    "차고": "Garage",
}

REPLIES = {
    "en": {
        "done": "Done.",
        "not_understood": "Sorry, I did not understand that.",
        "busy": "Sorry, I could not answer in time. Please try again.",
    },
    "ko": {
        "done": "알겠습니다.",
        "not_understood": "죄송해요, 무슨 말씀인지 모르겠어요.",
        "busy": "죄송해요, 제때 답하지 못했어요. 다시 말씀해 주세요.",
    },
}


def detect_language(text: str, given: str | None = None) -> str:
    """The language to answer in: the client's when it is one we speak, else Korean for Hangul, else English."""
    if given:
        base = given.lower().replace("_", "-").split("-")[0]
        if base in LANGUAGES:
            return base
    return "ko" if is_hangul(text) else "en"


def reply(language: str, key: str) -> str:
    return REPLIES.get(language, REPLIES["en"])[key]


@dataclass(frozen=True)
class Answer:
    """What Assist gets: an intent with slots, or `intent=None` for not recognised; `text` is spoken."""

    intent: str | None
    slots: dict[str, Any] = field(default_factory=dict)
    text: str = ""


@dataclass
class IntentMap:
    """Labels to intents and rooms to areas, defaults merged with the config's tables."""

    rules: dict[str, Rule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    areas: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_AREAS))
    temperature_unit: str = "C"  # Home Assistant's unit: a temperature said in the other one is converted

    @classmethod
    def from_tables(
        cls, intents: Mapping[str, str], areas: Mapping[str, str], temperature_unit: str = "C"
    ) -> IntentMap:
        """`intents`: label -> intent name (an unknown label keeps only the name; "" unmaps a label);
        `areas`: room as said -> area name; `temperature_unit`: C or F, Home Assistant's."""
        rules = dict(DEFAULT_RULES)
        for label, name in intents.items():
            if not name:
                rules.pop(label, None)
                continue
            known = rules.get(label)
            rules[label] = Rule(name, known.fixed, known.slots) if known else Rule(name, (), ("room",))
        merged = dict(DEFAULT_AREAS)
        merged.update({_key(room): area for room, area in areas.items()})
        return cls(rules, merged, temperature_unit.upper())

    def answer(self, result: Mapping[str, Any], language: str) -> Answer:
        """The intent for one result; not recognised for out_of_scope, a rejection or an unmapped label."""
        label = result.get("label")
        rule = self.rules.get(label) if isinstance(label, str) else None
        if rule is None or result.get("rejected"):
            return Answer(None, text=reply(language, "not_understood"))
        slots: dict[str, Any] = dict(rule.fixed)
        intent = rule.intent
        found = result.get("slots")
        found = found if isinstance(found, Mapping) else {}
        for name in rule.slots:
            if isinstance(found.get(name), Mapping):
                slots.update(self.slot_values(name, found[name]))
        if label == "tv_volume" and rule.intent == "HassSetVolume" and "volume_level" not in slots:
            intent = VOLUME_STEP_INTENT
        return Answer(intent, slots, reply(language, "done"))

    def slot_values(self, name: str, slot: Mapping[str, Any]) -> dict[str, Any]:
        """One of our slots as Home Assistant slot(s); a slot whose value could not be read is left out."""
        value, number = slot.get("value"), _number(slot.get("value"))
        if name == "room":
            text = slot.get("text") or value
            return {"area": self.areas.get(_key(text), str(value or text))} if isinstance(text, str) else {}
        if name == "temperature":
            if number is None:
                return {}
            unit = slot.get("unit") if slot.get("unit") in ("C", "F") else "C"
            return {
                "temperature": convert_temperature(number, unit, self.temperature_unit),
                "temperature_unit": self.temperature_unit,
            }
        if name == "volume":
            if number is not None:
                return {"volume_level": max(0, min(100, int(number)))}
            step = {"volume_step": slot["step"]} if _number(slot.get("step")) is not None else {}
            return {"volume": value, **step} if isinstance(value, str) and value else {}
        if name == "duration":
            if number is None or number < 0:
                return {}
            seconds = int(number)
            return {
                "duration": seconds,
                "hours": seconds // 3600,
                "minutes": seconds % 3600 // 60,
                "seconds": seconds % 60,
            }
        return {name: value} if isinstance(value, (str, int, float)) and not isinstance(value, bool) else {}


def _number(value: Any) -> float | None:
    """A finite number, or None (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        return None
    return float(value)


def convert_temperature(value: float, unit: str, target: str) -> float:
    """A temperature in `target` (C or F), rounded to a tenth."""
    if unit.upper() == target.upper():
        return value
    return round((value - 32) * 5 / 9 if target.upper() == "C" else value * 9 / 5 + 32, 1)


def _key(room: str) -> str:
    return " ".join(room.lower().split())
