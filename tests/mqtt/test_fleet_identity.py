"""Members of a shared group with their own identity (issue #18): instance id, client id, status, Will."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from edge_app.config import Config
from edge_app.errors import ConfigError
from edge_app.mqtt.identity import INSTANCE_ID_FILE, resolve_instance_id
from edge_app.mqtt.topics import Topics
from helpers.mqtt import Collector, Serve, mosquitto  # noqa: F401


def member_cfg(state: Path, group: str = "workers", **mqtt) -> Config:
    cfg = Config(device_id="kitchen", state_dir=str(state))
    cfg.mqtt.shared_group = group
    for key, value in mqtt.items():
        setattr(cfg.mqtt, key, value)
    cfg.mqtt.instance_id = resolve_instance_id(cfg)
    return cfg


def test_instance_id_is_made_once_and_kept_in_the_state_dir(tmp_path):
    a, b = member_cfg(tmp_path / "a"), member_cfg(tmp_path / "b")
    assert a.mqtt.instance_id != b.mqtt.instance_id
    assert member_cfg(tmp_path / "a").mqtt.instance_id == a.mqtt.instance_id  # a restart finds its session again
    assert (tmp_path / "a" / INSTANCE_ID_FILE).read_text().strip() == a.mqtt.instance_id


def test_configured_instance_id_wins_and_bad_ones_are_refused(tmp_path):
    assert member_cfg(tmp_path, instance_id="rack-3").mqtt.instance_id == "rack-3"
    with pytest.raises(ConfigError, match="mqtt.instance_id"):
        member_cfg(tmp_path, instance_id="a/b")
    assert resolve_instance_id(Config(state_dir=str(tmp_path / "new")), create=False) == ""


def test_members_differ_in_client_id_and_will_but_share_group_topics(tmp_path):
    a, b = member_cfg(tmp_path / "a"), member_cfg(tmp_path / "b")
    ta, tb = Topics.from_config(a), Topics.from_config(b)
    assert a.client_id != b.client_id and a.mqtt.instance_id in a.client_id
    assert ta.will == f"edge-app/kitchen/instances/{a.mqtt.instance_id}/status" != tb.will
    assert (ta.status, ta.result, ta.inputs, ta.metrics) == (tb.status, tb.result, tb.inputs, tb.metrics)


def test_a_lone_board_keeps_its_client_id_and_group_status_will(tmp_path):
    cfg = member_cfg(tmp_path, group="")
    assert cfg.client_id == "edge-app-kitchen"
    topics = Topics.from_config(cfg)
    assert topics.will == topics.status and topics.online_topics() == [topics.status]


@pytest.mark.slow
def test_two_members_answer_as_themselves_and_one_death_leaves_the_group_online(default_bundle, mosquitto, tmp_path):
    prefix = "edge-app/grp"
    members = [
        Serve(default_bundle, mosquitto.url, tmp_path / f"state-{n}", "grp", "--shared-group", "workers") for n in "ab"
    ]
    bus = Collector(mosquitto.url, [f"{prefix}/#"])
    try:
        for m in members:
            m.start()
        instances = lambda: {
            t.rsplit("/", 2)[1]: bus.payloads(t)[-1]
            for t in list(bus.messages)
            if t.startswith(f"{prefix}/instances/") and bus.payloads(t)
        }
        assert bus.wait_for(lambda: list(instances().values()) == [b"online", b"online"], 90), members[0].output()
        ids = [(tmp_path / f"state-{n}" / INSTANCE_ID_FILE).read_text().strip() for n in "ab"]
        assert sorted(instances()) == sorted(ids)
        for i in range(40):
            bus.publish(f"{prefix}/classify", json.dumps({"id": i, "text": "switch the lights off"}))
        assert bus.wait_for(lambda: len(bus.payloads(f"{prefix}/result")) >= 40, 60)
        assert {r["instance"] for r in bus.json(f"{prefix}/result")} == set(ids)  # split, each names itself
        assert bus.wait_for(lambda: {m.get("instance") for m in bus.json(f"{prefix}/metrics")} >= set(ids), 10)

        members[0].stop(signal.SIGKILL)  # its Last Will: its own status only
        assert bus.wait_for(lambda: instances()[ids[0]] == b"offline", 30)
        assert instances()[ids[1]] == b"online"
        assert bus.payloads(f"{prefix}/status")[-1] == b"online"
        assert b"offline" not in bus.payloads(f"{prefix}/status")
    finally:
        bus.close()
        for m in members:
            m.stop()
