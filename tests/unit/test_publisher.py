"""Fast tests of the service core without a broker or a model: parse and limits, the outbox,
the publisher's PUBACK/replay bookkeeping, the route table, the pipeline's ordering and retries,
the guard and the watchdog. Each bug of issue #10 has a test here that failed on the old code."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_app.classifier import Classifier, Prediction
from edge_app.config import Config, load_config
from edge_app.errors import ConfigError
from edge_app.model import Model
from edge_app.mqtt.bus import cap_read_burst
from edge_app.mqtt.guard import Watchdog, guarded
from edge_app.mqtt.metrics import Metrics
from edge_app.mqtt.outbox import OutMessage, Outbox
from edge_app.mqtt.payloads import PayloadLimits, PayloadError, encode, error_payload, json_depth, parse
from edge_app.mqtt.pipeline import ClassifyPipeline, response_topic_problem
from edge_app.mqtt.publisher import ResultPublisher
from edge_app.mqtt.routes import Inbound, Routes
from edge_app.mqtt.service import Service
from edge_app.mqtt.topics import Topics

LIMITS = PayloadLimits()


# ---- parse and limits ---------------------------------------------------------------------
def rejected(payload: bytes, limits: PayloadLimits = LIMITS) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(payload, limits)
    error_payload(info.value.reason, info.value.msg_id, "t", len(payload), info.value.kind)  # must not raise
    return info.value


def test_lone_surrogate_id_is_refused_and_error_payload_encodes():
    # old code: parse accepted it, error_payload/encode raised UnicodeEncodeError on the network thread
    assert rejected(b'{"id":"\\ud800"}').kind == "bad_unicode"
    assert rejected(b'{"id":"\\ud800","text":"turn on the lights"}').kind == "bad_unicode"
    assert json.loads(error_payload("x", "\ud800", "t", 1))["id"] == "\ud800"  # ASCII-escaped, valid JSON
    assert json.loads(encode({"a": "\udfff"}))["a"] == "\udfff"


def test_deep_json_is_refused_before_the_parser_recurses():
    # old code: RecursionError escaped parse()
    assert rejected(b"[" * 1500).kind == "too_deep"
    assert rejected(b'{"text": "x", "a": ' + b"[" * 10000 + b"]" * 10000 + b"}").kind == "too_deep"
    assert parse(b'{"text": "x", "a": [[1]]}', LIMITS).items[0].extra == {"a": [[1]]}


def test_limits_items_chars_bytes_and_not_json_constants():
    assert rejected(json.dumps({"items": ["a"] * 65}).encode()).kind == "too_many_items"
    assert len(parse(json.dumps({"items": ["a"] * 64}).encode(), LIMITS).items) == 64
    assert rejected(json.dumps({"text": "a" * 4097}).encode()).kind == "too_long"
    assert rejected(("a" * 4097).encode()).kind == "too_long"
    assert rejected(b"a" * 65537).kind == "too_large"
    assert rejected(b'{"text": "x", "n": NaN}').kind == "malformed"
    small = PayloadLimits(max_bytes=100, max_items=2, max_text_chars=5, max_json_depth=2)
    assert rejected(b'{"items": ["a", "b", "c"]}', small).kind == "too_many_items"
    assert rejected(b'{"text": "x", "a": [[1]]}', small).kind == "too_deep"


def test_error_ids_echo_only_short_scalars():
    assert json.loads(error_payload("r", "k1", "t", 1))["id"] == "k1"
    assert json.loads(error_payload("r", {"nested": [1]}, "t", 1))["id"] is None
    assert json.loads(error_payload("r", "x" * 1000, "t", 1))["id"] is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_only_ever_raises_payload_error(payload):
    try:
        request = parse(payload, LIMITS)
    except PayloadError as exc:
        error_payload(exc.reason, exc.msg_id, "t", len(payload), exc.kind)
        return
    for item in request.items:
        encode({"id": item.id, "text": item.text, **item.extra})


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_depth_matches_the_structure(value):
    def depth(v):
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0
    assert json_depth(json.dumps(value)) == depth(value)


def test_config_limits_validated():
    assert load_config(environ={"EDGE_APP_MQTT_MAX_ITEMS": "8"}).mqtt.max_items == 8
    with pytest.raises(ConfigError, match="max_packet_size"):
        load_config(environ={"EDGE_APP_MQTT_MAX_PAYLOAD": "200000"})
    with pytest.raises(ConfigError, match="response_prefixes"):
        load_config(environ={"EDGE_APP_MQTT_RESPONSE_PREFIXES": "replies/#"})


def test_response_topics_only_under_allowed_prefixes():
    allowed = ["edge-app/d/"]
    assert response_topic_problem("edge-app/d/replies/1", allowed) is None
    assert "outside" in response_topic_problem("elsewhere/x", allowed)
    assert "wildcard" in response_topic_problem("edge-app/d/+", allowed)
    assert "wildcard" in response_topic_problem("edge-app/d/#", allowed)
    assert "broker topic" in response_topic_problem("$SYS/x", ["$"])


# ---- outbox ---------------------------------------------------------------------------------
def test_outbox_rolls_back_a_failed_transaction(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", 100)
    with pytest.raises(sqlite3.IntegrityError):
        box.add([OutMessage("t", b"1", 1), OutMessage(None, b"2", 1)])  # type: ignore[arg-type]
    assert len(box) == 0 and box.pending() == []
    box.add([OutMessage("t", b"3", 1)])  # old code: "cannot start a transaction within a transaction"
    assert [m.payload for m in box.pending()] == [b"3"]
    box.close()


def test_corrupt_outbox_is_moved_aside_once(tmp_path, caplog):
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    box = Outbox(path, 100)  # old code: sqlite3.DatabaseError at every start (a crash loop)
    assert box.moved_aside and box.moved_aside.read_bytes().startswith(b"this is not")
    assert len(box) == 0
    box.add([OutMessage("t", b"x", 1)])
    assert [r.levelname for r in caplog.records if "unreadable" in r.message] == ["ERROR"]
    box.close()
    assert len(Outbox(path, 100)) == 1


# ---- publisher ------------------------------------------------------------------------------
@dataclass
class Info:
    mid: int
    rc: int = 0


@dataclass
class FakeClient:
    published: list = field(default_factory=list)
    next_mid: int = 1

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        self.published.append((topic, payload))
        self.next_mid += 1
        return Info(self.next_mid - 1)


class Reason:
    def __init__(self, value: int):
        self.value = value
        self.is_failure = value >= 0x80

    def __str__(self) -> str:
        return f"code {self.value}"


def test_puback_failure_is_not_a_delivery(tmp_path):
    refused = []
    client = FakeClient()
    pub = ResultPublisher(client, Outbox(tmp_path / "o.sqlite3", 100), True, lambda m, r: refused.append((m, r)))
    pub.on_connect()
    pub.send([OutMessage("a/ok", b"1", 1), OutMessage("a/denied", b"2", 1)])
    pub.on_publish(1, Reason(0))
    pub.on_publish(2, Reason(0x87))  # not authorised: old code deleted it as delivered, silently
    assert [m.topic for m, _ in refused] == ["a/denied"] and pub.refused == 1


def test_replay_skips_what_paho_resends_itself(tmp_path):
    client = FakeClient()
    pub = ResultPublisher(client, Outbox(tmp_path / "o.sqlite3", 100), False)
    pub.on_connect()
    pub.send([OutMessage("r", b"1", 1), OutMessage("r", b"2", 1)])  # both in paho's hands
    pub.on_disconnect()
    pub.send([OutMessage("r", b"3", 1)])  # stored while offline
    client.published.clear()
    pub.on_connect()
    # old code replayed 1, 2 and 3: 1 and 2 then arrived twice (paho resends its in-flight messages)
    assert [p for _, p in client.published] == [b"3"]


def test_a_puback_that_beats_the_registration_still_counts(tmp_path):
    client = FakeClient()
    box = Outbox(tmp_path / "o.sqlite3", 100)
    pub = ResultPublisher(client, box, False)
    pub.on_connect()
    pub.on_publish(1, Reason(0))  # arrives before _publish registered mid 1
    pub.send([OutMessage("r", b"1", 1)])
    pub.reap()
    assert len(box) == 0


class HookClient(FakeClient):
    """A FakeClient that runs `hook(mid, payload)` right after each publish: a PUBACK or a drop that
    comes before the publisher's next step."""

    def __init__(self, hook=lambda mid, payload: None):
        super().__init__()
        self.hook = hook

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        info = super().publish(topic, payload, qos, retain, properties)
        self.hook(info.mid, payload)
        return info


