"""Know what the broker can do, and refuse loudly (issue #18).

The decision logic is pure and tested directly; then real mosquitto brokers configured without a
feature, and a tiny broker that behaves as ejabberd does with `$share` (closes the connection),
show that `serve` exits once, with one line naming the fix and EXIT_UNSUPPORTED, instead of
serving silently or reconnecting forever.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_app.config import Config
from edge_app.mqtt.connection import (
    SUBACK_SHARED_NOT_SUPPORTED,
    BrokerCapabilities,
    capability_problems,
    closed_for_share,
)
from helpers.mqtt import EDGE_APP, Collector, Mosquitto, Serve, free_port, refusal_line, serve_once  # noqa: F401


def cfg_with(**mqtt) -> Config:
    cfg = Config()
    for key, value in mqtt.items():
        setattr(cfg.mqtt, key, value)
    return cfg


# ---- the decision logic ----------------------------------------------------------------------
def test_connack_properties_read_with_the_spec_defaults():
    assert BrokerCapabilities.from_connack(None) == BrokerCapabilities()
    props = Properties(PacketTypes.CONNACK)
    props.SharedSubscriptionAvailable = 0
    props.WildcardSubscriptionAvailable = 0
    props.MaximumQoS = 1
    props.RetainAvailable = 0
    props.MaximumPacketSize = 4096
    caps = BrokerCapabilities.from_connack(props)
    assert (caps.shared, caps.wildcard, caps.max_qos, caps.retain, caps.max_packet_size) == (
        False,
        False,
        1,
        False,
        4096,
    )


def test_a_capable_broker_has_no_problems():
    cfg = cfg_with(shared_group="g", inputs=["a/+/classify"], qos=2)
    assert capability_problems(cfg, BrokerCapabilities(max_packet_size=10**6)) == []


@pytest.mark.parametrize(
    "caps, needs, words",
    [
        (BrokerCapabilities(shared=False), {"shared_group": "g"}, ["shared_group", "'g'", "docs/fleet.md"]),
        (
            BrokerCapabilities(refused_filters={"shared": SUBACK_SHARED_NOT_SUPPORTED}),
            {"shared_group": "g"},
            ["shared subscriptions"],
        ),
        (BrokerCapabilities(wildcard=False), {"inputs": ["x/#"]}, ["wildcards", "mqtt.inputs"]),
        (BrokerCapabilities(max_qos=1), {"qos": 2}, ["set mqtt.qos = 1"]),
        (BrokerCapabilities(max_qos=0), {"qos": 1}, ["set mqtt.qos = 0"]),
        (BrokerCapabilities(retain=False), {}, ["retained"]),
        (BrokerCapabilities(max_packet_size=65536), {}, ["65536", "mqtt.max_packet_size"]),
        (BrokerCapabilities(v5=False), {"shared_group": "g"}, ["3.1.1", "mqtt.assume_shared = true"]),
    ],
)
def test_each_missing_feature_is_one_problem_naming_the_fix(caps, needs, words):
    problems = capability_problems(cfg_with(**needs), caps)
    assert len(problems) == 1
    assert all(w in problems[0] for w in words), problems[0]


def test_features_not_needed_are_not_asked_for():
    bare = BrokerCapabilities(shared=False, wildcard=False, max_qos=1, v5=False)
    assert capability_problems(cfg_with(qos=1), bare) == []


def test_assume_shared_trusts_a_311_broker_unless_its_suback_refuses():
    cfg = cfg_with(shared_group="g", assume_shared=True)
    assert capability_problems(cfg, BrokerCapabilities(v5=False)) == []
    refused = BrokerCapabilities(v5=False, refused_filters={"shared": SUBACK_SHARED_NOT_SUPPORTED})
    assert len(capability_problems(cfg, refused)) == 1


def test_a_close_is_a_share_refusal_only_with_0x9e_or_a_share_pending():
    assert closed_for_share(0x9E, False)
    assert closed_for_share(128, True)  # socket closed while the $share SUBSCRIBE waited for its SUBACK
    assert not closed_for_share(128, False)  # a node going away after the share was granted


# ---- real brokers ---------------------------------------------------------------------------
def broker(tmp_path: Path, extra: str = "") -> Mosquitto:
    folder = tmp_path / "broker"
    folder.mkdir()
    return Mosquitto(folder, extra=extra).start()


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra, flags, words",
    [
        ("max_qos 1\n", ["--qos", "2"], ["QoS 1", "mqtt.qos = 1"]),
        ("retain_available false\n", [], ["retained"]),
    ],
)
def test_mosquitto_without_a_feature_is_refused_at_start(default_bundle, tmp_path, extra, flags, words):
    mosq = broker(tmp_path, extra)
    try:
        line = refusal_line(serve_once(default_bundle, mosq.url, tmp_path, *flags))
    finally:
        mosq.stop()
    assert all(w in line for w in words), line


@pytest.mark.slow
def test_smaller_broker_packet_limit_is_refused(default_bundle, tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    mosq = Mosquitto(folder)
    conf = mosq.write_config()
    conf.write_text(conf.read_text().replace("max_packet_size 131072", "max_packet_size 65536"))
    mosq.write_config = lambda: conf  # keep the edited file
    mosq.start()
    try:
        line = refusal_line(serve_once(default_bundle, mosq.url, tmp_path))
    finally:
        mosq.stop()
    assert "65536" in line and "mqtt.max_packet_size" in line


@pytest.mark.slow
def test_shared_group_on_311_is_refused_unless_assumed(default_bundle, tmp_path):
    mosq = broker(tmp_path)
    try:
        line = refusal_line(
            serve_once(default_bundle, mosq.url, tmp_path, "--protocol", "3.1.1", "--shared-group", "workers")
        )
        assert "mqtt.assume_shared = true" in line and "RabbitMQ" in line
        serve = Serve(
            default_bundle,
            mosq.url,
            tmp_path / "state",
            "cap",
            "--protocol",
            "3.1.1",
            "--shared-group",
            "workers",
            env={"EDGE_APP_MQTT_ASSUME_SHARED": "true"},
        ).start()
        bus = Collector(mosq.url, ["edge-app/cap/#"])
        try:
            assert bus.wait_for(lambda: bus.payloads("edge-app/cap/status")[-1:] == [b"online"], 60), serve.output()
            bus.publish("edge-app/cap/classify", "switch the lights off")
            assert bus.wait_for(lambda: bus.payloads("edge-app/cap/result"), 30), serve.output()
        finally:
            bus.close()
            serve.stop()
    finally:
        mosq.stop()


class ShareRefusingBroker:
    """Speaks just enough MQTT 5 to accept a client, then does what ejabberd 23.01 does with a
    `$share/...` SUBSCRIBE: DISCONNECT 0x9E "Shared Subscriptions not supported", and close."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connects = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _packet(conn) -> tuple[int, bytes] | None:
        head = conn.recv(1)
        if not head:
            return None
        length, shift = 0, 0
        while True:
            byte = conn.recv(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        body = b""
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                return None
            body += chunk
        return head[0], body

    def _serve(self, conn):
        with conn:
            while (packet := self._packet(conn)) is not None:
                kind, body = packet
                if kind >> 4 == 1:  # CONNECT -> CONNACK, success, no properties
                    self.connects += 1
                    conn.sendall(bytes([0x20, 3, 0, 0, 0]))
                elif kind >> 4 == 8:  # SUBSCRIBE
                    if b"$share/" in body:
                        conn.sendall(bytes([0xE0, 2, 0x9E, 0]))
                        return
                    conn.sendall(bytes([0x90, 4, body[0], body[1], 0, 0]))
                elif kind >> 4 == 12:  # PINGREQ
                    conn.sendall(bytes([0xD0, 0]))
                elif kind >> 4 == 14:  # DISCONNECT
                    return

    def close(self):
        self.sock.close()


def test_broker_that_closes_on_share_is_one_error_not_a_reconnect_loop(default_bundle, tmp_path):
    fake = ShareRefusingBroker()
    try:
        proc = serve_once(
            default_bundle, f"mqtt://127.0.0.1:{fake.port}", tmp_path, "--shared-group", "workers", timeout=30
        )
    finally:
        fake.close()
    line = refusal_line(proc)
    assert "shared" in line and "'workers'" in line and "docs/fleet.md" in line
    assert fake.connects <= 2, f"{fake.connects} connections: a reconnect loop"
