"""edge_app/mqtt/publisher.py without a broker: the PUBACK and replay bookkeeping against a stand-in
paho client. Each bug of issue #10 has a test here that failed on the old code."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field

import pytest

from edge_app.mqtt.outbox import Outbox, OutMessage
from edge_app.mqtt.publisher import ResultPublisher


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
    assert events == [
        ("ack", b"0"),
        ("publish", b"0", [b"0"]),
        ("publish", b"1", [b"0"]),
        ("publish", b"2", [b"0"]),
        ("ack", b"1+2"),
    ]
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
