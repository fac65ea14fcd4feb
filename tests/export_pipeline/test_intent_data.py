"""The annotated intent data (export/data/make_intents.py): the rows from before slots are unchanged,
every in-scope row carries checked spans, templates record spans while filling and _voice keeps them
pointing at the same words."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_app.slots.schema import INTENT_SLOTS

DATA = Path(__file__).resolve().parents[2] / "export" / "data"

# sha256 of [[text, label], ...] of each split as it was before slots (main a1671c2): those rows stay,
# in order, at the head of each file, so today's intent accuracy stays comparable
BEFORE_SLOTS = {
    "train": (1304, "657de71199a76940782ee1aed8804d5a56e3b712c710ba8b6ec08302deba0273"),
    "validation": (414, "553051f75c24680ac6d7c64903c86910654b4aa654fbd72f8eb1d7bbce2cfe76"),
    "test": (407, "ca24effd4e36fa671da10a2354aecd8f1a9159ebb1f42b7152ccfffcff88285b"),
}


@pytest.fixture(scope="module")
def make_intents():
    spec = importlib.util.spec_from_file_location("make_intents", DATA / "make_intents.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # a script beside the data, not part of a package
    return module


@pytest.fixture(scope="module")
def splits(make_intents) -> dict[str, list[dict]]:
    return {name: make_intents.read_jsonl(DATA / "intents" / f"{name}.jsonl") for name in make_intents.SPLITS}


def test_check_passes_and_the_parser_reads_the_gold_values_back() -> None:
    proc = subprocess.run([sys.executable, str(DATA / "make_intents.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "problems 0" in proc.stdout
    share = float(re.search(r"values: .*\(([\d.]+)%\)", proc.stdout).group(1))
    assert share >= 95


@pytest.mark.parametrize("name", list(BEFORE_SLOTS))
def test_the_rows_from_before_slots_are_unchanged_at_the_head(splits, name: str) -> None:
    count, digest = BEFORE_SLOTS[name]
    head = [[r["text"], r["label"]] for r in splits[name][:count]]
    assert hashlib.sha256(json.dumps(head).encode()).hexdigest() == digest


def test_every_row_is_annotated_and_every_slot_and_intent_is_covered(make_intents, splits) -> None:
    rows = [r for rows in splits.values() for r in rows]
    assert all(isinstance(r["slots"], list) for r in rows)
    assert [r["text"] for r in rows if r["label"] == "out_of_scope" and r["slots"]] == []
    assert sum(make_intents.span_problems(r) != [] for r in rows) == 0
    for name, rows in splits.items():  # every slot in every split, each intent with the slots it may carry
        carried = {(r["label"], s["slot"]) for r in rows for s in r["slots"]}
        expected = {(label, slot) for label, slots in INTENT_SLOTS.items() for slot in slots}
        assert expected - carried == set(), name


def test_span_problems_catch_what_they_should(make_intents) -> None:
    def problems(slots, label="ac_set_temperature", text="set the kitchen to 22 degrees"):
        return make_intents.span_problems({"text": text, "label": label, "slots": slots})

    good = {"slot": "temperature", "start": 19, "end": 29, "value": 22, "unit": "C"}
    assert problems([good]) == []
    assert problems([good | {"end": 30}])  # past the end
    assert problems([good | {"start": 18}])  # a leading space
    assert problems([good], label="timer_set")  # timer_set cannot carry a temperature
    assert problems([good | {"unit": "K"}])
    assert problems([{"slot": "room", "start": 8, "end": 15, "value": "Kitchen"}])  # not lower case
    assert problems([good, good])  # overlapping
    assert problems([good], label="out_of_scope")
    assert make_intents.span_problems({"text": "x", "label": "ac_on"})  # no annotation at all


def test_fill_records_spans_and_gold_values(make_intents) -> None:
    text, spans = make_intents._fill(
        "set the {room} to [{temp} degrees](temperature), [{n} minutes](duration:60)", random.Random(3)
    )
    room, temperature, duration = spans
    assert text[room["start"] : room["end"]] in make_intents.FILLS["room"]
    words = text[temperature["start"] : temperature["end"]]
    assert words.endswith(" degrees") and (words[:-8], temperature["value"]) in make_intents.FILLS["temp"]
    assert temperature["unit"] == "C"
    words = text[duration["start"] : duration["end"]]
    assert (words[:-8], duration["value"] // 60) in make_intents.FILLS["n"] and duration["unit"] == "s"
    _, (volume,) = make_intents._fill("turn it [up by {n}](volume:up)", random.Random(3))
    assert volume["value"] == "up" and isinstance(volume["step"], int)


@given(st.integers(0, 10_000), st.booleans())
def test_voice_keeps_spans_on_their_words(make_intents, seed: int, protect: bool) -> None:
    """Whatever _voice does (prefix, suffix, upper case, a typo), each span still covers the words it was
    filled with: the same letters in any case, at most two neighbours swapped; with `protect` (the new rows)
    a number's words are never mistyped."""
    rng = random.Random(seed)
    template = rng.choice(
        [
            "turn on the {area} {light}",
            "set the {area} ac to {deg}",
            "timer {dur}",
            "turn the {area} tv {change}",
            "preheat the oven to {oven_deg} on {oven_mode}",
        ]
    )
    text, spans = make_intents._fill(template, rng)
    before = [text[s["start"] : s["end"]] for s in spans]
    voiced, moved = make_intents._voice(text, [dict(s) for s in spans], rng, protect=protect)
    for words, s in zip(before, moved):
        now = voiced[s["start"] : s["end"]]
        assert len(now) == len(words)
        if now.lower() != words.lower():
            assert not (protect and s["slot"] in make_intents.NUMERIC_SLOTS)
            diff = [i for i, (a, b) in enumerate(zip(now.lower(), words.lower())) if a != b]
            assert len(diff) == 2 and diff[1] == diff[0] + 1
        if s["slot"] in ("room", "device", "mode"):
            assert s["value"] == " ".join(now.lower().split())


