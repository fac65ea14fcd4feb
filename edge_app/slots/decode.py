"""A joint model's token tags -> character spans -> the result's `slots`, with numpy only.

The model tags every token (BIO, edge_app/slots/schema.py). Decoding walks the real tokens of
one text: B- opens a span, I- of the same slot extends it, a stray I- (after O or another
slot) opens one too, O closes. A B- of the slot whose span is open right before it also extends
that span: the model often says B- twice inside "living room" or "two hundred" (more so after
int8 quantization), while one command never names two rooms or two temperatures side by side.
A word's later sub-tokens always join the span their first sub-token is in, and never open
one of their own, so a span neither ends nor starts inside an English word ("lights" cut into
"▁light" "s" never gives the device "s"). Two kinds of sub-token are the exception, and there
each sub-token's own tag decides:
- Hangul: Korean glues particles and endings to the word (거실에, 22도로, 냉장고가) and a squeezed
  command glues words (안방스탠드), so "22도로" gives the span "22도";
- punctuation: SentencePiece (e5, XLM-R) splits words on spaces only, so "190," is one word
  "▁190" ","; the comma's own tag (O, as training teaches it) ends the span at "190", while the
  hyphen of "twenty-one" (tagged I-) keeps it whole.
A piece after one of those, or after SentencePiece's lone "▁", starts a word again: "에어컨22도"
may hold a device and a temperature.
Character offsets come from the tokenizer, so a span is a slice of the text as sent.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..text import is_hangul
from .schema import BIO_OUTSIDE, INTENT_SLOTS
from .values import read_value

SLOT_OUTPUT = "slot_logits"  # the joint model's second output: [batch, sequence, len(slot_tags)]


@dataclass(frozen=True)
class Span:
    slot: str
    start: int  # character offsets into the text, end exclusive
    end: int


def parse_tags(tags: Sequence[str]) -> list[tuple[str, str]]:
    """(prefix, slot) per tag id: ("O", "") for outside, ("B", "room") for B-room."""
    out = []
    for tag in tags:
        if tag == BIO_OUTSIDE:
            out.append((BIO_OUTSIDE, ""))
        else:
            prefix, _, slot = tag.partition("-")
            out.append((prefix, slot))
    return out


def decode_spans(
    tag_ids: np.ndarray | Sequence[int],
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    tags: Sequence[tuple[str, str]],
    text: str,
) -> list[Span]:
    """Spans of one text (what the tokenizer saw) from its per-token tag ids (argmax of
    slot_logits), in text order.

    Tokens without a word (special tokens, padding) or without characters close any open span
    and are never part of one; offsets are clipped to the text.
    """
    text_length = len(text)
    spans: list[Span] = []
    slot, start, end, word = "", -1, -1, None  # the open span; start < 0: none open

    def close() -> None:
        nonlocal start
        if start < 0:  # no span open
            return
        # SentencePiece tokens (XLM-R, e5: "▁kitchen") carry the space before the word in their
        # offsets; a span is the words, never the spaces around them.
        first, last = start, end
        while first < last and text[first].isspace():
            first += 1
        while last > first and text[last - 1].isspace():
            last -= 1
        if last > first:
            spans.append(Span(slot, first, last))
        start = -1

    plain = False  # the token before was a plain piece (not Hangul, punctuation or space)
    n_tags = len(tags)
    # Plain Python ints: iterating a numpy array yields numpy scalars, slower per step.
    ids = tag_ids.tolist() if isinstance(tag_ids, np.ndarray) else tag_ids
    for tag_id, (t_start, t_end), t_word in zip(ids, offsets, word_ids):
        if t_start < 0 or t_end > text_length:  # a tokenizer's offsets, clipped to the text
            t_start, t_end = max(0, min(int(t_start), text_length)), max(0, min(int(t_end), text_length))
        if t_word is None or t_end <= t_start:
            close()
            word = None
            continue
        piece = text[t_start:t_end]
        own = _keeps_own_tag(piece)
        if t_word == word and plain and not own:
            if start >= 0:
                end = max(end, t_end)  # a later sub-token of the open span's last word
            continue  # ... or of a word whose first sub-token was outside every span
        plain = not own and not piece.isspace()
        tag_id = int(tag_id)
        prefix, name = tags[tag_id] if 0 <= tag_id < n_tags else (BIO_OUTSIDE, "")
        if prefix == BIO_OUTSIDE or not name:
            close()
        elif start >= 0 and name == slot:  # I-, or B- right after the same slot: one span
            end = max(end, t_end)
        else:  # B- (of another slot, or after O), or a stray I-: a new span
            close()
            # Jamo of one syllable share its offsets: a new span starts after the last one.
            floor = spans[-1].end if spans else 0
            if t_end <= floor:
                word = t_word
                continue
            slot, start, end = name, max(t_start, floor), t_end
        word = t_word
    close()
    return spans


@lru_cache(maxsize=8192)
def _keeps_own_tag(piece: str) -> bool:
    """Sub-tokens whose own tag decides even inside a word: Hangul, and punctuation only.
    Cached: a vocabulary's pieces repeat from text to text, and this runs for every token."""
    return is_hangul(piece) or all(unicodedata.category(ch).startswith("P") for ch in piece)


def allowed(label: str, spans: list[Span]) -> list[Span]:
    """The spans the predicted intent can carry (INTENT_SLOTS; a label the schema does not know,
    from a user's own model, keeps them all); for each slot the first span only."""
    carried = INTENT_SLOTS.get(label)
    seen: set[str] = set()
    out = []
    for span in spans:
        if (carried is None or span.slot in carried) and span.slot not in seen:
            seen.add(span.slot)
            out.append(span)
    return out


def slot_values(text: str, spans: list[Span]) -> dict[str, dict[str, Any]]:
    """The result's `slots`: per slot, the value parser's object for the span's text."""
    return {span.slot: read_value(span.slot, text[span.start : span.end]) for span in spans}