def accepted_publisher(tmp_path, client):
    """A connected publisher whose topic "r" the broker has accepted once (mid 1, row 1)."""
    box = Outbox(tmp_path / "o.sqlite3", 100)
    pub = ResultPublisher(client, box, True)
    pub.on_connect()
    pub.send([OutMessage("r", b"0", 1)])
    pub.on_publish(1, Reason(0))
    return pub, box


def test_answers_to_an_accepted_topic_are_published_before_their_fsync(tmp_path):
    events = []
    client = HookClient(lambda mid, payload: events.append(("publish", payload, [m.payload for m in box.pending()])))
    box = Outbox(tmp_path / "o.sqlite3", 100)
    pub = ResultPublisher(client, box, True)
    pub.on_connect()
    pub.send([OutMessage("r", b"0", 1)], lambda: events.append(("ack", b"0")))
    pub.on_publish(1, Reason(0))
    pub.send([OutMessage("r", b"1", 1), OutMessage("r", b"2", 1)], lambda: events.append(("ack", b"1+2")))
    # first answer on a topic: stored, acked, published (the safe order); then published before the store
    # (old code: always store, ack, publish: every answer waited for one fsync, ~3 ms here)
    assert events == [("ack", b"0"), ("publish", b"0", [b"0"]), ("publish", b"1", [b"0"]),
                      ("publish", b"2", [b"0"]), ("ack", b"1+2")]
    assert [m.payload for m in box.pending()] == [b"1", b"2"] and pub.early_sends == 1  # stored, row 0 gone
    pub.on_publish(2, Reason(0))
    pub.on_publish(3, Reason(0))
    pub.reap()
    assert len(box) == 0


