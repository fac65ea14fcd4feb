"""Real Home Assistant and Node-RED processes for the integration tests (marker `integration`).

`./run test` installs both with tests/clients/install.sh into a cache outside the clone
(`$EDGE_APP_CLIENT_CACHE`, else ~/.cache/edge-app); these helpers only find, start and drive them.
Where a program could not be installed the install script left a one-line reason and the tests
skip with it; a program that is installed but misbehaves fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect as ws_connect

from helpers.mqtt import free_port, wait_port

HA_VERSION = "2025.4.4"  # keep in step with tests/clients/install.sh
NODE_RED_VERSION = "4.1"
INSTALL_SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "install.sh"


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edge-app"
    return Path(os.environ.get("EDGE_APP_CLIENT_CACHE") or default)


def installed(program: str, executable: str) -> Path:
    """The program's executable, after running the (cached, idempotent) install script; else skip."""
    subprocess.run(["bash", str(INSTALL_SCRIPT), program], check=True)
    reason = cache_dir() / f"{program}.skip"
    if reason.is_file():
        pytest.skip(f"{program} cannot be installed here: {reason.read_text().strip()}")
    path = cache_dir() / executable
    if not path.exists():
        pytest.fail(f"{INSTALL_SCRIPT} finished but {path} is missing")
    return path


def http(
    method: str, url: str, body: Any = None, token: str | None = None, form: bool = False, timeout: float = 30
) -> Any:
    """One JSON (or form) request; returns the decoded JSON answer, or the text when it is not JSON."""
    headers = {}
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {url} -> {exc.code}: {exc.read().decode(errors='replace')}") from None
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll until predicate() is truthy; returns its value or fails naming what did not happen."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (AssertionError, OSError, ValueError) as exc:  # ValueError: float("unknown") not yet a number
            last_error = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}" + (f" ({last_error})" if last_error else "")
    )


