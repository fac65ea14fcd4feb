"""`edge-app broker`: the embedded amqtt broker, run for real as its own process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from helpers.mqtt import free_port

EDGE_APP = [sys.executable, "-m", "edge_app.cli"]
START_TIMEOUT_S = 30.0


def start_broker(port: int) -> subprocess.Popen:
    """Start `edge-app broker --port PORT` and return once it says it is listening."""
    proc = subprocess.Popen(
        [*EDGE_APP, "broker", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = _readline(proc, START_TIMEOUT_S)
    assert line == f"listening on mqtt://127.0.0.1:{port}\n", (line, proc.poll())
    return proc


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0] if box else ""


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def broker():
    port = free_port()
    proc = start_broker(port)
    yield port, proc
    stop(proc)


def client(port: int, received: list) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    c.on_message = lambda _c, _u, m: received.append((m.topic, m.payload, m.retain))
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def subscribe(c: mqtt.Client, topic: str) -> None:
    """Subscribe and wait for the SUBACK, so what is published next is certain to be routed to us."""
    acked = threading.Event()
    c.on_subscribe = lambda *_: acked.set()
    c.subscribe(topic, qos=1)
    assert acked.wait(10), f"no SUBACK for {topic}"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)
    return predicate()


def test_round_trip_and_retained_message(broker):
    port, _ = broker
    received: list = []
    sub, pub = client(port, received), client(port, [])
    try:
        subscribe(sub, "t/#")
        pub.publish("t/retained", b"kept", qos=1, retain=True).wait_for_publish(5)
        assert wait_for(lambda: ("t/retained", b"kept") in [(t, p) for t, p, _ in received])
        sent = [f"m{i}".encode() for i in range(20)]
        for i, payload in enumerate(sent):
            pub.publish(f"t/{i}", payload, qos=1).wait_for_publish(5)
        assert wait_for(lambda: [p for _, p, _ in received[1:]] == sent), received

        late: list = []  # a subscriber that arrives later still gets the retained message, flagged as such
        third = client(port, late)
        subscribe(third, "t/retained")
        assert wait_for(lambda: late == [("t/retained", b"kept", True)]), late
        time.sleep(0.5)
        assert late == [("t/retained", b"kept", True)], "retained message delivered twice"
        third.disconnect()
        third.loop_stop()
    finally:
        for c in (sub, pub):
            c.disconnect()
            c.loop_stop()


def test_listens_on_loopback_only(broker):
    port, proc = broker
    listening = [
        c.laddr for c in psutil.Process(proc.pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
    ]
    assert listening and all(addr.ip == "127.0.0.1" and addr.port == port for addr in listening), listening


def test_sigterm_and_ctrl_c_stop_it_cleanly_with_clients_connected():
    for sig in (signal.SIGTERM, signal.SIGINT):
        port = free_port()
        proc = start_broker(port)
        c = client(port, [])
        assert wait_for(c.is_connected)
        proc.send_signal(sig)
        assert proc.wait(15) == 0
        assert proc.stderr.read() == ""
        c.loop_stop()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_port_in_use_is_one_line_and_non_zero():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*EDGE_APP, "broker", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {port}" in lines[0] and "in use" in lines[0] and "--port" in lines[0]


def test_missing_amqtt_names_the_extra():
    # A Python where `import amqtt` fails, as on a board installed without the broker extra.
    code = (
        "import sys; sys.modules['amqtt'] = None; from edge_app.cli import main; "
        f"sys.exit(main(['broker', '--port', '{free_port()}']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 6
    assert "pip install edge-app[broker]" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_retained_messages_go_only_to_subscribers(broker):
    """A client that subscribed to nothing gets nothing, though another client holds a matching filter."""
    port, _ = broker
    holder_got: list = []
    holder = client(port, holder_got)
    subscribe(holder, "t/#")
    holder.publish("t/retained", b"kept", qos=1, retain=True).wait_for_publish(5)
    assert wait_for(lambda: holder_got)
    bystander_got: list = []
    bystander = client(port, bystander_got)
    try:
        assert wait_for(bystander.is_connected)
        subscribe(bystander, "other/#")
        time.sleep(1.0)
        assert bystander_got == []
    finally:
        for c in (holder, bystander):
            c.disconnect()
            c.loop_stop()
