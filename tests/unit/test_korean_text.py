"""Korean text at the runtime (issue 14): input normalisation (edge_app/text.py) and Korean
slot values (edge_app/slots/korean.py). Pure logic: fast unit tests plus Hypothesis; the
runtime checks at the end use the real default bundle through the int8 runtime."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_app.classifier import Classifier
from edge_app.slots.korean import native, read_value_ko, sino
from edge_app.slots.schema import SLOT_NAMES
from edge_app.text import TextMap, normalise_input

# --- normalise_input / TextMap ---------------------------------------------------------------


def test_nfd_korean_becomes_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "거실 불 켜줘")
    assert len(nfd) > len("거실 불 켜줘")
    assert normalise_input(nfd) == "거실 불 켜줘"


def test_full_width_ascii_and_odd_whitespace() -> None:
    assert normalise_input("ＴＶ　볼륨　５０으로") == "TV 볼륨 50으로"
    assert normalise_input("  에어컨\u00a0\u00a0２２도\t맞춰\u200b줘 \n") == "에어컨 22도 맞춰줘"
    assert normalise_input("ｔｕｒｎ ｏｎ！") == "turn on!"


def test_normal_text_is_left_alone() -> None:
    for text in ("TV 볼륨 올려", "set the kitchen to 22 degrees", "26℃", "에어컨 꺼"):
        assert normalise_input(text) == text


def test_spans_of_the_normalised_text_map_back_to_the_original() -> None:
    original = "  " + unicodedata.normalize("NFD", "안방") + "\u3000에어컨  ２２도로 맞춰"
    mapped = TextMap(original)
    assert mapped.normalised == "안방 에어컨 22도로 맞춰"
    for word in ("안방", "에어컨", "22도"):
        start = mapped.normalised.index(word)
        a, b = mapped.span(start, start + len(word))
        assert normalise_input(original[a:b]) == word  # the original characters of that span


@given(st.text(max_size=40))
def test_normalise_is_idempotent_and_maps_every_span(text: str) -> None:
    mapped = TextMap(text)
    assert normalise_input(mapped.normalised) == mapped.normalised
    n = len(mapped.normalised)
    for start in range(n):
        a, b = mapped.span(start, n)
        assert 0 <= a <= b <= len(text)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=40))
def test_ascii_fast_path_maps_spans_as_the_general_path_does(text: str) -> None:
    fast = TextMap(text)
    general = TextMap(text + "\u200b")  # a dropped, non-ASCII character: the general path, same text
    assert fast.normalised == general.normalised
    n = len(fast.normalised)
    for start in range(n):  # (an empty span at the very end differs by the appended character)
        for end in range(start, n + 1):
            assert fast.span(start, end) == general.span(start, end)


@given(st.text(alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3) | st.just(" "), max_size=20))
def test_nfd_and_nfc_hangul_normalise_alike(text: str) -> None:
    assert normalise_input(unicodedata.normalize("NFD", text)) == normalise_input(text)


# --- Korean numbers and slot values ----------------------------------------------------------------


@pytest.mark.parametrize(
    "word, value",
    [
        ("영", 0),
        ("일", 1),
        ("십", 10),
        ("이십이", 22),
        ("백팔십", 180),
        ("천구백구십구", 1999),
        ("삼천오", 3005),
        ("이이", None),
        ("십백", None),
        ("일십", None),
        ("에어컨", None),
    ],
)
def test_sino_korean_numbers(word: str, value: int | None) -> None:
    assert sino(word) == value


@pytest.mark.parametrize(
    "word, value",
    [("한", 1), ("두", 2), ("세", 3), ("네", 4), ("다섯", 5), ("열", 10), ("열두", 12), ("스물다섯", 25), ("불", None)],
)
def test_native_korean_numbers(word: str, value: int | None) -> None:
    assert native(word) == value


@pytest.mark.parametrize(
    "slot, text, expected",
    [
        ("duration", "삼십 분", {"value": 1800, "unit": "s"}),
        ("duration", "삼십분", {"value": 1800, "unit": "s"}),
        ("duration", "한 시간", {"value": 3600, "unit": "s"}),
        ("duration", "한 시간 반", {"value": 5400, "unit": "s"}),
        ("duration", "두 시간 반", {"value": 9000, "unit": "s"}),
        ("duration", "1시간 30분", {"value": 5400, "unit": "s"}),
        ("duration", "90초", {"value": 90, "unit": "s"}),
        ("duration", "반 시간", {"value": 1800, "unit": "s"}),
        ("duration", "1분 30초", {"value": 90, "unit": "s"}),
        ("temperature", "22도", {"value": 22, "unit": "C"}),
        ("temperature", "이십이 도", {"value": 22, "unit": "C"}),
        ("temperature", "섭씨 22도", {"value": 22, "unit": "C"}),
        ("temperature", "화씨 72도", {"value": 72, "unit": "F"}),
        ("temperature", "백팔십 도", {"value": 180, "unit": "C"}),
        ("temperature", "이십이 도로", {"value": 22, "unit": "C"}),  # the particle a span may keep (22도로 맞춰 줘)
        ("temperature", "180도까지", {"value": 180, "unit": "C"}),
        ("temperature", "영하 18도", {"value": -18, "unit": "C"}),
        ("temperature", "26℃", {"value": 26, "unit": "C"}),
        ("volume", "최대", {"value": 100, "unit": "%"}),
        ("volume", "최소", {"value": 0, "unit": "%"}),
        ("volume", "음소거", {"value": "mute"}),
        ("volume", "음소거 해제", {"value": "unmute"}),
        ("volume", "좀 더 크게", {"value": "up"}),
        ("volume", "올려", {"value": "up"}),
        ("volume", "내려", {"value": "down"}),
        ("volume", "줄여", {"value": "down"}),
        ("volume", "10 올려", {"value": "up", "step": 10}),
        ("volume", "오십", {"value": 50, "unit": "%"}),
        ("volume", "30 퍼센트", {"value": 30, "unit": "%"}),
        ("room", "아이 방", {"value": "아이 방"}),
        ("mode", "LED 조명", {"value": "led 조명"}),
    ],
)
def test_read_value_ko(slot: str, text: str, expected: dict) -> None:
    assert read_value_ko(slot, text) == {"text": text, **expected}


@pytest.mark.parametrize(
    "slot, text",
    [
        ("temperature", "22"),  # no Korean: the English reader's
        ("duration", "ten minutes"),
        ("duration", "타이머"),  # not a duration
        ("temperature", "에어컨 도"),
        ("volume", "볼륨"),  # no level and no direction
        ("volume", "올려 내려"),  # both directions
        ("volume", "이백"),  # over 100 %
        ("unknown_slot", "이십이"),
    ],
)
def test_read_value_ko_returns_none_when_it_does_not_understand(slot: str, text: str) -> None:
    assert read_value_ko(slot, text) is None


DIGIT_WORDS = ["", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]


def spell_sino(n: int) -> str:
    """A test-side speller, independent of the generator's: 0..9999 read aloud."""
    if n == 0:
        return "영"
    words = []
    for value, unit in ((1000, "천"), (100, "백"), (10, "십"), (1, "")):
        digit = n // value % 10
        if digit:
            words.append(("" if digit == 1 and unit else DIGIT_WORDS[digit]) + unit)
    return "".join(words)


