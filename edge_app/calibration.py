"""Calibrated scores and out-of-scope rejection, with numpy alone.

A bundle's manifest may carry a `calibration` object written by the export side:

    {"method": "temperature" | "mahalanobis", "temperature": T, "threshold": t,
     "stats_file": "detector.npz", "coef": [b0, b1, b2], ...figures from the validation split}

`temperature`: score = max softmax(logits / T). `mahalanobis`: also the distance of the model's
pooled embedding (its second output) to the nearest in-scope class mean (shared covariance,
Podolskiy et al. 2021); score = sigmoid(b0 + b1 * log p + b2 * distance). Either way the score
estimates the probability that the best label is right; under the threshold the result is
rejected as out_of_scope. Bundles without calibration keep plain softmax and reject nothing
unless a minimum score is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BundleError

OUT_OF_SCOPE = "out_of_scope"
EMBEDDING_OUTPUT = "embedding"
METHODS = ("temperature", "mahalanobis")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclass
class ClassStats:
    """Class means (in-scope classes only) and the shared precision matrix of the embeddings."""

    means: np.ndarray  # (classes, dim)
    precision: np.ndarray  # (dim, dim)

    def __post_init__(self) -> None:
        # d2(x, m) = x'Px - 2 x'(Pm) + m'Pm: the class terms once here, so a call costs one (n, dim) x (dim, dim)
        # product instead of one per class (the per-class form cost more than the model: docs/benchmarks.md).
        # float64: the three terms are large and nearly cancel.
        precision = self.precision.astype(np.float64)
        self._precision64 = precision
        self._p_means = precision @ self.means.astype(np.float64).T  # (dim, classes)
        self._m_p_m = np.einsum("cd,dc->c", self.means.astype(np.float64), self._p_means)  # (classes,)

    def distance(self, embeddings: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row to its nearest class mean."""
        x = np.asarray(embeddings, dtype=np.float64)
        d2 = ((x @ self._precision64) * x).sum(axis=-1)[:, None] - 2.0 * (x @ self._p_means) + self._m_p_m
        return np.sqrt(np.maximum(d2.min(axis=1), 0.0))


@dataclass
class Calibration:
    method: str = "none"
    temperature: float = 1.0
    threshold: float | None = None  # None: reject nothing
    coef: tuple[float, float, float] = (0.0, 1.0, 0.0)
    stats: ClassStats | None = None

    @property
    def needs_embedding(self) -> bool:
        return self.stats is not None

    def scores(self, logits: np.ndarray, embeddings: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities per label, calibrated score of the best label) for a batch of logits."""
        probs = softmax(logits / self.temperature)
        top = probs.max(axis=-1)
        if self.stats is None or embeddings is None:
            return probs, top
        b0, b1, b2 = self.coef
        z = b0 + b1 * np.log(np.maximum(top, 1e-12)) + b2 * self.stats.distance(embeddings)
        return probs, 1.0 / (1.0 + np.exp(-z))


def load_calibration(manifest: dict[str, Any], folder) -> Calibration:
    """The bundle's calibration, or the identity for bundles exported without one."""
    spec = manifest.get("calibration")
    if not spec:
        return Calibration()
    where = f"bundle {folder}: manifest calibration"
    try:
        method = str(spec["method"])
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}")
        temperature = float(spec.get("temperature", 1.0))
        if not temperature > 0:
            raise ValueError("temperature must be positive")
        threshold = spec.get("threshold")
        cal = Calibration(method, temperature, None if threshold is None else float(threshold))
        if method == "mahalanobis":
            cal.coef = tuple(float(c) for c in spec["coef"])  # type: ignore[assignment]
            with np.load(folder / spec["stats_file"]) as data:
                cal.stats = ClassStats(data["means"].astype(np.float32), data["precision"].astype(np.float32))
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise BundleError(f"{where} is unusable ({exc}); re-export the bundle") from None
    return cal
