"""Labelled text files: the shipped intent dataset and users' own eval sets (CSV or JSONL)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from edge_app.errors import ExportError

DATA_DIR = Path(__file__).resolve().parent / "data" / "intents"
DEFAULT_TRAIN = DATA_DIR / "train.jsonl"
DEFAULT_VALIDATION = DATA_DIR / "validation.jsonl"
DEFAULT_TEST = DATA_DIR / "test.jsonl"


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def load_examples(path: str | Path) -> list[Example]:
    """Read `text,label` rows from a .csv (with a header) or .jsonl file."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"eval file {path} does not exist; pass a CSV or JSONL file of text,label")
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        examples = [Example(str(row["text"]), str(row["label"])) for row in rows]
    except (KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(
            f"eval file {path} is not CSV/JSONL with 'text' and 'label' on every row ({exc!r}); fix the file"
        ) from None
    if not examples:
        raise ExportError(f"eval file {path} has no examples")
    return examples


def check_labels(examples: list[Example], labels: list[str], path: str | Path) -> None:
    """Refuse an eval file whose labels the model does not have: accuracy would be meaningless."""
    unknown = sorted({e.label for e in examples} - set(labels))
    if unknown:
        raise ExportError(
            f"eval file {path} has labels the model does not know: {', '.join(unknown[:5])}"
            f"{' ...' if len(unknown) > 5 else ''}; the model's labels are: {', '.join(labels)}"
        )
