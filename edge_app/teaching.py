"""Labels taught on the board from a few examples, without torch: nearest neighbours over the
bundle's `teach_embedding` output, whitened with the bundle's `teaching.npz`, applied after the
bundle's own head.

A text takes a taught label when the bundle itself answers `out_of_scope` (what it already knows
stays its own) AND its closest taught example is at least the bundle's threshold similar (cosine)
AND closer than every negation and opposite action of that label's examples ("don't close the
blinds" and "open the blinds" are not blinds_close). Examples live in the state dir (`taught.json`);
their vectors are recomputed whenever the bundle changes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

log = logging.getLogger(__name__)
TEACH_OUTPUT = "teach_embedding"
TEACHING_FILE = "teaching.npz"
STATE_FILE = "taught.json"
LABEL_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_LABELS = 32
MAX_EXAMPLES = 20  # per label
MAX_EXAMPLE_CHARS = 200
NEGATIONS_EN = ("don't {}", "do not {}")
# Opposite actions: an example with one of these words also yields its opposite, which the label must
# be nearer than ("unlock the door" is not door_lock, "블라인드 올려줘" is not blinds_close).
OPPOSITES_EN = {
    "on": "off", "off": "on", "open": "close", "close": "open", "lock": "unlock", "unlock": "lock",
    "up": "down", "down": "up", "raise": "lower", "lower": "raise", "start": "stop", "stop": "start",
    "shut": "open", "draw": "open",
}  # fmt: skip
OPPOSITES_KO = {"켜": "꺼", "꺼": "켜", "열어": "닫아", "닫아": "열어", "잠가": "열어", "올려": "내려", "내려": "올려"}
_EN_WORD = re.compile(r"[a-z]+")


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass
class Space:
    """Where taught examples are compared: (unit(x) - mean) @ projection, then unit length. Whitening
    spreads apart the sentences that all sit in the raw output's few dominant directions."""

    mean: np.ndarray  # (hidden,)
    projection: np.ndarray  # (hidden, dims)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return unit((unit(x) - self.mean) @ self.projection)


@dataclass
class Teaching:
    """What a bundle carries for teaching: a threshold per language and the space compared in."""

    threshold: dict[str, float]  # "en", "ko": by the language of the text asked about
    space: Space | None = None  # None: plain cosine of the raw output (bundles exported before whitening)
    examples: dict[str, list[str]] = field(default_factory=dict)  # the bundle's own, matched like taught ones

    def threshold_for(self, korean: bool) -> float:
        return self.threshold["ko" if korean else "en"]

    def vectors(self, x: np.ndarray) -> np.ndarray:
        """Unit vectors of raw `teach_embedding` rows, in the space taught labels are compared in."""
        return self.space(x) if self.space is not None else unit(x)

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], folder: Path) -> Teaching | None:
        fields = manifest.get("teaching")
        if not fields or not (folder / TEACHING_FILE).is_file():
            return None
        with np.load(folder / TEACHING_FILE) as data:
            space = Space(data["mean"], data["projection"]) if "projection" in data.files else None
        given = fields["threshold"]
        threshold = {k: float(v) for k, v in given.items()} if isinstance(given, dict) else {"en": given, "ko": given}
        examples = {str(k): [str(t) for t in v] for k, v in (fields.get("examples") or {}).items()}
        return cls({"en": float(threshold["en"]), "ko": float(threshold["ko"])}, space, examples)


@dataclass
class TaughtSet:
    """The taught labels in effect for one model: one row per example, and per label the texts a match
    must be farther from (negations and opposite actions of its examples)."""

    labels: list[str]
    vectors: np.ndarray
    negatives: np.ndarray
    negative_labels: list[str]  # the label whose example each negative row was made from
    teaching: Teaching

    def match(self, x: np.ndarray, korean: list[bool], refused: list[bool]) -> list[tuple[str, float] | None]:
        """Per row of raw `teach_embedding` output (`korean`: whether its text is Korean; `refused`: whether
        the bundle's own answer is out_of_scope): (taught label, similarity) where it wins, else None."""
        if not self.labels:
            return [None] * len(x)
        x = self.teaching.vectors(x)
        sims = x @ self.vectors.T
        best_i = sims.argmax(axis=1)
        best = sims[np.arange(len(x)), best_i]
        label = np.array(self.labels)[best_i]
        # Each row is kept from the negations and opposites of its own best label's examples only.
        own = np.array(self.negative_labels, dtype=str)[None, :] == label[:, None]
        near = np.where(own, x @ self.negatives.T, -np.inf).max(axis=1, initial=-np.inf)
        threshold = np.array([self.teaching.threshold_for(k) for k in korean])
        wins = np.asarray(refused, dtype=bool) & (best >= threshold) & (best > near)
        return [(str(lb), float(b)) if w else None for lb, b, w in zip(label, best, wins)]

    @property
    def names(self) -> list[str]:
        return sorted(set(self.labels))


def opposites(example: str) -> list[str]:
    """The example with each word of OPPOSITES_EN / OPPOSITES_KO that it holds swapped for its opposite."""
    text = " ".join(example.lower().split())
    out = []
    for word in dict.fromkeys(_EN_WORD.findall(text)):
        if word in OPPOSITES_EN:
            out.append(re.sub(rf"\b{word}\b", OPPOSITES_EN[word], text))
    for stem, other in OPPOSITES_KO.items():
        if stem in text:
            out.append(text.replace(stem, other))
    return out


def negations(example: str) -> list[str]:
    """English negations of a taught command (Korean negations the bundle's own head refuses)."""
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
    """The taught set for a model (`embed`: texts -> vectors): the stored labels and the examples the bundle
    carries for its own (`edge-app train`); None when there are none or the bundle cannot be taught (logged,
    the examples stay stored)."""
    if not labels and not (teaching and teaching.examples):
        return None
    if teaching is None:
        log.warning(
            "taught labels %s are not in effect: this bundle has no %s output (re-export it with "
            "edge-app export or build-default); their examples stay in the state dir",
            ", ".join(sorted(labels)),
            TEACH_OUTPUT,
        )
        return None
    rows = [(name, text) for name, texts in sorted(teaching.examples.items()) for text in texts]
    rows += [(name, text) for name, entry in sorted(labels.items()) for text in entry["examples"]]
    examples = {" ".join(text.lower().split()) for _, text in rows}  # never a negative: some label's own example
    negated = [(name, n) for name, text in rows for n in negations(text) + opposites(text) if n not in examples]
    vectors = teaching.vectors(embed([text for _, text in rows]))
    negatives = (
        teaching.vectors(embed([n for _, n in negated])) if negated else np.zeros((0, vectors.shape[1]), np.float32)
    )
    return TaughtSet([name for name, _ in rows], vectors, negatives, [name for name, _ in negated], teaching)
