"""Write export/data/intents/phrasing/en_{train,validation}.jsonl: wider everyday English phrasing.

The templates-generated data (make_intents.py) never says "activate", "power on", "kill", "fire up",
"get ... going"; never names a speaker or a room in a volume command; rarely states a need
indirectly; and never negates a command. This generator writes those phrasings (all templates and
word lists written for this project; nothing from Home Assistant's intents or any other dataset):

- new verbs for known actions, in on/off, start/dock and up/down MINIMAL PAIRS (the same sentence
  with the other verb and the other label), so on/off can never flip;
- power phrasings ("power on the ac", "turn the aircon's power off", "power the lights down");
- volume commands that name a room, a speaker, a player, "the sound" or "the music volume"
  (tv_volume, with room and volume spans), as the brief for this file asks;
- indirect statements, labelled as make_intents.py labels its indirect sentences ("it's freezing in
  here" -> ac_off, "it's too dark in the hallway" -> lights_on, "i'm baking at 400, get the oven
  ready" -> oven_preheat, "i can't hear the tv" -> tv_volume with no volume span);
- negations of every intent ("don't turn on the lights", "never mind, leave the ac off"):
  out_of_scope, many as pairs with the plain command;
- near-domain negatives with the same new verbs on devices we do not control (activate the alarm,
  enable the fan, power on the dishwasher, kill the music, power up the tv): out_of_scope, many as
  pairs with one of our devices ("fire up the <<washing machine|dishwasher>>").

Template syntax (as in make_intents.py): `{name}` draws from FILLS (a span when PLACEHOLDER_SLOT
names a slot), `[words {n}](slot:arg)` marks a span whose gold value comes from the draw or the arg;
`<<a|b>>` makes a minimal pair: both sentences are written with the same draws, the first with the
group's first label, the second with its second. out_of_scope rows keep no spans.

Validation measures phrasings the model was not trained on: templates starting with `!` write
validation only, the others train only; the fillers in HELD_OUT are drawn only for validation
(rooms, lamps, speakers, programmes, devices, numbers); held-out VERBS ("flick on/off", "kick on",
"knock off", "spin up", "kick off", "crank", "nudge", "set ... loose") appear only in `!` templates.
EXTRA_GROUPS (train only, drawn after validation with EXTRA_FILLS, so validation is unchanged by them) add
many more negation/cancellation frames, indirect discomfort (hot, cold from the ac, dark, mess, can't
hear), more device names, tv power (out_of_scope) vs tv volume pairs and near-domain negatives.
No sentence is in both splits, and none equals a sentence of intents/*.jsonl or intents/original/.

    python export/data/make_phrasing_en.py          # rewrite the two files
    python export/data/make_phrasing_en.py --check  # exit 1 if stale or a span/value is wrong
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[2])]

from make_intents import (  # noqa: E402
    check,
    disagreements,
    generator_arguments,
    normalise,
    read_jsonl,
    render,
    render_template,
    slot_text,
)

from edge_app.slots.schema import INTENT_SLOTS  # noqa: E402

INTENTS = Path(__file__).resolve().parent / "intents"
OUT = INTENTS / "phrasing"
FILES = {"train": OUT / "en_train.jsonl", "validation": OUT / "en_validation.jsonl"}
SEED = "phrasing-en-1"
OOS = "out_of_scope"
MIN_AGREEMENT = 0.95
F = "F"

# --- fillers: texts, or (text, gold value) pairs ----------------------------------------------------
FILLS: dict[str, list] = {
    "room": [
        "kitchen",
        "living room",
        "bedroom",
        "office",
        "bathroom",
        "hallway",
        "kids room",
        "dining room",
        "study",
        "basement",
        "garage",
        "nursery",
        "guest room",
        "master bedroom",
        "laundry room",
        "den",
        "attic",
        "lounge",
        "playroom",
        "spare room",
    ],
    "light": [
        "lamp",
        "ceiling light",
        "floor lamp",
        "desk lamp",
        "bedside lamp",
        "fairy lights",
        "night light",
        "reading lamp",
        "pendant lights",
        "spotlights",
        "string lights",
        "led strip",
        "porch light",
        "table lamp",
    ],
    "ac": ["ac", "air conditioner", "air conditioning", "aircon", "air con", "ac unit"],
    "vac": ["vacuum", "robot vacuum", "robot", "hoover", "robot cleaner", "vacuum cleaner", "roomba"],
    "washer": ["washer", "washing machine", "laundry machine"],
    "dryer": ["dryer", "tumble dryer", "clothes dryer"],
    "spk": ["speaker", "smart speaker", "stereo", "music player", "media player", "sound system", "receiver"],
    "prog": [
        "cotton",
        "eco",
        "quick",
        "wool",
        "delicates",
        "synthetics",
        "bedding",
        "whites",
        "mixed",
        "sportswear",
        "intensive",
        "colours",
    ],
    "omode": ["fan", "grill", "bake", "convection", "conventional", "broil", "roast"],
    "comp": ["fridge", "freezer", "refrigerator"],
    "food": ["pasta", "eggs", "pizza", "rice", "tea", "bread", "cookies", "roast", "potatoes"],
    "dish": ["a pizza", "some cookies", "a cake", "bread", "a lasagna", "a chicken", "muffins", "a pie"],
    "odev": [
        "fan",
        "ceiling fan",
        "alarm",
        "security system",
        "dishwasher",
        "dryer",
        "tv",
        "television",
        "heater",
        "space heater",
        "kettle",
        "coffee maker",
        "sprinklers",
        "dehumidifier",
        "air purifier",
        "microwave",
        "extractor fan",
        "fireplace",
        "hot tub",
        "towel warmer",
        "computer",
        "printer",
        "router",
        "game console",
        "radio",
        "music",
        "water heater",
        "boiler",
        "camera",
        "doorbell",
    ],
    "cover": ["blinds", "curtains", "shades", "shutters", "window", "garage door", "gate", "skylight"],
    "temp": [
        ("22 degrees", 22),
        ("21", 21),
        ("twenty three", 23),
        ("19 degrees celsius", 19),
        ("72 fahrenheit", {"value": 72, "unit": F}),
        ("20°C", 20),
        ("24", 24),
        ("twenty one degrees", 21),
        ("68 degrees fahrenheit", {"value": 68, "unit": F}),
        ("25 degrees", 25),
        ("18", 18),
        ("22.5", 22.5),
        ("twenty degrees", 20),
        ("23 degrees", 23),
    ],
    "otemp": [
        ("180 degrees", 180),
        ("200", 200),
        ("350 fahrenheit", {"value": 350, "unit": F}),
        ("425 degrees fahrenheit", {"value": 425, "unit": F}),
        ("220", 220),
        ("190 degrees celsius", 190),
        ("two hundred", 200),
        ("400 f", {"value": 400, "unit": F}),
        ("one eighty", 180),
        ("250 degrees", 250),
        ("three fifty", 350),
        ("170", 170),
    ],
    "ftemp": [
        ("4 degrees", 4),
        ("3", 3),
        ("minus 18", -18),
        ("-20 degrees", -20),
        ("five degrees", 5),
        ("37 fahrenheit", {"value": 37, "unit": F}),
        ("minus twenty", -20),
        ("6", 6),
        ("-16", -16),
        ("three degrees", 3),
    ],
    "dur": [
        ("10 minutes", 600),
        ("five minutes", 300),
        ("half an hour", 1800),
        ("an hour", 3600),
        ("90 seconds", 90),
        ("twenty minutes", 1200),
        ("45 minutes", 2700),
        ("1 hour 15 minutes", 4500),
        ("two minutes", 120),
        ("15 mins", 900),
        ("an hour and a half", 5400),
        ("30 seconds", 30),
        ("eight minutes", 480),
        ("12 minutes", 720),
        ("a minute", 60),
        ("2 hours", 7200),
    ],
    "durk": [
        ("5 minute", 300),
        ("ten minute", 600),
        ("20 minute", 1200),
        ("one hour", 3600),
        ("thirty second", 30),
        ("3 minute", 180),
        ("forty minute", 2400),
        ("15-minute", 900),
    ],
    "level": [
        ("30", 30),
        ("50 percent", 50),
        ("20%", 20),
        ("max", 100),
        ("forty", 40),
        ("10", 10),
        ("seventy percent", 70),
        ("full", 100),
        ("zero", 0),
        ("25", 25),
        ("sixty", 60),
        ("80%", 80),
    ],
    "change": [
        ("up", {"value": "up"}),
        ("down", {"value": "down"}),
        ("up a bit", {"value": "up"}),
        ("down a little", {"value": "down"}),
        ("up by 10", {"value": "up", "step": 10}),
        ("down 5", {"value": "down", "step": 5}),
        ("up a notch", {"value": "up"}),
        ("down a touch", {"value": "down"}),
        ("way up", {"value": "up"}),
        ("down by twenty", {"value": "down", "step": 20}),
        ("way down", {"value": "down"}),
    ],
    "step": [("10", 10), ("five", 5), ("20", 20), ("15", 15), ("two", 2)],
}

# held-out fillers: drawn for validation only (validation draws from FILLS + these, train from FILLS)
HELD_OUT: dict[str, list] = {
    "room": ["pantry", "mudroom", "sunroom", "home gym"],
    "light": ["wall sconce", "track lights"],
    "ac": ["mini split", "air conditioning unit"],
    "vac": ["robovac", "vacuum robot"],
    "washer": ["clothes washer"],
    "spk": ["soundbar", "hifi"],
    "prog": ["duvet", "shirts"],
    "omode": ["air fry", "fan forced"],
    "odev": ["projector", "pool pump", "humidifier", "espresso machine"],
    "temp": [("twenty six degrees", 26), ("71 fahrenheit", {"value": 71, "unit": F}), ("17 degrees", 17)],
    "otemp": [("three seventy five", 375), ("160 degrees", 160)],
    "ftemp": [("2 degrees", 2), ("minus 22 degrees", -22)],
    "dur": [("seventeen minutes", 1020), ("3 hours", 10800), ("a quarter of an hour", 900)],
    "durk": [("25 minute", 1500)],
    "level": [("65 percent", 65), ("fifteen", 15)],
    "change": [("up a tad", {"value": "up"}), ("down by 15", {"value": "down", "step": 15})],
}

PLACEHOLDER_SLOT = {
    "room": "room",
    "light": "device",
    "prog": "mode",
    "omode": "mode",
    "comp": "mode",
    "temp": "temperature",
    "otemp": "temperature",
    "ftemp": "temperature",
    "dur": "duration",
    "durk": "duration",
    "level": "volume",
    "change": "volume",
}
NUMERIC_SLOTS = ("temperature", "duration", "volume")

# --- templates: group -> (labels, train rows, validation rows, templates) ---------------------------
# A single label, or two for `<<a|b>>` pairs. `!` = held-out template (validation only).
# Held-out verbs, used only in `!` templates: flick on/off, kick on, knock off, spin up, kick off, crank,
# nudge, set ... loose, flip on/off.
AC_ON_OFF = ("ac_on", "ac_off")
LIGHTS = ("lights_on", "lights_off")
VAC = ("vacuum_start", "vacuum_dock")
TV = ("tv_volume", "tv_volume")

GROUPS: dict[str, tuple[tuple[str, ...], int, int, list[str]]] = {
    # ---- minimal pairs: the same sentence, the opposite action ----
    "ac_pairs": (
        AC_ON_OFF,
        90,
        16,
        [
            "<<activate|deactivate>> the {ac} in the {room}",
            "<<enable|disable>> the {ac}",
            "<<power on|power off>> the {ac}",
            "<<power up|power down>> the {room} {ac}",
            "turn the {ac}'s power <<on|off>>",
            "<<switch on|switch off>> the {ac} in the {room}",
            "<<start up|shut down>> the {ac}",
            "power the {ac} <<up|down>>",
            "switch the {ac} <<on|off>>",
            "<<fire up|shut off>> the {ac} in the {room}",
            "<<get the {ac} going|cut the {ac}>>",
            "turn the power to the {ac} <<on|off>>",
            "in the {room}, <<power on|power off>> the {ac}",
            "<<activate|deactivate>> the {room} cooling",
            "<<boot up|power down>> the {ac} please",
            "!<<flick on|flick off>> the {ac}",
            "!<<kick on|knock off>> the {ac} in the {room}",
            "!put the {room} {ac}'s power <<on|off>>",
            "!the {ac} in the {room}, power it <<on|off>>",
        ],
    ),
    "light_pairs": (
        LIGHTS,
        90,
        16,
        [
            "<<activate|deactivate>> the lights in the {room}",
            "<<enable|disable>> the {light}",
            "<<power on|power off>> the {room} lights",
            "power the lights <<up|down>>",
            "<<power up|power down>> the {light} in the {room}",
            "switch the {light} <<on|off>>",
            "turn the power to the {light} <<on|off>>",
            "put the lights <<on|off>> in the {room}",
            "<<switch on|switch off>> the {room} {light}",
            "<<activate|deactivate>> the {light}",
            "<<enable|disable>> all the lights in the {room}",
            "power the {room} {light} <<up|down>>",
            "<<get the lights on|kill the lights>> in the {room}",
            "<<start up|shut off>> the {light}",
            "!<<flick on|flick off>> the {light} in the {room}",
            "!flip the {room} lights <<on|off>>",
            "!could the {light} be switched <<on|off>>",
            "!<<power on|power off>> every {light} in the {room}",
        ],
    ),
    "vac_pairs": (
        VAC,
        60,
        10,
        [
            "{vac}, <<start cleaning|go back to your dock>>",
            "<<start|dock>> the {vac}",
            "tell the {vac} to <<get cleaning|go home>>",
            "<<fire up|park>> the {vac}",
            "get the {vac} <<going|home>>",
            "send the {vac} <<out to clean|back to the charger>>",
            "<<activate|recall>> the {vac}",
            "<<power on|send home>> the {vac}",
            "have the {vac} <<start its run|return to base>>",
            "<<boot up|call back>> the {vac}",
            "!<<spin up|bring home>> the {vac}",
            "!let the {vac} <<loose|rest on its dock>>",
            "!{vac}: <<time to clean|time to charge>>",
        ],
    ),
    "volume_pairs": (
        TV,
        70,
        14,
        [
            "turn the volume <<[up](volume:up)|[down](volume:down)>> in the {room}",
            "turn <<[up](volume:up)|[down](volume:down)>> the sound in the {room}",
            "turn the {spk} <<[up](volume:up)|[down](volume:down)>>",
            "<<[raise](volume:up)|[lower](volume:down)>> the music volume",
            "<<[raise](volume:up)|[lower](volume:down)>> the volume in the {room}",
            "{room} volume <<[up](volume:up)|[down](volume:down)>>",
            "<<[increase](volume:up)|[decrease](volume:down)>> the {spk} volume in the {room}",
            "make the sound <<[louder](volume:up)|[quieter](volume:down)>>",
            "<<[mute](volume:mute)|[unmute](volume:unmute)>> the {spk}",
            "<<[mute](volume:mute)|[unmute](volume:unmute)>> the sound in the {room}",
            "<<[raise the volume by {step}](volume:up)|[lower the volume by {step}](volume:down)>> on the {spk}",
            "music volume <<[up](volume:up)|[down](volume:down)>> please",
            "!<<[crank](volume:up)|[drop](volume:down)>> the sound on the {spk}",
            "!could the {room} get a little <<[louder](volume:up)|[quieter](volume:down)>>",
            "!the player in the {room}, volume <<[up](volume:up)|[down](volume:down)>>",
        ],
    ),
    # ---- the same verb, our device or another one ----
    "device_pairs_on": (
        ("ac_on", OOS),
        40,
        8,
        [
            "activate the <<air conditioner|alarm>>",
            "enable the <<air conditioner|ceiling fan>>",
            "power on the <<aircon|dishwasher>>",
            "fire up the <<air con|space heater>>",
            "start up the <<ac|computer>> in the {room}",
            "get the <<air conditioning|coffee maker>> going",
            "boot up the <<ac|game console>>",
            "switch on the <<aircon|heater>> in the {room}",
            "!kick on the <<ac|fan>>",
            "!flick on the <<air con|radio>>",
        ],
    ),
    "device_pairs_off": (
        ("ac_off", OOS),
        40,
        8,
        [
            "kill the <<ac|music>>",
            "disable the <<air conditioning|alarm>>",
            "deactivate the <<aircon|security system>>",
            "cut the <<air con|music>> in the {room}",
            "shut off the <<ac|sprinklers>>",
            "power down the <<air conditioner|computer>>",
            "turn the <<ac|tv>>'s power off",
            "power the <<aircon|heater>> down",
            "!knock off the <<ac|radio>>",
            "!flick off the <<air con|fan>>",
        ],
    ),
    "device_pairs_lights": (
        ("lights_on", OOS),
        40,
        8,
        [
            "activate the <<lights|alarm>>",
            "enable the <<lights|fan>> in the {room}",
            "power on the <<[lamp](device)|tv>>",
            "put on the <<lights|kettle>>",
            "switch on the <<lights|television>> in the {room}",
            "power up the <<lights|router>>",
            "get the <<lights|sprinklers>> on",
            "!flick on the <<[lamp](device)|projector>>",
            "!flip on the <<lights|humidifier>> in the {room}",
        ],
    ),
    "device_pairs_lights_off": (
        ("lights_off", OOS),
        40,
        8,
        [
            "kill the <<lights|music>>",
            "cut the <<lights|radio>> in the {room}",
            "shut off the <<lights|fan>>",
            "disable the <<[lamp](device)|alarm>>",
            "deactivate the <<lights|camera>> in the {room}",
            "power down the <<lights|tv>>",
            "power the <<lights|fan>> down",
            "shut the <<lights off|blinds>>",
            "!flick off the <<[lamp](device)|heater>>",
            "!knock off the <<lights|boiler>> in the {room}",
        ],
    ),
    "device_pairs_appliances": (
        ("washer_start", OOS),
        30,
        6,
        [
            "fire up the <<washing machine|dishwasher>>",
            "get the <<washer|dryer>> going",
            "power on the <<washing machine|tumble dryer>>",
            "start up the <<washer|dishwasher>>",
            "activate the <<washer|dryer>>",
            "<<power on|power off>> the {washer}",
            "<<start up|shut down>> the {washer}",
            "!kick off the <<washer|dishwasher>>",
        ],
    ),
    "device_pairs_oven": (
        ("oven_preheat", OOS),
        30,
        6,
        [
            "fire up the <<oven|barbecue>>",
            "<<power on|power off>> the oven",
            "<<switch on|switch off>> the oven",
            "<<get the oven going|kill the oven>>",
            "<<activate|deactivate>> the oven",
            "<<start up|shut down>> the oven",
            "boot up the <<oven|microwave>>",
            "!<<crank up|knock off>> the oven",
        ],
    ),
    "device_pairs_vacuum": (
        ("vacuum_start", OOS),
        24,
        6,
        [
            "activate the <<robot vacuum|lawn mower>>",
            "fire up the <<vacuum|mower>>",
            "power on the <<robot vacuum|window cleaner>>",
            "get the <<vacuum|dishwasher>> going in the {room}",
            "start up the <<vacuum|dryer>>",
            "!spin up the <<robovac|pool pump>>",
        ],
    ),
    "device_pairs_timer": (
        ("timer_set", OOS),
        24,
        6,
        [
            "<<start|kill>> the {durk} timer",
            "<<activate|disable>> a {durk} timer",
            "<<set|cancel>> the {durk} timer",
            "<<get a timer going for|take off>> {dur}",
            "!<<put on|scrap>> a {durk} countdown",
        ],
    ),
    "device_pairs_temperature": (
        ("ac_set_temperature", OOS),
        30,
        6,
        [
            "set the <<ac|heating>> to {temp}",
            "put the <<air conditioner|water heater>> on {temp}",
            "switch the <<aircon|boiler>> to {temp}",
            "change the <<air con|hot tub>> to {temp}",
            "bump the <<ac|electric blanket>> to {temp}",
            "!nudge the <<ac|radiator>> to {temp}",
        ],
    ),
    "device_pairs_fridge": (
        ("fridge_temperature", OOS),
        24,
        6,
        [
            "set the <<[fridge](mode)|wine cooler>> to {ftemp}",
            "drop the <<[freezer](mode)|chest cooler>> to {ftemp}",
            "make the <<[fridge](mode)|air purifier>> colder",
            "turn the <<[freezer](mode)|ice maker>> down to {ftemp}",
            "!nudge the <<[fridge](mode)|water cooler>> down to {ftemp}",
        ],
    ),
    "device_pairs_volume": (
        ("tv_volume", OOS),
        30,
        6,
        [
            "turn the <<sound|heating>> [up](volume:up) in the {room}",
            "turn <<the volume|the fan>> [down](volume:down)",
            "turn [up](volume:up) the <<music volume|lights>> in the {room}",
            "[lower](volume:down) the <<sound|blinds>>",
            "<<sound|fan speed>> [up a bit](volume:up)",
            "!the <<sound|thermostat>> in the {room}, [down a little](volume:down)",
        ],
    ),
    "device_pairs_dryer": (
        ("dryer_status", OOS),
        20,
        6,
        [
            "is the <<dryer|washer>> done",
            "<<is the dryer running|start the dryer>>",
            "<<how long is left on|power on>> the {dryer}",
            "has the <<dryer|dishwasher>> finished",
            "<<check on|fire up>> the {dryer}",
            "!any news from the <<dryer|dishwasher>>",
        ],
    ),
    # ---- negation pairs: the plain command, and "don't" ----
    "neg_pairs": ((OOS, "in_scope"), 0, 0, []),  # placeholder, filled below per intent
    # ---- single in-scope phrasings ----
    "ac_on": (
        ("ac_on",),
        30,
        6,
        [
            "fire up the {ac}",
            "get the {ac} going in the {room}",
            "boot up the {ac}",
            "put the {ac} on",
            "start up the {room} {ac}",
            "activate the cooling in the {room}",
            "power up the {ac} please",
            "it's sweltering in the {room}",
            "i'm so hot i can't sleep",
            "the {room} feels like a sauna",
            "it's stifling in here",
            "i'm boiling, get the {ac} going",
            "we need the {ac} on in the {room}",
            "!get the {ac} running",
            "!it's so humid and hot in the {room}",
            "!i'm dripping with sweat in here",
        ],
    ),
    "ac_off": (
        ("ac_off",),
        30,
        6,
        [
            "kill the {ac}",
            "cut the {ac} in the {room}",
            "shut off the {ac}",
            "cut the power to the {ac}",
            "shut the {ac} off",
            "deactivate the cooling",
            "i'm freezing",
            "it's getting too cold in the {room}",
            "my hands are ice cold, the {ac} is too much",
            "i'm cold, kill the {ac}",
            "power the {room} {ac} off",
            "!knock the {ac} off",
            "!my teeth are chattering",
            "!the {room} is like an icebox, enough {ac}",
        ],
    ),
    "ac_set_temperature": (
        ("ac_set_temperature",),
        40,
        8,
        [
            "switch the {ac} to {temp}",
            "bump the {ac} to {temp}",
            "adjust the {ac} to {temp}",
            "dial the thermostat to {temp}",
            "get the {room} to {temp}",
            "can you make the {room} {temp}",
            "switch the thermostat to {temp} in the {room}",
            "put the {room} {ac} at {temp}",
            "change the {room} {ac} setting to {temp}",
            "have the {ac} hold {temp}",
            "{ac} in the {room}, {temp}",
            "!nudge the {ac} to {temp}",
            "!i'd prefer {temp} in the {room}",
            "!take the {room} down to {temp}",
        ],
    ),
    "tv_volume": (
        ("tv_volume",),
        50,
        10,
        [
            "turn the {room} speaker {change}",
            "set the {spk} volume to {level}",
            "{room} volume {change}",
            "set the volume in the {room} to {level}",
            "music volume to {level}",
            "sound {change}",
            "turn the music volume {change} in the {room}",
            "[boost](volume:up) the music volume",
            "[mute](volume:mute) the {spk} in the {room}",
            "[unmute](volume:unmute) the sound",
            "put the {spk} at {level}",
            "the {spk} in the {room} to {level}",
            "turn the sound {change}",
            "i can't hear a thing",
            "i can barely hear the music in the {room}",
            "the sound is way too loud",
            "the music is blasting in the {room}",
            "the speaker is deafening",
            "i can hardly hear anything",
            "!the {spk} should go {change}",
            "!bring the {room} sound to {level}",
            "!nobody can hear the music in the {room}",
            "!the {spk} is far too quiet",
        ],
    ),
    "lights_on": (
        ("lights_on",),
        40,
        8,
        [
            "fire up the lights in the {room}",
            "get the lights on in the {room}",
            "switch on some lights in the {room}",
            "put the {light} on in the {room}",
            "activate the {room} lights",
            "power on the {light}",
            "it's too dark in here",
            "i can't see anything in the {room}",
            "it's gloomy in the {room}",
            "i keep tripping over things in the dark",
            "it's too dark to read in the {room}",
            "it's pitch dark in the {room}, get the lights on",
            "!it's so dim in the {room} i can't read",
            "!flick the {light} on",
            "!light the {room} up for me",
        ],
    ),
    "lights_off": (
        ("lights_off",),
        40,
        8,
        [
            "kill the lights",
            "kill the {light} in the {room}",
            "cut the lights in the {room}",
            "shut off the {light}",
            "power down the {room} lights",
            "deactivate the {light}",
            "power the lights down in the {room}",
            "the {light} is keeping me awake, switch it off",
            "i'm heading to bed, the lights can go off",
            "nobody's in the {room}, kill the lights",
            "disable every light in the {room}",
            "!flick the {light} off",
            "!nobody needs the {light} on now, cut it",
            "!knock the lights off in the {room}",
        ],
    ),
    "vacuum_start": (
        ("vacuum_start",),
        40,
        8,
        [
            "activate the {vac} in the {room}",
            "enable the {vac}",
            "power on the {vac}",
            "boot up the {vac}",
            "start up the {vac} in the {room}",
            "put the {vac} on",
            "get the {vac} going in the {room}",
            "fire up the {vac}",
            "the floor is covered in crumbs",
            "the {room} floor is covered in dog hair",
            "there's sand all over the {room}",
            "someone spilled cereal all over the {room} floor",
            "the carpet in the {room} is a mess",
            "the floor is covered in crumbs, get the {vac} going",
            "!there's dust everywhere in the {room}",
            "!spin up the {vac} for the {room}",
            "!set the {vac} loose in the {room}",
        ],
    ),
    "vacuum_dock": (
        ("vacuum_dock",),
        30,
        6,
        [
            "{vac}, back to base",
            "call the {vac} back",
            "park the {vac} on its charger",
            "return the {vac} to the dock",
            "the {vac} keeps bumping into me, send it home",
            "the {vac} needs to charge, send it back",
            "get the {vac} back on its dock",
            "send the {vac} back home",
            "the {vac} is too loud, park it",
            "!wrap it up and head to the dock, {vac}",
            "!bring the {vac} home",
            "!the {vac} is stuck on the rug, send it home",
        ],
    ),
    "timer_set": (
        ("timer_set",),
        40,
        8,
        [
            "start up a timer for {dur}",
            "fire up a {durk} timer",
            "get a timer going for {dur}",
            "activate a timer for {dur}",
            "put on a timer for {dur}",
            "enable a {durk} timer",
            "switch on a timer for {dur}",
            "run a timer for {dur}",
            "time {dur} for me",
            "i need {dur} on the clock",
            "the {food} needs {dur}, let me know when it's done",
            "the {food} will be ready in {dur}, remind me",
            "!ping me after {dur}",
            "!clock {dur} for the {food}",
            "!give me a heads up in {dur}",
        ],
    ),
    "washer_start": (
        ("washer_start",),
        36,
        8,
        [
            "fire up the {washer}",
            "power on the {washer}",
            "get the {washer} going",
            "activate the {washer} on {prog}",
            "start up the {washer}",
            "switch on the {washer}, {prog} please",
            "boot up the {washer} and run {prog}",
            "put the {washer} on {prog}",
            "enable the {washer}",
            "get a {prog} wash going",
            "throw on a {prog} wash",
            "the laundry basket is full, get a wash going",
            "i'm out of clean socks, run the {washer}",
            "the {washer} is loaded and ready",
            "the {washer} is full of dirty clothes, start it",
            "!kick off a {prog} wash",
            "!kick off the {washer}",
            "!i've loaded the {washer}, set it off on {prog}",
        ],
    ),
    "dryer_status": (
        ("dryer_status",),
        30,
        6,
        [
            "has the {dryer} finished",
            "how's the {dryer} getting on",
            "what's the status of the {dryer}",
            "how much longer on the {dryer}",
            "are the clothes in the {dryer} ready",
            "check whether the {dryer} is done",
            "is the {dryer} still going",
            "is my laundry dry yet",
            "i need my shirt from the {dryer}, is it ready",
            "has the {dryer} stopped",
            "how long till the {dryer} is done",
            "!any idea if the {dryer} has stopped",
            "!are the towels dry yet",
            "!give me an update on the {dryer}",
        ],
    ),
    "oven_preheat": (
        ("oven_preheat",),
        40,
        8,
        [
            "fire up the oven to {otemp}",
            "power on the oven and set it to {otemp}",
            "get the oven going at {otemp}",
            "activate the oven on {omode}",
            "switch on the oven to {otemp}",
            "start up the oven at {otemp} on {omode}",
            "turn the oven on at {otemp}",
            "warm up the oven on {omode}",
            "get the oven hot, {otemp}",
            "i'm about to bake {dish}",
            "i'm about to roast a chicken at {otemp}",
            "i'm making {dish} tonight, get the oven hot",
            "{dish} is going in soon, oven to {otemp}",
            "power up the oven on {omode} to {otemp}",
            "!crank the oven up to {otemp}",
            "!i'm about to make brownies",
            "!get the oven up to temperature on {omode}",
        ],
    ),
    "fridge_temperature": (
        ("fridge_temperature",),
        36,
        8,
        [
            "drop the {comp} to {ftemp}",
            "switch the {comp} to {ftemp}",
            "bump the {comp} down to {ftemp}",
            "can the {comp} go to {ftemp}",
            "make the {comp} a bit colder",
            "adjust the {comp} to {ftemp}",
            "the ice cream is soft, make the [freezer](mode) colder",
            "the milk keeps going off, turn the [fridge](mode) down",
            "what temp is the {comp} at",
            "the [freezer](mode) isn't cold enough",
            "how cold is the {comp} running",
            "!nudge the {comp} to {ftemp}",
            "!my drinks are warm, chill the [fridge](mode) more",
            "!tell me the {comp} temperature",
        ],
    ),
    # ---- negations (out_of_scope) ----
    "neg": (
        (OOS,),
        190,
        40,
        [
            "don't turn on the {ac}",
            "please don't switch the {ac} on in the {room}",
            "no need to start the {ac}",
            "there's no need to power up the {ac}",
            "never mind, leave the {ac} off",
            "wait, don't fire up the {ac}",
            "don't turn off the {ac}",
            "leave the {ac} on",
            "no need to shut off the {ac}",
            "please don't kill the {ac}",
            "do not power down the {ac} in the {room}",
            "never mind, keep the {ac} running",
            "don't change the {ac} temperature",
            "leave the thermostat where it is",
            "no need to set the {ac} to {temp}",
            "please don't touch the thermostat",
            "don't turn the volume up",
            "leave the volume as it is",
            "no need to lower the sound",
            "don't mute the {spk}",
            "please don't touch the volume in the {room}",
            "don't turn on the lights",
            "please don't switch the {light} on",
            "no need to turn on the {room} lights",
            "leave the lights off",
            "never mind, keep the {room} dark",
            "don't activate the lights",
            "don't turn off the lights",
            "leave the {light} on",
            "please don't kill the lights in the {room}",
            "no need to switch off the {light}",
            "keep the lights on in the {room}",
            "don't start the {vac}",
            "no need to vacuum the {room}",
            "please don't run the {vac} right now",
            "leave the {vac} on its dock",
            "don't send the {vac} into the {room}",
            "don't send the {vac} home yet",
            "leave the {vac} cleaning",
            "no need to dock the {vac}",
            "let the {vac} finish, don't send it back",
            "don't set a timer",
            "don't start a {durk} timer",
            "i don't need a timer for the {food}",
            "no need to time the {food}",
            "no need to start the {washer}",
            "don't run the {washer} yet",
            "please don't start a {prog} wash",
            "hold off on the laundry",
            "leave the {washer} off for now",
            "don't fire up the {washer}",
            "no need to check on the {dryer}",
            "don't check the {dryer}",
            "never mind about the {dryer}",
            "please don't preheat the oven",
            "no need to heat the oven",
            "don't turn the oven on",
            "i'm not baking today, leave the oven off",
            "don't preheat to {otemp}",
            "don't change the {comp} temperature",
            "leave the {comp} as it is",
            "no need to make the {comp} colder",
            "don't touch the {comp} settings",
            "never mind, don't turn the lights off",
            "actually, don't enable the {ac}",
            "!hold off on turning on the lights",
            "!i changed my mind, don't preheat the oven",
            "!forget the {vac}, leave it docked",
            "!skip the wash for today",
            "!let's not set a timer",
            "!no, the {ac} should stay off",
            "!don't bother turning the volume up",
            "!please don't switch off the {light}",
            "!i'd rather you didn't start the {washer}",
            "!don't bother checking the {dryer}",
            "!don't adjust the {comp}",
            "!leave the thermostat alone",
            "!there's no reason to send the {vac} home",
        ],
    ),
    # ---- near-domain negatives with the new verbs (out_of_scope) ----
    "near": (
        (OOS,),
        170,
        30,
        [
            "activate the {odev}",
            "enable the {odev}",
            "power on the {odev}",
            "power off the {odev}",
            "fire up the {odev}",
            "boot up the {odev}",
            "deactivate the {odev}",
            "disable the {odev}",
            "start up the {odev} in the {room}",
            "get the {odev} going",
            "shut off the {odev}",
            "switch on the {odev} in the {room}",
            "turn the {odev}'s power off",
            "power the {odev} down",
            "cut the power to the {odev}",
            "shut the {cover}",
            "shut the {room} {cover}",
            "kill the {odev}",
            "power up the tv",
            "switch the television off",
            "power the tv down",
            "boot up the tv in the {room}",
            "kill the timer",
            "disable the timer",
            "deactivate the {durk} timer",
            "power off the {washer}",
            "start up the {dryer}",
            "power down the oven",
            "shut the oven off",
            "activate the ice maker",
            "enable the {vac}'s do not disturb mode",
            "put on some music in the {room}",
            "put the kettle on",
            "!kick on the {odev}",
            "!flick on the {odev}",
            "!get the {odev} running",
            "!spin up the {odev}",
            "!knock off the {odev} in the {room}",
            "!flick off the {odev}",
        ],
    ),
}

NEGATION_PAIRS: dict[str, tuple[int, int, list[str]]] = {  # intent -> (train, validation, "<<neg|plain>>")
    "ac_on": (
        12,
        2,
        [
            "<<don't|please>> turn on the {ac} in the {room}",
            "<<no need to|go ahead and>> activate the {ac}",
            "<<never mind, leave|okay, power>> the {ac} on",
            "!<<hold off on powering|go ahead, power>> up the {ac}",
        ],
    ),
    "ac_off": (
        12,
        2,
        [
            "<<don't|please>> power off the {ac}",
            "<<never mind, leave|okay, turn>> the {ac} off",
            "<<no need to|go ahead and>> kill the {ac} in the {room}",
            "!<<let's not|let's>> shut off the {ac}",
        ],
    ),
    "lights_on": (
        12,
        2,
        [
            "<<don't|please>> turn on the {light}",
            "<<no need to|go ahead and>> power on the {room} lights",
            "!<<let's not|let's>> switch on the lights",
        ],
    ),
    "lights_off": (
        12,
        2,
        [
            "<<don't|please>> kill the lights in the {room}",
            "<<no need to|go ahead and>> switch off the {light}",
            "!<<let's not|let's>> power down the lights",
        ],
    ),
    "vacuum_start": (
        8,
        2,
        [
            "<<don't|please>> start the {vac} in the {room}",
            "<<no need to|go ahead and>> fire up the {vac}",
            "!<<let's not|let's>> get the {vac} going",
        ],
    ),
    "vacuum_dock": (
        8,
        2,
        [
            "<<don't|please>> send the {vac} home",
            "<<no need to|go ahead and>> dock the {vac}",
            "!<<let's not|let's>> call the {vac} back",
        ],
    ),
    "timer_set": (
        8,
        2,
        [
            "<<don't|please>> set a timer for {dur}",
            "<<no need to|go ahead and>> start a {durk} timer",
            "!<<let's not|let's>> run a timer for {dur}",
        ],
    ),
    "washer_start": (
        8,
        2,
        [
            "<<don't|please>> start the {washer}",
            "<<no need to|go ahead and>> run a {prog} wash",
            "!<<let's not|let's>> get the {washer} going",
        ],
    ),
    "oven_preheat": (
        8,
        2,
        [
            "<<please don't|please>> preheat the oven to {otemp}",
            "<<no need to|go ahead and>> fire up the oven",
            "!<<let's not|let's>> heat the oven to {otemp}",
        ],
    ),
    "fridge_temperature": (
        8,
        2,
        [
            "<<don't|please>> set the {comp} to {ftemp}",
            "<<no need to|go ahead and>> drop the {comp} to {ftemp}",
            "!<<let's not|let's>> change the {comp} to {ftemp}",
        ],
    ),
    "ac_set_temperature": (
        8,
        2,
        [
            "<<don't|please>> set the {ac} to {temp}",
            "<<no need to|go ahead and>> switch the {ac} to {temp}",
            "!<<let's not|let's>> put the {ac} on {temp}",
        ],
    ),
    "tv_volume": (
        8,
        2,
        [
            "<<don't|please>> turn the {spk} [up](volume:up)",
            "<<no need to|go ahead and>> [lower](volume:down) the sound in the {room}",
            "!<<let's not|let's>> [mute](volume:mute) the {spk}",
        ],
    ),
    "dryer_status": (6, 2, ["<<don't|please>> check on the {dryer}", "!<<let's not|let's>> check the {dryer}"]),
}
del GROUPS["neg_pairs"]
for _intent, (_tr, _va, _templates) in NEGATION_PAIRS.items():
    GROUPS[f"neg_pairs_{_intent}"] = ((OOS, _intent), _tr, _va, _templates)

# --- train-only extra groups (written after validation, so validation is unchanged by them) ---------
# Fillers only these groups draw (train only): more names for our devices and more rooms.
EXTRA_FILLS: dict[str, list] = {
    "ac": [
        "split unit",
        "cooling unit",
        "wall unit",
        "portable ac",
        "window unit",
        "climate control",
        "cooling",
        "a/c",
        "air conditioner unit",
        "window ac",
    ],
    "vac": [
        "cleaning robot",
        "bot",
        "little vacuum",
        "stick vacuum",
        "vac",
        "robot hoover",
        "floor robot",
        "vacuum bot",
    ],
    "washer": ["laundry", "washing", "washer machine"],
    "dryer": ["drying machine", "clothes drier", "drier"],
    "spk": [
        "speakers",
        "amp",
        "stereo system",
        "bluetooth speaker",
        "home theater",
        "jukebox",
        "tv",
        "telly",
        "television",
    ],
    "light": [
        "chandelier",
        "downlights",
        "strip lights",
        "pendant",
        "overhead light",
        "wall lights",
        "under cabinet lights",
        "lava lamp",
        "standing lamp",
        "vanity lights",
        "globe light",
        "lantern",
    ],
    "room": [
        "utility room",
        "back bedroom",
        "family room",
        "loft",
        "conservatory",
        "cellar",
        "workshop",
        "walk in closet",
        "landing",
        "front room",
    ],
}
EXTRA_FILLS["when"] = [
    "tonight",
    "today",
    "for now",
    "this morning",
    "until later",
    "this evening",
    "right now",
    "at all",
]
EXTRA_GROUPS: dict[str, tuple[tuple[str, ...], int, list[str]]] = {
    # ---- negation / cancellation frames (out_of_scope), every intent ----
    "x_neg": (
        (OOS,),
        300,
        [
            # ac on / off
            "let's not switch on the {ac} {when}",
            "hold off on starting the {ac}",
            "i'd rather you didn't power up the {ac}",
            "please refrain from turning on the {ac}",
            "you don't have to put the {ac} on",
            "don't bother starting the {ac}",
            "forget about the {ac}, it's fine",
            "stop, don't switch on the {ac}",
            "not now, leave the {ac} alone",
            "nope, leave the {ac} as it is",
            "the {ac} should stay on",
            "the {room} {ac} should stay off {when}",
            "keep the {ac} off",
            "keep the {ac} on in the {room}",
            "leave the {ac} alone",
            "skip the {ac} {when}",
            "cancel that, i don't want the {ac} on",
            "never switch the {ac} off while i'm home",
            "avoid turning the {ac} on {when}",
            "open the windows without turning on the {ac}",
            "there's no need to cut the {ac}",
            "you don't have to shut off the {ac} in the {room}",
            "hold off on killing the {ac}",
            "let's not touch the {ac}",
            "wait, don't turn the {ac} off",
            "i'd rather the {ac} stayed off",
            "no {ac} {when}, thanks",
            "we can do without the {ac} {when}",
            # temperature
            "please refrain from changing the thermostat",
            "hold off on setting the {ac} to {temp}",
            "you don't have to adjust the temperature",
            "keep the {ac} where it is",
            "don't bother with {temp}",
            "cancel that, keep the temperature as it is",
            "let's not change the {room} temperature",
            # lights
            "let's not switch the {light} on",
            "hold off on powering the {room} lights",
            "i'd rather you didn't light the {room}",
            "please refrain from switching on the {light}",
            "you don't have to turn the lights on",
            "don't bother with the lights {when}",
            "forget about the {light}",
            "stop, don't turn the lights on",
            "not now, leave the lights as they are",
            "nope, leave the {light} as it is",
            "the {light} should stay off",
            "the lights in the {room} should stay on",
            "keep the {light} off {when}",
            "keep the {room} lights on",
            "leave the {light} alone",
            "skip the lights {when}",
            "cancel that, i don't want the lights off",
            "never turn off the {light} in the {room}",
            "avoid switching on the {light}",
            "walk me to the {room} without turning on the lights",
            "there's no need to light up the {room}",
            "wait, don't kill the {light}",
            "let's not turn out the lights yet",
            "hold off on switching off the {light}",
            "i'd rather you didn't shut off the {room} lights",
            "we're fine in the dark, no lights {when}",
            # vacuum
            "let's not run the {vac} {when}",
            "hold off on vacuuming the {room}",
            "i'd rather you didn't start the {vac}",
            "please refrain from sending the {vac} out",
            "you don't have to vacuum {when}",
            "don't bother with the {vac}",
            "forget about vacuuming",
            "stop, don't start the {vac}",
            "not now, {vac}",
            "the {vac} should stay docked",
            "keep the {vac} on its charger",
            "leave the {vac} alone",
            "skip the vacuuming {when}",
            "cancel that, i don't want the {vac} running",
            "never run the {vac} while the baby sleeps",
            "avoid the {room} with the {vac}",
            "keep the {vac} out of the {room}",
            "the {vac} can keep cleaning, don't dock it",
            "there's no need to call the {vac} back",
            "hold off on docking the {vac}",
            # timer
            "let's not bother with a timer",
            "hold off on the {durk} timer",
            "i'd rather you didn't set a timer",
            "you don't have to time the {food}",
            "forget about the timer",
            "stop, don't start a timer",
            "cancel that, i don't want a timer",
            "no timer {when}, thanks",
            "skip the timer for the {food}",
            "never mind the {durk} timer",
            "there's no need for a {durk} timer",
            # washer
            "let's not do laundry {when}",
            "hold off on running the {washer}",
            "i'd rather you didn't put a {prog} wash on",
            "please refrain from starting the {washer}",
            "you don't have to run the {washer}",
            "don't bother with the laundry",
            "forget about the {washer}",
            "stop, don't start the {washer}",
            "not now, the {washer} can wait",
            "the {washer} should stay off {when}",
            "keep the {washer} off",
            "leave the {washer} alone",
            "skip the laundry {when}",
            "skip the {prog} cycle",
            "cancel that, i don't want a wash",
            "never run the {washer} at night",
            "avoid running the {washer} {when}",
            # dryer
            "you don't have to check the {dryer}",
            "forget about the {dryer}",
            "let's not bother with the {dryer}",
            "no need to ask about the {dryer}",
            "leave the {dryer} alone",
            # oven
            "let's not heat the oven {when}",
            "hold off on preheating",
            "i'd rather you didn't fire up the oven",
            "please refrain from preheating the oven",
            "you don't have to warm the oven",
            "don't bother preheating",
            "forget about the oven",
            "stop, don't preheat",
            "the oven should stay off {when}",
            "keep the oven off",
            "leave the oven alone",
            "skip preheating {when}",
            "cancel that, i don't want the oven on",
            "never preheat the oven when i'm out",
            "we'll eat out, no oven {when}",
            "the oven can stay cold",
            # fridge
            "let's not change the {comp}",
            "hold off on adjusting the {comp}",
            "you don't have to touch the {comp}",
            "keep the {comp} where it is",
            "leave the {comp} alone",
            "forget about the {comp} temperature",
            "cancel that, the {comp} is fine",
            # volume
            "let's not turn the {spk} up",
            "hold off on raising the volume",
            "i'd rather you didn't mute the {spk}",
            "please refrain from touching the volume",
            "you don't have to lower the {spk}",
            "don't bother with the sound",
            "forget about the volume",
            "stop, don't turn it down",
            "keep the volume where it is",
            "leave the {spk} volume alone",
            "the sound should stay as it is",
            "cancel that, i don't want it louder",
            "never mute the {spk} during the game",
        ],
    ),
    # ---- indirect discomfort statements ----
    "x_hot": (
        ("ac_on",),
        70,
        [
            "i'm sweating buckets in the {room}",
            "it's boiling in the {room}",
            "the {room} is sweltering",
            "i'm roasting in here",
            "the {room} is like an oven",
            "it feels like a sauna in the {room}",
            "it's so stuffy in the {room}",
            "it's muggy and gross in here",
            "i can't breathe in this heat",
            "i'm melting",
            "it's baking hot in the {room}",
            "the {room} is an absolute furnace",
            "it's way too warm in the {room}",
            "i'm overheating",
            "the heat in the {room} is unbearable",
            "it's roasting, can we cool the {room} down",
            "i'm drenched in sweat",
            "it's so hot i can't think",
            "we're cooking in the {room}",
            "it's too hot to sleep in the {room}",
            "my shirt is soaked, it's so hot",
            "cool the {room} down, it's sweltering",
            "the {room} is stifling, get some cold air going",
            "i need some cool air, it's boiling",
            "it's like a greenhouse in the {room}",
        ],
    ),
    "x_cold": (
        ("ac_off",),
        60,
        [
            "i'm freezing with the {ac} on",
            "i'm shivering in the {room}",
            "i've got goosebumps from the {ac}",
            "the {room} is like a fridge",
            "it's an icebox in the {room}",
            "it's too chilly with the {ac} running",
            "the {ac} is making me cold",
            "brr, the {ac} is way too strong",
            "my feet are frozen, enough {ac}",
            "the {room} is freezing cold",
            "i'm cold, the {ac} has been on too long",
            "it's chilly in the {room}",
            "the {ac} is blowing ice at me",
            "i need a sweater with this {ac} on",
            "it's like the arctic in the {room}",
            "i'm frozen, the {room} {ac} is too much",
            "the kids are cold in the {room}, the {ac} is too much",
            "we're all shivering, it's the {ac}",
        ],
    ),
    "x_dark": (
        ("lights_on",),
        60,
        [
            "it's too dim in the {room}",
            "the {room} is pitch black",
            "i can't see a thing in the {room}",
            "i can't read in this light",
            "it's gloomy in here",
            "it's so dark i can't find my keys",
            "i can barely see in the {room}",
            "the {room} is too dark to work in",
            "it's dark as night in the {room}",
            "i can't see where i'm going",
            "it's murky in the {room}",
            "i need more light in the {room}",
            "it's too dark to cook in the {room}",
            "i stubbed my toe in the dark",
            "i can't see my book",
            "it's shadowy and dim in here",
            "the {room} is way too dark",
            "i'm squinting, it's so dark",
            "the {light} would help, it's dark",
            "it's too dark to see the stairs",
        ],
    ),
    "x_mess": (
        ("vacuum_start",),
        60,
        [
            "there are crumbs all over the {room}",
            "there's pet hair everywhere in the {room}",
            "the {room} floor is dirty",
            "there's sand everywhere in the {room}",
            "the cat shed all over the {room}",
            "the kids tracked mud into the {room}",
            "the rug in the {room} is full of dust",
            "the floor is filthy",
            "someone dropped chips all over the {room}",
            "the {room} carpet is covered in fluff",
            "there's glitter everywhere in the {room}",
            "the dog hair in the {room} is out of control",
            "the floors need cleaning",
            "the {room} is dusty",
            "there's dirt all over the {room} floor",
            "the {room} needs a clean",
            "there's confetti all over the {room}",
            "biscuit crumbs everywhere, ugh",
        ],
    ),
    "x_hear": (
        ("tv_volume",),
        40,
        [
            "i can't hear the {spk}",
            "i can't hear the tv",
            "what did they say, i can't hear",
            "the tv is too quiet",
            "i can barely hear the telly",
            "the {spk} in the {room} is too quiet",
            "nobody in the {room} can hear the tv",
            "i can't make out what they're saying",
            "the sound is too low",
            "the dialogue is too quiet",
            "i can't hear over the {washer}",
            "the tv is way too loud",
            "the telly is deafening",
            "the {spk} is too loud in the {room}",
        ],
    ),
    # ---- more device names for our devices ----
    "x_syn_ac": (
        AC_ON_OFF,
        60,
        [
            "turn <<on|off>> the {ac}",
            "switch the {ac} <<on|off>> in the {room}",
            "<<start|stop>> the {ac}",
            "<<put the {ac} on|turn the {ac} off>>",
            "can you <<turn on|turn off>> the {room} {ac}",
            "<<run|shut down>> the {ac} in the {room}",
        ],
    ),
    "x_syn_lights": (
        LIGHTS,
        70,
        [
            "turn <<on|off>> the {light}",
            "switch the {room} {light} <<on|off>>",
            "<<turn on|turn off>> the {light} in the {room}",
            "<<light up|shut off>> the {light}",
            "put the {light} <<on|off>>",
            "can you turn the {light} <<on|off>>",
        ],
    ),
    "x_syn_vac": (
        VAC,
        50,
        [
            "<<start|dock>> the {vac}",
            "send the {vac} <<to clean|back to its base>>",
            "<<run|stop and dock>> the {vac}",
            "{vac}, <<go clean|go charge>>",
            "<<turn on|send home>> the {vac}",
        ],
    ),
    "x_syn_washer": (
        ("washer_start",),
        24,
        [
            "start the {washer}",
            "run the {washer} on {prog}",
            "put the {washer} on",
            "begin a {prog} cycle",
            "start a load of laundry",
            "get the laundry going on {prog}",
            "start the wash on {prog}",
        ],
    ),
    "x_syn_dryer": (
        ("dryer_status",),
        18,
        [
            "is the {dryer} done",
            "is the {dryer} finished",
            "how long on the {dryer}",
            "is the {dryer} still running",
            "are my clothes dry in the {dryer}",
        ],
    ),
    # ---- tv power (out_of_scope) vs tv volume ----
    "x_tv_pairs": (
        (OOS, "tv_volume"),
        60,
        [
            "<<turn on|turn [up](volume:up)>> the tv",
            "<<switch the telly off|turn the telly [down](volume:down)>>",
            "<<turn off the television|turn [down](volume:down) the television>>",
            "<<switch on|turn [up](volume:up)>> the tv in the {room}",
            "<<power on|pump [up](volume:up)>> the telly",
            "<<turn the tv on|turn the tv [up](volume:up)>>",
            "<<shut off|turn [down](volume:down)>> the tv in the {room}",
            "<<turn the telly on|turn the telly [up](volume:up)>>",
            "<<switch off|bring [down](volume:down)>> the television",
            "<<turn the tv off|turn the tv [down a bit](volume:down)>>",
            "<<put the telly on|put the telly [louder](volume:up)>>",
            "<<switch the tv on|make the tv [louder](volume:up)>>",
            "<<turn off|[quieten](volume:down)>> the telly",
        ],
    ),
    # ---- near-domain confusions (out_of_scope) ----
    "x_near": (
        (OOS,),
        80,
        [
            "run the sprinklers for {dur}",
            "water the lawn for {dur}",
            "add {dur} to the timer",
            "add {dur} to the egg timer",
            "put another {dur} on the timer",
            "dim the lights to a third",
            "bring the lights down to half",
            "set the lights to {level} brightness",
            "lower the lamp brightness",
            "make the lights dimmer in the {room}",
            "brighten the {room} lights",
            "pause the music",
            "hold the music",
            "stop the song",
            "put some music on",
            "play some jazz in the {room}",
            "next track",
            "arm the alarm",
            "arm the house",
            "set the security system to away",
            "wake me at 7",
            "set an alarm for 6 am",
            "wake me up at half past six",
            "turn on the ice maker",
            "make some ice",
            "switch on the smart plug",
            "turn on the socket in the {room}",
            "power up the smart plug",
            "turn the tv on",
            "change the channel",
            "switch to netflix",
            "lock the front door",
            "open the garage",
            "close the {cover}",
            "turn on the heating",
            "turn up the heating",
            "start the dishwasher",
            "put the kettle on for tea",
            "turn the fan up",
            "set the heater to {temp}",
            "snooze the alarm",
            "cancel the timer",
            "what's the weather",
            "turn on the electric blanket",
        ],
    ),
}

# rows drawn per group = its count x SCALE[split][is it "neg"/"near"]: ~1,200 train rows (~60 % in scope),
# ~250 validation rows
SCALE = {"train": {False: 0.68, True: 0.9}, "validation": {False: 0.8, True: 0.9}}

PREFIXES = ["please ", "can you ", "could you ", "hey, ", "okay, "]
SUFFIXES = [" please", " now", " for me", " thanks"]
IMPERATIVE = {
    "turn",
    "switch",
    "power",
    "activate",
    "deactivate",
    "enable",
    "disable",
    "fire",
    "boot",
    "start",
    "shut",
    "kill",
    "cut",
    "get",
    "put",
    "set",
    "drop",
    "bump",
    "adjust",
    "dial",
    "make",
    "send",
    "park",
    "call",
    "return",
    "tell",
    "have",
    "raise",
    "lower",
    "increase",
    "decrease",
    "mute",
    "unmute",
    "run",
    "throw",
    "warm",
    "dock",
    "recall",
    "time",
    "check",
}
ALT = re.compile(r"<<([^<>|]*)\|([^<>|]*)>>")


def _variants(template: str) -> list[str]:
    """`<<a|b>>` -> [with a, with b] (all alternations switch together); no alternation -> [template]."""
    if "<<" not in template:
        return [template]
    return [ALT.sub(lambda m: m.group(1), template), ALT.sub(lambda m: m.group(2), template)]


def _names(template: str) -> list[str]:
    """The fill names a template draws, in order."""
    return re.findall(r"\{(\w+)\}", template)


def _fill(template: str, draws: list[tuple[str, object]]) -> tuple[str, list[dict]]:
    """Render a template with the pre-drawn fills (both sides of a pair get the same), noting where
    each slot's words land."""
    pending = list(draws)
    return render_template(template, lambda _name: pending.pop(0), PLACEHOLDER_SLOT)


