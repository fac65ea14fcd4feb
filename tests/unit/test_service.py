"""edge_app/mqtt/service.py: building the service (Service, Service.create) without a broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_app.config import Config
from edge_app.errors import ConfigError
from edge_app.model import Model
from edge_app.mqtt.service import Service
from helpers.fakes import FakeClassifier


def test_an_mqtt_service_is_not_built_without_its_protocol():
    with pytest.raises(ValueError, match="protocol"):
        Service(Config(device_id="d"), FakeClassifier(), None)


def test_create_without_mqtt_loads_the_model_and_probes_no_broker(default_bundle: Path, tmp_path: Path):
    cfg = Config(device_id="d", bundle=str(default_bundle), state_dir=str(tmp_path), verify_bundle=False)
    cfg.mqtt.enabled = False
    cfg.mqtt.broker = "mqtt://127.0.0.1:1"  # nothing listens: a probe would fail
    service = Service.create(cfg)
    assert service.protocol is None and isinstance(service.classifier, Model)
    assert service.model_info["name"] == service.classifier.bundle.name and service.topics.instance_id


def test_create_needs_a_bundle(tmp_path: Path):
    with pytest.raises(ConfigError, match="no bundle to serve"):
        Service.create(Config(device_id="d", state_dir=str(tmp_path)))
