"""The everyday-phrasing data (issue 27): its generators, the minimal pairs the export gate asks,
and the independent phrasing hold-out, which must share no sentence with anything trained on."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_app.slots.schema import INTENT_SLOTS
from export.data import MINIMAL_PAIRS, load_examples, load_minimal_pairs
from export.evaluate import OPPOSITES

DATA = Path(__file__).resolve().parents[2] / "export" / "data"
PHRASING = DATA / "intents" / "phrasing"
HOLDOUT = DATA / "phrasing_holdout"
TRAINED = (
    sorted((DATA / "intents").glob("*.jsonl"))
    + sorted((DATA / "intents" / "ko").glob("*.jsonl"))
    + sorted(PHRASING.glob("*_train.jsonl"))
    + sorted(PHRASING.glob("*_validation.jsonl"))
)


def _key(text: str) -> str:
    return "".join(text.lower().split())


@functools.cache
def _trained_keys() -> frozenset[str]:
    """Every sentence trained or tuned on, as `_key`s (read once for all the hold-out tests)."""
    return frozenset(_key(e.text) for path in TRAINED for e in load_examples(path))


@pytest.mark.parametrize("script", ["make_phrasing_en.py", "make_phrasing_ko.py"])
def test_generator_files_are_current_and_every_span_checks(script: str) -> None:
    proc = subprocess.run([sys.executable, str(DATA / script), "--check"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "problems 0" in proc.stdout


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_train_and_validation_share_no_sentence_and_cover_every_label(lang: str) -> None:
    train = load_examples(PHRASING / f"{lang}_train.jsonl")
    validation = load_examples(PHRASING / f"{lang}_validation.jsonl")
    assert not {_key(e.text) for e in train} & {_key(e.text) for e in validation}
    for split in (train, validation):
        assert {e.label for e in split} == set(INTENT_SLOTS)
        assert all(e.lang == lang for e in split)


def test_minimal_pairs_are_opposites_in_both_languages() -> None:
    rows = [json.loads(line) for line in MINIMAL_PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert {r["lang"] for r in rows} == {"en", "ko"} and len(rows) >= 30
    for r in rows:
        volume = (r.get("a_volume"), r.get("b_volume"))
        assert OPPOSITES.get(r["a_label"]) == r["b_label"] or (
            r["a_label"] == r["b_label"] == "tv_volume" and volume == ("up", "down")
        ), r
    assert len(load_minimal_pairs()) == 2 * len(rows)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_phrasing_holdout_is_independent_of_everything_trained_or_tuned_on(lang: str) -> None:
    """The hold-out was written before training, without reading the data, and is used for no
    choice. Short everyday commands ("turn on the ac") were written independently by both sides,
    so some coincide (docs/accuracy.md reports the hold-out with and without them); copying the
    hold-out into the data would push the share far past this bar."""
    holdout = load_examples(HOLDOUT / f"{lang}.jsonl")
    assert len([e for e in holdout if e.label != "out_of_scope"]) >= 150
    shared = [e.text for e in holdout if _key(e.text) in _trained_keys()]
    assert len(shared) <= 0.25 * len(holdout), shared


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_everyday_life_holdout_shares_no_sentence_with_the_data(lang: str) -> None:
    """Out-of-scope chatter written before any model was measured on it: not one of its texts may be
    trained on, or it measures memory instead of wrong actions."""
    holdout = load_examples(DATA / "life_holdout" / f"{lang}.jsonl")
    assert len(holdout) >= 40 and {e.label for e in holdout} == {"out_of_scope"}
    assert all(e.lang == lang for e in holdout)
    assert not [e.text for e in holdout if _key(e.text) in _trained_keys()]
