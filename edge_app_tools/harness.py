"""The one harness for "start `edge-app serve`, talk to it over MQTT, collect what it says".

Used by `./run demo` (edge_app_tools/demo.py), `edge-app bench --mqtt` (edge_app_tools/bench/mqtt_load.py)
and the tests (tests/helpers/mqtt.py builds its fixtures on it). The board runtime (`serve`)
never imports it, and a board does not install it (it is in edge-app-tools, not the runtime).
Standard library, paho, and the runtime's connection helpers and errors (edge_app.mqtt.connection,
edge_app.errors) only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_app.errors import BrokerError
from edge_app.mqtt.connection import no_delay

EDGE_APP = [sys.executable, "-m", "edge_app.cli"]
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def serve_argv(bundle: str | Path, broker_url: str, device_id: str, state_dir: str | Path, *extra: str) -> list[str]:
    """The `edge-app serve` command line every caller starts the service with."""
    return [
        *EDGE_APP,
        "serve",
        "--bundle",
        str(bundle),
        "--broker",
        broker_url,
        "--device-id",
        device_id,
        "--state-dir",
        str(state_dir),
        *extra,
    ]


class ServeProcess:
    """A child process (normally `edge-app serve`) with its output in a log file.

    `new_session` puts it in its own session, so a Ctrl-C reaches only the parent, which then
    stops its children in order (the demo wants that). `stop_timeout`: how long `stop` waits
    for a signal to be obeyed before SIGKILL. `prefix`: the topic prefix of a `serve`."""

    def __init__(
        self,
        argv: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        new_session: bool = False,
        stop_timeout: float = STOP_TIMEOUT_S,
        prefix: str = "",
    ):
        self.args = argv
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.new_session = new_session
        self.stop_timeout = stop_timeout
        self.prefix = prefix
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    @classmethod
    def serve(
        cls,
        bundle: str | Path,
        broker_url: str,
        device_id: str,
        state_dir: str | Path,
        *extra: str,
        prefix: str = "",
        env: dict[str, str] | None = None,
        stop_timeout: float = STOP_TIMEOUT_S,
    ) -> ServeProcess:
        """`edge-app serve` (serve_argv) with the `extra` flags, not yet started; `prefix` is passed as --prefix
        when given (default edge-app/<device_id>); the log goes beside the state dir."""
        argv = serve_argv(bundle, broker_url, device_id, state_dir, *(["--prefix", prefix] if prefix else []), *extra)
        log_path = Path(state_dir).parent / f"serve-{device_id}-{uuid.uuid4().hex[:6]}.log"
        return cls(argv, log_path, env, stop_timeout=stop_timeout, prefix=prefix or f"edge-app/{device_id}")

    def start(self, stdout: int | None = None) -> ServeProcess:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.args,
                stdout=stdout if stdout is not None else log,
                stderr=subprocess.STDOUT if stdout is None else log,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=self.new_session,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_online(self, online: Callable[[], bool], timeout: float) -> float:
        """Seconds until `online()` holds (e.g. the status topic said "online"); BrokerError with the log's
        tail if the process exits first or `timeout` passes."""
        start = time.monotonic()
        while not online():
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise BrokerError(
                    f"`edge-app serve` exited with code {code} before going online; its log ends:\n{self.log_tail()}"
                )
            if time.monotonic() - start > timeout:
                raise BrokerError(f"`edge-app serve` was not online after {timeout:.0f} s; log:\n{self.log_tail()}")
            time.sleep(0.01)
        return time.monotonic() - start

    def stop(self, sig: int = signal.SIGTERM, timeout: float | None = None) -> int | None:
        """Send `sig` (SIGTERM: the graceful stop), SIGKILL only if it is not obeyed within `timeout`
        (default: stop_timeout). The exit code; None if it was never started."""
        proc = self.proc
        if proc is None:
            return self.returncode
        timeout = self.stop_timeout if timeout is None else timeout
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()
        self.returncode = proc.returncode
        return proc.returncode


class Recorder:
    """A paho client that subscribes, records every message by topic, and publishes.

    `on_message` (optional) is called for each message as well, on paho's network thread."""

    def __init__(
        self,
        host: str,
        port: int,
        topics: list[str],
        client_id: str | None = None,
        persistent: bool = False,
        v5: bool = True,
        username: str | None = None,
        password: str | None = None,
        on_message: Callable[[mqtt.MQTTMessage], None] | None = None,
        max_inflight: int = 100,
        connect_timeout: float = 10.0,
    ):
        self.messages: dict[str, list[mqtt.MQTTMessage]] = defaultdict(list)
        self.lock = threading.Lock()
        self.topics = topics
        self.hook = on_message
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"harness-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else not persistent,
        )
        self.client.max_inflight_messages_set(max_inflight)
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 600 if persistent else 0
        self.client.connect(
            host, port, clean_start=not persistent if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY, properties=props
        )
        self.client.loop_start()
        self.connected.wait(connect_timeout)
        time.sleep(0.3)  # subscriptions settle; retained messages arrive

    def _on_connect(self, client, _u, _flags, reason, _props) -> None:
        if reason.is_failure:
            return
        no_delay(client)
        for t in self.topics:
            client.subscribe(t, qos=1)
        self.connected.set()

    def _on_message(self, _c, _u, msg) -> None:
        with self.lock:
            self.messages[msg.topic].append(msg)
        if self.hook:
            self.hook(msg)

    def payloads(self, topic: str) -> list[bytes]:
        with self.lock:
            return [m.payload for m in self.messages[topic]]

    def json(self, topic: str) -> list[Any]:
        return [json.loads(p) for p in self.payloads(topic)]

    def publish(self, topic: str, payload, qos: int = 1, **props) -> mqtt.MQTTMessageInfo:
        """Publish; keyword arguments become MQTT 5 properties (ResponseTopic=..., CorrelationData=...)."""
        properties = None
        if props:
            properties = Properties(PacketTypes.PUBLISH)
            for key, value in props.items():
                setattr(properties, key, value)
        return self.client.publish(topic, payload, qos=qos, properties=properties)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return bool(predicate())

    def wait_status(self, prefix: str, value: str, timeout: float = 60.0) -> bool:
        return self.wait_for(lambda: (self.payloads(f"{prefix}/status") or [b""])[-1] == value.encode(), timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def result_ids(recorder: Recorder, topic: str) -> list:
    return [r["id"] for r in recorder.json(topic)]