@given(st.integers(min_value=0, max_value=9999))
def test_sino_korean_round_trips(n: int) -> None:
    assert sino(spell_sino(n)) == n
    assert read_value_ko("temperature", f"{spell_sino(n)} 도") == {
        "text": f"{spell_sino(n)} 도",
        "value": n,
        "unit": "C",
    }


@given(st.integers(min_value=1, max_value=600))
def test_sino_minutes_round_trip(n: int) -> None:
    assert read_value_ko("duration", f"{spell_sino(n)} 분")["value"] == n * 60


@settings(max_examples=300)
@given(
    st.sampled_from(SLOT_NAMES + ("other",)),
    st.text(max_size=30)
    | st.text(
        alphabet="일이삼사오육칠팔구십백천만영한두세네반시간분초도섭씨화씨영하최대음소거올려내려 0123456789%℃.-",
        max_size=20,
    ),
)
def test_read_value_ko_never_raises(slot: str, text: str) -> None:
    out = read_value_ko(slot, text)
    assert out is None or (out["text"] == text and "value" in out)


# --- through the runtime (the real default bundle, int8) --------------------------------------------


def test_runtime_treats_nfd_full_width_and_mixed_text_like_their_plain_form(default_bundle: Path) -> None:
    clf = Classifier.load(default_bundle)
    pairs = [
        (unicodedata.normalize("NFD", "거실 불 켜줘"), "거실 불 켜줘"),
        ("ｓｅｔ ｔｈｅ ａｃ ｔｏ ２２", "set the ac to 22"),
        ("turn the tv volume to ５０", "turn the tv volume to 50"),
        ("TV　볼륨\u00a0올려", "TV 볼륨 올려"),
    ]
    for odd, plain in pairs:
        (a,), (b,) = clf.classify([odd]), clf.classify([plain])
        assert (a.label, a.score, a.tokens) == (b.label, b.score, b.tokens), odd
    (mixed,) = clf.classify(["TV 볼륨 올려"])
    assert mixed.tokens > 4  # the Korean part is tokenised, not dropped
