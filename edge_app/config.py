"""The one config object: defaults <- TOML file <- environment (EDGE_APP_...) <- CLI flags.

This is the only module that reads environment variables, so every setting has exactly one
name in each layer: TOML key `mqtt.broker` is env `EDGE_APP_MQTT_BROKER` is flag `--broker`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .session import DEVICE_CHOICES

# tomllib is 3.11+; the runtime also runs on 3.10 (JetPack 6), where tomli is the same parser
# under its PyPI name (pyproject.toml installs it only there).
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the Python 3.10 CI stage
    import tomli as tomllib

ENV_PREFIX = "EDGE_APP_"
SECRET_KEYS = {"password"}


@dataclass
class MqttConfig:
    """How the service talks to the broker. Defaults favour never losing a message."""

    enabled: bool = True  # false: no broker at all (a board that only answers Assist over Wyoming)
    broker: str = "mqtt://localhost:1883"
    username: str = ""
    password: str = ""  # from EDGE_APP_MQTT_PASSWORD or password_file, never a flag
    password_file: str = ""
    client_id: str = ""  # default: edge-app-<device_id>, + -<instance_id> in a shared group; fixed: the session
    instance_id: str = ""  # default: <hostname>-<6 hex>, made once and kept in <state_dir>/instance-id
    prefix: str = ""  # default: edge-app/<device_id>
    inputs: list[str] = field(default_factory=list)  # default: [<prefix>/classify]
    result_topic: str = ""  # default <prefix>/result; "{input}/result" derives from the input topic
    qos: int = 1
    keepalive: int = 30
    session_expiry: int = 86400
    protocol: str = "auto"  # auto | 5 | 3.1.1
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    tls_insecure: bool = False
    shared_group: str = ""
    # A 3.1.1 broker cannot say whether it has $share; true: trust that it does (mosquitto does).
    assume_shared: bool = False
    ha_discovery: bool = False
    metrics_interval: float = 30.0
    # Limits on one input message (a 1-2 GB board; see docs/reliability.md). Larger or deeper
    # inputs are answered on <prefix>/error. The MQTT 5 Maximum Packet Size the service announces
    # in CONNECT is max_packet_size: the broker never hands it anything bigger.
    max_payload: int = 65536  # bytes
    max_items: int = 64  # entries in one {"items": [...]} message
    max_text_chars: int = 4096  # characters in one text (the model reads its first 128 tokens)
    max_json_depth: int = 16  # nesting of [ and {
    max_packet_size: int = 131072  # bytes, MQTT 5 CONNECT; match max_packet_size in mosquitto.conf
    # MQTT 5 Response Topics the service may publish to, as topic prefixes; [] allows only <prefix>/...
    response_prefixes: list[str] = field(default_factory=list)
    top_k: int = 3


@dataclass
class BatchingConfig:
    """Micro-batching: texts that arrive within max_wait_ms share one model call."""

    max_batch: int = 32
    # 0: take whatever is queued when the model is free. Under load batches still fill (messages
    # pile up while the model runs); at a low rate no message waits for company that never comes.
    max_wait_ms: float = 0.0
    queue_size: int = 1024


@dataclass
class OutboxConfig:
    """Results waiting for the broker survive restarts in SQLite; the bound is in messages."""

    max_messages: int = 100_000


@dataclass
class OtaConfig:
    """Over-the-air model updates through <prefix>/cmd/model; off unless enabled."""

    enabled: bool = False  # needs trust.keys: only signed bundles are installed
    bundles_dir: str = ""  # where fetched bundles are unpacked; default <state_dir>/bundles
    allow_http: bool = False  # https only unless set (the signature still protects the content)
    ca_file: str = ""  # CA certificates for https downloads; default: the system's
    max_bytes: int = 0  # most bytes fetched or unpacked per update; 0: 5 x the running bundle
    fetch_timeout: float = 300.0  # seconds for a whole download, however slowly the server sends


@dataclass
class TrustConfig:
    """Which signatures the board accepts; see docs/security.md."""

    keys: str = ""  # a public key file or a folder of *.pub files; set: serve only signed bundles


@dataclass
class ClassifierConfig:
    """Post-processing of the model's answer."""

    # Under this calibrated score a result is `out_of_scope` with "rejected": true. Negative: the
    # threshold the bundle's export chose on its validation split (none: reject nothing); 0: never.
    min_score: float = -1.0