def _draw(name: str, rng: random.Random, split: str) -> tuple[str, object]:
    """split "validation" adds HELD_OUT, "extra" (train's EXTRA_GROUPS) adds EXTRA_FILLS."""
    pool = FILLS.get(name, []) + (HELD_OUT.get(name, []) if split == "validation" else [])
    pool += EXTRA_FILLS.get(name, []) if split == "extra" else []
    choice = rng.choice(pool)
    return (choice, None) if isinstance(choice, str) else choice


def _voice(text: str, spans: list[dict], voice: tuple[str, str, bool]) -> tuple[str, list[dict]]:
    """A polite prefix (imperatives only) or suffix, and now and then a capital first letter."""
    prefix, suffix, cap = voice
    if prefix and text.split(" ")[0].strip(",") in IMPERATIVE:
        text = prefix + text
        spans = [s | {"start": s["start"] + len(prefix), "end": s["end"] + len(prefix)} for s in spans]
    elif suffix and text.split(" ")[0].strip(",") in IMPERATIVE and not text.endswith(("please", "now", "me")):
        text += suffix
    if cap:
        text = text[:1].upper() + text[1:]
    for span in spans:
        if span["slot"] not in NUMERIC_SLOTS:
            span["value"] = slot_text(text[span["start"] : span["end"]])
    return text, spans


