"""edge_app/mqtt/pipeline.py without a broker or a model (a stand-in classifier and bus): answer
order, one bad message among good ones, v5 response topics, size limits, a full queue, model swaps.
Each bug of issue #10 has a test here that failed on the old code."""

from __future__ import annotations

import json
import threading
import time

from edge_app.config import Config
from edge_app.mqtt.metrics import Metrics
from edge_app.mqtt.outbox import OutMessage
from edge_app.mqtt.pipeline import ClassifyPipeline, response_topic_problem
from edge_app.mqtt.routes import Inbound
from edge_app.mqtt.topics import Topics
from helpers.fakes import FakeClassifier


def test_response_topics_only_under_allowed_prefixes():
    allowed = ["edge-app/d/"]
    assert response_topic_problem("edge-app/d/replies/1", allowed) is None
    assert "outside" in response_topic_problem("elsewhere/x", allowed)
    assert "wildcard" in response_topic_problem("edge-app/d/+", allowed)
    assert "wildcard" in response_topic_problem("edge-app/d/#", allowed)
    assert "broker topic" in response_topic_problem("$SYS/x", ["$"])


class FakeBus:
    def __init__(self):
        self.out: list[OutMessage] = []
        self.acked: list[int] = []

    def publish(self, messages, stored_hook=None):
        self.out.extend(messages)
        if stored_hook:
            stored_hook()

    def ack(self, message):
        self.acked.append(message.mid)

    def wait_for_room(self, stop):
        pass


def make_pipeline(**mqtt) -> tuple[ClassifyPipeline, FakeBus, FakeClassifier]:
    cfg = Config(device_id="d")
    for key, value in mqtt.items():
        setattr(cfg.mqtt, key, value)
    bus, model = FakeBus(), FakeClassifier()
    return ClassifyPipeline(cfg, Topics.from_config(cfg), bus, Metrics(), model, threading.Event()), bus, model


def run_batch(pipe: ClassifyPipeline, batch: list) -> None:
    """One batch through the worker step, then the writer thread stores and acks it (stop drains it)."""
    pipe.writer.start()
    pipe._handle_batch(batch)
    pipe.writer.stop()


def inbound(mid: int, payload: bytes, reply_to=None, correlation=None) -> Inbound:
    return Inbound("edge-app/d/classify", payload, 1, mid, reply_to=reply_to, correlation=correlation)


def test_answers_leave_in_arrival_order_not_length_order():
    pipe, bus, _ = make_pipeline()
    texts = [("x" * ((i * 7) % 13 + 1)) for i in range(20)]
    for i, text in enumerate(texts):
        pipe.handle(inbound(i, json.dumps({"id": i, "text": text}).encode()))
    batch = [pipe.batcher.queue.get_nowait() for _ in range(20)]
    batch.sort(key=lambda p: p.size)  # what the batcher hands over
    run_batch(pipe, batch)
    assert [json.loads(m.payload)["id"] for m in bus.out] == list(range(20))  # old code: length order
    assert bus.acked == list(range(20))


def test_a_bad_message_costs_its_neighbours_nothing():
    pipe, bus, model = make_pipeline()
    msgs = [
        b'{"id": "a", "text": "turn on the lights"}',
        b'{"id":"\\ud800","text":"turn on the lights"}',
        b'{"id": "p", "text": "poison pill"}',
        b'{"id": "b", "text": "lights off"}',
    ]
    for i, payload in enumerate(msgs):
        pipe.handle(inbound(i, payload))
    run_batch(pipe, [pipe.batcher.queue.get_nowait() for _ in msgs])
    answers = [(m.topic.rsplit("/", 1)[1], json.loads(m.payload)) for m in bus.out]
    assert [(t, a.get("id"), a.get("kind")) for t, a in answers] == [
        ("result", "a", None),
        ("error", None, "bad_unicode"),
        ("error", "p", "model_error"),
        ("result", "b", None),
    ]
    assert bus.acked == [0, 1, 2, 3] and model.calls == 4  # one batch call, then one call per message


def test_v5_rejections_answer_on_the_response_topic_with_correlation():
    pipe, bus, _ = make_pipeline()
    pipe.handle(inbound(1, b"[" * 1500, "edge-app/d/replies/x", b"c-1"))
    pipe.handle(inbound(2, b'{"text": "ok"}', "elsewhere/x", b"c-2"))
    pipe.handle(inbound(3, b'{"text": "ok"}', "edge-app/d/replies/+", b"c-3"))
    pipe.handle(inbound(4, b'{"text": "ok"}', "edge-app/d/replies/y", b"c-4"))
    run_batch(pipe, [pipe.batcher.queue.get_nowait() for _ in range(4)])
    got = [(m.topic, m.correlation, json.loads(m.payload).get("kind")) for m in bus.out]
    assert got == [
        ("edge-app/d/replies/x", b"c-1", "too_deep"),
        ("edge-app/d/error", b"c-2", "bad_response_topic"),
        ("edge-app/d/error", b"c-3", "bad_response_topic"),
        ("edge-app/d/replies/y", b"c-4", None),
    ]


def test_response_prefixes_config_allows_other_trees():
    pipe, bus, _ = make_pipeline(response_prefixes=["replies/"])
    pipe.handle(inbound(1, b"hello there", "replies/me", b"c"))
    run_batch(pipe, [pipe.batcher.queue.get_nowait()])
    assert bus.out[0].topic == "replies/me" and "label" in json.loads(bus.out[0].payload)


def test_result_too_large_for_the_broker_is_an_error():
    pipe, bus, _ = make_pipeline(max_packet_size=20000)  # unchecked here; config requires > max_payload
    items = [{"id": i, "text": "x", "pad": "y" * 400} for i in range(64)]
    pipe.handle(inbound(1, json.dumps({"items": items}).encode()))
    run_batch(pipe, [pipe.batcher.queue.get_nowait()])
    assert json.loads(bus.out[0].payload)["kind"] == "result_too_large"


def test_handle_never_blocks_even_when_the_worker_is_stuck():
    pipe, bus, _ = make_pipeline()
    pipe.cfg.batching.queue_size = 2
    start = time.monotonic()
    for i in range(50):  # old code: batcher.submit blocked the network thread on a full queue
        pipe.handle(Inbound("edge-app/d/classify", b"hi", 1 if i % 2 else 0, i))
    assert time.monotonic() - start < 1
    pending = [pipe.batcher.queue.get_nowait() for _ in range(50)]
    busy = [p for p in pending if p.error is not None]
    assert busy and all(p.error.kind == "busy" and p.message.qos == 0 for p in busy)


def test_a_busy_answer_names_the_message_it_refuses():
    pipe, bus, _ = make_pipeline()
    pipe.cfg.batching.queue_size = 1
    for i in range(3):  # QoS 0, nothing drains the queue: the second and third are refused
        pipe.handle(Inbound("edge-app/d/classify", json.dumps({"id": f"m{i}", "text": "hi"}).encode(), 0, i))
    run_batch(pipe, [pipe.batcher.queue.get_nowait() for _ in range(3)])
    errors = [json.loads(m.payload) for m in bus.out if m.topic == "edge-app/d/error"]
    assert [(e["id"], e["kind"]) for e in errors] == [("m1", "busy"), ("m2", "busy")]


def test_swap_runs_hooks():
    pipe, _, model = make_pipeline()
    seen = []
    pipe.on_swap.append(seen.append)
    pipe.on_swap.append(lambda c: 1 / 0)  # a failing hook is guarded
    new = FakeClassifier()
    pipe.swap(new)
    assert pipe.current() is new and seen == [new] and pipe.metrics.counters["internal_errors"] == 1
