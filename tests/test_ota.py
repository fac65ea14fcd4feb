"""Over-the-air model updates through a real mosquitto while a stream is being classified."""

from __future__ import annotations

import json
import shutil
import signal
import tarfile
import time

import pytest
from mqtt_helpers import Collector, Serve, mosquitto, result_ids  # noqa: F401

from edge_app.bundle import Bundle

pytestmark = pytest.mark.slow
P = "edge-app/ota"


@pytest.fixture
def ota_service(default_bundle, mosquitto, tmp_path):
    serve = Serve(default_bundle, mosquitto.url, tmp_path / "state", "ota", "--ota").start()
    bus = Collector(mosquitto.url, [f"{P}/#"])
    assert bus.wait_status(P, "online"), serve.output()
    yield serve, bus
    bus.close()
    serve.stop(signal.SIGKILL)


def _command(bus: Collector, location, sha256: str, cmd_id: str) -> dict:
    bus.publish(f"{P}/cmd/model", json.dumps({"id": cmd_id, "location": str(location), "sha256": sha256}))
    assert bus.wait_for(lambda: any(r["id"] == cmd_id for r in bus.json(f"{P}/cmd/result")), 60)
    return next(r for r in bus.json(f"{P}/cmd/result") if r["id"] == cmd_id)


def test_update_during_a_stream_switches_without_loss(ota_service, default_bundle, default_bundle_fp32):
    serve, bus = ota_service
    old = Bundle.load(default_bundle, verify=False).sha256
    new = Bundle.load(default_bundle_fp32, verify=False).sha256
    assert old != new
    for i in range(500):
        if i == 150:
            bus.publish(f"{P}/cmd/model", json.dumps({"id": "up1", "location": str(default_bundle_fp32), "sha256": new}))
        bus.publish(f"{P}/classify", json.dumps({"id": i, "text": "what temperature is the fridge at"}))
        time.sleep(0.004)
    assert bus.wait_for(lambda: set(result_ids(bus, f"{P}/result")) >= set(range(500)), 90), serve.output()[-2000:]
    reply = next(r for r in bus.json(f"{P}/cmd/result") if r["id"] == "up1")
    assert reply["ok"] is True, reply
    assert reply["model"]["sha256"] == new and reply["previous"]["sha256"] == old
    assert reply["self_test"]["agreement"] >= 0.95
    models = [r["model"]["sha256"] for r in bus.json(f"{P}/result")]
    assert models[0] == old and models[-1] == new
    switch = models.index(new)
    assert all(m == new for m in models[switch:]), "a result after the switch came from the old model"
    bus.publish(f"{P}/classify", "lights on")
    assert bus.wait_for(lambda: bus.json(f"{P}/result")[-1]["model"]["sha256"] == new, 10)


def test_tampered_bundle_is_refused_and_model_kept(ota_service, default_bundle, tmp_path):
    serve, bus = ota_service
    running = Bundle.load(default_bundle, verify=False).sha256
    tampered = shutil.copytree(default_bundle, tmp_path / "tampered")
    model = tampered / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    reply = _command(bus, tampered, running, "bad1")
    assert reply["ok"] is False and "model.onnx" in reply["reason"]
    assert reply["model"]["sha256"] == running
    wrong_sha = _command(bus, default_bundle, "0" * 64, "bad2")
    assert wrong_sha["ok"] is False and "sha256" in wrong_sha["reason"]
    bus.publish(f"{P}/cmd/model", b"not json")
    assert bus.wait_for(lambda: any(r["id"] is None for r in bus.json(f"{P}/cmd/result")), 10)
    bus.publish(f"{P}/classify", json.dumps({"id": "after", "text": "lights on"}))
    assert bus.wait_for(lambda: "after" in result_ids(bus, f"{P}/result"), 10)
    assert bus.json(f"{P}/result")[-1]["model"]["sha256"] == running


def test_update_from_an_archive_survives_a_restart(default_bundle, default_bundle_fp32, mosquitto, tmp_path):
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(default_bundle_fp32, arcname="fp32-bundle")
    new = Bundle.load(default_bundle_fp32, verify=False).sha256
    serve = Serve(default_bundle, mosquitto.url, tmp_path / "state", "ota", "--ota").start()
    bus = Collector(mosquitto.url, [f"{P}/#"])
    try:
        assert bus.wait_status(P, "online"), serve.output()
        reply = _command(bus, archive, new, "tar1")
        assert reply["ok"] is True, reply
        serve.stop(signal.SIGTERM)
        serve.start()
        assert bus.wait_for(lambda: bus.payloads(f"{P}/status").count(b"online") >= 2, 60)
        bus.publish(f"{P}/classify", "lights on")
        assert bus.wait_for(lambda: bus.payloads(f"{P}/result"), 10)
        assert bus.json(f"{P}/result")[-1]["model"]["sha256"] == new
    finally:
        bus.close()
        serve.stop(signal.SIGKILL)


def test_updates_are_refused_unless_enabled(default_bundle, default_bundle_fp32, mosquitto, tmp_path):
    serve = Serve(default_bundle, mosquitto.url, tmp_path / "state", "ota").start()
    bus = Collector(mosquitto.url, [f"{P}/#"])
    try:
        assert bus.wait_status(P, "online")
        sha = Bundle.load(default_bundle_fp32, verify=False).sha256
        bus.publish(f"{P}/cmd/model", json.dumps({"location": str(default_bundle_fp32), "sha256": sha}))
        bus.publish(f"{P}/classify", "lights on")
        assert bus.wait_for(lambda: bus.payloads(f"{P}/result"), 10)
        time.sleep(1)
        assert not bus.payloads(f"{P}/cmd/result")
        assert bus.json(f"{P}/result")[-1]["model"]["sha256"] == Bundle.load(default_bundle, verify=False).sha256
    finally:
        bus.close()
        serve.stop()