def _voice_draw(rng: random.Random) -> tuple[str, str, bool]:
    roll = rng.random()
    prefix = rng.choice(PREFIXES) if roll < 0.15 else ""
    suffix = rng.choice(SUFFIXES) if 0.15 <= roll < 0.23 else ""
    return prefix, suffix, rng.random() < 0.08


# The example sentences of the brief for this file (which may come from the unseen held-out set): never
# written, so no row of ours can be one of them verbatim.
BRIEF_EXAMPLES = [
    "power on the ac",
    "turn the aircon's power off",
    "power the lights down",
    "it's too dark in here",
    "i'm about to bake a pizza",
    "the floor is covered in crumbs",
    "i can't hear a thing",
    "don't turn on the lights",
    "no need to start the washer",
    "please don't preheat the oven",
    "never mind, leave the ac off",
    "activate the alarm",
    "enable the fan",
    "power on the dishwasher",
    "shut the blinds",
    "kill the music",
]


def existing_keys() -> set[str]:
    """Every sentence of the shipped English splits and the hand-written originals, normalised."""
    keys: set[str] = set()
    for path in sorted(INTENTS.glob("*.jsonl")) + sorted((INTENTS / "original").glob("*.jsonl")):
        keys |= {normalise(r["text"]) for r in read_jsonl(path) if "text" in r}
    return keys