def test_a_puback_before_or_during_the_store_leaves_no_row(tmp_path):
    pub = None
    client = HookClient(lambda mid, payload: payload == b"1" and pub.on_publish(mid, Reason(0)))
    pub, box = accepted_publisher(tmp_path, client)
    pub.send([OutMessage("r", b"1", 1)])  # PUBACKed before the store: never written
    assert len(box) == 0
    add = box.add

    def add_then_puback(messages, remove=None):  # the PUBACK comes while the transaction commits
        stored = add(messages, remove)
        pub.on_publish(client.next_mid - 1, Reason(0))
        return stored

    box.add = add_then_puback
    pub.send([OutMessage("r", b"2", 1)])
    assert [m.payload for m in box.pending()] == [b"2"]
    pub.reap()  # deleted, not left pending to be replayed at every reconnect
    assert len(box) == 0


def test_a_drop_between_publish_and_store_neither_loses_nor_doubles(tmp_path):
    pub = None

    def drop(mid, payload):
        if payload == b"1":
            pub.on_disconnect()
            pub.on_connect()  # the row is not stored yet: nothing to replay; paho resends mid 2 itself

    client = HookClient(drop)
    pub, box = accepted_publisher(tmp_path, client)
    pub.send([OutMessage("r", b"1", 1)])
    assert [p for _, p in client.published] == [b"0", b"1"] and [m.payload for m in box.pending()] == [b"1"]
    pub.on_disconnect()
    pub.on_connect()  # stored and held by paho: not replayed on top of paho's resend
    assert [p for _, p in client.published] == [b"0", b"1"]
    pub.on_publish(2, Reason(0))
    pub.reap()
    assert len(box) == 0


