"""The one config object: defaults <- TOML <- EDGE_APP_* environment <- command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_app.config import Config, load_config
from edge_app.errors import ConfigError


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge-app.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    cfg = load_config(environ={})
    assert cfg == Config()
    assert cfg.mqtt.broker == "mqtt://localhost:1883"
    assert cfg.mqtt.qos == 1
    assert cfg.batching.max_batch == 32
    assert cfg.verify_bundle is True


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    toml = write_toml(
        tmp_path,
        """
        bundle = "/opt/bundles/toml"
        device_id = "kitchen"
        [mqtt]
        broker = "mqtt://toml-host:1883"
        qos = 2
        keepalive = 45
        [batching]
        max_batch = 8
    """,
    )
    environ = {"EDGE_APP_MQTT_BROKER": "mqtt://env-host:1883", "EDGE_APP_MQTT_QOS": "0", "EDGE_APP_BUNDLE": "/env"}
    overrides = {"mqtt": {"broker": "mqtt://flag-host:1883", "qos": None}, "bundle": None}
    cfg = load_config(toml, overrides=overrides, environ=environ)
    assert cfg.mqtt.broker == "mqtt://flag-host:1883"  # flag beats env beats TOML
    assert cfg.mqtt.qos == 0  # env beats TOML; a flag left unset (None) changes nothing
    assert cfg.bundle == "/env"
    assert cfg.mqtt.keepalive == 45  # TOML beats the default
    assert cfg.batching.max_batch == 8
    assert cfg.batching.max_wait_ms == 0.0  # untouched default
    assert cfg.device_id == "kitchen"
    assert cfg.prefix == "edge-app/kitchen"
    assert cfg.client_id == "edge-app-kitchen"


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    toml = write_toml(tmp_path, '[mqtt]\nprefix = "home/edge/"\n')
    cfg = load_config(environ={"EDGE_APP_CONFIG": str(toml)})
    assert cfg.prefix == "home/edge"


def test_environment_values_are_typed() -> None:
    environ = {
        "EDGE_APP_MQTT_INPUTS": "a/classify, b/classify",
        "EDGE_APP_MQTT_TLS_INSECURE": "yes",
        "EDGE_APP_BATCHING_MAX_WAIT_MS": "12.5",
        "EDGE_APP_THREADS": "2",
        "EDGE_APP_VERIFY_BUNDLE": "off",
    }
    cfg = load_config(environ=environ)
    assert cfg.mqtt.inputs == ["a/classify", "b/classify"]
    assert cfg.mqtt.tls_insecure is True
    assert cfg.batching.max_wait_ms == 12.5
    assert cfg.threads == 2
    assert cfg.verify_bundle is False


def test_unrelated_environment_is_ignored() -> None:
    cfg = load_config(environ={"PATH": "/bin", "EDGE_APP_TEST_BUNDLE": "/tmp/x", "HOME": "/root"})
    assert cfg == Config()


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    toml = write_toml(tmp_path, '[mqtt]\nbrokr = "mqtt://x"\n')
    with pytest.raises(ConfigError, match=r"unknown config key 'mqtt\.brokr'.*broker"):
        load_config(toml, environ={})


def test_unknown_section_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown config key 'mqqt'"):
        load_config(write_toml(tmp_path, "[mqqt]\nqos = 1\n"), environ={})


def test_unknown_key_in_environment_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'mqtt\.brokr'.*EDGE_APP"):
        load_config(environ={"EDGE_APP_MQTT_BROKR": "mqtt://x"})


@pytest.mark.parametrize(
    "toml, key",
    [
        ('[mqtt]\nqos = "high"\n', "mqtt.qos"),
        ("[mqtt]\nqos = 1.5\n", "mqtt.qos"),
        ("[mqtt]\nkeepalive = true\n", "mqtt.keepalive"),
        ('[batching]\nmax_wait_ms = "soon"\n', "batching.max_wait_ms"),
        ('verify_bundle = "maybe"\n', "verify_bundle"),
        ("bundle = [1, 2]\n", "bundle"),
        ("[mqtt]\ninputs = 3\n", "mqtt.inputs"),
        ('mqtt = "mqtt://x"\n', "mqtt"),
    ],
)
def test_bad_type_in_file_is_named(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        load_config(write_toml(tmp_path, toml), environ={})


def test_bad_type_in_environment_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'batching\.max_batch'.*'lots'"):
        load_config(environ={"EDGE_APP_BATCHING_MAX_BATCH": "lots"})


def test_whole_numbers_are_accepted_for_numbers(tmp_path: Path) -> None:
    cfg = load_config(write_toml(tmp_path, "[mqtt]\nmetrics_interval = 10\nqos = 2.0\n"), environ={})
    assert cfg.mqtt.metrics_interval == 10.0 and isinstance(cfg.mqtt.metrics_interval, float)
    assert cfg.mqtt.qos == 2 and isinstance(cfg.mqtt.qos, int)


@pytest.mark.parametrize(
    "toml, words",
    [
        ('device = "npu"\n', "device"),
        ("[mqtt]\nqos = 3\n", "qos"),
        ('[mqtt]\nprotocol = "4"\n', "protocol"),
        ("[batching]\nmax_batch = 0\n", "max_batch"),
    ],
)
def test_out_of_range_values_are_refused(tmp_path: Path, toml: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_config(write_toml(tmp_path, toml), environ={})


def test_missing_and_malformed_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write_toml(tmp_path, "[mqtt\n"), environ={})


def test_password_is_read_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret\n", encoding="utf-8")
    toml = write_toml(tmp_path, f'[mqtt]\nusername = "edge"\npassword_file = "{secret}"\n')
    assert load_config(toml, environ={}).mqtt.password == "s3cret"
    # A password given directly (environment) wins over the file.
    cfg = load_config(toml, environ={"EDGE_APP_MQTT_PASSWORD": "from-env"})
    assert cfg.mqtt.password == "from-env"


def test_unreadable_password_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-password"
    with pytest.raises(ConfigError, match="no-password"):
        load_config(environ={"EDGE_APP_MQTT_PASSWORD_FILE": str(missing)})


def test_masked_hides_the_password_only() -> None:
    cfg = load_config(environ={"EDGE_APP_MQTT_USERNAME": "edge", "EDGE_APP_MQTT_PASSWORD": "s3cret"})
    shown = cfg.masked()
    assert shown["mqtt"]["password"] == "***"
    assert "s3cret" not in repr(shown)
    assert shown["mqtt"]["username"] == "edge"
    assert cfg.mqtt.password == "s3cret"  # masking is a view, not a change
    assert load_config(environ={}).masked()["mqtt"]["password"] == ""


def test_config_limits_validated():
    assert load_config(environ={"EDGE_APP_MQTT_MAX_ITEMS": "8"}).mqtt.max_items == 8
    with pytest.raises(ConfigError, match="max_packet_size"):
        load_config(environ={"EDGE_APP_MQTT_MAX_PAYLOAD": "200000"})
    with pytest.raises(ConfigError, match="response_prefixes"):
        load_config(environ={"EDGE_APP_MQTT_RESPONSE_PREFIXES": "replies/#"})
