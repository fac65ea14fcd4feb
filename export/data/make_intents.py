"""Write export/data/intents/{train,validation,test}.jsonl, deterministically.

The hand-written sentences of the first dataset (intents/original/): its test split stays
the head of the test split, a hashed quarter of its training split becomes validation. New
sentences come from the templates and lists below (all written for this project) and are
split 65/20/15 by a hash of their normalised text, so the same sentence always lands in the
same split and no text is in two splits. Run it again after editing; `--check` only checks.

    python export/data/make_intents.py          # rewrite the three files
    python export/data/make_intents.py --check  # exit 1 if the files are stale or overlap
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "intents"
ORIGINAL = HERE / "original"
SPLITS = ("train", "validation", "test")
SEED = 12
OOS = "out_of_scope"

SLOTS: dict[str, list[str]] = {
    "room": ["kitchen", "living room", "bedroom", "office", "bathroom", "hallway", "kids room", "guest room",
             "dining room", "study", "lounge", "basement", "upstairs", "downstairs", "master bedroom", "den"],
    "n": ["2", "5", "10", "15", "20", "3", "one", "two", "five", "ten", "thirty", "45", "7", "twenty"],
    "pct": ["10", "20", "25", "30", "50", "60", "75", "80", "40", "fifty", "twenty"],
    "temp": ["18", "19", "20", "21", "22", "23", "24", "25", "26", "twenty", "twenty one", "twenty two", "68", "72"],
    "oven": ["180", "200", "350", "375", "400", "425", "220", "160", "190"],
    "color": ["red", "blue", "green", "warm white", "purple", "orange", "pink", "cool white", "yellow"],
    "speed": ["low", "medium", "high", "full", "the lowest setting", "speed two", "max"],
    "cover": ["blinds", "curtains", "shades", "shutters", "roller blinds", "drapes"],
    "door": ["front door", "back door", "side door", "garage door", "patio door", "gate"],
    "lockable": ["front door", "back door", "side door", "garage", "patio door", "shed", "porch door"],
    "valve": ["water valve", "main water valve", "gas valve", "sprinkler valve", "garden tap", "water main",
              "irrigation valve"],
    "scene": ["movie night", "good night", "good morning", "relax", "dinner", "party", "reading", "romantic",
              "away", "bedtime", "cozy"],
    "food": ["pasta", "egg", "pizza", "rice", "tea", "bread", "cookie", "laundry", "roast", "nap"],
    "item": ["milk", "eggs", "bread", "bananas", "coffee", "dish soap", "toilet paper", "apples", "butter",
             "cat food", "batteries", "olive oil"],
    "task": ["call the plumber", "pay the electric bill", "water the plants", "clean the gutters",
             "book the dentist", "renew the car insurance", "fix the fence", "take out the recycling"],
    "artist": ["the beatles", "some jazz", "taylor swift", "my chill playlist", "classical music", "the radio",
               "lo-fi beats", "queen", "the news podcast"],
    "channel": ["bbc one", "channel 4", "netflix", "the news", "espn", "channel five", "youtube", "hbo"],
    "plug": ["christmas tree", "coffee machine", "desk fan plug", "smart plug", "kettle plug", "outlet by the sofa",
             "printer socket", "fountain", "aquarium pump", "electric blanket"],
}

# --- near-domain commands the device must not act on (written for this project) -------------------
OUT_OF_SCOPE: dict[str, tuple[int, list[str]]] = {  # family: (how many to draw, templates)
    "fans": (45, [
        "turn on the {room} fan", "switch off the ceiling fan", "fan on", "fan off please", "set the fan to {speed}",
        "turn the fan up", "make the fan go faster", "slow the fan down", "can you start the fan in the {room}",
        "put the {room} fan on {speed}", "turn the ceiling fan off in the {room}", "fan speed to {pct} percent",
        "switch on the fan", "i'm hot, turn on the fan", "stop the fan", "set the {room} fan to oscillate",
        "could you turn the fan down a notch", "turn on the bathroom extractor fan",
    ]),
    "covers": (60, [
        "open the {room} {cover}", "close the {cover}", "close the {cover} in the {room}", "lower the {cover}",
        "raise the {room} {cover}", "set the {cover} to {pct} percent", "open the {cover} halfway",
        "shut the {room} window", "open the {room} window", "open the garage door", "close the garage door",
        "is the garage door open", "open the skylight", "close all the {cover}", "let some light in, open the {cover}",
        "pull the {cover} down", "roll up the {cover}", "are the {cover} closed", "crack the window open a bit",
        "open the awning", "close the gate",
    ]),
    "locks": (40, [
        "lock the {lockable}", "unlock the {lockable}", "is the {lockable} locked", "lock all the doors",
        "did i lock the {lockable}", "please lock up the house", "unlock the door for the dog walker",
        "can you lock the {lockable}", "check the locks", "unlock the {lockable} please", "is everything locked",
        "secure the {lockable}",
    ]),
    "valves": (30, [
        "close the {valve}", "open the {valve}", "turn off the {valve}", "shut off the water", "turn the water back on",
        "is the {valve} open", "open the {valve} for ten minutes", "shut the {valve} please",
        "turn on the sprinklers", "water the garden", "stop the irrigation",
    ]),
    "mower": (40, [
        "start the lawn mower", "mow the lawn", "send the mower back to its dock", "dock the lawn mower",
        "lawn mower go home", "have the robot mower cut the grass", "stop mowing and go back to the base",
        "mower back to the charger", "start mowing the back yard", "pause the lawn mower", "cut the grass please",
        "robot mower, start", "where is the lawn mower", "tell the mower to return home",
        "send the lawnmower to its station", "mow the front lawn",
    ]),
    "scenes": (40, [
        "activate {scene}", "turn on the {scene} scene", "run the {scene} script", "set the scene to {scene}",
        "start the {scene} routine", "activate the {scene} scene", "{scene} mode please", "run the {scene} automation",
        "switch to {scene} mode", "trigger the {scene} scene in the {room}", "turn off the {scene} automation",
    ]),
    "timer_other": (90, [
        "cancel the timer", "cancel my {food} timer", "stop the {n} minute timer", "delete the timer",
        "cancel all timers", "cancel all my timers", "turn off the timer", "never mind the timer", "kill the timer",
        "pause the timer", "pause my {food} timer", "hold the timer", "resume the timer", "unpause the timer",
        "continue the {food} timer", "add {n} minutes to the timer", "give the {food} timer {n} more minutes",
        "take {n} minutes off the timer", "extend the timer by {n} minutes", "add {n} seconds to my timer",
        "remove {n} minutes from the {food} timer", "how much time is left on the timer",
        "how long until the timer goes off", "timer status", "what's left on my {food} timer",
        "is my timer still running", "how much time is left on my {food} timer", "how long left on the timer",
        "when does my timer end", "stop the timer", "what timers do i have", "cancel the {n} minute timer",
        "shorten the timer by {n} minutes",
    ]),
    "light_level": (70, [
        "dim the {room} lights", "set the {room} lights to {pct} percent", "brighten the lights",
        "make the lamp brighter", "turn the lights {color}", "set the {room} light to {color}",
        "lights to {pct}%", "make the lights warmer", "change the lamp colour to {color}", "dim the lights a bit",
        "set the lights to half brightness", "make the {room} lights dimmer", "turn the brightness up in the {room}",
        "change the lights to {color}", "{room} lights at {pct} percent", "lower the brightness of the lamp",
        "can you make the {room} light {color}", "dim the lamp to {pct}", "turn up the lights in the {room}",
        "make the light cooler", "brighten the {room} a bit",
    ]),
    "music": (60, [
        "pause the music", "next song", "skip to the next track", "play some music", "resume the music",
        "go back to the previous song", "stop the music", "play {artist}", "shuffle my playlist", "what song is this",
        "pause", "unpause", "resume playback in the {room}", "play {artist} in the {room}", "previous track",
        "skip this one", "pause the podcast", "play the next episode", "repeat this song", "put on {artist}",
        "stop playing music in the {room}", "play music on the {room} speaker", "pause the tv", "resume the movie",
    ]),
    "lists": (45, [
        "add {item} to the shopping list", "put {item} on my shopping list", "what's on my shopping list",
        "add {task} to my to-do list", "cross {item} off the shopping list", "clear my to-do list",
        "what's on my to-do list", "remove {item} from the shopping list", "we're out of {item}, add it to the list",
        "add {item} and {item} to my list", "read me my shopping list", "mark {task} as done",
        "put {task} on the todo list", "is {item} on the shopping list",
    ]),
    "greetings": (35, [
        "hello", "hi there", "hey", "good evening", "good night", "thanks a lot", "never mind", "cancel that",
        "that's all", "you're great", "what can you do", "are you there", "hey assistant", "howdy", "morning",
        "nice job", "sorry, wrong command", "forget it", "okay thanks", "nothing", "bye", "see you later",
        "who made you", "help", "stop listening",
    ]),
    "heating": (35, [
        "turn on the heater", "switch the heating on", "turn the heating off", "boost the heating for an hour",
        "turn on the {room} radiator", "is the heating on", "switch off the space heater",
        "put the underfloor heating on", "turn on the electric fireplace", "heat the {room}",
        "turn on the towel warmer", "switch the boiler on", "turn on the hot water",
    ]),
    "state": (60, [
        "what's the temperature in the {room}", "how warm is it in the {room}", "what is the thermostat set to",
        "what's the temperature in here", "is the {room} light on", "are any lights on", "which lights are on",
        "is the ac running", "is the air conditioner on in the {room}", "is the tv on", "what's the humidity inside",
        "is the vacuum still cleaning", "where is the robot vacuum", "what is the ac set to",
        "how cold is it in the {room}", "is anyone in the {room}", "is the back door open", "what's the air quality",
        "how much energy did we use today", "is the oven on", "what's the battery on the robot vacuum",
        "did the vacuum finish", "are the lights off upstairs", "what mode is the ac in",
    ]),
    "appliances": (80, [
        "start the dishwasher", "run the dishwasher on eco", "is the dishwasher done",
        "how long left on the dishwasher", "start the dryer", "run the tumble dryer", "dry the clothes on low heat",
        "is the washing machine done", "how long left on the washer", "is the washer finished",
        "stop the washing machine", "pause the washer", "turn off the oven", "switch the oven off",
        "is the oven hot yet", "turn on the oven light", "boil the kettle", "start the coffee maker",
        "make me a coffee", "microwave this for two minutes", "turn on the microwave",
        "turn on the ice maker", "is the fridge door open", "defrost the freezer", "turn on the air purifier",
        "set the humidifier to {pct} percent", "turn on the dehumidifier", "start the bread maker",
        "unload the dishwasher", "start the robot window cleaner", "empty the vacuum bin", "pause the vacuum",
        "turn the dryer off", "open the dryer door", "turn off the stove", "is the stove off",
        "switch on the slow cooker", "turn the toaster on",
    ]),
    "ac_other": (30, [
        "set the ac to fan mode", "switch the ac to heat mode", "set the ac fan speed to {speed}",
        "put the aircon on dry mode", "turn on the ac swing", "set the air conditioner to eco mode",
        "change the ac mode to auto", "clean the ac filter", "set the ac timer for two hours",
        "turn off the ac in {n} hours", "when was the ac filter last changed", "set the aircon louvers to swing",
    ]),
    "tv_other": (40, [
        "turn on the tv", "switch the tv off", "change the channel to {channel}", "put on {channel}",
        "next channel", "go to channel {n}", "turn off the television", "open {channel} on the tv",
        "switch the tv input to hdmi 2", "what's on tv tonight", "turn on subtitles", "record the game tonight",
        "tv on", "television off", "change the channel",
    ]),
    "plugs": (30, [
        "turn on the {plug}", "switch off the {plug}", "turn the {plug} off", "power up the {plug}",
        "is the {plug} on", "switch the {plug} on in the {room}",
    ]),
    "security": (40, [
        "arm the alarm", "disarm the security system", "set an alarm for 7 am", "wake me up at six thirty",
        "set the alarm to away mode", "show me the front door camera", "who's at the door",
        "turn on the outdoor cameras", "cancel my alarm for tomorrow", "set an alarm for {n} o'clock",
        "is the alarm armed", "snooze the alarm", "ring the doorbell", "turn off the alarm clock",
    ]),
    "general": (50, [
        "what time is it", "what's the date today", "is it going to rain later", "what's the weather tomorrow",
        "tell everyone dinner is ready", "announce that we're leaving in five minutes", "what's the temperature outside",
        "how hot will it be today", "when is sunset", "start the car", "is the car charging",
        "how long does it take to cook rice", "what's the time in london", "what day is it", "set a reminder for friday",
        "remind me to {task} tomorrow", "call the kids down for dinner", "order more {item}",
        "where are my keys", "find my phone", "how many minutes in a day", "what's {n} plus {n}",
        "convert 180 celsius to fahrenheit", "what temperature should i cook chicken at",
        "how long should i wash jeans for", "which program is best for wool",
    ]),
}

# --- in-scope phrasings, many of them indirect (written for this project) ------------------------
IN_SCOPE: dict[str, tuple[int, list[str]]] = {
    "ac_on": (22, [
        "it's boiling in here", "i'm sweating, cool the room down", "it's way too hot in the {room}",
        "cool it down in here", "the {room} is stuffy, get the air conditioning going", "we need some cool air in here",
        "it's roasting, put the ac on", "could you get the {room} cooled down", "switch the cooling on",
        "i'm melting, turn on the air con", "start cooling the {room}", "air conditioning in the {room} on please",
    ]),
    "ac_off": (22, [
        "it's freezing in here", "i'm shivering, enough air con", "it's too chilly with the ac on",
        "we don't need the cooling anymore", "it's cold enough now, stop the ac", "kill the air conditioning",
        "the {room} is freezing, turn off the cooling", "shut down the aircon in the {room}",
        "no more air con in the {room}", "the ac can go off now", "turn the air conditioning off, i'm cold",
    ]),
    "ac_set_temperature": (24, [
        "set the temperature to {temp} degrees", "make it {temp} degrees in here", "set the thermostat to {temp}",
        "i'd like it to be {temp} in the {room}", "change the temperature to {temp}", "cool the {room} to {temp}",
        "set the {room} to {temp} degrees", "thermostat to {temp} please", "keep the {room} at {temp} degrees",
        "set the ac in the {room} to {temp}", "bring the temperature down to {temp}", "aircon {temp} degrees",
    ]),
    "tv_volume": (24, [
        "i can't hear the tv", "the tv is too loud", "the tv is deafening", "i can't make out what they're saying on tv",
        "the telly is blasting", "tv volume to {pct}", "turn the tv down a little", "louder on the tv please",
        "the tv is way too quiet", "unmute the tv", "bring the tv volume down", "tv sound up a bit",
        "can you lower the volume on the television", "the baby is asleep, quiet the tv",
    ]),
    "lights_on": (24, [
        "it's too dark in the {room}", "i can't see a thing in here", "give me some light in the {room}",
        "it's pitch black in the hallway", "light up the {room}", "the {room} is dark, lights please",
        "switch the {room} lights on", "turn on the lights in the {room}", "put the {room} lamp on",
        "we need light in the {room}", "lights on in the {room} please", "turn every light on",
    ]),
    "lights_off": (24, [
        "i'm going to sleep, lights out", "lights out", "we don't need the lights anymore",
        "nobody is in the {room}, switch the lights off", "turn the {room} lights off", "{room} lights off",
        "switch off the lamp in the {room}", "shut the lights off in the {room}", "it's too bright in the {room}, lights off",
        "all lights off please", "put the {room} light out", "turn off every light downstairs",
    ]),
    "vacuum_start": (22, [
        "the floor is filthy, run the vacuum", "the {room} floor needs a clean", "vacuum the {room}",
        "get the robot to clean the {room}", "there are crumbs everywhere, start the vacuum",
        "send the vacuum to clean the {room}", "start the robot cleaner", "clean up the {room} floor",
        "have the robot vacuum do the {room}", "robot, vacuum the {room}",
    ]),
    "vacuum_dock": (22, [
        "the vacuum is in the way, send it home", "the vacuum is too noisy, send it back",
        "send the robot vacuum back to its dock", "vacuum, return to base", "dock the vacuum cleaner",
        "get the robot vacuum out of the {room}, send it to the charger", "robot vacuum go back and charge",
        "recall the vacuum", "take the vacuum back to the dock", "finish cleaning and go home, vacuum",
    ]),
    "timer_set": (24, [
        "let me know when {n} minutes are up", "count down {n} minutes", "buzz me in {n} minutes",
        "remind me in {n} minutes", "{n} minute timer for the {food}", "start a {n} minute timer",
        "timer for {n} minutes please", "set a {food} timer for {n} minutes", "tell me when {n} minutes have passed",
        "put a timer on for {n} minutes", "set a timer, {n} minutes", "i need a timer for {n} minutes",
    ]),
    "washer_start": (20, [
        "the laundry is in, go", "the washer is loaded, get it going", "wash the towels", "start a quick wash",
        "put the washing machine on", "run a wash cycle for the bedding", "start the washing machine on cotton",
        "do a load of laundry", "begin washing the clothes", "the washing is in, start it",
    ]),
    "dryer_status": (20, [
        "are my clothes dry", "can i take the towels out of the dryer yet", "is the dryer finished yet",
        "how long until the dryer is done", "check on the dryer", "is the tumble dryer still running",
        "what's the dryer doing", "minutes left on the dryer?", "is the drying done", "dryer finished?",
    ]),
    "oven_preheat": (20, [
        "i'm baking at {oven}, get the oven ready", "get the oven ready for {oven} degrees", "preheat to {oven}",
        "heat the oven to {oven}", "warm the oven up to {oven} degrees", "oven to {oven} please, i'm roasting",
        "preheat the oven for the pizza, {oven} degrees", "start preheating the oven at {oven}",
    ]),
    "fridge_temperature": (20, [
        "my drinks aren't cold, turn the fridge down", "the fridge feels warm, make it colder",
        "what's the fridge set to", "set the fridge to {n} degrees", "turn the freezer colder",
        "is the freezer cold enough", "fridge temperature please", "how cold is the fridge right now",
        "the fridge is too cold, turn it up a degree", "what temperature is the freezer at",
    ]),
}


def normalise(text: str) -> str:
    """The form used to find duplicates: lower case, single spaces, no end punctuation."""
    return re.sub(r"\s+", " ", text.lower()).strip(" ?!.")


def _fill(template: str, rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(SLOTS[m.group(1)]), template)


def _voice(text: str, rng: random.Random) -> str:
    """The shipped data's voice: mostly lower case, now and then polite, shouted or mistyped."""
    roll = rng.random()
    if roll < 0.12:
        text = rng.choice(["please ", "can you ", "could you please ", "hey, "]) + text
    elif roll < 0.18:
        text = text + rng.choice([" please", " now", " thanks"])
    roll = rng.random()
    if roll < 0.04:
        text = text.upper()
    elif roll < 0.08:
        text = text[:1].upper() + text[1:]
    elif roll < 0.13:
        words = text.split(" ")
        i = rng.randrange(len(words))
        if len(words[i]) > 3:
            j = rng.randrange(1, len(words[i]) - 1)
            w = words[i]
            words[i] = w[: j - 1] + w[j] + w[j - 1] + w[j + 1 :]
            text = " ".join(words)
    return text


