"""Korean slot values: the numbers, durations, temperatures and volume words of a Korean span,
read into the value shapes of edge_app/slots/schema.py.

Korean says numbers two ways: Sino-Korean (이십이 = 22, 백팔십 = 180) for degrees, minutes,
seconds and percent, and native Korean (한, 두, 세 ... 열) for hours and counts (한 시간 반 =
1.5 h). `read_value_ko` returns None for a span it does not understand (or that has no Korean
in it), so the caller can fall back to the English reader. It never raises.
"""

from __future__ import annotations

import re

SINO_DIGITS = {
    "영": 0,
    "공": 0,
    "일": 1,
    "이": 2,
    "삼": 3,
    "사": 4,
    "오": 5,
    "육": 6,
    "륙": 6,
    "칠": 7,
    "팔": 8,
    "구": 9,
}
SINO_UNITS = {"십": 10, "백": 100, "천": 1000}
NATIVE_ONES = {
    "한": 1,
    "하나": 1,
    "두": 2,
    "둘": 2,
    "세": 3,
    "셋": 3,
    "석": 3,
    "네": 4,
    "넷": 4,
    "다섯": 5,
    "여섯": 6,
    "일곱": 7,
    "여덟": 8,
    "아홉": 9,
}
NATIVE_TENS = {"열": 10, "스무": 20, "스물": 20, "서른": 30, "마흔": 40, "쉰": 50}
HANGUL = re.compile(r"[가-힣ᄀ-ᇿ]")
NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
UNIT_SECONDS = {"시간": 3600, "분": 60, "초": 1}
DURATION_PART = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]+)?|[가-힣]+?)\s*(?P<unit>시간|분|초)(?:\s*(?P<half>반))?")
DURATION_FILLER = re.compile(r"\s|동안|정도|뒤에?|후에?|짜리|쯤|만|간")
TEMPERATURE = re.compile(
    r"^(?P<scale>섭씨|화씨)?\s*(?P<minus>영하|마이너스)?\s*(?P<num>-?[0-9]+(?:\.[0-9]+)?|[가-힣]+?)\s*"
    r"(?P<unit>도씨|도|℃|℉|°C|°F|°)?\s*(?:정도|쯤)?(?:으로|로|에|까지)?$"  # 22도로 맞춰: a particle may follow
)
VOLUME_UP = ("올려", "올리", "높여", "높이", "키워", "키우", "크게", "업", "더 크")
VOLUME_DOWN = ("내려", "내리", "줄여", "줄이", "낮춰", "낮추", "작게", "다운", "더 작")
VOLUME_NUMBER_SUFFIX = re.compile(r"(퍼센트|프로|%|만큼|정도|으로|로|칸|단계)+$")


def _sino_small(word: str) -> int | None:
    """A Sino-Korean number under 10000 (천, 백, 십 in falling order, each with an optional digit)."""
    total, digit, last_unit = 0, None, 10**9
    for ch in word:
        if ch in SINO_DIGITS:
            if digit is not None:
                return None  # two digits in a row (이이) is not a number word
            digit = SINO_DIGITS[ch]
        elif ch in SINO_UNITS:
            unit = SINO_UNITS[ch]
            if unit >= last_unit or digit in (0, 1):
                return None  # 십백, 영십, 일십: not how a number is read
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            return None
    return total + (digit or 0)


def sino(word: str) -> int | None:
    """A Sino-Korean number word (0..99999999) as an int, e.g. 이십이 -> 22, 백팔십 -> 180, 만 -> 10000."""
    if not word:
        return None
    if word.count("만") > 1:
        return None
    if "만" in word:
        high, low = word.split("만")
        high_value = _sino_small(high) if high else 1
        low_value = _sino_small(low) if low else 0
        if high_value is None or low_value is None or high_value == 0:
            return None
        return high_value * 10000 + low_value
    return _sino_small(word)


