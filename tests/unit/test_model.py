"""edge_app/model.py: the classifier's contract (Model) holds for the tests' stand-in and the real
Classifier."""

from __future__ import annotations

from pathlib import Path

from edge_app.classifier import Classifier
from edge_app.model import Model
from helpers.fakes import FakeClassifier


def test_the_stand_in_and_the_classifier_are_models(default_bundle: Path):
    assert isinstance(FakeClassifier(), Model)
    assert isinstance(Classifier.load(default_bundle, device="cpu", verify=False, latency_session=False), Model)