def generate(families: dict[str, tuple[int, list[str]]], label_of, rng: random.Random) -> list[dict[str, str]]:
    """Draw each family's count of distinct sentences: every template once, then random fills."""
    rows: list[dict[str, str]] = []
    for family, (count, templates) in families.items():
        seen: set[str] = set()
        tries = 0
        while len(seen) < count and tries < count * 30:
            template = templates[tries] if tries < len(templates) else rng.choice(templates)
            tries += 1
            text = _voice(_fill(template, rng), rng)
            if normalise(text) not in seen:
                seen.add(normalise(text))
                rows.append({"text": text, "label": label_of(family)})
    return rows


def bucket_of(text: str) -> int:
    """0..99 from the sentence alone, so a sentence's split never depends on the others."""
    return int(hashlib.sha256(normalise(text).encode()).hexdigest()[:8], 16) % 100


def split_of(text: str) -> str:
    bucket = bucket_of(text)
    return "train" if bucket < 65 else "validation" if bucket < 85 else "test"


def read_jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build() -> dict[str, list[dict[str, str]]]:
    rng = random.Random(SEED)
    splits: dict[str, list[dict[str, str]]] = {name: [] for name in SPLITS}
    taken: set[str] = set()
    for row in read_jsonl(ORIGINAL / "test.jsonl"):  # the first test split stays the test split, first
        splits["test"].append(row)
        taken.add(normalise(row["text"]))
    for row in read_jsonl(ORIGINAL / "train.jsonl"):  # a quarter of the first training split validates
        splits["validation" if bucket_of(row["text"]) >= 75 else "train"].append(row)
        taken.add(normalise(row["text"]))
    new = generate(OUT_OF_SCOPE, lambda _: OOS, rng) + generate(IN_SCOPE, lambda family: family, rng)
    for row in new:
        key = normalise(row["text"])
        if key not in taken:
            taken.add(key)
            splits[split_of(row["text"])].append(row)
    for name in ("train", "validation"):
        random.Random(f"{SEED}-{name}").shuffle(splits[name])
    return splits


