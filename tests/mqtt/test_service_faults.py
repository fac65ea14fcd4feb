"""The service against a real mosquitto when things go wrong: threads that die, the inputs of
issue #10 that used to silence it, v5 requests that are refused, and the order of answers."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from helpers.mqtt import Collector, Serve, mosquitto, result_ids, serving  # noqa: F401

pytestmark = pytest.mark.slow
FAULT_SERVE = Path(__file__).resolve().parents[1] / "helpers" / "fault_serve.py"


@pytest.fixture
def service(default_bundle, mosquitto, tmp_path):
    with serving(default_bundle, mosquitto.url, tmp_path / "state", "f1") as running:
        yield running


@pytest.mark.parametrize("fault", ["die:network", "die:worker"])
def test_a_dead_thread_takes_the_process_down_and_the_will_says_offline(default_bundle, mosquitto, tmp_path, fault):
    serve = Serve(default_bundle, mosquitto.url, tmp_path / "state", "dies")
    serve.args[:3] = [sys.executable, str(FAULT_SERVE)]
    serve.start()
    bus = Collector(mosquitto.url, ["edge-app/dies/#"])
    try:
        assert bus.wait_status("edge-app/dies", "online"), serve.output()
        bus.publish("edge-app/dies/classify", fault)
        assert serve.proc.wait(15) == 70, serve.output()
        assert bus.wait_status("edge-app/dies", "offline", timeout=10), "the Last Will did not fire"
        assert "exiting with status 70" in serve.output()
    finally:
        bus.close()
        serve.stop(signal.SIGKILL)


def test_the_inputs_that_silenced_the_old_service_get_errors_and_it_lives(service):
    serve, bus = service
    p = "edge-app/f1"
    bus.publish(f"{p}/classify", b'{"id":"\\ud800"}')
    bus.publish(f"{p}/classify", b"[" * 1500)
    bus.publish(f"{p}/classify", b'{"id":"\\ud800","text":"turn on the lights"}')
    bus.publish(f"{p}/classify", json.dumps({"id": "after", "text": "turn off the lights"}))
    assert bus.wait_for(lambda: "after" in result_ids(bus, f"{p}/result") and len(bus.payloads(f"{p}/error")) >= 3, 30)
    kinds = sorted(e["kind"] for e in bus.json(f"{p}/error"))
    assert kinds == ["bad_unicode", "bad_unicode", "too_deep"]
    assert serve.proc.poll() is None


def test_an_innocent_message_in_the_same_batch_gets_its_result(service):
    serve, bus = service
    p = "edge-app/f1"
    for i in range(30):  # a burst, so bad and good share micro-batches
        bus.publish(f"{p}/classify", json.dumps({"id": i, "text": "dock the vacuum"}))
        bus.publish(f"{p}/classify", b'{"id":"\\ud800","text":"turn on the lights"}')
    assert bus.wait_for(lambda: len(bus.payloads(f"{p}/result")) >= 30 and len(bus.payloads(f"{p}/error")) >= 30, 30)
    assert sorted(result_ids(bus, f"{p}/result")) == list(range(30))


def test_results_leave_in_arrival_order(service):
    serve, bus = service
    p = "edge-app/f1"
    texts = ["lights on", "preheat the oven to two hundred degrees please", "tv", "start the washing machine now"]
    for i in range(20):
        bus.publish(f"{p}/classify", json.dumps({"id": i, "text": texts[i % 4]}))
    assert bus.wait_for(lambda: len(bus.payloads(f"{p}/result")) >= 20, 30)
    assert result_ids(bus, f"{p}/result") == list(range(20))


def test_v5_requests_get_errors_on_their_response_topic(service):
    serve, bus = service
    p = "edge-app/f1"
    bus.publish(f"{p}/classify", b"[" * 1500, ResponseTopic=f"{p}/replies/a", CorrelationData=b"c-a")
    bus.publish(f"{p}/classify", "lights on", ResponseTopic="elsewhere/b", CorrelationData=b"c-b")
    bus.publish(f"{p}/classify", "lights on", ResponseTopic=f"{p}/replies/+", CorrelationData=b"c-c")
    assert bus.wait_for(lambda: bus.payloads(f"{p}/replies/a") and len(bus.payloads(f"{p}/error")) >= 2, 30)
    (reply,) = bus.messages[f"{p}/replies/a"]
    assert reply.properties.CorrelationData == b"c-a" and json.loads(reply.payload)["kind"] == "too_deep"
    errors = bus.messages[f"{p}/error"]
    assert sorted(e.properties.CorrelationData for e in errors) == [b"c-b", b"c-c"]
    assert {json.loads(e.payload)["kind"] for e in errors} == {"bad_response_topic"}


def test_a_result_the_broker_refuses_is_reported_not_counted_as_delivered(default_bundle, tmp_path):
    """mosquitto's ACL refuses <prefix>/result: MQTT 5 PUBACK 0x87. Old code deleted the row as delivered."""
    from helpers.mqtt import Mosquitto

    folder = tmp_path / "broker"
    folder.mkdir()
    acl = folder / "acl"
    acl.write_text(
        "".join(f"topic readwrite edge-app/acl/{t}\n" for t in ("classify", "status", "error", "metrics"))
        + "topic read edge-app/acl/#\n"
    )
    broker = Mosquitto(folder, extra=f"allow_anonymous true\nacl_file {acl}\n").start()
    serve = Serve(default_bundle, broker.url, tmp_path / "state", "acl").start()
    bus = Collector(broker.url, ["edge-app/acl/#"])
    try:
        assert bus.wait_status("edge-app/acl", "online"), serve.output()
        bus.publish("edge-app/acl/classify", json.dumps({"id": "x", "text": "lights on"}))
        assert bus.wait_for(lambda: bus.payloads("edge-app/acl/error"), 30), serve.output()
        (error,) = bus.json("edge-app/acl/error")
        assert error["kind"] == "refused_by_broker" and error["reason_code"] == 0x87
        assert error["topic"] == "edge-app/acl/result"
        assert bus.wait_for(
            lambda: any(m["puback_refused"] == 1 and m["outbox_depth"] == 0 for m in bus.json("edge-app/acl/metrics")),
            10,
        ), bus.json("edge-app/acl/metrics")
        assert not bus.payloads("edge-app/acl/result")
    finally:
        bus.close()
        serve.stop(signal.SIGKILL)
        broker.stop()