@dataclass
class AssistConfig:
    """Home Assistant's Assist through a Wyoming intent service; see docs/home-assistant.md."""

    wyoming: str = ""  # tcp://HOST:PORT to serve Wyoming on; "": off
    zeroconf: bool = True  # advertise the service as _wyoming._tcp so Home Assistant discovers it
    zeroconf_name: str = ""  # default: edge-app-<device_id>
    timeout: float = 10.0  # seconds a transcript may wait for the model before it is answered not-recognised
    temperature_unit: str = "C"  # Home Assistant's: a temperature said in the other unit is converted
    intents: dict[str, str] = field(default_factory=dict)  # label -> intent name; "" unmaps it
    areas: dict[str, str] = field(default_factory=dict)  # room as said -> Home Assistant area name or alias


@dataclass
class Config:
    bundle: str = ""
    device: str = "auto"  # one of session.DEVICE_CHOICES
    threads: int = 0  # 0: number of physical cores
    spin: bool = False  # onnxruntime threads keep spinning between calls too (always within one): costs idle CPU
    device_id: str = ""  # default: hostname
    state_dir: str = "./.edge-app-state"
    log_level: str = "info"
    verify_bundle: bool = True
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    ota: OtaConfig = field(default_factory=OtaConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    assist: AssistConfig = field(default_factory=AssistConfig)

    # Derived values live here so every consumer computes them the same way.
    @property
    def resolved_device_id(self) -> str:
        return self.device_id or socket.gethostname().split(".")[0] or "edge"

    @property
    def prefix(self) -> str:
        return (self.mqtt.prefix or f"edge-app/{self.resolved_device_id}").rstrip("/")

    @property
    def client_id(self) -> str:
        return self.member_client_id(self.mqtt.instance_id)

    def member_client_id(self, instance_id: str) -> str:
        """In a shared group the instance id names the session: members may share a device id (and a config),
        and any member can find a dead one's session from its instance id alone (rescue.py). A lone board
        keeps the client id (and so the broker session) it always had."""
        if self.mqtt.shared_group and instance_id:
            return f"{self.mqtt.client_id or 'edge-app'}-{instance_id}"
        return self.mqtt.client_id or f"edge-app-{self.resolved_device_id}"

    def masked(self) -> dict[str, Any]:
        """The effective config as a dict with secrets replaced, for --print-config and logs."""
        data = dataclasses.asdict(self)
        for section in data.values():
            if isinstance(section, dict):
                for key in SECRET_KEYS & section.keys():
                    if section[key]:
                        section[key] = "***"
        return data


SECTIONS = {f.name for f in fields(Config) if dataclasses.is_dataclass(f.default_factory)}  # type: ignore[arg-type]


def _coerce(value: Any, current: Any, name: str) -> Any:
    """Turn a TOML or env value into the type of the default, with an error naming the key."""
    try:
        if isinstance(current, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if isinstance(current, dict):
            return _table(value)
        # A TOML `true` is an int to Python and 1.5 would silently become 1: refuse both.
        if isinstance(value, bool) or (isinstance(value, (list, dict)) and not isinstance(current, list)):
            raise TypeError(value)
        if isinstance(current, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, list):
            if isinstance(value, str):
                return [part.strip() for part in value.split(",") if part.strip()]
            if not isinstance(value, list) or any(isinstance(v, (list, dict, bool)) for v in value):
                raise TypeError(value)
            return [str(v) for v in value]
        return str(value)
    except (TypeError, ValueError):
        kind = "table" if isinstance(current, dict) else type(current).__name__
        raise ConfigError(f"config key {name!r} has value {value!r}, expected a {kind}; fix it") from None


def _table(value: Any) -> dict[str, str]:
    """A table of strings: a TOML table, or `key=value,key=value` from the environment."""
    if isinstance(value, str):
        pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(value)
        return {k.strip(): v.strip() for k, v in pairs}
    if not isinstance(value, Mapping) or any(isinstance(v, (list, dict, bool)) for v in value.values()):
        raise TypeError(value)
    return {str(k): str(v) for k, v in value.items()}


def _apply(target: Any, values: Mapping[str, Any], where: str, path: str = "") -> None:
    known = {f.name for f in fields(target)}
    for key, value in values.items():
        name = f"{path}{key}"
        if key not in known:
            raise ConfigError(f"unknown config key {name!r} in {where}; known keys: {', '.join(sorted(known))}")
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"config key {name!r} in {where} must be a table [{name}]")
            _apply(current, value, where, f"{name}.")
        elif value is not None:
            setattr(target, key, _coerce(value, current, name))


def _env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """EDGE_APP_MQTT_BROKER -> {"mqtt": {"broker": ...}}; EDGE_APP_BUNDLE -> {"bundle": ...}."""
    out: dict[str, Any] = {}
    top = {f.name for f in fields(Config)} - SECTIONS
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var == f"{ENV_PREFIX}CONFIG":
            continue
        key = var[len(ENV_PREFIX) :].lower()
        section = next((s for s in SECTIONS if key.startswith(s + "_")), None)
        if section:
            out.setdefault(section, {})[key[len(section) + 1 :]] = value
        elif key in top:
            out[key] = value
    return out


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the effective config. `overrides` are CLI values in the TOML shape (None = unset)."""
    environ = os.environ if environ is None else environ
    cfg = Config()
    path = path or environ.get(f"{ENV_PREFIX}CONFIG")
    if path:
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist; create it or drop --config") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML ({exc}); fix the line it names") from None
        _apply(cfg, data, str(file))
    _apply(cfg, _env_values(environ), "the environment (EDGE_APP_*)")
    if overrides:
        _apply(cfg, {k: v for k, v in overrides.items() if v is not None}, "the command line")
    _read_password_file(cfg)
    _validate(cfg)
    return cfg


def _read_password_file(cfg: Config) -> None:
    if cfg.mqtt.password or not cfg.mqtt.password_file:
        return
    try:
        cfg.mqtt.password = Path(cfg.mqtt.password_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the MQTT password file {cfg.mqtt.password_file} ({exc.strerror}); "
            "check mqtt.password_file and its permissions"
        ) from None


def _validate(cfg: Config) -> None:
    if cfg.device not in DEVICE_CHOICES:
        raise ConfigError(f"device {cfg.device!r} is not one of {', '.join(DEVICE_CHOICES)}")
    if cfg.mqtt.qos not in (0, 1, 2):
        raise ConfigError(f"mqtt.qos is {cfg.mqtt.qos}; use 0, 1 or 2")
    if cfg.mqtt.protocol not in {"auto", "5", "3.1.1"}:
        raise ConfigError(f"mqtt.protocol is {cfg.mqtt.protocol!r}; use auto, 5 or 3.1.1")
    if cfg.batching.max_batch < 1 or cfg.batching.queue_size < 1:
        raise ConfigError("batching.max_batch and batching.queue_size must be at least 1")
    if cfg.classifier.min_score > 1:
        raise ConfigError(
            f"classifier.min_score is {cfg.classifier.min_score}; use a score up to 1 (negative: the bundle's)"
        )
    if cfg.ota.enabled and not cfg.trust.keys:
        raise ConfigError(
            "ota.enabled needs trust.keys: over the air the board installs only bundles signed by a key it "
            "trusts. Make a key pair on the workstation with `edge-app keygen --out keys`, install keys/signing.pub "
            "on the board (`sudo deploy/install.sh --trusted-key keys/signing.pub` sets trust.keys) and sign "
            "bundles with `edge-app sign BUNDLE --key keys/signing.key`"
        )
    if cfg.ota.max_bytes < 0 or cfg.ota.fetch_timeout <= 0:
        raise ConfigError("ota.max_bytes must be 0 (automatic) or more, ota.fetch_timeout more than 0 seconds")
    if not cfg.mqtt.enabled and not cfg.assist.wyoming:
        raise ConfigError(
            "mqtt.enabled is false and assist.wyoming is empty: nothing to serve; "
            "keep MQTT on or pass --wyoming tcp://0.0.0.0:10700"
        )
    if cfg.ota.enabled and not cfg.mqtt.enabled:
        raise ConfigError("ota.enabled needs MQTT (updates arrive on <prefix>/cmd/model); drop --no-mqtt or --ota")
    uri = cfg.assist.wyoming
    if uri and not (uri.startswith("unix://") or re.fullmatch(r"tcp://[^/:]*:\d+", uri)):
        raise ConfigError(f"assist.wyoming is {uri!r}; use tcp://HOST:PORT (e.g. tcp://0.0.0.0:10700) or unix://PATH")
    if cfg.assist.temperature_unit.upper() not in {"C", "F"}:
        raise ConfigError(f"assist.temperature_unit is {cfg.assist.temperature_unit!r}; use C or F")
    if cfg.assist.timeout <= 0:
        raise ConfigError("assist.timeout must be more than 0 seconds")
    m = cfg.mqtt
    if min(m.max_payload, m.max_items, m.max_text_chars, m.max_json_depth) < 1:
        raise ConfigError("mqtt.max_payload, max_items, max_text_chars and max_json_depth must be at least 1")
    if m.max_packet_size < m.max_payload + 1024:
        raise ConfigError(
            f"mqtt.max_packet_size ({m.max_packet_size}) must exceed mqtt.max_payload "
            f"({m.max_payload}) by at least 1024 bytes for topic and properties"
        )
    if any(any(c in p for c in "+#") or not p for p in m.response_prefixes):
        raise ConfigError("mqtt.response_prefixes must be topic prefixes without wildcards (+ #)")
