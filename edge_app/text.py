"""Input text normalisation, applied before tokenising: one form for text that looks the same.

Why: a phone keyboard, a speech recogniser or a macOS file name may send Korean decomposed
(NFD: 불 as ᄇ+ᅮ+ᆯ), an IME may send full-width digits and letters (２２도, ＴＶ), and
pasted text carries no-break or zero-width spaces. The model was trained on NFC text with ASCII
digits and single spaces, so all of these are mapped there first.

Normalising can change the length (three NFD jamo become one syllable; runs of spaces become
one), so offsets a tokenizer reports refer to the normalised text. `TextMap` keeps where each
normalised character came from: `TextMap(text).span(start, end)` turns a span of the normalised
text back into a span of the original, so slots can always be reported against what was sent.
"""

from __future__ import annotations

import unicodedata

FULL_WIDTH_FIRST, FULL_WIDTH_LAST, FULL_WIDTH_SHIFT = 0xFF01, 0xFF5E, 0xFEE0  # ！..～ -> !..~
DROPPED = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}  # zero-width, soft hyphen


def is_hangul(text: str) -> bool:
    """Whether any character is Hangul: syllables, or conjoining or compatibility jamo (the
    English vocabulary's normaliser splits syllables into jamo)."""
    return any(
        "\uac00" <= ch <= "\ud7a3"
        or "\u1100" <= ch <= "\u11ff"
        or "\u3130" <= ch <= "\u318f"
        or "\ua960" <= ch <= "\ua97f"
        or "\ud7b0" <= ch <= "\ud7ff"
        for ch in text
    )


def _joins_previous(ch: str) -> bool:
    """Whether NFC may merge this character into the one before it (combining marks, Hangul
    medial vowels and final consonants), i.e. it cannot start an independent chunk."""
    return unicodedata.combining(ch) != 0 or 0x1160 <= ord(ch) <= 0x11FF or 0xD7B0 <= ord(ch) <= 0xD7FF


def _chunks(text: str) -> list[tuple[int, int]]:
    """(start, end) of the pieces NFC normalises independently."""
    bounds = [i for i, ch in enumerate(text) if i == 0 or not _joins_previous(ch)]
    return list(zip(bounds, bounds[1:] + [len(text)]))


def _ascii(ch: str) -> str:
    code = ord(ch)
    if FULL_WIDTH_FIRST <= code <= FULL_WIDTH_LAST:
        return chr(code - FULL_WIDTH_SHIFT)
    return " " if ch.isspace() else ch


class TextMap:
    """The normalised form of a text, and for each of its characters the original span it came
    from (NFC merges, dropped invisible characters and collapsed spaces included)."""

    def __init__(self, text: str):
        self.original = text
        if text.isascii() and " ".join(text.split()) == text:
            # Already in normal form (most English commands): each character maps to itself.
            # No per-character map to build: the common case stays cheap.
            self.normalised, self._origin = text, None
            return
        out: list[str] = []
        origin: list[tuple[int, int]] = []
        chunks = _chunks(text)
        if "".join(unicodedata.normalize("NFC", text[a:b]) for a, b in chunks) != unicodedata.normalize("NFC", text):
            chunks = [(0, len(text))] if text else []  # a composition across chunks: one chunk, coarse map
        for start, end in chunks:
            for ch in unicodedata.normalize("NFC", text[start:end]):
                if ch in DROPPED:
                    continue
                ch = _ascii(ch)
                if ch == " " and (not out or out[-1] == " "):
                    continue  # leading space or a run of spaces: keep one
                out.append(ch)
                origin.append((start, end))
        while out and out[-1] == " ":
            out.pop()
            origin.pop()
        self.normalised = "".join(out)
        self._origin: list[tuple[int, int]] | None = origin

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the normalised span [start, end) (end exclusive)."""
        if self._origin is None:  # the identity map
            start = min(max(start, 0), len(self.original))
            return start, min(max(end, start), len(self.original))
        if not self._origin or end <= start:
            at = self._origin[start][0] if start < len(self._origin) else len(self.original)
            return at, at
        return self._origin[start][0], self._origin[min(end, len(self._origin)) - 1][1]


def normalise_input(text: str) -> str:
    """NFC, full-width ASCII to ASCII, invisible characters dropped, whitespace collapsed and
    trimmed: what the model sees. Idempotent."""
    return TextMap(text).normalised
