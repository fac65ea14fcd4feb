"""Choosing the detector and its threshold on a validation split, by measurement.

Two candidates, both numpy-only at run time (edge_app/calibration.py):
- temperature: one temperature fitted by likelihood; score = max softmax(logits / T);
- mahalanobis: distance of the pooled embedding to the nearest in-scope class mean (class
  statistics from the training split), combined with log max-probability in a logistic
  regression fitted to "the best label is right".
Each is compared on held-out halves of the validation split (fit on one half, choose a threshold
on it, measure on the other; then swap), so the three parameters of the second get no unfair
advantage; the winner is refitted on the whole split. Ties go to temperature: no extra file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_app.calibration import OUT_OF_SCOPE, Calibration, ClassStats

THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)
SHRINKAGE = 0.1  # of the covariance towards its mean variance: 384 dims, a few hundred samples
L2 = 1.0


@dataclass
class Split:
    """Model outputs for a set of labelled texts. `target` is the index of the right label, or
    -1 when the text is out of scope and the model has no out_of_scope label."""

    logits: np.ndarray
    embeddings: np.ndarray | None
    target: np.ndarray
    oos: np.ndarray  # the text is out of scope

    def take(self, idx: np.ndarray) -> Split:
        emb = None if self.embeddings is None else self.embeddings[idx]
        return Split(self.logits[idx], emb, self.target[idx], self.oos[idx])


@dataclass
class Choice:
    calibration: Calibration
    report: dict[str, Any] = field(default_factory=dict)


def make_split(logits: np.ndarray, embeddings: np.ndarray | None, truth: list[str], labels: list[str]) -> Split:
    index = {name: i for i, name in enumerate(labels)}
    target = np.array([index.get(t, -1) for t in truth])
    return Split(logits, embeddings, target, np.array([t == OUT_OF_SCOPE for t in truth]))


def fit_temperature(split: Split) -> float:
    """The temperature that maximises the likelihood of the right labels (grid search)."""
    known = split.target >= 0
    logits, target = split.logits[known], split.target[known]
    best, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.05), np.log(20.0), 400)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = -(z[np.arange(len(target)), target] - np.log(np.exp(z).sum(axis=1))).mean()
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def class_stats(embeddings: np.ndarray, truth: list[str]) -> ClassStats:
    """In-scope class means and the shrunk shared covariance's inverse."""
    classes = sorted({t for t in truth if t != OUT_OF_SCOPE})
    truth_arr = np.array(truth)
    means = np.stack([embeddings[truth_arr == c].mean(axis=0) for c in classes])
    centred = np.concatenate([embeddings[truth_arr == c] - m for c, m in zip(classes, means)])
    cov = centred.T @ centred / len(centred)
    cov = (1 - SHRINKAGE) * cov + SHRINKAGE * np.trace(cov) / len(cov) * np.eye(len(cov))
    return ClassStats(means.astype(np.float32), np.linalg.inv(cov).astype(np.float32))


def _logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights (bias first) of an L2-regularised logistic regression by Newton's method, on
    standardised features, returned for the raw features."""
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.column_stack([np.ones(len(x)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    reg = L2 * np.eye(len(w))
    reg[0, 0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + reg @ w
        hess = (z * (p * (1 - p))[:, None]).T @ z + reg + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return np.concatenate([[w[0] - (w[1:] * mu / sd).sum()], w[1:] / sd])


def fit_mahalanobis(split: Split, stats: ClassStats) -> Calibration:
    temperature = fit_temperature(split)
    cal = Calibration("mahalanobis", temperature, stats=stats)
    probs, _ = Calibration("temperature", temperature).scores(split.logits)
    x = np.column_stack([np.log(np.maximum(probs.max(axis=1), 1e-12)), stats.distance(split.embeddings)])
    right = (probs.argmax(axis=1) == split.target).astype(float)
    cal.coef = tuple(float(c) for c in _logistic(x, right))  # type: ignore[assignment]
    return cal


def outcome(cal: Calibration, split: Split, threshold: float, oos_index: int | None) -> tuple[float, float]:
    """(in-scope accuracy, out-of-scope recall) with this calibration and threshold."""
    probs, score = cal.scores(split.logits, split.embeddings)
    top = probs.argmax(axis=1)
    said_oos = (score < threshold) | (top == oos_index if oos_index is not None else False)
    inside = ~split.oos
    in_acc = float(((top == split.target) & ~said_oos)[inside].mean()) if inside.any() else 1.0
    oos_rec = float(said_oos[split.oos].mean()) if split.oos.any() else 1.0
    return in_acc, oos_rec


def choose_threshold(cal: Calibration, split: Split, oos_index: int | None) -> float:
    """The threshold with the best in-scope accuracy + out-of-scope recall; among equals the
    middle one, which leaves the most room on both sides."""
    gains = np.array([sum(outcome(cal, split, t, oos_index)) for t in THRESHOLDS])
    best = THRESHOLDS[np.isclose(gains, gains.max())]
    return float(best[len(best) // 2])


def choose(
    labels: list[str], val: Split, train_emb: np.ndarray | None, train_truth: list[str], seed: int = 0
) -> Choice:
    """Compare the candidates on held-out halves of `val`, refit the winner on all of it."""
    oos_index = labels.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in labels else None
    fitters: dict[str, Callable[[Split], Calibration]] = {
        "temperature": lambda s: Calibration("temperature", fit_temperature(s)),
    }
    if val.embeddings is not None and train_emb is not None:
        stats = class_stats(train_emb, train_truth)
        fitters["mahalanobis"] = lambda s: fit_mahalanobis(s, stats)
    order = np.random.default_rng(seed).permutation(len(val.target))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    report: dict[str, Any] = {}
    for name, fit in fitters.items():
        held_out = []
        for a, b in (halves, halves[::-1]):
            cal = fit(val.take(a))
            held_out.append(outcome(cal, val.take(b), choose_threshold(cal, val.take(a), oos_index), oos_index))
        in_acc, oos_rec = (float(np.mean(v)) for v in zip(*held_out))
        report[name] = {"in_scope_accuracy": round(in_acc, 4), "out_of_scope_recall": round(oos_rec, 4)}
    winner = max(report, key=lambda n: (round(sum(report[n].values()), 6), n == "temperature"))
    cal = fitters[winner](val)
    cal.threshold = choose_threshold(cal, val, oos_index)
    return Choice(cal, {"compared": report, "validation_examples": int(len(val.target))})


def manifest_fields(choice: Choice, stats_file: str | None) -> dict[str, Any]:
    cal = choice.calibration
    out: dict[str, Any] = {
        "method": cal.method,
        "temperature": round(cal.temperature, 6),
        "threshold": cal.threshold,
        **choice.report,
    }
    if cal.method == "mahalanobis":
        out["coef"] = [round(c, 8) for c in cal.coef]
        out["stats_file"] = stats_file
    return out
