"""`edge-app serve` against a real mosquitto: round trips, status, bad input, no loss."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter

import pytest

from edge_app.bundle import Bundle
from edge_app.classifier import Classifier
from helpers.mqtt import EDGE_APP, Collector, Mosquitto, Serve, mosquitto, result_ids, serving  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture
def service(default_bundle, mosquitto, tmp_path):
    with serving(default_bundle, mosquitto.url, tmp_path / "state", "t1") as running:
        yield running


def test_round_trip_text_json_batch_and_v5_request_response(service, default_bundle):
    serve, bus = service
    p = "edge-app/t1"
    bus.publish(f"{p}/classify", "turn on the lights in the kitchen")
    bus.publish(f"{p}/classify", json.dumps({"id": "a1", "text": "preheat the oven to 200", "room": "kitchen"}))
    bus.publish(f"{p}/classify", json.dumps({"items": [{"id": "b1", "text": "dock the vacuum"}, "tell me a joke"]}))
    bus.publish(
        f"{p}/classify",
        json.dumps({"id": "r1", "text": "switch off the air con"}),
        ResponseTopic=f"{p}/replies/me",
        CorrelationData=b"corr-42",
    )
    assert bus.wait_for(lambda: len(bus.payloads(f"{p}/result")) >= 3 and bus.payloads(f"{p}/replies/me"))
    results = bus.json(f"{p}/result")
    plain = next(r for r in results if "items" not in r and r["id"] != "a1")
    assert plain["label"] == "lights_on" and 0 < plain["score"] <= 1
    assert plain["source_topic"] == f"{p}/classify" and plain["model"]["name"] == "edge-intents-e5-small-l6"
    assert len(plain["scores"]) == 3 and plain["latency_ms"] >= 0 and plain["ts"].endswith("Z")
    keyed = next(r for r in results if r.get("id") == "a1")
    assert keyed["label"] == "oven_preheat" and keyed["room"] == "kitchen"
    batch = next(r for r in results if "items" in r)
    assert [i["id"] for i in batch["items"]] == ["b1", 1]
    assert [i["label"] for i in batch["items"]] == ["vacuum_dock", "out_of_scope"]
    (reply,) = bus.messages[f"{p}/replies/me"]
    assert json.loads(reply.payload)["label"] == "ac_off"
    assert reply.properties.CorrelationData == b"corr-42"
    # Slots ride in every result shape, as the runtime decodes them ({} from a plain bundle).
    texts = ["preheat the oven to 200", "dock the vacuum", "tell me a joke", "switch off the air con"]
    expected = {text: pred.slots for text, pred in zip(texts, Classifier.load(default_bundle).classify(texts))}
    assert keyed["slots"] == expected["preheat the oven to 200"]
    assert [i["slots"] for i in batch["items"]] == [expected["dock the vacuum"], expected["tell me a joke"]]
    assert json.loads(reply.payload)["slots"] == expected["switch off the air con"]
    assert plain["slots"] == {} or Bundle.load(default_bundle).slot_tags
    if Bundle.load(default_bundle).slot_tags:
        assert keyed["slots"]["temperature"]["text"] == "200"


def test_status_offline_through_last_will_on_sigkill(service):
    serve, bus = service
    serve.stop(signal.SIGKILL)
    assert bus.wait_status("edge-app/t1", "offline", timeout=10)


def test_sigterm_drains_and_publishes_offline(service):
    serve, bus = service
    for i in range(200):
        bus.publish("edge-app/t1/classify", json.dumps({"id": i, "text": f"set the timer for {i} minutes"}))
    time.sleep(0.2)
    assert serve.stop(signal.SIGTERM) == 0
    assert bus.wait_status("edge-app/t1", "offline", timeout=10)
    # Everything it took before the signal is answered; the rest waits in its session for the next start.
    answered = set(result_ids(bus, "edge-app/t1/result"))
    assert answered and answered <= set(range(200))


def test_metrics_are_published(service):
    serve, bus = service
    bus.publish("edge-app/t1/classify", "is the dryer done")
    assert bus.wait_for(lambda: any(m["results_out"] >= 1 for m in bus.json("edge-app/t1/metrics")), 10)
    metric = bus.json("edge-app/t1/metrics")[-1]
    for key in (
        "messages_in",
        "results_out",
        "errors",
        "queue_depth",
        "latency_p50_ms",
        "latency_p95_ms",
        "messages_per_s",
        "uptime_s",
        "model",
        "cpu_temp_c",
    ):
        assert key in metric
    assert len(metric["model"]["sha256"]) == 64


def _bad_payloads(rng: random.Random) -> list[bytes]:
    kinds = [
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) + b"\xff\xfe",  # invalid UTF-8
        lambda: b'{"text": "unterminated',
        lambda: b'{"id": 1, "txt": "wrong key"}',
        lambda: b'["a", "list"]',
        lambda: b'{"text": "   "}',
        lambda: b"   ",
        lambda: b'{"items": []}',
        lambda: b'{"items": [1, 2]}',
        lambda: b'{"text": 42}',
        lambda: b"x" * 70_000,  # over the 64 KiB limit
    ]
    return [rng.choice(kinds)() for _ in range(1000)]


def test_malformed_payloads_interleaved_with_good_ones(service):
    serve, bus = service
    rng = random.Random(7)
    bad = _bad_payloads(rng)
    for i in range(1000):
        bus.publish("edge-app/t1/classify", json.dumps({"id": i, "text": "turn the tv volume up"}))
        bus.publish("edge-app/t1/classify", bad[i])
    assert bus.wait_for(
        lambda: len(bus.payloads("edge-app/t1/result")) >= 1000 and len(bus.payloads("edge-app/t1/error")) >= 1000, 120
    )
    assert set(result_ids(bus, "edge-app/t1/result")) == set(range(1000))
    errors = bus.json("edge-app/t1/error")
    assert len(errors) == 1000 and all(e["error"] and e["source_topic"] == "edge-app/t1/classify" for e in errors)
    assert serve.proc.poll() is None
    bus.publish("edge-app/t1/classify", json.dumps({"id": "last", "text": "lights off"}))
    assert bus.wait_for(lambda: "last" in result_ids(bus, "edge-app/t1/result"), 10)


def _publish_stream(bus: Collector, topic: str, n: int, interrupt_at: int, interrupt) -> None:
    for i in range(n):
        if i == interrupt_at:
            interrupt()
        while bus.publish(topic, json.dumps({"id": i, "text": f"turn on the ac in room {i}"})).rc not in (0, 4):
            time.sleep(0.05)
        if i % 100 == 0:
            time.sleep(0.05)


def test_no_loss_when_the_broker_restarts_mid_stream(default_bundle, tmp_path):
    broker = Mosquitto(tmp_path / "broker")
    broker.folder.mkdir()
    broker.start()
    serve = Serve(default_bundle, broker.url, tmp_path / "state", "t2").start()
    results = Collector(broker.url, ["edge-app/t2/result", "edge-app/t2/status"], "results-t2", persistent=True)
    producer = Collector(broker.url, [], "producer-t2", persistent=True)
    try:
        assert results.wait_status("edge-app/t2", "online"), serve.output()

        def restart():
            broker.stop(signal.SIGTERM)  # persistence is written on a stop; kill -9 would lose the broker's own state
            time.sleep(1.0)
            broker.start()

        _publish_stream(producer, "edge-app/t2/classify", 1000, 400, restart)
        assert results.wait_for(lambda: set(result_ids(results, "edge-app/t2/result")) >= set(range(1000)), 120), (
            f"missing {sorted(set(range(1000)) - set(result_ids(results, 'edge-app/t2/result')))[:20]}\n"
            + serve.output()[-3000:]
        )
        dupes = sum(c - 1 for c in Counter(result_ids(results, "edge-app/t2/result")).values())
        print(f"broker restart: 1000 ids answered, {dupes} duplicates")
    finally:
        results.close()
        producer.close()
        serve.stop(signal.SIGKILL)
        broker.stop()


def test_no_loss_when_the_service_is_killed_mid_stream(default_bundle, mosquitto, tmp_path):
    state = tmp_path / "state"
    serve = Serve(default_bundle, mosquitto.url, state, "t3").start()
    results = Collector(mosquitto.url, ["edge-app/t3/result", "edge-app/t3/status"], "results-t3", persistent=True)
    producer = Collector(mosquitto.url, [], "producer-t3")
    try:
        assert results.wait_status("edge-app/t3", "online"), serve.output()
        restarted = []

        def kill_and_restart():
            serve.stop(signal.SIGKILL)
            restarted.append(Serve(default_bundle, mosquitto.url, state, "t3").start())

        _publish_stream(producer, "edge-app/t3/classify", 1000, 500, kill_and_restart)
        ok = results.wait_for(lambda: set(result_ids(results, "edge-app/t3/result")) >= set(range(1000)), 120)
        assert ok, restarted[0].output()[-3000:]
        dupes = sum(c - 1 for c in Counter(result_ids(results, "edge-app/t3/result")).values())
        print(f"service SIGKILL: 1000 ids answered, {dupes} duplicates")
    finally:
        results.close()
        producer.close()
        for s in restarted:
            s.stop(signal.SIGKILL)


def test_shared_group_splits_a_stream_without_loss(default_bundle, mosquitto, tmp_path):
    shared = ["--shared-group", "workers", "--input", "fleet/classify", "--result-topic", "fleet/result"]
    a = Serve(default_bundle, mosquitto.url, tmp_path / "a", "w1", *shared).start()
    b = Serve(default_bundle, mosquitto.url, tmp_path / "b", "w2", *shared).start()
    bus = Collector(mosquitto.url, ["fleet/result", "edge-app/+/status", "edge-app/+/metrics"])
    try:
        assert bus.wait_status("edge-app/w1", "online") and bus.wait_status("edge-app/w2", "online")
        for i in range(1000):
            bus.publish("fleet/classify", json.dumps({"id": i, "text": "start the washing machine"}))
        assert bus.wait_for(lambda: set(result_ids(bus, "fleet/result")) >= set(range(1000)), 60)

        def done_by(device: str) -> int:
            return max([m["results_out"] for m in bus.json(f"edge-app/{device}/metrics")] or [0])

        assert bus.wait_for(lambda: done_by("w1") + done_by("w2") >= 1000, 10)
        assert done_by("w1") > 0 and done_by("w2") > 0, "one board did all the work: the group did not split"
    finally:
        bus.close()
        a.stop()
        b.stop()


def test_outbox_bound_pauses_input_loudly_and_loses_nothing(default_bundle, mosquitto, tmp_path):
    serve = Serve(default_bundle, mosquitto.url, tmp_path / "state", "tiny", env={"EDGE_APP_OUTBOX_MAX_MESSAGES": "1"})
    serve.start()
    bus = Collector(mosquitto.url, ["edge-app/tiny/#"])
    try:
        assert bus.wait_status("edge-app/tiny", "online"), serve.output()
        for i in range(300):
            bus.publish("edge-app/tiny/classify", json.dumps({"id": i, "text": "how long until the dryer finishes"}))
        assert bus.wait_for(lambda: set(result_ids(bus, "edge-app/tiny/result")) >= set(range(300)), 60)
        assert bus.wait_for(lambda: any(m["outbox_full_waits"] > 0 for m in bus.json("edge-app/tiny/metrics")), 5)
    finally:
        bus.close()
        serve.stop()
    assert "pausing input until the broker takes them" in serve.output()


def test_wildcard_inputs_derived_result_topics_and_ha_discovery(default_bundle, mosquitto, tmp_path):
    serve = Serve(
        default_bundle,
        mosquitto.url,
        tmp_path / "state",
        "ha",
        "--input",
        "home/+/say",
        "--result-topic",
        "{input}/result",
        "--ha-discovery",
    ).start()
    bus = Collector(mosquitto.url, ["home/#", "edge-app/ha/status", "homeassistant/#"])
    try:
        assert bus.wait_status("edge-app/ha", "online"), serve.output()
        bus.publish("home/kitchen/say", "preheat the oven to 180 degrees")
        assert bus.wait_for(lambda: bus.payloads("home/kitchen/say/result"), 10)
        assert bus.json("home/kitchen/say/result")[0]["label"] == "oven_preheat"
        config = bus.json("homeassistant/sensor/edge_app_ha/label/config")[0]
        assert config["availability_topic"] == "edge-app/ha/status" and config["payload_available"] == "online"
        assert config["state_topic"] == "home/+/say/result"  # the derived topics, not <prefix>/result
        event = bus.json("homeassistant/event/edge_app_ha/command/config")[0]
        assert "oven_preheat" in event["event_types"] and event["state_topic"] == "home/+/say/result"
    finally:
        bus.close()
        serve.stop()
