"""Stand-ins for the model in the service-core tests (tests/unit/test_pipeline.py, test_service.py,
test_model.py): no bundle, no onnxruntime."""

from __future__ import annotations

from dataclasses import dataclass

from edge_app.classifier import Prediction


@dataclass
class FakeBundle:
    name: str = "fake"
    sha256: str = "0" * 64


class FakeClassifier:
    """Labels each text by its length; raises on any batch containing 'poison'."""

    def __init__(self):
        self.bundle = FakeBundle()
        self.provider = "fake"
        self.labels: list[str] = []
        self.teaching = self.taught = None  # cannot be taught
        self.calls = 0

    @property
    def all_labels(self):
        return self.labels

    def teach_embeddings(self, texts):
        raise NotImplementedError("FakeClassifier cannot be taught")

    @property
    def model_info(self):  # as Classifier.model_info
        return {"name": self.bundle.name, "sha256": self.bundle.sha256}

    def classify(self, texts, top_k=3):
        self.calls += 1
        if any("poison" in t for t in texts):
            raise RuntimeError("model failure")
        return [Prediction(f"len{len(t)}", 0.9, [(f"len{len(t)}", 0.9)]) for t in texts]
