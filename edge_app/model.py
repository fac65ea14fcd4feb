"""The classifier's contract: what the service, OTA, teaching and Assist use of a loaded model.

`edge_app.classifier.Classifier` is the one implementation; tests serve stand-ins that have
the same members (structural typing: nothing inherits from `Model`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from .bundle import Bundle
    from .classifier import Prediction
    from .teaching import TaughtSet, Teaching


@runtime_checkable
class Model(Protocol):
    """A loaded bundle that classifies texts; one caller of `classify` at a time."""

    bundle: Bundle  # what is served: name, sha256, version, path, eval samples
    provider: str  # the onnxruntime execution provider the model runs on
    labels: list[str]  # the bundle's own labels, in the model's output order
    teaching: Teaching | None  # what the bundle carries for teaching; None: it cannot be taught
    taught: TaughtSet | None  # the taught labels in effect, set by edge_app.teach.Teacher

    @property
    def model_info(self) -> dict[str, str]:
        """{"name", "sha256"} of the bundle, as results and metrics name the model."""
        ...

    @property
    def all_labels(self) -> list[str]:
        """The bundle's labels, then the taught ones in effect."""
        ...

    def classify(self, texts: Sequence[str], top_k: int = 3) -> list[Prediction]:
        """One Prediction per text, in input order; raises ValueError for texts it cannot take."""
        ...

    def teach_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """Unit `teach_embedding` rows of `texts`, in input order (what teaching compares)."""
        ...
