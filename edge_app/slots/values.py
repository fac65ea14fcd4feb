"""Slot values from the words of a span: small deterministic readers, one per value shape of schema.py.

`read_value(slot, text)` gives the slot object of a result: always {"text": text}, plus "value" (and
"unit" / "step") when the words can be read. It never raises: a span that says no number keeps its
text and has no value, and so does one whose number cannot be meant (a volume of 150, a temperature
of 10^21 degrees). Runtime module: standard library only.

Choices (README "Slots"):
- Numbers: digits ("21.5", "1,000", "-18"), words ("twenty two", "twenty-one", "one hundred and eighty",
  "minus fifteen", "twenty one point five", "two and a half"), spoken hundreds ("one seventy five" = 175,
  "three fifty" = 350), "a couple of" = 2; "a"/"an" = 1 only before "hundred"/"thousand" and, in a
  duration, before a unit ("an hour"), so "a lot" is no number.
- Temperature: the first number, unit C unless F/fahrenheit/°F follows it.
- Duration: whole seconds from number+unit parts ("1h 30m", "an hour and a half", "half an hour",
  "quarter of an hour", "one minute thirty"); "1:30" is m:ss (a kitchen timer's display), "1:30:00"
  h:mm:ss, "1:30 hours" h:mm. A bare number ("timer 10") has no unit and so no value.
- Volume: 0..100 % ("30", "40%", "max"/"full" = 100, "min"/"lowest" = 0, "all the way down" = 0);
  up/down from direction words ("up", "louder", "lower", "reduce" ...) with "step" only when a number
  is said ("up by 10", "down 5"; "a bit", "a notch" carry none); mute/unmute ("silence", "off" = mute).
- Room, device, mode: the words in lower case, single-spaced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from .korean import read_value_ko

log = logging.getLogger(__name__)

# Readers tried before the English ones, each `(slot, text) -> dict | None` (None: not its language).
EXTRA_READERS: tuple[Callable[[str, str], dict | None], ...] = (read_value_ko,)

SMALL = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen".split()
    )
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
EDGE_PUNCTUATION = " .,;:!?\"'()"
MAX_DIGITS = 15  # longer digit strings are not a setting anyone means (and lose float precision)

TEMPERATURE_RANGE = (-100, 1000)
MAX_DURATION_S = 366 * 24 * 3600
SECONDS = {
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
FAHRENHEIT = {"f", "fahrenheit"}  # "°F" tokenises as "°", "f"
CELSIUS = {"c", "celsius", "centigrade"}
UP = {"up", "louder", "raise", "increase", "higher", "boost", "crank", "more"}
DOWN = {"down", "quieter", "softer", "lower", "reduce", "decrease", "drop", "quiet", "less"}
VOLUME_MAX = {"max", "maximum", "full", "highest", "loudest"}
VOLUME_MIN = {"min", "minimum", "lowest"}


def read_value(slot: str, text: str) -> dict:
    """The slot object of a result: {"text": text} plus the value read from it, if any; never raises."""
    try:
        for reader in EXTRA_READERS:
            found = reader(slot, text)
            if found is not None:
                return {**found, "text": text}
        found = READERS[slot](text) if slot in READERS else None
    except Exception:  # a reader bug must not cost the result: report it, keep the text
        log.warning("could not read a %s value from %r", slot, text, exc_info=True)
        found = None
    return {"text": text, **(found or {})}


def tokens(text: str) -> list[str]:
    """Lower-case tokens: numbers ("-18", "21.5"), words, and other single characters ("°", "%", ":")."""
    text = text.lower()
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 1,000 -> 1000
    text = re.sub(r"(?<=[a-z0-9])-(?=[a-z])", " ", text)  # twenty-one, 15-minute
    return re.findall(r"(?<![\d.])-?\d+(?:\.\d+)?|[a-z]+|[^\sa-z\d]", text)


# --- numbers ---------------------------------------------------------------------------------------


def number_at(toks: list[str], i: int) -> tuple[float, int] | None:
    """The number that starts at toks[i] (digits or words, an optional minus) and the index after it."""
    sign = 1
    if i < len(toks) and toks[i] in ("minus", "negative"):
        sign, i = -1, i + 1
    found = _digits_at(toks, i) or _words_at(toks, i)
    if found is None:
        return None
    value, j = found
    if j + 2 < len(toks) and toks[j] == "and" and toks[j + 1] in ("a", "one") and toks[j + 2] == "half":
        value, j = value + 0.5, j + 3  # "two and a half"
    return _tidy(sign * value), j


def _digits_at(toks: list[str], i: int) -> tuple[float, int] | None:
    if i >= len(toks) or not re.fullmatch(r"-?\d+(\.\d+)?", toks[i]):
        return None
    if len(toks[i].lstrip("-").split(".")[0]) > MAX_DIGITS:
        return None
    return float(toks[i]), i + 1


def _words_at(toks: list[str], i: int) -> tuple[float, int] | None:
    """English number words: "twenty two", "one hundred and eighty", "one seventy five", "a hundred",
    "twenty one point five", "a couple of"."""
    if toks[i : i + 3] == ["a", "couple", "of"] or toks[i : i + 2] == ["couple", "of"]:
        return 2, i + (3 if toks[i] == "a" else 2)
    total, current, last, j = 0, 0, None, i
    while j < len(toks):
        t = toks[j]
        if t in ("a", "an") and last is None and j + 1 < len(toks) and toks[j + 1] in ("hundred", "thousand"):
            current, last = 1, "unit"
        elif t in SMALL and (t != "zero" or last is None):
            n = SMALL[t]
            if last in (None, "tens", "hundred") and not (last == "tens" and n >= 10):
                current += n
            elif last == "unit" and n >= 10 and current < 10:
                current = current * 100 + n  # "one fifteen" = 115
            else:
                break
            last = "teen" if n >= 10 else "unit"
        elif t in TENS:
            if last in (None, "hundred"):
                current += TENS[t]
            elif last == "unit" and current < 10:
                current = current * 100 + TENS[t]  # "three fifty" = 350
            else:
                break
            last = "tens"
        elif t == "hundred" and last in ("unit", "teen") and current < 100:
            current, last = current * 100, "hundred"
        elif t == "thousand" and last is not None and total == 0 and current < 1000:
            total, current, last = current * 1000, 0, "hundred"
        elif t == "and" and last == "hundred" and j + 1 < len(toks) and (toks[j + 1] in SMALL or toks[j + 1] in TENS):
            pass
        else:
            break
        j += 1
    if last is None:
        return None
    value: float = total + current
    if j + 1 < len(toks) and toks[j] == "point" and toks[j + 1] in SMALL and SMALL[toks[j + 1]] < 10:
        digits = ""
        j += 1
        while j < len(toks) and toks[j] in SMALL and SMALL[toks[j]] < 10:
            digits, j = digits + str(SMALL[toks[j]]), j + 1
        value = float(f"{int(value)}.{digits}")
    return value, j


def _tidy(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def first_number(toks: list[str]) -> tuple[float, int, int] | None:
    """The first number in toks: its value, the index after it and the index where it starts."""
    for i in range(len(toks)):
        found = number_at(toks, i)
        if found is not None:
            return found[0], found[1], i
    return None


# --- temperature -----------------------------------------------------------------------------------


def read_temperature(text: str) -> dict | None:
    """The first number, in C unless F/fahrenheit/°F follows ("22", "72 fahrenheit", "-18°C")."""
    toks = tokens(text)
    found = first_number(toks)
    if found is None:
        return None
    value, j, _ = found
    unit = "C"
    for t in toks[j : j + 4]:
        if t in FAHRENHEIT:
            unit = "F"
            break
        if t in CELSIUS:
            break
        if t not in ("degree", "degrees", "deg", "°"):
            break
    if not TEMPERATURE_RANGE[0] <= value <= TEMPERATURE_RANGE[1]:
        return None
    return {"value": value, "unit": unit}


# --- duration --------------------------------------------------------------------------------------


def read_duration(text: str) -> dict | None:
    """Whole seconds: the sum of number+unit parts ("1h 30m", "an hour and a half", "one minute thirty")."""
    seconds = _clock(text)
    if seconds is None:
        seconds = _parts(tokens(text))
    if seconds is None or not 0 <= seconds <= MAX_DURATION_S:
        return None
    return {"value": int(round(seconds)), "unit": "s"}


def _clock(text: str) -> float | None:
    """ "1:30" as m:ss, "1:30:00" as h:mm:ss, "1:30 hours" as h:mm."""
    m = re.fullmatch(r"\s*(\d{1,6}):(\d\d)(?::(\d\d))?\s*([a-z]*)\s*", text.lower())
    if m is None or (m[4] and m[4] not in SECONDS):
        return None
    a, b, c, unit = int(m[1]), int(m[2]), m[3], m[4]
    if c is not None:
        return a * 3600 + b * 60 + int(c)
    return a * SECONDS.get(unit, 60) + b * SECONDS.get(unit, 60) / 60


def _amount(toks: list[str], i: int) -> tuple[float, int] | None:
    """The amount before a unit: a number, "a"/"an", "half (a|an)", "(a) quarter (of) (an)",
    "three quarters of an"."""
    scale = 1.0
    if i < len(toks) and toks[i] in ("a", "an") and i + 1 < len(toks) and toks[i + 1] in SECONDS:
        return 1, i + 1
    found = number_at(toks, i)
    if found is not None:
        amount, i = found
    elif i < len(toks) and toks[i] in ("a", "an") and i + 1 < len(toks) and toks[i + 1] in ("half", "quarter"):
        amount, i = 1, i + 1
    elif i < len(toks) and toks[i] in ("half", "quarter"):
        amount = 1
    else:
        return None
    if i < len(toks) and toks[i] in ("half", "halves"):
        scale, i = 0.5, i + 1
    elif i < len(toks) and toks[i] in ("quarter", "quarters"):
        scale, i = 0.25, i + 1
    if scale != 1.0:
        if i < len(toks) and toks[i] == "of":
            i += 1
        if i < len(toks) and toks[i] in ("a", "an"):
            i += 1
    return amount * scale, i


def _parts(toks: list[str]) -> float | None:
    total, last_unit, i, said = 0.0, None, 0, False
    while i < len(toks):
        found = _amount(toks, i)
        if found is not None and found[1] < len(toks) and toks[found[1]] in SECONDS:
            amount, j = found
            last_unit = SECONDS[toks[j]]
            total, i, said = total + amount * last_unit, j + 1, True
            if toks[i : i + 3] in (["and", "a", "half"], ["and", "one", "half"]):
                total, i = total + last_unit / 2, i + 3
            elif toks[i : i + 3] == ["and", "a", "quarter"]:
                total, i = total + last_unit / 4, i + 3
            continue
        if found is not None and said and last_unit in (3600, 60) and found[1] >= len(toks):
            return total + found[0] * last_unit / 60  # "one minute thirty", "an hour twenty"
        i += 1
    return total if said else None


# --- volume ----------------------------------------------------------------------------------------


def read_volume(text: str) -> dict | None:
    """0..100 %, up/down with an optional step, or mute/unmute (module docstring)."""
    toks = tokens(text)
    words = set(toks)
    if "unmute" in words or ("mute" in words and "off" in words) or {"un", "mute"} <= words:
        return {"value": "unmute"}
    if words & {"mute", "silence", "off"}:
        return {"value": "mute"}
    if "all" in words and "way" in words and words & {"up", "down"}:
        return {"value": 100 if "up" in words else 0, "unit": "%"}
    up, down = bool(words & UP), bool(words & DOWN)
    found = first_number(toks)
    absolute = found is not None and found[2] > 0 and toks[found[2] - 1] in ("to", "at", "on")
    if up != down and not absolute:
        result: dict = {"value": "up" if up else "down"}
        if found is not None and found[0] > 0 and not (found[1] < len(toks) and toks[found[1]].startswith("notch")):
            result["step"] = found[0]
        return result
    if up and down:
        return None
    if words & VOLUME_MAX:
        return {"value": 100, "unit": "%"}
    if words & VOLUME_MIN:
        return {"value": 0, "unit": "%"}
    if words == {"half"}:
        return {"value": 50, "unit": "%"}
    if found is not None and 0 <= found[0] <= 100:
        return {"value": found[0], "unit": "%"}
    return None


# --- room, device, mode ----------------------------------------------------------------------------


def read_name(text: str) -> dict | None:
    """Room, device, mode: the span's words in lower case, single-spaced (schema.py), without the
    punctuation a decoded span may drag along at its ends ("kitchen," -> "kitchen")."""
    words = " ".join(text.lower().split()).strip(EDGE_PUNCTUATION)
    return {"value": words} if words else None


READERS: dict[str, Callable[[str], dict | None]] = {
    "temperature": read_temperature,
    "duration": read_duration,
    "volume": read_volume,
    "room": read_name,
    "device": read_name,
    "mode": read_name,
}
