"""Connecting to brokers: credentials, TLS, unreachable hosts, and what the user is told."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers.mqtt import EDGE_APP, Collector, Mosquitto, Serve, free_port, mosquitto  # noqa: F401

pytestmark = pytest.mark.slow


def serve_once(
    bundle: Path, broker: str, tmp_path: Path, *extra: str, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run `serve` expecting it to refuse to start; returns the finished process."""
    args = [*EDGE_APP, "serve", "--bundle", str(bundle), "--broker", broker, "--state-dir", str(tmp_path / "s"), *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def one_clear_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("edge-app serve:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_unreachable_broker_is_one_line_and_its_own_exit_code(default_bundle, tmp_path):
    port = free_port()
    proc = serve_once(default_bundle, f"mqtt://127.0.0.1:{port}", tmp_path)
    assert proc.returncode == 10
    line = one_clear_line(proc)
    assert f"127.0.0.1:{port}" in line and "cannot reach broker" in line


@pytest.fixture
def secured(tmp_path):
    data = tmp_path / "broker"
    data.mkdir()
    passwd = data / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "board1", "s3cret-pw"], check=True)
    broker = Mosquitto(data, extra=f"allow_anonymous false\npassword_file {passwd}\n").start()
    yield broker
    broker.stop()


def test_username_and_password_accepted(default_bundle, secured, tmp_path):
    url = secured.url.replace("mqtt://", "mqtt://board1@")
    serve = Serve(default_bundle, url, tmp_path / "state", "auth", env={"EDGE_APP_MQTT_PASSWORD": "s3cret-pw"}).start()
    bus = Collector(secured.url, ["edge-app/auth/#"], username="board1", password="s3cret-pw")
    try:
        assert bus.wait_status("edge-app/auth", "online"), serve.output()
        bus.publish("edge-app/auth/classify", "switch the lights off")
        assert bus.wait_for(lambda: bus.payloads("edge-app/auth/result"), 30)
        assert bus.json("edge-app/auth/result")[0]["label"] == "lights_off"
    finally:
        bus.close()
        serve.stop()
    assert "s3cret-pw" not in serve.output()


def test_wrong_password_is_named_and_not_echoed(default_bundle, secured, tmp_path):
    url = secured.url.replace("mqtt://", "mqtt://board1@")
    proc = serve_once(default_bundle, url, tmp_path, env={"EDGE_APP_MQTT_PASSWORD": "wrong-pw"})
    assert proc.returncode == 11
    line = one_clear_line(proc)
    assert "bad user name or password" in line and "board1" in line and "EDGE_APP_MQTT_PASSWORD" in line
    assert "wrong-pw" not in proc.stderr + proc.stdout


def test_anonymous_client_not_authorised(default_bundle, secured, tmp_path):
    proc = serve_once(default_bundle, secured.url, tmp_path)
    assert proc.returncode == 13
    assert "anonymous" in one_clear_line(proc)


def test_password_on_the_command_line_is_refused(default_bundle, secured, tmp_path):
    url = secured.url.replace("mqtt://", "mqtt://board1:s3cret-pw@")
    proc = serve_once(default_bundle, url, tmp_path)
    assert proc.returncode != 0 and "EDGE_APP_MQTT_PASSWORD" in one_clear_line(proc)


def _make_ca(folder: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl at test time."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem", "ext")}

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=edge-app test CA",
        "-keyout",
        str(paths["ca.key"]),
        "-out",
        str(paths["ca.pem"]),
    )
    ssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(paths["server.key"]),
        "-out",
        str(paths["server.csr"]),
    )
    paths["ext"].write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ssl(
        "x509",
        "-req",
        "-in",
        str(paths["server.csr"]),
        "-CA",
        str(paths["ca.pem"]),
        "-CAkey",
        str(paths["ca.key"]),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(paths["ext"]),
        "-out",
        str(paths["server.pem"]),
    )
    return paths


@pytest.fixture
def tls_broker(tmp_path):
    data = tmp_path / "tls-broker"
    data.mkdir()
    ca = _make_ca(tmp_path / "pki")
    extra = f"cafile {ca['ca.pem']}\ncertfile {ca['server.pem']}\nkeyfile {ca['server.key']}\n"
    broker = Mosquitto(data, extra=extra).start()
    broker.ca = ca["ca.pem"]
    yield broker
    broker.stop()


def test_tls_with_our_ca_is_accepted(default_bundle, tls_broker, tmp_path):
    url = f"mqtts://127.0.0.1:{tls_broker.port}"
    serve = Serve(default_bundle, url, tmp_path / "state", "tls", "--ca-file", str(tls_broker.ca)).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "connected to mqtts://" not in serve.output():
            assert serve.proc.poll() is None, serve.output()
            time.sleep(0.1)
        assert "connected to mqtts://127.0.0.1" in serve.output()
    finally:
        assert serve.stop(signal.SIGTERM) == 0


def test_untrusted_certificate_is_named(default_bundle, tls_broker, tmp_path):
    proc = serve_once(default_bundle, f"mqtts://127.0.0.1:{tls_broker.port}", tmp_path)
    assert proc.returncode == 12
    line = one_clear_line(proc)
    assert "not trusted" in line and "mqtt.ca_file" in line


def test_print_config_masks_the_password(tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text('bundle = "/b"\n[mqtt]\nbroker = "mqtt://board1@host:1883"\nqos = 0\n')

    proc = subprocess.run(
        [*EDGE_APP, "serve", "--config", str(conf), "--device-id", "kitchen", "--print-config"],
        capture_output=True,
        text=True,
        env={**os.environ, "EDGE_APP_MQTT_PASSWORD": "hunter2"},
    )
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["mqtt"]["password"] == "***" and "hunter2" not in proc.stdout
    assert shown["mqtt"]["qos"] == 0 and shown["derived"]["prefix"] == "edge-app/kitchen"
    assert shown["derived"]["inputs"] == ["edge-app/kitchen/classify"]


@pytest.fixture
def amqtt_broker():
    port = free_port()
    proc = subprocess.Popen([*EDGE_APP, "broker", "--port", str(port)], stdout=subprocess.PIPE, text=True)
    assert "listening on" in proc.stdout.readline()
    yield f"mqtt://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


def test_falls_back_to_mqtt_311_and_says_what_is_off(default_bundle, amqtt_broker, tmp_path):
    serve = Serve(default_bundle, amqtt_broker, tmp_path / "state", "old").start()
    bus = Collector(amqtt_broker, ["edge-app/old/#"], v5=False)
    try:
        assert bus.wait_status("edge-app/old", "online"), serve.output()
        bus.publish("edge-app/old/classify", json.dumps({"id": 1, "text": "start the robot vacuum"}))
        assert bus.wait_for(lambda: bus.payloads("edge-app/old/result"), 30), serve.output()
        assert bus.json("edge-app/old/result")[0]["label"] == "vacuum_start"
    finally:
        bus.close()
        assert serve.stop(signal.SIGTERM) == 0
    log = serve.output()
    assert "speaks MQTT 3.1.1 only" in log and "response topic" in log and "shared subscriptions" in log
