"""Clustered brokers from Debian's packages (issue #18): failover across nodes with 0 lost, and the
refusal of `$share` where the broker cannot do it.

RabbitMQ 3.10 + rabbitmq_mqtt (MQTT 3.1.1): `serve` on node 2, the producer on node 1; the member
is `kill -9`'d mid-stream and restarted against node 1: its persistent session (a durable queue)
is resumed across nodes and every command is answered.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from edge_app_tools.harness import Recorder
from helpers.clusters import EjabberdCluster, RabbitCluster
from helpers.mqtt import Serve, refusal_line, serve_once

pytestmark = [pytest.mark.slow, pytest.mark.integration]  # real RabbitMQ/ejabberd clusters
COMMANDS = 2000


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    cluster = RabbitCluster(tmp_path_factory.mktemp("rabbit"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def ejabberd():
    cluster = EjabberdCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def failover(bundle, cluster, tmp_path, v5: bool, commands: int = COMMANDS, auth: dict | None = None) -> dict:
    """Member on node 2, producer on node 1, kill -9 of the member mid-stream, restart on node 1."""
    prefix = "edge-app/clu"
    first: dict[int, int] = {}

    def on_result(msg):
        if msg.topic == f"{prefix}/result":
            rid = json.loads(msg.payload)["id"]
            first[rid] = first.get(rid, 0) + 1

    port1 = int(cluster.url(0).rsplit(":", 1)[1])
    auth = auth or {}
    env = {"EDGE_APP_MQTT_PASSWORD": auth["password"]} if auth else None
    bus = Recorder("127.0.0.1", port1, [f"{prefix}/result"], v5=v5, on_message=on_result, **auth)
    state = tmp_path / "state"
    member = Serve(bundle, cluster.url(1), state, "clu", env=env).start()
    try:
        deadline = time.monotonic() + 90  # a command sent before the member subscribed reaches no queue: retry
        while -1 not in first and time.monotonic() < deadline:
            bus.publish(f"{prefix}/classify", json.dumps({"id": -1, "text": "lights on"}))
            bus.wait_for(lambda: -1 in first, 2)
        assert -1 in first, member.output()
        for i in range(commands):
            if i == commands // 3:
                member.stop(signal.SIGKILL)
                member = Serve(bundle, cluster.url(0), state, "clu", env=env).start()  # the other node
            bus.publish(f"{prefix}/classify", json.dumps({"id": i, "text": "switch off the kitchen lights"}))
            if i % 50 == 0:
                time.sleep(0.05)
        bus.wait_for(lambda: all(i in first for i in range(commands)), 120)
        lost = [i for i in range(commands) if i not in first]
        assert not lost, f"{len(lost)} lost, e.g. {lost[:10]}\n{member.log_tail(20)}"
        return {
            "answered": commands,
            "lost": 0,
            "duplicates": sum(first.values()) - len(first),
            "resumed": "session resumed" in member.output(),
        }
    finally:
        bus.close()
        member.stop()


def test_rabbitmq_cluster_failover_loses_nothing(default_bundle, rabbit, tmp_path):
    outcome = failover(default_bundle, rabbit, tmp_path, v5=False)
    print("rabbitmq failover:", outcome)
    assert outcome["lost"] == 0 and outcome["resumed"]


def test_rabbitmq_refuses_a_shared_group_at_start(default_bundle, rabbit, tmp_path):
    """Before: RabbitMQ bound the literal `$share/...` key: 50 sent, 0 answered, no error anywhere."""
    line = refusal_line(serve_once(default_bundle, rabbit.url(0), tmp_path, "--shared-group", "workers"))
    assert "3.1.1" in line and "RabbitMQ" in line and "mqtt.assume_shared" in line


def test_ejabberd_cluster_failover_loses_nothing(default_bundle, ejabberd, tmp_path):
    outcome = failover(
        default_bundle, ejabberd, tmp_path, v5=True, auth={"username": ejabberd.user, "password": ejabberd.password}
    )
    print("ejabberd failover:", outcome)
    assert outcome["lost"] == 0 and outcome["resumed"]


def test_ejabberd_refuses_a_shared_group_at_start_instead_of_looping(default_bundle, ejabberd, tmp_path):
    """Before: ejabberd closed the connection ("Shared Subscriptions not supported") and serve reconnected
    about once a second forever, never saying why."""
    proc = serve_once(
        default_bundle,
        ejabberd.url(0),
        tmp_path,
        "--shared-group",
        "workers",
        env={"EDGE_APP_MQTT_PASSWORD": ejabberd.password},
    )
    line = refusal_line(proc)
    assert "shared" in line and "'workers'" in line
