"""Validation before a bundle is written: accuracy of fp32 and int8, and how often they agree.

Runs the candidate bundles through the device runtime's own `Classifier`, so the figures in
the manifest are what a board will see, not what PyTorch saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_app.classifier import Classifier

from .data import Example


@dataclass
class EvalResult:
    accuracy: float
    predictions: list[str]


def evaluate(bundle_dir: Path, examples: list[Example], threads: int | None = None) -> EvalResult:
    clf = Classifier.load(bundle_dir, device="cpu", threads=threads, verify=False)
    preds = [p.label for p in clf.classify([e.text for e in examples], top_k=1)]
    correct = sum(p == e.label for p, e in zip(preds, examples))
    return EvalResult(correct / len(examples), preds)


def agreement(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b)) / max(1, len(a))
