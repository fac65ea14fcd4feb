"""Real brokers and real `edge-app serve` processes for the MQTT tests.

Mosquitto is Debian's, started here on a free loopback port with a config file of our own
(never systemd). Queue limits follow what we ship: `max_queued_messages 0` with a byte bound,
because mosquitto's default of 1,000 silently drops QoS 1 messages for a slow subscriber.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
EDGE_APP = [sys.executable, "-m", "edge_app.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class Mosquitto:
    """A mosquitto on loopback with persistence in its own folder; can be stopped and restarted."""

    def __init__(self, folder: Path, extra: str = "", port: int | None = None):
        if not MOSQUITTO:
            pytest.fail("mosquitto is not installed; `./run test` installs it (apt-get install mosquitto)")
        self.folder = folder
        self.port = port or free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    def write_config(self) -> Path:
        conf = self.folder / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "persistence true\n"
            f"persistence_location {self.folder}/\n"
            "max_queued_messages 0\nmax_queued_bytes 268435456\n"
            "user root\n"
            + ("allow_anonymous true\n" if "allow_anonymous" not in self.extra else "")
            + self.extra
        )
        return conf

    def start(self) -> "Mosquitto":
        conf = self.write_config()
        self.log = open(self.folder / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def mosquitto(tmp_path: Path):
    broker = Mosquitto(tmp_path / "broker-data")
    broker.folder.mkdir()
    broker.start()
    yield broker
    broker.stop()


class Serve:
    """`edge-app serve` as a real subprocess."""

    def __init__(self, bundle: Path, broker_url: str, state_dir: Path, device_id: str = "t", *extra: str,
                 env: dict | None = None):
        self.args = [*EDGE_APP, "serve", "--bundle", str(bundle), "--broker", broker_url, "--device-id", device_id,
                     "--state-dir", str(state_dir), "--metrics-interval", "1", "--log-level", "info", *extra]
        self.prefix = f"edge-app/{device_id}"
        self.env = {**os.environ, **(env or {})}
        self.log_path = state_dir.parent / f"serve-{device_id}-{uuid.uuid4().hex[:6]}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Serve":
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self.proc = None
        return rc


class Collector:
    """A paho client that subscribes, records every message, and publishes for the tests."""

    def __init__(self, broker_url: str, topics: list[str], client_id: str | None = None, persistent: bool = False,
                 v5: bool = True, username: str | None = None, password: str | None = None):
        port = int(broker_url.rsplit(":", 1)[1])
        self.messages: dict[str, list] = defaultdict(list)
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                                  clean_session=None if v5 else not persistent)
        self.client.max_inflight_messages_set(100)
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.2, 1)
        self.topics = topics
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: [c.subscribe(t, qos=1) for t in self.topics]
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 600 if persistent else 0
        self.client.connect("127.0.0.1", port, clean_start=not persistent if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                            properties=props)
        self.client.loop_start()
        time.sleep(0.3)

    def _on_message(self, _c, _u, msg) -> None:
        with self.lock:
            self.messages[msg.topic].append(msg)

    def payloads(self, topic: str) -> list[bytes]:
        with self.lock:
            return [m.payload for m in self.messages[topic]]

    def json(self, topic: str) -> list[dict]:
        return [json.loads(p) for p in self.payloads(topic)]

    def publish(self, topic: str, payload, qos: int = 1, **props):
        properties = None
        if props:
            properties = Properties(PacketTypes.PUBLISH)
            for key, value in props.items():
                setattr(properties, key, value)
        return self.client.publish(topic, payload, qos=qos, properties=properties)

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def wait_status(self, prefix: str, value: str, timeout: float = 60.0) -> bool:
        return self.wait_for(lambda: (self.payloads(f"{prefix}/status") or [b""])[-1] == value.encode(), timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def result_ids(collector: Collector, topic: str) -> list:
    return [r["id"] for r in collector.json(topic)]