def _write_group(
    rows: list[dict],
    taken: set[str],
    labels: tuple[str, ...],
    want: int,
    mine: list[str],
    rng: random.Random,
    split: str,
    group: str,
) -> None:
    """Append up to `want` rows drawn from the templates `mine`, skipping any sentence already taken."""
    added, tries = 0, 0
    while added < want and tries < want * 40 and mine:
        template = mine[tries] if tries < len(mine) else rng.choice(mine)
        tries += 1
        variants = _variants(template)
        assert len(variants) == len(labels), (group, template)
        assert all(_names(v) == _names(variants[0]) for v in variants), template
        draws = [_draw(name, rng, split) for name in _names(variants[0])]
        voice = _voice_draw(rng)
        for variant, label in zip(variants, labels):
            text, spans = _voice(*_fill(variant, draws), voice)
            key = normalise(text)
            if key in taken:
                continue
            taken.add(key)
            spans = [s for s in spans if s["slot"] in INTENT_SLOTS[label]] if label != OOS else []
            rows.append({"text": text, "label": label, "lang": "en", "slots": spans, "source": "phrasing"})
            added += 1


def build() -> dict[str, list[dict]]:
    """GROUPS for train, then GROUPS for validation (as ever, so validation stays byte-identical), then
    EXTRA_GROUPS for train only, which skip every sentence validation already holds."""
    taken = existing_keys() | {normalise(t) for t in BRIEF_EXAMPLES}
    splits: dict[str, list[dict]] = {"train": [], "validation": []}
    for split in ("train", "validation"):
        for group, (labels, n_train, n_val, templates) in GROUPS.items():
            rng = random.Random(f"{SEED}-{split}-{group}")
            mine = [t.removeprefix("!") for t in templates if t.startswith("!") == (split == "validation")]
            want = round((n_train if split == "train" else n_val) * SCALE[split][group in ("neg", "near")])
            _write_group(splits[split], taken, labels, want, mine, rng, split, group)
        if split == "validation":
            random.Random(f"{SEED}-shuffle-{split}").shuffle(splits[split])
    for group, (labels, n_train, templates) in EXTRA_GROUPS.items():
        assert not any(t.startswith("!") for t in templates), group
        _write_group(
            splits["train"], taken, labels, n_train, templates, random.Random(f"{SEED}-extra-{group}"), "extra", group
        )
    random.Random(f"{SEED}-shuffle-train").shuffle(splits["train"])
    return splits


