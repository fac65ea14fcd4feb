"""Validation before a bundle is written: accuracy, rejection and calibration of fp32 and int8,
and for a joint model its slots (span F1, value exact match, token-tag agreement).

Runs the candidate bundles through the device runtime's own `Classifier`, so the figures in
the manifest are what a board will see, not what PyTorch saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.calibration import OUT_OF_SCOPE, softmax
from edge_app.classifier import Classifier, Prediction

from .data import Example

ECE_BINS = 15
# Intents that undo each other: answering one for the other does the opposite of what was asked.
OPPOSITES = {
    "ac_on": "ac_off",
    "ac_off": "ac_on",
    "lights_on": "lights_off",
    "lights_off": "lights_on",
    "vacuum_start": "vacuum_dock",
    "vacuum_dock": "vacuum_start",
}
CONFIDENT = 0.9  # a wrong action scored at least this is one an automation would act on without asking
# The slots whose values the parsers read into numbers or directions: exact match is measured for these.
VALUE_SLOTS = ("temperature", "duration", "volume")


@dataclass
class EvalResult:
    accuracy: float
    predictions: list[str]
    details: list[Prediction]


def evaluate(
    bundle_dir: Path, examples: list[Example], threads: int | None = None, by_example: bool = True
) -> EvalResult:
    """The bundle's answers to `examples`. `by_example=False`: the model's own head only, without the
    sentences a trained bundle also matches by similarity (the int8-against-fp32 gate compares models)."""
    clf = Classifier.load(bundle_dir, device="cpu", threads=threads, verify=False)
    if not by_example:
        clf.taught = None
    details = clf.classify([e.text for e in examples], top_k=1)
    preds = [p.label for p in details]
    correct = sum(p == e.label for p, e in zip(preds, examples))
    return EvalResult(correct / len(examples), preds, details)


def model_outputs(
    bundle_dir: Path, texts: list[str], threads: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Logits and (if the model has it) pooled embeddings, in input order, for fitting a detector."""
    clf = Classifier.load(bundle_dir, device="cpu", threads=threads, verify=False)
    outs = clf.model_outputs(texts)
    return outs[0], (outs[1] if len(outs) > 1 else None)


def agreement(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b)) / max(1, len(a))


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: the gap between confidence and accuracy, averaged over
    equal-width confidence bins weighted by how many predictions fall in each."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total / max(1, len(confidence)))


def uncalibrated_ece(logits: np.ndarray, labels: list[str], examples: list[Example]) -> float:
    """ECE of plain softmax (the model before calibration) on the same examples."""
    probs = softmax(logits)
    top = probs.argmax(axis=-1)
    correct = np.array([labels[t] == e.label for t, e in zip(top, examples)])
    return ece(probs.max(axis=-1), correct)


def figures(examples: list[Example], preds: list[Prediction]) -> dict[str, Any]:
    """Accuracy, in-scope accuracy, out-of-scope recall, ECE and per-label precision/recall.
    ECE compares each score with whether the best candidate (scores[0]) was right, so a
    rejected command counts with the score that made it rejected."""
    truth = [e.label for e in examples]
    final = [p.label for p in preds]
    inside = [i for i, t in enumerate(truth) if t != OUT_OF_SCOPE]
    outside = [i for i, t in enumerate(truth) if t == OUT_OF_SCOPE]
    correct_top = np.array([p.top_k[0][0] == t for p, t in zip(preds, truth)])
    out: dict[str, Any] = {
        "in_scope_accuracy": _rate(sum(final[i] == truth[i] for i in inside), len(inside)),
        "out_of_scope_recall": _rate(sum(final[i] == OUT_OF_SCOPE for i in outside), len(outside)),
        "rejected": _rate(sum(p.rejected for p in preds), len(preds)),
        "ece": round(ece(np.array([p.score for p in preds]), correct_top), 4),
    }
    out["opposite_actions"] = sum(is_opposite(e, p) for e, p in zip(examples, preds))
    out["confident_wrong_actions"] = _rate(
        sum(final[i] not in (truth[i], OUT_OF_SCOPE) and preds[i].score >= CONFIDENT for i in inside), len(inside)
    )
    out["per_label"] = {
        label: {
            "precision": _rate(sum(f == t == label for f, t in zip(final, truth)), final.count(label)),
            "recall": _rate(sum(f == t == label for f, t in zip(final, truth)), truth.count(label)),
            "support": truth.count(label),
        }
        for label in sorted(set(truth) | set(final))
    }
    return out


def is_opposite(example: Example, pred: Prediction) -> bool:
    """Whether the answer does the opposite of the command: the undoing intent, or the TV volume
    moved the other way (up for down, or the reverse)."""
    if OPPOSITES.get(example.label) == pred.label:
        return True
    if example.label != pred.label or example.label != "tv_volume":
        return False
    said = next((s.value for s in example.slots if s.slot == "volume"), None)
    return {said, _volume(pred)} == {"up", "down"}


