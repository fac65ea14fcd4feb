"""Labelled text files: the shipped intent dataset and users' own eval sets (CSV or JSONL).

JSONL rows may carry slot spans (`"slots": [{"slot", "start", "end", "value"?, "unit"?, "step"?}]`,
character offsets, end exclusive; see edge_app/slots/schema.py) and a `"lang"`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_app.errors import ExportError

DATA_DIR = Path(__file__).resolve().parent / "data" / "intents"
DEFAULT_TRAIN = DATA_DIR / "train.jsonl"
DEFAULT_VALIDATION = DATA_DIR / "validation.jsonl"
DEFAULT_TEST = DATA_DIR / "test.jsonl"
KOREAN_DIR = DATA_DIR / "ko"
# Sentences that differ only in polarity (on/off, start/dock, up/down): the export refuses a model
# that answers any of them with the opposite action (export/evaluate.py, polarity_flips).
MINIMAL_PAIRS = Path(__file__).resolve().parent / "data" / "minimal_pairs.jsonl"
# The default model's splits, English and Korean, each split a list read as one.
# Everyday phrasing (make_phrasing_en.py, make_phrasing_ko.py): new verbs, power phrasings, media
# volume, indirect statements, negations and minimal pairs; its validation holds out templates and words.
PHRASING_DIR = DATA_DIR / "phrasing"
DEFAULT_TRAIN_FILES: tuple[Path, ...] = (
    DEFAULT_TRAIN,
    KOREAN_DIR / "train.jsonl",
    PHRASING_DIR / "en_train.jsonl",
    PHRASING_DIR / "ko_train.jsonl",
)
DEFAULT_VALIDATION_FILES: tuple[Path, ...] = (
    DEFAULT_VALIDATION,
    KOREAN_DIR / "validation.jsonl",
    PHRASING_DIR / "en_validation.jsonl",
    PHRASING_DIR / "ko_validation.jsonl",
)
DEFAULT_TEST_FILES: tuple[Path, ...] = (DEFAULT_TEST, KOREAN_DIR / "test.jsonl")


@dataclass(frozen=True)
class SlotSpan:
    """One annotated slot: text[start:end], and the gold value where the data gives one."""

    slot: str
    start: int
    end: int
    value: Any = None
    unit: str | None = None
    step: Any = None

    def gold_value(self) -> dict[str, Any] | None:
        """The value fields a parser should produce for this span; None when the data gives no value."""
        if self.value is None:
            return None
        out = {"value": self.value}
        if self.unit is not None:
            out["unit"] = self.unit
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    slots: tuple[SlotSpan, ...] = ()
    lang: str = "en"


def _slots(text: str, raw: Any) -> tuple[SlotSpan, ...]:
    if raw is None:
        return ()
    spans = []
    for item in raw:
        span = SlotSpan(
            str(item["slot"]),
            int(item["start"]),
            int(item["end"]),
            item.get("value"),
            item.get("unit"),
            item.get("step"),
        )
        if not 0 <= span.start < span.end <= len(text):
            raise ValueError(f"slot {span.slot} [{span.start}, {span.end}) lies outside {text!r}")
        spans.append(span)
    return tuple(sorted(spans, key=lambda s: s.start))


def load_examples(path: str | Path) -> list[Example]:
    """Read `text,label` rows from a .csv (with a header) or .jsonl file (JSONL may add slots)."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"eval file {path} does not exist; pass a CSV or JSONL file of text,label")
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        examples = [
            Example(
                str(row["text"]),
                str(row["label"]),
                _slots(str(row["text"]), row.get("slots")),
                str(row.get("lang") or "en"),
            )
            for row in rows
        ]
    except (KeyError, TypeError, ValueError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(
            f"eval file {path} is not CSV/JSONL with 'text' and 'label' on every row ({exc!r}); fix the file"
        ) from None
    if not examples:
        raise ExportError(f"eval file {path} has no examples")
    return examples


def load_many(paths: Iterable[str | Path]) -> list[Example]:
    """The examples of several files, in order (e.g. English then Korean train splits)."""
    return [e for path in paths for e in load_examples(path)]


def load_minimal_pairs(path: str | Path = MINIMAL_PAIRS) -> list[Example]:
    """Both sides of every pair as labelled examples; a TV volume side carries its direction as a
    volume slot value (spanless: only the value is compared)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        pair = json.loads(line)
        for side in ("a", "b"):
            direction = pair.get(f"{side}_volume")
            slots = (SlotSpan("volume", 0, 0, direction),) if direction else ()
            out.append(Example(pair[side], pair[f"{side}_label"], slots, pair.get("lang", "en")))
    return out


def has_slots(examples: list[Example]) -> bool:
    """Whether a set is annotated with slots at all (then span figures mean something)."""
    return any(e.slots for e in examples)


def check_labels(examples: list[Example], labels: list[str], path: str | Path) -> None:
    """Refuse an eval file whose labels the model does not have: accuracy would be meaningless."""
    unknown = sorted({e.label for e in examples} - set(labels))
    if unknown:
        raise ExportError(
            f"eval file {path} has labels the model does not know: {', '.join(unknown[:5])}"
            f"{' ...' if len(unknown) > 5 else ''}; the model's labels are: {', '.join(labels)}"
        )