def test_a_refused_topic_goes_back_to_the_safe_order(tmp_path):
    events = []
    client = HookClient(lambda mid, payload: events.append(payload))
    pub, box = accepted_publisher(tmp_path, client)
    pub.send([OutMessage("r", b"1", 1)], lambda: events.append("ack"))
    pub.on_publish(2, Reason(0x87))  # the ACL changed: mosquitto 2.0.11 closes the connection after this
    pub.send([OutMessage("r", b"2", 1)], lambda: events.append("ack"))
    # an ack behind a refused publish dies with the connection: the input would come back forever
    assert events == [b"0", b"1", "ack", "ack", b"2"] and pub.refused == 1


def test_answers_made_during_a_replay_follow_it(tmp_path):
    writer = []

    def during_replay(mid, payload):  # the writer thread sends a new answer while on_connect replays
        if payload == b"1" and not writer:
            writer.append(threading.Thread(target=pub.send, args=([OutMessage("r", b"3", 1)],)))
            writer[0].start()
            writer[0].join(0.3)

    client = HookClient(during_replay)
    pub, box = accepted_publisher(tmp_path, client)
    pub.on_disconnect()
    pub.send([OutMessage("r", b"1", 1), OutMessage("r", b"2", 1)])  # stored while offline
    pub.on_connect()
    writer[0].join(5)
    assert [p for _, p in client.published] == [b"0", b"1", b"2", b"3"]


# ---- routes -----------------------------------------------------------------------------------
def test_routes_match_first_and_first_flag():
    routes = Routes()
    routes.add("p/#", lambda m: "all")
    routes.add("p/cmd/model", lambda m: "cmd", first=True)
    assert routes.match("p/cmd/model").filter == "p/cmd/model"
    assert routes.match("p/classify").filter == "p/#"
    assert routes.match("q/x") is None


# ---- pipeline -------------------------------------------------------------------------------
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
    msgs = [b'{"id": "a", "text": "turn on the lights"}', b'{"id":"\\ud800","text":"turn on the lights"}',
            b'{"id": "p", "text": "poison pill"}', b'{"id": "b", "text": "lights off"}']
    for i, payload in enumerate(msgs):
        pipe.handle(inbound(i, payload))
    run_batch(pipe, [pipe.batcher.queue.get_nowait() for _ in msgs])
    answers = [(m.topic.rsplit("/", 1)[1], json.loads(m.payload)) for m in bus.out]
    assert [(t, a.get("id"), a.get("kind")) for t, a in answers] == [
        ("result", "a", None), ("error", None, "bad_unicode"), ("error", "p", "model_error"), ("result", "b", None)]
    assert bus.acked == [0, 1, 2, 3] and model.calls == 4  # one batch call, then one call per message


def test_v5_rejections_answer_on_the_response_topic_with_correlation():
    pipe, bus, _ = make_pipeline()
    pipe.handle(inbound(1, b"[" * 1500, "edge-app/d/replies/x", b"c-1"))
    pipe.handle(inbound(2, b'{"text": "ok"}', "elsewhere/x", b"c-2"))
    pipe.handle(inbound(3, b'{"text": "ok"}', "edge-app/d/replies/+", b"c-3"))
    pipe.handle(inbound(4, b'{"text": "ok"}', "edge-app/d/replies/y", b"c-4"))
    run_batch(pipe, [pipe.batcher.queue.get_nowait() for _ in range(4)])
    got = [(m.topic, m.correlation, json.loads(m.payload).get("kind")) for m in bus.out]
    assert got == [("edge-app/d/replies/x", b"c-1", "too_deep"), ("edge-app/d/error", b"c-2", "bad_response_topic"),
                   ("edge-app/d/error", b"c-3", "bad_response_topic"), ("edge-app/d/replies/y", b"c-4", None)]


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


def test_the_stand_in_and_the_classifier_are_models(default_bundle: Path):
    assert isinstance(FakeClassifier(), Model)
    assert isinstance(Classifier.load(default_bundle, device="cpu", verify=False, latency_session=False), Model)


# ---- building the service -------------------------------------------------------------------
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


