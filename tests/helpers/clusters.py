"""Two-node broker clusters from Debian's packages, on loopback ports, in temp folders (issue #18).

Started by the tests, never through systemd; the nodes use their own Erlang cookie and node
names, so they neither see nor disturb a broker the machine may run. Where a package is not
installed the test skips with one line saying which.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from edge_app_tools.harness import free_port, wait_port

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/sbin/rabbitmqctl"


class RabbitCluster:
    """Two RabbitMQ nodes with rabbitmq_mqtt (MQTT 3.1.1), clustered; node i's MQTT port is mqtt_ports[i]."""

    def __init__(self, folder: Path):
        if not (os.path.exists(RABBITMQ_SERVER) and os.path.exists(RABBITMQCTL)):
            pytest.skip("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        self.folder = folder
        self.cookie = uuid.uuid4().hex
        tag = uuid.uuid4().hex[:6]
        self.nodes = [f"fleet{tag}{i}@localhost" for i in (1, 2)]
        self.mqtt_ports = [free_port(), free_port()]
        self.procs: list[subprocess.Popen] = []
        (folder / "home").mkdir(parents=True)
        cookie = folder / "home" / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)

    def url(self, i: int) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_ports[i]}"

    def _env(self, i: int) -> dict[str, str]:
        node = self.folder / f"n{i}"
        node.mkdir(exist_ok=True)
        (node / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        (node / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {free_port()}\nmqtt.listeners.tcp.default = {self.mqtt_ports[i]}\n"
            "loopback_users = none\n"
        )
        return {
            **os.environ,
            "HOME": str(self.folder / "home"),
            "RABBITMQ_NODENAME": self.nodes[i],
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(node / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(node / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(node / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(node / "pid"),
        }

    def ctl(self, i: int, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [RABBITMQCTL, "--erlang-cookie", self.cookie, "-n", self.nodes[i], *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "HOME": str(self.folder / "home")},
        )
        if done.returncode:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {self.nodes[i]}: {done.stderr or done.stdout}")
        return done.stdout

    def start(self) -> RabbitCluster:
        for i in (0, 1):
            log = open(self.folder / f"n{i}.out", "wb")
            self.procs.append(
                subprocess.Popen(
                    [RABBITMQ_SERVER],
                    env=self._env(i),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        for i in (0, 1):
            wait_port(self.mqtt_ports[i], timeout=120)
        self.ctl(1, "stop_app")
        self.ctl(1, "join_cluster", self.nodes[0])
        self.ctl(1, "start_app")
        wait_port(self.mqtt_ports[1], timeout=60)
        status = self.ctl(0, "cluster_status")
        assert all(n in status for n in self.nodes), status
        return self

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # our own node's process group (it was started in its own session)
        deadline = time.monotonic() + 30
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


EJABBERDCTL = "/usr/sbin/ejabberdctl"
EJABBERD_YML = """hosts:
  - localhost
loglevel: info
listen:
  -
    port: {port}
    ip: "127.0.0.1"
    module: mod_mqtt
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
auth_method: internal
modules:
  mod_mqtt: {{}}
"""


class EjabberdCluster:
    """Two ejabberd nodes with mod_mqtt (MQTT 5), clustered, with one user. Debian's ejabberdctl runs the
    nodes as the `ejabberd` user, so their folders live in a temp dir that user may enter."""

    user, password = "board", "fleet-pw"

    def __init__(self):
        if not os.path.exists(EJABBERDCTL):
            pytest.skip("ejabberd is not installed (apt-get install ejabberd)")
        if os.geteuid() != 0:
            pytest.skip("Debian's ejabberdctl must be run as root (it switches to the ejabberd user)")
        import shutil
        import tempfile

        self._rmtree = shutil.rmtree
        self.folder = Path(tempfile.mkdtemp(prefix="fleet-ejabberd-"))
        self.folder.chmod(0o755)
        tag = uuid.uuid4().hex[:6]
        self.nodes = [f"fleet{tag}{i}@localhost" for i in (1, 2)]
        self.mqtt_ports = [free_port(), free_port()]
        self.procs: list[subprocess.Popen] = []
        for i in (0, 1):
            node = self.folder / f"n{i}"
            for sub in ("spool", "logs"):
                (node / sub).mkdir(parents=True)
            (node / "ejabberd.yml").write_text(EJABBERD_YML.format(port=self.mqtt_ports[i]))
            (node / "inetrc").write_text('{lookup,[file,native]}.\n{host,{127,0,0,1}, ["localhost"]}.\n')
        subprocess.run(["chown", "-R", "ejabberd", str(self.folder)], check=True)

    def url(self, i: int) -> str:
        return f"mqtt://{self.user}@127.0.0.1:{self.mqtt_ports[i]}"

    def ctl(self, i: int, *args: str, timeout: float = 120) -> str:
        node = self.folder / f"n{i}"
        done = subprocess.run(
            [
                EJABBERDCTL,
                "--config-dir",
                str(node),
                "--config",
                str(node / "ejabberd.yml"),
                "--spool",
                str(node / "spool"),
                "--logs",
                str(node / "logs"),
                "--node",
                self.nodes[i],
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode:
            raise RuntimeError(f"ejabberdctl {' '.join(args)} on {self.nodes[i]}: {done.stderr or done.stdout}")
        return done.stdout

    def start(self) -> EjabberdCluster:
        for i in (0, 1):
            node = self.folder / f"n{i}"
            log = open(self.folder / f"n{i}.out", "wb")
            self.procs.append(
                subprocess.Popen(
                    [
                        EJABBERDCTL,
                        "--config-dir",
                        str(node),
                        "--config",
                        str(node / "ejabberd.yml"),
                        "--spool",
                        str(node / "spool"),
                        "--logs",
                        str(node / "logs"),
                        "--node",
                        self.nodes[i],
                        "foreground",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        for i in (0, 1):
            wait_port(self.mqtt_ports[i], timeout=120)
        self.ctl(1, "join_cluster", self.nodes[0])  # node 2 restarts its application inside
        wait_port(self.mqtt_ports[1], timeout=60)
        listed = self.ctl(0, "list_cluster")
        assert all(n in listed for n in self.nodes), listed
        self.ctl(0, "register", self.user, "localhost", self.password)
        return self

    def stop(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc.poll() is None:
                try:
                    self.ctl(i, "stop", timeout=30)
                except (RuntimeError, subprocess.TimeoutExpired):
                    pass
        deadline = time.monotonic() + 30
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # our own node's process group
                proc.wait()
        self._rmtree(self.folder, ignore_errors=True)