class HomeAssistant:
    """Home Assistant in its own config dir, onboarded through the REST API, with MQTT on a test broker."""

    CLIENT_ID_PATH = "/"

    def __init__(self, hass: Path, folder: Path, extra_yaml: str = ""):
        self.hass = hass
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_yaml = extra_yaml
        self.token: str | None = None
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> HomeAssistant:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "configuration.yaml").write_text(
            "homeassistant:\n  name: edge-app test\n  unit_system: metric\n  time_zone: UTC\n"
            "  latitude: 0\n  longitude: 0\n  elevation: 0\n  country: DE\n"
            f"http:\n  server_host: 127.0.0.1\n  server_port: {self.port}\n"
            "api:\nconfig:\nonboarding:\nwebsocket_api:\nlogger:\n  default: warning\n" + self.extra_yaml
        )
        self.log = open(self.folder / "hass.log", "ab")
        self.proc = subprocess.Popen(
            [str(self.hass), "-c", str(self.folder), "--skip-pip-packages", "paho-mqtt"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(
            lambda: self._alive() and http("GET", f"{self.url}/api/onboarding", timeout=5) is not None,
            timeout,
            f"Home Assistant to answer on {self.url} (log: {self.folder / 'hass.log'})",
            0.5,
        )
        return self

    def _alive(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"hass exited with {self.proc.returncode}; see {self.folder / 'hass.log'}")
        return True

    def onboard(self) -> str:
        """Create the owner user, finish onboarding, and keep an access token."""
        client_id = f"{self.url}{self.CLIENT_ID_PATH}"
        user = http(
            "POST",
            f"{self.url}/api/onboarding/users",
            {
                "client_id": client_id,
                "name": "Test",
                "username": "test",
                "password": "test-pass-1234",
                "language": "en",
            },
        )
        tokens = http(
            "POST",
            f"{self.url}/auth/token",
            {"grant_type": "authorization_code", "code": user["auth_code"], "client_id": client_id},
            form=True,
        )
        self.token = tokens["access_token"]
        http("POST", f"{self.url}/api/onboarding/core_config", {}, self.token)
        http("POST", f"{self.url}/api/onboarding/analytics", {}, self.token)
        http(
            "POST",
            f"{self.url}/api/onboarding/integration",
            {"client_id": client_id, "redirect_uri": client_id},
            self.token,
        )
        return self.token

    def add_mqtt(self, port: int) -> dict:
        flow = http("POST", f"{self.url}/api/config/config_entries/flow", {"handler": "mqtt"}, self.token)
        result = http(
            "POST",
            f"{self.url}/api/config/config_entries/flow/{flow['flow_id']}",
            {"broker": "127.0.0.1", "port": port},
            self.token,
        )
        assert result["type"] == "create_entry", result
        return result

    def ws(self, command: str, **data: Any) -> Any:
        """One websocket API command (its own connection, authenticated); its result, or AssertionError."""
        with ws_connect(f"ws://127.0.0.1:{self.port}/api/websocket", open_timeout=10) as sock:
            assert json.loads(sock.recv(10))["type"] == "auth_required"
            sock.send(json.dumps({"type": "auth", "access_token": self.token}))
            assert json.loads(sock.recv(10))["type"] == "auth_ok"
            sock.send(json.dumps({"id": 1, "type": command, **data}))
            reply = json.loads(sock.recv(60))
        assert reply.get("success"), f"{command} {data}: {reply}"
        return reply.get("result")

    def flow(self, handler: str, *steps: dict) -> dict:
        """A config flow through the REST API: start it for `handler`, post each step, return the last answer."""
        result = http("POST", f"{self.url}/api/config/config_entries/flow", {"handler": handler}, self.token)
        for step in steps:
            result = http("POST", f"{self.url}/api/config/config_entries/flow/{result['flow_id']}", step, self.token)
        return result

    def converse(self, text: str, agent_id: str | None = None, language: str = "en") -> dict:
        """POST /api/conversation/process: what Assist answers to `text` (agent_id None: Home Assistant's own)."""
        body = {"text": text, "language": language, **({"agent_id": agent_id} if agent_id else {})}
        return http("POST", f"{self.url}/api/conversation/process", body, self.token, timeout=60)

    def states(self) -> dict[str, dict]:
        return {s["entity_id"]: s for s in http("GET", f"{self.url}/api/states", token=self.token)}

    def state(self, entity_id: str) -> dict | None:
        return self.states().get(entity_id)

    def render(self, template: str) -> Any:
        """What HA's template engine makes of `template` (JSON-decoded when it is JSON, e.g. 22)."""
        return http("POST", f"{self.url}/api/template", {"template": template}, self.token)

    def entities_of(self, prefix: str) -> dict[str, dict]:
        return {k: v for k, v in self.states().items() if k.split(".", 1)[1].startswith(prefix)}

    def log_text(self) -> str:
        return (self.folder / "hass.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


class NodeRed:
    """Node-RED with its own user dir, admin API on loopback, flows deployed through POST /flows."""

    def __init__(self, node_red: Path, folder: Path, env: dict[str, str]):
        self.node_red = node_red
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> NodeRed:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "settings.js").write_text(
            "module.exports = { uiHost: '127.0.0.1', flowFile: 'flows.json', logging: { console: { level: 'info' } } };\n"
        )
        self.log = open(self.folder / "node-red.log", "ab")
        self.proc = subprocess.Popen(
            [
                str(self.node_red),
                "--userDir",
                str(self.folder),
                "--port",
                str(self.port),
                "--settings",
                str(self.folder / "settings.js"),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        wait_port(self.port, timeout)
        wait_until(lambda: http("GET", f"{self.url}/settings", timeout=5), timeout, "Node-RED's admin API")
        return self

    def deploy(self, flows: list[dict]) -> None:
        """Replace every flow (Node-RED-Deployment-Type: full) with `flows`, as the editor's Deploy does."""
        req = urllib.request.Request(
            f"{self.url}/flows",
            data=json.dumps(flows).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Node-RED-Deployment-Type": "full",
                "Node-RED-API-Version": "v1",
            },
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status in (200, 204), resp.status

    def inject(self, node_id: str) -> None:
        """Press an inject node's button (POST /inject/<id>)."""
        http("POST", f"{self.url}/inject/{node_id}", {})

    def log_text(self) -> str:
        return (self.folder / "node-red.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