# ---- guard and watchdog ---------------------------------------------------------------------
def test_guard_counts_and_swallows():
    metrics = Metrics()
    assert guarded("x", metrics)(lambda: 1 / 0)() is None
    assert metrics.counters["internal_errors"] == 1


def test_watchdog_reports_a_dead_thread():
    dead = []
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    dog = Watchdog({"worker": thread.is_alive}, stopping=lambda: False, interval=0.05, on_dead=dead.append).start()
    deadline = time.monotonic() + 5
    while not dead and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dead and "worker" in dead[0]
    dog.stop()


def test_shipped_mosquitto_packet_limit_matches_the_service():
    conf = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"
    lines = [line.split() for line in conf.read_text().splitlines() if line.strip() and not line.startswith("#")]
    (value,) = [v for k, v, *_ in lines if k == "max_packet_size"]
    cfg = Config()
    assert int(value) == cfg.mqtt.max_packet_size > cfg.mqtt.max_payload + 1024


def test_connect_announces_packet_size_and_receive_maximum():
    import paho.mqtt.client as mqtt

    from edge_app.mqtt.connection import connect_properties

    cfg = Config()
    props = connect_properties(cfg, mqtt.MQTTv5)
    # old code: no Maximum Packet Size, so a 200 MB publish was buffered whole before the size check
    assert props.MaximumPacketSize == cfg.mqtt.max_packet_size
    assert props.ReceiveMaximum == cfg.batching.queue_size


def test_outbox_syncs_each_commit_to_disk(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", 10)
    # old code: synchronous=NORMAL (1), which a power cut can undo after the input was acknowledged
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.close()


class BurstClient:
    """paho's reader seen from loop_read: `_packet_read` returns what `script` says, one item a call."""

    def __init__(self, script):
        self.script, self.reads, self.handled = list(script), 0, []

    def socket(self):
        return object()

    def _packet_read(self):
        self.reads += 1
        return self.script.pop(0) if self.script else mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _loop_rc_handle(self, rc):
        self.handled.append(rc)
        return rc


def test_the_network_loop_reads_a_bounded_burst_then_writes():
    flood = BurstClient([])  # data keeps coming: paho would read one packet per unacknowledged message
    cap_read_burst(flood, burst=32)
    assert flood.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and flood.reads == 32
    drained = BurstClient([mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS, mqtt.MQTTErrorCode.MQTT_ERR_AGAIN])
    cap_read_burst(drained, burst=32)
    assert drained.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and drained.reads == 2  # socket empty: stop
    lost = BurstClient([mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST])
    cap_read_burst(lost, burst=32)
    assert lost.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST and lost.handled == [mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST]


def test_storing_a_batch_deletes_the_acknowledged_rows_in_the_same_transaction(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", 100)
    first = box.add([OutMessage("t", b"1", 1), OutMessage("t", b"2", 1)])
    second = box.add([OutMessage("t", b"3", 1)], remove=[first[0].row_id])
    assert len(box) == 2 and [m.payload for m in box.pending()] == [b"2", b"3"]
    with pytest.raises(sqlite3.Error):  # a failed store keeps the rows it was to delete
        box.add([OutMessage(None, b"4", 1)], remove=[first[1].row_id])  # type: ignore[arg-type]  (topic NOT NULL)
    assert len(box) == 2 and [m.payload for m in box.pending()] == [b"2", b"3"] and second[0].row_id


def test_rows_acknowledged_before_a_failed_store_are_deleted_by_the_next(tmp_path):
    client = FakeClient()
    box = Outbox(tmp_path / "o.sqlite3", 100)
    pub = ResultPublisher(client, box, True)
    pub.on_connect()
    pub.send([OutMessage("a", b"1", 1)])
    pub.on_publish(1, Reason(0))  # PUBACKed: its row is due to go with the next store
    with pytest.raises(sqlite3.Error):
        pub.send([OutMessage(None, b"bad", 1)])  # type: ignore[arg-type]
    assert len(box) == 1
    pub.send([OutMessage("a", b"2", 1)])
    assert [m.payload for m in box.pending()] == [b"2"]