class Scripted:
    """An rng whose draws the test chooses: _voice's two rolls, then choice/randrange answers."""

    def __init__(self, rolls: list[float], pick: int = 0, ranges: tuple[int, ...] = ()) -> None:
        self.rolls, self.pick, self.ranges = list(rolls), pick, list(ranges)

    def random(self) -> float:
        return self.rolls.pop(0)

    def choice(self, seq):
        return seq[self.pick]

    def randrange(self, *args) -> int:
        return self.ranges.pop(0)


def test_voice_shifts_spans_after_a_prefix_and_keeps_them_through_case_and_typos(make_intents) -> None:
    text = "set the kitchen to 22 degrees"
    spans = [{"slot": "room", "start": 8, "end": 15}, {"slot": "temperature", "start": 19, "end": 29, "value": 22}]
    voiced, moved = make_intents._voice(text, [dict(s) for s in spans], Scripted([0.0, 0.5], pick=2))
    assert voiced == "could you please " + text
    assert [voiced[s["start"] : s["end"]] for s in moved] == ["kitchen", "22 degrees"]
    voiced, moved = make_intents._voice(text, [dict(s) for s in spans], Scripted([0.5, 0.01]))
    assert voiced == text.upper() and moved[0]["value"] == "kitchen"
    voiced, moved = make_intents._voice(text, [dict(s) for s in spans], Scripted([0.5, 0.1], ranges=(2, 2)))
    assert voiced == "set the ktichen to 22 degrees" and moved[0]["value"] == "ktichen"  # offsets hold
    for protect, expected in ((False, "set the kitchen to 22 dgerees"), (True, text)):
        voiced, _ = make_intents._voice(
            text, [dict(s) for s in spans], Scripted([0.5, 0.1], ranges=(5, 2)), protect=protect
        )
        assert voiced == expected  # the new rows keep a number's words as drawn