def check(splits: dict[str, list[dict[str, str]]]) -> list[str]:
    """Problems with a set of splits: texts in two splits, duplicates inside one, empty labels."""
    problems = []
    where: dict[str, str] = {}
    for name, rows in splits.items():
        for row in rows:
            key = normalise(row["text"])
            if key in where:
                problems.append(f"{row['text']!r} is in {where[key]} and {name}")
            where[key] = name
            if not row.get("label"):
                problems.append(f"{row['text']!r} in {name} has no label")
    return problems


def render(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the written files")
    args = parser.parse_args(argv)
    splits = build()
    problems = check(splits)
    if args.check:
        on_disk = {n: read_jsonl(HERE / f"{n}.jsonl") for n in SPLITS}
        problems += check(on_disk)
        problems += [f"{n}.jsonl is stale; run python export/data/make_intents.py" for n in SPLITS
                     if on_disk[n] != splits[n]]
    elif not problems:
        for name in SPLITS:
            (HERE / f"{name}.jsonl").write_text(render(splits[name]), encoding="utf-8")
    for problem in problems:
        print(problem, file=sys.stderr)
    counts = {n: len(rows) for n, rows in splits.items()}
    oos = {n: sum(r["label"] == OOS for r in rows) for n, rows in splits.items()}
    print(f"examples {counts}; out_of_scope {oos}; problems {len(problems)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
