"""Real brokers and real `edge-app serve` processes for the MQTT tests.

Mosquitto is Debian's, started here on a free loopback port with a config file of our own
(never systemd). Queue limits follow what we ship: `max_queued_messages 0` with a byte bound,
because mosquitto's default of 1,000 silently drops QoS 1 messages for a slow subscriber.

`Serve` and `Collector` are the shared harness of edge_app_tools/harness.py (also used by the demo
and the bench) with the defaults and signatures these tests use.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge_app.mqtt.connection import EXIT_UNSUPPORTED
from edge_app_tools.harness import EDGE_APP, Recorder, ServeProcess, free_port, result_ids, wait_port

__all__ = [
    "EDGE_APP",
    "MOSQUITTO",
    "Collector",
    "Mosquitto",
    "Serve",
    "free_port",
    "mosquitto",
    "refusal_line",
    "result_ids",
    "serve_once",
    "wait_port",
]
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


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
            "max_packet_size 131072\n"  # as deploy/mosquitto/mosquitto.conf ships
            "user root\n" + ("allow_anonymous true\n" if "allow_anonymous" not in self.extra else "") + self.extra
        )
        return conf

    def start(self) -> Mosquitto:
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


def Serve(
    bundle: Path, broker_url: str, state_dir: Path, device_id: str = "t", *extra: str, env: dict | None = None
) -> ServeProcess:
    """`edge-app serve` for a test (ServeProcess.serve): `--metrics-interval 1`, info logs, 60 s to stop gracefully."""
    return ServeProcess.serve(
        bundle,
        broker_url,
        device_id,
        state_dir,
        "--metrics-interval",
        "1",
        "--log-level",
        "info",
        *extra,
        env=env,
        stop_timeout=60,
    )


class Collector(Recorder):
    """A paho client that subscribes, records every message, and publishes for the tests."""

    def __init__(
        self,
        broker_url: str,
        topics: list[str],
        client_id: str | None = None,
        persistent: bool = False,
        v5: bool = True,
        username: str | None = None,
        password: str | None = None,
    ):
        port = int(broker_url.rsplit(":", 1)[1])
        super().__init__(
            "127.0.0.1", port, topics, client_id or f"test-{uuid.uuid4().hex[:8]}", persistent, v5, username, password
        )


@contextmanager
def serving(bundle: Path, broker_url: str, state_dir: Path, device_id: str) -> Iterator[tuple[ServeProcess, Collector]]:
    """A `serve` that is online, and a collector on all its topics; both ended afterwards (serve by SIGKILL)."""
    serve = Serve(bundle, broker_url, state_dir, device_id).start()
    bus = Collector(broker_url, [f"edge-app/{device_id}/#"])
    try:
        assert bus.wait_status(f"edge-app/{device_id}", "online"), serve.output()
        yield serve, bus
    finally:
        bus.close()
        serve.stop(signal.SIGKILL)


# ---- one `serve` that must refuse (the fleet's capability checks, on mosquitto and on clusters) ----
def serve_once(bundle: Path, broker: str, tmp_path: Path, *extra: str, timeout: float = 60, env: dict | None = None):
    args = [
        *EDGE_APP,
        "serve",
        "--bundle",
        str(bundle),
        "--broker",
        broker,
        "--state-dir",
        str(tmp_path / "s"),
        "--device-id",
        "cap",
        *extra,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def refusal_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == EXIT_UNSUPPORTED, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("edge-app serve:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]
