"""Labels taught on the board from a few examples, without torch: nearest neighbours over the
bundle's `teach_embedding` output, applied after the bundle's own head.

A text takes a taught label when its closest taught example is at least the bundle's threshold
similar (cosine) AND closer than every reference example of the bundle's own labels (shipped in
`teaching.npz`) and every negation of a taught example: what the bundle already knows stays its
own, and "don't close the blinds" is not "close the blinds". Examples live in the state dir
(`taught.json`); their vectors are recomputed whenever the bundle changes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

log = logging.getLogger(__name__)
TEACH_OUTPUT = "teach_embedding"
REFERENCE_FILE = "teaching.npz"
STATE_FILE = "taught.json"
LABEL_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_LABELS = 32
MAX_EXAMPLES = 20  # per label
MAX_EXAMPLE_CHARS = 200
NEGATIONS_EN = ("don't {}", "do not {}")


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass
class ReferenceSet:
    """Unit vectors of examples the taught labels must not take from, with their labels."""

    vectors: np.ndarray
    labels: list[str]


@dataclass
class Teaching:
    """What a bundle carries for teaching: a threshold per language and its own reference examples."""

    threshold: dict[str, float]  # "en", "ko": by the language of the text asked about
    reference: ReferenceSet

    def threshold_for(self, korean: bool) -> float:
        return self.threshold["ko" if korean else "en"]

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], folder: Path) -> Teaching | None:
        fields = manifest.get("teaching")
        if not fields or not (folder / REFERENCE_FILE).is_file():
            return None
        with np.load(folder / REFERENCE_FILE) as data:
            labels = [str(v) for v in data["labels"]]
            keep = np.array([label != "out_of_scope" for label in labels], dtype=bool)  # what users teach
            reference = ReferenceSet(unit(data["vectors"][keep]), [lb for lb, k in zip(labels, keep) if k])
        given = fields["threshold"]
        threshold = {k: float(v) for k, v in given.items()} if isinstance(given, dict) else {"en": given, "ko": given}
        return cls({"en": float(threshold["en"]), "ko": float(threshold["ko"])}, reference)


@dataclass
class TaughtSet:
    """The taught labels in effect for one model: one row per example."""

    labels: list[str]
    vectors: np.ndarray
    negatives: np.ndarray  # negations of the examples: never taken as the label itself
    teaching: Teaching

    def match(self, x: np.ndarray, korean: list[bool]) -> list[tuple[str, float] | None]:
        """Per row (`korean`: whether its text is Korean): (taught label, similarity) where it wins, else None."""
        if not self.labels:
            return [None] * len(x)
        x = unit(x)
        sims = x @ self.vectors.T
        best_i = sims.argmax(axis=1)
        best = sims[np.arange(len(x)), best_i]
        near = (x @ self.teaching.reference.vectors.T).max(axis=1)
        if len(self.negatives):
            near = np.maximum(near, (x @ self.negatives.T).max(axis=1))
        return [
            (self.labels[i], float(b)) if b >= self.teaching.threshold_for(k) and b > n else None
            for i, b, n, k in zip(best_i, best, near, korean)
        ]

    @property
    def names(self) -> list[str]:
        return sorted(set(self.labels))


def negations(example: str) -> list[str]:
    """English negations of a taught command (Korean ones are in the bundle's reference examples)."""
    if any("\uac00" <= ch <= "\ud7a3" for ch in example):
        return []
    text = example.strip()
    return [form.format(text[0].lower() + text[1:]) for form in NEGATIONS_EN]


def check_label(label: Any, bundle_labels: list[str]) -> str:
    """A valid new label name, or ConfigError naming the rule."""
    if not isinstance(label, str) or not LABEL_PATTERN.fullmatch(label):
        raise ConfigError(
            f"label {label!r} must be lower-case letters, digits and _ (up to 40, starting with a "
            "letter), e.g. blinds_close"
        )
    if label in bundle_labels:
        raise ConfigError(f"label {label!r} is one of the bundle's own labels; teach a new name")
    return label


def check_examples(examples: Any) -> list[str]:
    if not isinstance(examples, list) or not examples:
        raise ConfigError("give at least one example text")
    if len(examples) > MAX_EXAMPLES:
        raise ConfigError(f"{len(examples)} examples; at most {MAX_EXAMPLES} per label")
    out = []
    for i, text in enumerate(examples):
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"example {i} is empty or not a string")
        if len(text) > MAX_EXAMPLE_CHARS:
            raise ConfigError(f"example {i} has {len(text)} characters; at most {MAX_EXAMPLE_CHARS}")
        out.append(" ".join(text.split()))
    return out


class TaughtStore:
    """The taught examples of one device: `<state_dir>/taught.json`, written atomically."""

    def __init__(self, state_dir: str | os.PathLike[str]):
        self.path = Path(state_dir) / STATE_FILE

    def stamp(self) -> tuple[int, int] | None:
        """The file's modification time and size: what a change to it changes (None: no file yet)."""
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def load(self) -> dict[str, dict[str, Any]]:
        """label -> {"examples": [...], "taught_at": ISO time}; {} when nothing was taught."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{self.path} cannot be read ({exc}); fix or delete it to forget every taught label"
            ) from None
        return {k: v for k, v in data.get("labels", {}).items() if isinstance(v, dict) and v.get("examples")}

    def save(self, labels: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".taught-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"format": 1, "labels": labels}, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def teach(self, label: str, examples: list[str], bundle_labels: list[str]) -> dict[str, dict[str, Any]]:
        labels = self.load()
        check_label(label, bundle_labels)
        if label not in labels and len(labels) >= MAX_LABELS:
            raise ConfigError(f"{MAX_LABELS} labels are taught already; forget one first")
        labels[label] = {
            "examples": check_examples(examples),
            "taught_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.save(labels)
        return labels

    def forget(self, label: str) -> dict[str, dict[str, Any]]:
        labels = self.load()
        if labels.pop(label, None) is None:
            raise ConfigError(f"label {label!r} is not taught; taught: {', '.join(sorted(labels)) or 'none'}")
        self.save(labels)
        return labels


def build(embed, teaching: Teaching | None, labels: dict[str, dict[str, Any]]) -> TaughtSet | None:
    """The taught set for a model (`embed`: texts -> vectors); None when nothing is taught or the
    bundle cannot be taught (logged, the examples stay stored)."""
    if not labels:
        return None
    if teaching is None:
        log.warning(
            "taught labels %s are not in effect: this bundle has no %s output (re-export it with "
            "edge-app export or build-default); their examples stay in the state dir",
            ", ".join(sorted(labels)),
            TEACH_OUTPUT,
        )
        return None
    rows = [(name, text) for name, entry in sorted(labels.items()) for text in entry["examples"]]
    negated = [n for _, text in rows for n in negations(text)]
    vectors = unit(embed([text for _, text in rows]))
    negatives = unit(embed(negated)) if negated else np.zeros((0, vectors.shape[1]), dtype=np.float32)
    return TaughtSet([name for name, _ in rows], vectors, negatives, teaching)