def _volume(pred: Prediction) -> Any:
    """The answer's volume value ("up", "down", a level ...), None without one."""
    return pred.slots.get("volume", {}).get("value")


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def per_label_lines(per_label: dict[str, dict[str, Any]]) -> list[str]:
    """The per-label table for the progress output."""
    lines = [f"{'label':<20} {'precision':>9} {'recall':>7} {'n':>4}"]
    for label, row in per_label.items():
        p = "-" if row["precision"] is None else f"{row['precision']:.3f}"
        r = "-" if row["recall"] is None else f"{row['recall']:.3f}"
        lines.append(f"{label:<20} {p:>9} {r:>7} {row['support']:>4}")
    return lines


def tag_agreement(a: list[Prediction], b: list[Prediction]) -> float:
    """Share of real tokens (special tokens and padding left out) whose slot tag is the same in
    two models' predictions of the same texts."""
    same = total = 0
    for x, y in zip(a, b):
        same += sum(t == u for t, u in zip(x.token_tags, y.token_tags))
        total += max(len(x.token_tags), len(y.token_tags))
    return same / total if total else 1.0


def slot_figures(examples: list[Example], preds: list[Prediction]) -> dict[str, Any]:
    """Slot span precision/recall/F1 (a span counts when slot, start and end are all right; micro
    over the set, after the runtime's own filtering by intent and rejection) and, for the value
    slots, the share of gold values the result carries exactly (value, unit, step)."""
    gold = {(i, s.slot, s.start, s.end) for i, e in enumerate(examples) for s in e.slots}
    found = {(i, s.slot, s.start, s.end) for i, p in enumerate(preds) for s in p.spans}
    hits = len(gold & found)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out: dict[str, Any] = {
        "span_precision": round(precision, 4),
        "span_recall": round(recall, 4),
        "span_f1": round(f1, 4),
        "spans": len(gold),
    }
    per_slot = {}
    for slot in VALUE_SLOTS:
        wanted = [
            (p, s.gold_value())
            for e, p in zip(examples, preds)
            for s in e.slots
            if s.slot == slot and s.gold_value() is not None
        ]
        right = sum(_same_value(p.slots.get(slot), value) for p, value in wanted)
        per_slot[slot] = {"exact": _rate(right, len(wanted)), "n": len(wanted)}
    out["value_exact_match"] = per_slot
    return out


def _same_value(got: dict[str, Any] | None, gold: dict[str, Any]) -> bool:
    return (
        got is not None
        and all(got.get(k) == v for k, v in gold.items())
        and got.get("step") == gold.get("step")
        and got.get("unit") == gold.get("unit")
    )


# A text's answer alone and in any batch: labels identical, scores within this.
BATCH_SCORE_TOLERANCE = 1e-4
BATCHINGS = 3  # shuffled batchings per batch size
BATCH_SIZES = (8, 32)


def batch_invariance(
    bundle_dir: Path, texts: list[str], seed: int = 0, batchings: int = BATCHINGS, sizes: tuple[int, ...] = BATCH_SIZES
) -> dict[str, Any]:
    """Classify every text alone, then in `batchings` shuffled batchings of each size, through
    the runtime's Classifier (its padding planner included); count label changes and the
    largest score move against the alone answer. A board's service batches whatever arrives
    together, so a text's answer must not depend on its batch-mates."""
    clf = Classifier.load(bundle_dir, device="cpu", verify=False)
    alone = [clf.classify([t], top_k=1)[0] for t in texts]
    rng = np.random.default_rng(seed)
    changed, largest, compared = 0, 0.0, 0
    for size in sizes:
        for _ in range(batchings):
            order = rng.permutation(len(texts))
            for start in range(0, len(order), size):
                idx = order[start : start + size]
                for i, pred in zip(idx, clf.classify([texts[i] for i in idx], top_k=1)):
                    changed += pred.label != alone[i].label or pred.slots != alone[i].slots
                    largest = max(largest, abs(pred.score - alone[i].score))
                    compared += 1
    return {
        "texts": len(texts),
        "answers_compared": compared,
        "batch_sizes": list(sizes),
        "batchings": batchings,
        "label_changes": int(changed),
        "max_score_diff": float(largest),
    }


def polarity_flips(bundle_dir: Path, pairs: list[Example]) -> list[str]:
    """The minimal pairs (export/data/minimal_pairs.jsonl) the bundle answers with the opposite
    action, one line each; only pairs whose labels the bundle has are asked."""
    clf = Classifier.load(bundle_dir, device="cpu", verify=False)
    asked = [e for e in pairs if e.label in clf.labels]
    if not asked:
        return []
    preds = clf.classify([e.text for e in asked], top_k=1)
    return [
        f"{e.text!r} ({e.label}) answered {p.label}{_direction(p)} at {p.score:.2f}"
        for e, p in zip(asked, preds)
        if is_opposite(e, p)
    ]


def _direction(pred: Prediction) -> str:
    value = _volume(pred)
    return f" {value}" if value in ("up", "down") else ""