def native(word: str) -> int | None:
    """A native Korean number word (1..59), e.g. 한 -> 1, 두 -> 2, 열두 -> 12, 스물다섯 -> 25."""
    for tens_word, tens in NATIVE_TENS.items():
        if word.startswith(tens_word):
            rest = word[len(tens_word) :]
            if not rest:
                return tens
            ones = NATIVE_ONES.get(rest)
            return tens + ones if ones else None
    return NATIVE_ONES.get(word)


def number(word: str) -> float | None:
    """Digits, a Sino-Korean or a native Korean number word."""
    word = word.strip()
    if NUMBER.fullmatch(word):
        value = float(word)
        return int(value) if value.is_integer() else value
    value = sino(word)
    return value if value is not None else native(word)


def _duration(text: str) -> dict | None:
    seconds, pos, found = 0.0, 0, False
    for m in DURATION_PART.finditer(text):
        if DURATION_FILLER.sub("", text[pos : m.start()]):
            return None  # words we do not know between the parts
        amount = 0.5 if m.group("num") == "반" else number(m.group("num"))
        if amount is None:
            return None
        seconds += amount * UNIT_SECONDS[m.group("unit")] + (
            UNIT_SECONDS[m.group("unit")] / 2 if m.group("half") else 0
        )
        pos, found = m.end(), True
    if not found or DURATION_FILLER.sub("", text[pos:]):
        return None
    return {"text": text, "value": int(round(seconds)), "unit": "s"}


def _temperature(text: str) -> dict | None:
    m = TEMPERATURE.match(text.strip())
    if not m or (not m.group("unit") and not m.group("scale")):
        return None  # a bare number is for the English reader
    value = number(m.group("num"))
    if value is None:
        return None
    if m.group("minus"):
        value = -abs(value)
    fahrenheit = m.group("scale") == "화씨" or m.group("unit") in ("℉", "°F")
    return {"text": text, "value": value, "unit": "F" if fahrenheit else "C"}


def _volume_number(text: str) -> float | None:
    for word in re.findall(r"[0-9]+(?:\.[0-9]+)?%?|[가-힣]+", text):
        value = number(VOLUME_NUMBER_SUFFIX.sub("", word) or word)
        if value is not None:
            return value
    return None


def _volume(text: str) -> dict | None:
    squeezed = re.sub(r"\s+", "", text)
    if "음소거" in squeezed or "무음" in squeezed:
        unmute = any(w in squeezed for w in ("해제", "풀어", "풀기", "꺼", "끄"))
        return {"text": text, "value": "unmute" if unmute else "mute"}
    if squeezed in ("소리꺼", "소리꺼줘", "소리끄기"):
        return {"text": text, "value": "mute"}
    if "최대" in squeezed or "맥스" in squeezed:
        return {"text": text, "value": 100, "unit": "%"}
    if "최소" in squeezed:
        return {"text": text, "value": 0, "unit": "%"}
    up = any(w.replace(" ", "") in squeezed for w in VOLUME_UP)
    down = any(w.replace(" ", "") in squeezed for w in VOLUME_DOWN)
    amount = _volume_number(text)
    if up != down:
        out: dict = {"text": text, "value": "up" if up else "down"}
        if amount is not None and amount > 0:
            out["step"] = amount
        return out
    if up or amount is None or not 0 <= amount <= 100:
        return None
    return {"text": text, "value": amount, "unit": "%"}


def read_value_ko(slot: str, text: str) -> dict | None:
    """The slot object for a Korean span ({"text", "value", ...} per schema.py), or None when
    the span has no Korean in it or cannot be read."""
    if not isinstance(text, str) or not (HANGUL.search(text) or "℃" in text or "℉" in text):
        return None
    if slot == "duration":
        return _duration(text)
    if slot == "temperature":
        return _temperature(text)
    if slot == "volume":
        return _volume(text)
    if slot in ("room", "device", "mode"):
        return {"text": text, "value": " ".join(text.lower().split())}
    return None
