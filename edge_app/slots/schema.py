"""The slot schema of the default intents: one place, read by the data generators, the export
gate, the runtime decoder and the docs.

Annotated data rows (export/data/intents/**.jsonl) carry character spans into their text:

    {"text": "set the living room to 22 degrees", "label": "ac_set_temperature",
     "slots": [{"slot": "room", "start": 8, "end": 19}, {"slot": "temperature", "start": 23, "end": 33}]}

`start`/`end` index the text as Python sees it (end exclusive). A row without "slots" carries
none. A span covers the value and the words that say its unit or direction ("22 degrees",
"half an hour", "down a bit"), never articles or prepositions ("the", "to", "in").

Each result on the bus carries `"slots": {name: {"value": ..., "text": span, ...}}`; a span
whose value cannot be read keeps its "text" and has no "value".
"""

from __future__ import annotations

SLOT_NAMES: tuple[str, ...] = ("temperature", "duration", "volume", "room", "device", "mode")

# Which slots an intent can carry; the runtime drops a slot its intent cannot carry.
INTENT_SLOTS: dict[str, tuple[str, ...]] = {
    "ac_on": ("room",),
    "ac_off": ("room",),
    "ac_set_temperature": ("temperature", "room"),
    "tv_volume": ("volume", "room"),
    "lights_on": ("room", "device"),  # device: lamp, ceiling light, fairy lights ...
    "lights_off": ("room", "device"),
    "vacuum_start": ("room",),
    "vacuum_dock": (),
    "timer_set": ("duration",),
    "washer_start": ("mode",),  # mode: the programme (cotton, quick, eco, wool ...)
    "dryer_status": (),
    "oven_preheat": ("temperature", "mode"),  # mode: fan, grill, bake ...
    "fridge_temperature": ("temperature", "mode"),  # mode: fridge or freezer
    "out_of_scope": (),
}

# Value shapes, by slot (what `"value"` holds; other keys beside "text"):
#   temperature: number; "unit": "C" or "F" (C when no unit was said)
#   duration:    whole seconds; "unit": "s"
#   volume:      0..100 with "unit": "%"  | "up"/"down" with optional "step" (number, percent
#                points when said, else absent) | "mute"/"unmute"   ("max" -> 100, "min" -> 0)
#   room, device, mode: the span in lower case, single-spaced
BIO_OUTSIDE = "O"


def bio_tags() -> list[str]:
    """The token tag set of a joint model: O, then B-/I- per slot, in schema order."""
    return [BIO_OUTSIDE] + [f"{p}-{name}" for name in SLOT_NAMES for p in ("B", "I")]
