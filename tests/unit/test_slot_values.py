"""The slot value readers (edge_app/slots/values.py): every shape of schema.py, the failures (a span
that is not a number keeps its text and gets no value), and Hypothesis: no string makes read_value
raise, numbers spelled in words and durations built from parts read back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_app.slots import values
from edge_app.slots.schema import SLOT_NAMES
from edge_app.slots.values import read_value


def value_of(slot: str, text: str) -> dict:
    """read_value without the text it always carries (checked here once)."""
    result = read_value(slot, text)
    assert result["text"] == text
    return {k: v for k, v in result.items() if k != "text"}


# --- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("22", 22),
        ("21.5", 21.5),
        ("1,000", 1000),
        ("-18", -18),
        ("zero", 0),
        ("seven", 7),
        ("twenty two", 22),
        ("twenty-one", 21),
        ("one hundred and eighty", 180),
        ("three hundred fifty", 350),
        ("a hundred", 100),
        ("one seventy five", 175),
        ("three fifty", 350),
        ("two twenty five", 225),
        ("minus fifteen", -15),
        ("twenty one point five", 21.5),
        ("two and a half", 2.5),
        ("a couple of", 2),
        ("one thousand", 1000),
        ("nine hundred ninety nine", 999),
        ("eleven hundred", 1100),
    ],
)
def test_numbers_in_digits_and_words(text: str, number: float) -> None:
    found = values.number_at(values.tokens(text), 0)
    assert found is not None and found[0] == number


@pytest.mark.parametrize("text", ["", "a", "an", "lot", "hundred", "and", "point five", "couple"])
def test_words_that_are_not_a_number(text: str) -> None:
    assert values.number_at(values.tokens(text), 0) is None


# --- temperature -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22", {"value": 22, "unit": "C"}),
        ("22 degrees", {"value": 22, "unit": "C"}),
        ("twenty two degrees", {"value": 22, "unit": "C"}),
        ("22°C", {"value": 22, "unit": "C"}),
        ("21.5", {"value": 21.5, "unit": "C"}),
        ("72 fahrenheit", {"value": 72, "unit": "F"}),
        ("75F", {"value": 75, "unit": "F"}),
        ("68°F", {"value": 68, "unit": "F"}),
        ("71 degrees fahrenheit", {"value": 71, "unit": "F"}),
        ("180 c", {"value": 180, "unit": "C"}),
        ("21 degrees celsius", {"value": 21, "unit": "C"}),
        ("minus 18", {"value": -18, "unit": "C"}),
        ("-20", {"value": -20, "unit": "C"}),
        ("zero fahrenheit", {"value": 0, "unit": "F"}),
        ("one seventy five", {"value": 175, "unit": "C"}),
        ("twenty three and a half", {"value": 23.5, "unit": "C"}),
        ("TWENTY TWO DEGREES", {"value": 22, "unit": "C"}),
    ],
)
def test_temperature(text: str, expected: dict) -> None:
    assert value_of("temperature", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a lot",
        "",
        "   ",
        "degrees",
        "warmer",
        "fahrenheit",
        "9999999999999999999999 degrees",  # 22 digits: not a number anyone means -> the text alone
        "5000 degrees",  # a number, but out of any appliance's range
    ],
)
def test_a_temperature_that_cannot_be_read_keeps_only_its_text(text: str) -> None:
    assert read_value("temperature", text) == {"text": text}


# --- duration --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("ten minutes", 600),
        ("half an hour", 1800),
        ("1h 30m", 5400),
        ("1h30m", 5400),
        ("90 seconds", 90),
        ("90 secs", 90),
        ("an hour and a half", 5400),
        ("2 hrs", 7200),
        ("a minute", 60),
        ("an hour", 3600),
        ("quarter of an hour", 900),
        ("a quarter of an hour", 900),
        ("three quarters of an hour", 2700),
        ("half a minute", 30),
        ("a half hour", 1800),
        ("two and a half hours", 9000),
        ("1.5 hours", 5400),
        ("a couple of minutes", 120),
        ("2 minutes 30 seconds", 150),
        ("1 minute and 30 seconds", 90),
        ("one minute thirty", 90),
        ("an hour twenty", 4800),
        ("an hour and twenty minutes", 4800),
        ("15-minute", 900),
        ("5 min", 300),
        ("30s", 30),
        ("10m", 600),
        ("one hundred and twenty seconds", 120),
        ("1:30", 90),
        ("1:30:00", 5400),
        ("1:30 hours", 5400),
        ("0:45", 45),
        ("1.5 seconds", 2),
    ],
)
def test_duration(text: str, seconds: int) -> None:
    assert value_of("duration", text) == {"value": seconds, "unit": "s"}


@pytest.mark.parametrize("text", ["", "10", "a while", "minutes", "soon", "99999999 hours", "1:3", "1:30 apples"])
def test_a_duration_that_cannot_be_read_keeps_only_its_text(text: str) -> None:
    assert read_value("duration", text) == {"text": text}


# --- volume ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30", {"value": 30, "unit": "%"}),
        ("to 30", {"value": 30, "unit": "%"}),
        ("40%", {"value": 40, "unit": "%"}),
        ("fifty percent", {"value": 50, "unit": "%"}),
        ("max", {"value": 100, "unit": "%"}),
        ("to max", {"value": 100, "unit": "%"}),
        ("full", {"value": 100, "unit": "%"}),
        ("min", {"value": 0, "unit": "%"}),
        ("lowest", {"value": 0, "unit": "%"}),
        ("zero", {"value": 0, "unit": "%"}),
        ("all the way down", {"value": 0, "unit": "%"}),
        ("all the way up", {"value": 100, "unit": "%"}),
        ("up", {"value": "up"}),
        ("louder", {"value": "up"}),
        ("a bit louder", {"value": "up"}),
        ("down a bit", {"value": "down"}),
        ("down a notch", {"value": "down"}),
        ("quieter", {"value": "down"}),
        ("lower", {"value": "down"}),
        ("up by 10", {"value": "up", "step": 10}),
        ("up 5", {"value": "up", "step": 5}),
        ("down by five", {"value": "down", "step": 5}),
        ("10 percent louder", {"value": "up", "step": 10}),
        ("up two notches", {"value": "up"}),
        ("raise the volume by three", {"value": "up", "step": 3}),
        ("down to 20", {"value": 20, "unit": "%"}),
        ("mute", {"value": "mute"}),
        ("silence", {"value": "mute"}),
        ("off", {"value": "mute"}),
        ("unmute", {"value": "unmute"}),
        ("un-mute", {"value": "unmute"}),
    ],
)
def test_volume(text: str, expected: dict) -> None:
    assert value_of("volume", text) == expected


@pytest.mark.parametrize("text", ["", "a notch", "a bit", "150", "too loud", "up and down", "-5"])
def test_a_volume_that_cannot_be_read_keeps_only_its_text(text: str) -> None:
    assert read_value("volume", text) == {"text": text}


# --- names and the shape of every result -----------------------------------------------------------


@pytest.mark.parametrize("slot", ["room", "device", "mode"])
def test_names_are_lower_case_and_single_spaced(slot: str) -> None:
    assert read_value(slot, "  Living\t ROOM ") == {"text": "  Living\t ROOM ", "value": "living room"}
    assert read_value(slot, " ") == {"text": " "}
    assert read_value(slot, "Kitchen,")["value"] == "kitchen"
    assert read_value(slot, "?") == {"text": "?"}


def test_an_unknown_slot_keeps_its_text() -> None:
    assert read_value("colour", "red") == {"text": "red"}


def test_an_extra_reader_goes_first_and_a_broken_one_costs_only_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    def korean(slot: str, text: str) -> dict | None:
        return {"value": 22, "unit": "C"} if text == "이십이도" else None

    monkeypatch.setattr(values, "EXTRA_READERS", (korean,))
    assert read_value("temperature", "이십이도") == {"text": "이십이도", "value": 22, "unit": "C"}
    assert read_value("temperature", "22") == {"text": "22", "value": 22, "unit": "C"}

    def broken(slot: str, text: str) -> dict | None:
        raise ValueError("bug")

    monkeypatch.setattr(values, "EXTRA_READERS", (broken,))
    assert read_value("temperature", "22") == {"text": "22"}


# --- Hypothesis ------------------------------------------------------------------------------------

ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split()
)
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def spell(n: int, hyphen: bool = False, use_and: bool = True) -> str:
    """0..999 in English words: the test's own speller, written apart from the reader."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else ("-" if hyphen else " ") + ONES[n % 10])
    rest = n % 100
    head = ONES[n // 100] + " hundred"
    return head if rest == 0 else head + (" and " if use_and else " ") + spell(rest, hyphen)


@given(st.text())
@settings(max_examples=400, deadline=None)
def test_no_string_makes_read_value_raise(text: str) -> None:
    for slot in SLOT_NAMES + ("unknown",):
        result = read_value(slot, text)
        assert result["text"] == text


KNOWN_WORDS = values.tokens(
    "a an and half quarter of minute minutes hour h m s secs 1 21.5 -3 1:30 twenty two "
    "hundred thousand point five up down by to max mute notch minus degrees f c % °"
) + [","]


@given(st.lists(st.sampled_from(KNOWN_WORDS), max_size=8))
@settings(max_examples=400, deadline=None)
def test_no_mix_of_the_words_the_readers_know_makes_them_raise(words: list[str]) -> None:
    text = " ".join(words)
    for slot in SLOT_NAMES:
        assert read_value(slot, text)["text"] == text


@given(st.integers(0, 999), st.booleans(), st.booleans())
def test_numbers_spelled_in_words_read_back(n: int, hyphen: bool, use_and: bool) -> None:
    assert value_of("temperature", spell(n, hyphen, use_and) + " degrees") == {"value": n, "unit": "C"}


@given(
    st.integers(0, 99),
    st.integers(0, 59),
    st.integers(0, 59),
    st.booleans(),
    st.sampled_from([("h", "m", "s"), ("hours", "minutes", "seconds"), ("hr", "min", "sec"), ("hrs", "mins", "secs")]),
)
def test_durations_built_from_parts_read_back(h: int, m: int, s: int, in_words: bool, units: tuple) -> None:
    parts = [(n, unit) for n, unit in zip((h, m, s), units) if n]
    if not parts:
        parts = [(0, units[2])]
    text = " ".join(f"{spell(n) if in_words else n} {unit}" for n, unit in parts)
    assert value_of("duration", text) == {"value": h * 3600 + m * 60 + s, "unit": "s"}
