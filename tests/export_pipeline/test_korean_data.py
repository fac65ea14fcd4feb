"""The Korean intent data (issue 14): deterministic, no sentence in two splits, spans that fit
their text and intent, gold values that the runtime's Korean reader reads back, and a test
split that holds out templates and fillers."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from edge_app.slots.korean import read_value_ko

DATA = Path(__file__).resolve().parents[2] / "export" / "data"
sys.path.insert(0, str(DATA))
import make_intents_ko  # noqa: E402  (a script beside make_intents.py, not a package module)


def rows(split: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / "intents" / "ko" / f"{split}.jsonl").read_text("utf-8").splitlines()]


def test_files_are_current_and_consistent() -> None:
    assert make_intents_ko.main(["--check"]) == 0


def test_sizes_labels_and_out_of_scope_share() -> None:
    sizes = {s: len(rows(s)) for s in ("train", "validation", "test")}
    assert 2800 <= sizes["train"] <= 3400 and 250 <= sizes["validation"] <= 400 and 250 <= sizes["test"] <= 420
    for split in sizes:
        labels = Counter(r["label"] for r in rows(split))
        assert len(labels) == 14 and all(r["lang"] == "ko" for r in rows(split))
        assert 0.33 <= labels["out_of_scope"] / sizes[split] <= 0.5


def test_gold_values_are_what_the_korean_reader_reads() -> None:
    checked = 0
    for split in ("train", "validation", "test"):
        for row in rows(split):
            for slot in row["slots"]:
                span = row["text"][slot["start"] : slot["end"]]
                read = read_value_ko(slot["slot"], span)
                korean = any("가" <= ch <= "힣" for ch in span) or "℃" in span  # else the English reader's
                if slot["slot"] in ("temperature", "duration", "volume") and korean:
                    assert read is not None, (row["text"], span)
                    assert read["value"] == slot["value"] and read.get("unit") == slot.get("unit"), (
                        row["text"],
                        read,
                        slot,
                    )
                    assert read.get("step") == slot.get("step"), (row["text"], read, slot)
                    checked += 1
    assert checked > 300


def test_held_out_fillers_only_in_test() -> None:
    for split in ("train", "validation"):
        for row in rows(split):
            assert not any(word in row["text"] for word in ("서재", "손님방", "수면등", "켜주실래요", "김치냉장고")), (
                row
            )
    test_text = " ".join(r["text"] for r in rows("test"))
    assert all(word in test_text for word in ("서재", "손님방", "켜주실래요"))


def test_the_train_only_pass_adds_to_train_and_changes_nothing_else(monkeypatch) -> None:
    """Validation and test are exactly what the first pass writes, so figures before and after
    the train-only pass (docs/accuracy.md) are measured on the same sentences."""
    with_extra = make_intents_ko.build()
    monkeypatch.setattr(make_intents_ko, "extra_train", lambda taken, rng: [])
    first = make_intents_ko.build()
    assert with_extra["validation"] == first["validation"] and with_extra["test"] == first["test"]
    added = [r for r in with_extra["train"] if r not in first["train"]]
    assert len(with_extra["train"]) - len(first["train"]) == len(added) > 1000
    extra_words = {w for words in make_intents_ko.EXTRA_SPAN_FILLERS.values() for w in words}
    assert sum(any(w in r["text"] for w in extra_words) for r in added) > 150
    assert not extra_words & make_intents_ko.HELD_OUT_FILLERS