def problems_of(splits: dict[str, list[dict]]) -> list[str]:
    problems = check(splits)  # duplicates across/within splits, bounds, whitespace, INTENT_SLOTS, value shapes
    existing = existing_keys()
    for name, rows in splits.items():
        for row in rows:
            if row.get("label") not in INTENT_SLOTS:
                problems.append(f"{row['text']!r} in {name}: unknown label {row.get('label')!r}")
            if normalise(row["text"]) in existing:
                problems.append(f"{row['text']!r} in {name} equals a sentence of intents/*.jsonl")
            if row.get("lang") != "en" or row.get("source") != "phrasing":
                problems.append(f"{row['text']!r} in {name}: lang/source missing")
    return problems


def counts(splits: dict[str, list[dict]]) -> str:
    lines = []
    for name, rows in splits.items():
        by: dict[str, int] = {}
        for row in rows:
            by[row["label"]] = by.get(row["label"], 0) + 1
        lines.append(f"{name}: {len(rows)} rows, " + ", ".join(f"{k} {v}" for k, v in sorted(by.items())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = generator_arguments(__doc__, argv)
    splits = build()
    problems = problems_of(splits)
    if args.check:  # the files as written: the same checks, and equal to what the generator writes now
        on_disk = {name: read_jsonl(path) if path.exists() else [] for name, path in FILES.items()}
        problems += problems_of(on_disk)
        problems += [
            f"{path.name} is stale; run python export/data/make_phrasing_en.py"
            for name, path in FILES.items()
            if on_disk[name] != splits[name]
        ]
        splits = on_disk
    elif not problems:
        OUT.mkdir(parents=True, exist_ok=True)
        for name, path in FILES.items():
            path.write_text(render(splits[name]), encoding="utf-8")
    total, differ = disagreements(splits)
    agreement = 1 - len(differ) / max(total, 1)
    if agreement < MIN_AGREEMENT:
        problems.append(f"the value parsers read {agreement:.1%} of the gold values back, under {MIN_AGREEMENT:.0%}")
    for line in differ if args.disagreements else []:
        print(line)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(counts(splits))
    print(
        f"values: the parser reads {total - len(differ)}/{total} ({agreement:.1%}) temperature/duration/volume "
        f"gold values back; problems {len(problems)}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
