"""Text in, Prediction out: the bundle's tokenizer and model, and the post-processing.

Knows nothing of MQTT or of files beyond the bundle; the service and the CLI both use it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .bundle import Bundle
from .errors import BundleError
from .session import create_session
from .tokenize import TextEncoder

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    label: str
    score: float
    top_k: list[tuple[str, float]]
    truncated: bool = False  # the text was longer than the model's max length
    tokens: int = 0
    labels: list[str] = field(default_factory=list)  # multi-label bundles: every label scoring >= 0.5

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "score": round(self.score, 6),
            "scores": [{"label": name, "score": round(score, 6)} for name, score in self.top_k],
            "truncated": self.truncated,
        }
        if self.labels:
            out["labels"] = self.labels
        return out


def check_texts(texts: Sequence[Any]) -> list[str]:
    """Refuse what the model cannot meaningfully classify, naming the offending item."""
    if isinstance(texts, str):
        raise ValueError("classify() takes a list of strings; wrap a single text in a list")
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"text {i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise ValueError(f"text {i} is empty or whitespace only; send some words")
        out.append(text)
    return out


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


class Classifier:
    """A loaded bundle, ready to classify. Thread-compatible: one caller at a time."""

    def __init__(
        self, bundle: Bundle, device: str = "auto", threads: int | None = None, batch_size: int = 32, spin: bool = False
    ):
        self.bundle = bundle
        self.session, self.provider = create_session(bundle.model_path, device, threads, spin, bundle.device_models)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.encoder = TextEncoder(bundle.tokenizer_path, bundle.max_length)
        self.labels = bundle.labels
        self._check_label_count()
        self.batch_size = batch_size
        log.info("loaded model %s (%s) with %d labels", bundle.name, bundle.sha256[:12], len(self.labels))

    def _check_label_count(self) -> None:
        """A manifest whose labels do not match the model's outputs would mislabel every text."""
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != len(self.labels):
            raise BundleError(
                f"bundle {self.bundle.path}: the model has {width} outputs but the manifest lists "
                f"{len(self.labels)} labels; re-export the bundle"
            )

    @classmethod
    def load(
        cls,
        bundle_dir: str | os.PathLike[str],
        device: str = "auto",
        threads: int | None = None,
        verify: bool = True,
        batch_size: int = 32,
        spin: bool = False,
    ) -> "Classifier":
        """Load and (unless verify=False) sha256-check a bundle, then build its session."""
        return cls(Bundle.load(bundle_dir, verify=verify), device, threads, batch_size, spin)

    @property
    def model_info(self) -> dict[str, str]:
        return {"name": self.bundle.name, "sha256": self.bundle.sha256}

    def logits(self, texts: list[str]) -> tuple[np.ndarray, list[int], list[bool]]:
        """Raw logits for one model call; callers wanting predictions use classify()."""
        enc = self.encoder.encode(texts, self.input_names)
        (out,) = self.session.run(None, enc.arrays)[:1]
        return out, enc.lengths, enc.truncated

    def classify(self, texts: Sequence[str], top_k: int = 3) -> list[Prediction]:
        """Predictions in input order. Long inputs are split into length-sorted batches, so
        texts of similar length share a batch and padding stays small."""
        texts = check_texts(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        results: list[Prediction | None] = [None] * len(texts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            logits, lengths, truncated = self.logits([texts[i] for i in idx])
            for row, i in enumerate(idx):
                results[i] = self._predict(logits[row], lengths[row], truncated[row], top_k)
        return results  # type: ignore[return-value]

    def _predict(self, logits: np.ndarray, tokens: int, truncated: bool, top_k: int) -> Prediction:
        multi = self.bundle.multi_label
        probs = _sigmoid(logits) if multi else _softmax(logits)
        ranked = np.argsort(-probs)
        top = [(self.labels[j], float(probs[j])) for j in ranked[: max(1, top_k)]]
        chosen = [self.labels[j] for j in ranked if multi and probs[j] >= 0.5]
        best = int(ranked[0])
        return Prediction(self.labels[best], float(probs[best]), top, truncated, tokens, chosen)
