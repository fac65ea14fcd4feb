"""`edge-app serve`: wires the bus, the route table, the classify pipeline and OTA together.

- bus.py: the paho client, guarded callbacks, acks, one publish API (durable via the outbox).
- routes.py: topic filter -> handler; the bus dispatches each message to its route.
- pipeline.py: parse -> micro-batcher -> classifier -> outbox -> publish -> ack.
- ota.py: the <prefix>/cmd/model handler, lent load/current/swap/reply through a ModelHost.
- edge_app/assist: the Wyoming intent service for Home Assistant's Assist (assist.wyoming), asking
  the same pipeline; with mqtt.enabled false it is the only way in (NoBus stands for the broker).
- guard.py: the guard around every callback and worker, and the watchdog that exits non-zero
  when the network thread or the batch worker dies anyway (systemd restarts; the Last Will fires).

Signals: SIGTERM/SIGINT drain and stop (exit 0), SIGHUP reloads the configured bundle.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ..classifier import Classifier
from ..config import Config, load_config
from ..errors import ConfigError, EdgeAppError
from ..model import Model
from ..session import DEVICE_CHOICES
from ..signing import check_trusted, load_trusted_keys
from ..teach import TaughtWatcher, Teacher, TeachRoute
from .bus import Bus, NoBus
from .connection import BrokerAddress, detect_protocol
from .discovery import DISCOVERY_MARKER, announce
from .guard import Watchdog, guarded
from .identity import resolve_instance_id
from .metrics import Metrics
from .ota import ACTIVE_BUNDLE_FILE, ModelHost, ModelUpdater, active_bundle
from .pipeline import ClassifyPipeline
from .rescue import Rescuer
from .topics import Topics

if TYPE_CHECKING:
    from ..assist.wyoming_service import AssistService

log = logging.getLogger(__name__)


class Service:
    """`edge-app serve` for one config: ready to start once built (Service.create builds one from the config)."""

    def __init__(self, cfg: Config, classifier: Model, protocol: int | None):
        """`classifier`: the model to start with (afterwards the pipeline holds the current one); `protocol`:
        the broker's MQTT version (connection.detect_protocol), None only with mqtt.enabled false."""
        if cfg.mqtt.enabled and protocol is None:
            raise ValueError("an MQTT service needs the broker's protocol version; Service.create detects it")
        self.cfg = cfg
        self.classifier = classifier
        cfg.mqtt.instance_id = resolve_instance_id(cfg)  # before anything derives the client id or topics
        self.topics = Topics.from_config(cfg)
        self.address = broker_address(cfg)
        self.metrics = Metrics()
        self.stop_event = threading.Event()
        self.protocol = protocol
        self.bus: Bus | NoBus | None = None
        self.assist: AssistService | None = None  # the Wyoming service (edge_app.assist), when assist.wyoming is set
        self.teacher: Teacher | None = None  # the taught labels' keeper, made in start()
        self.pipeline: ClassifyPipeline | None = None
        self.watchdog: Watchdog | None = None

    @classmethod
    def create(cls, cfg: Config) -> Service:
        """The service `cfg` describes. With MQTT on, the broker is checked first (unreachable, refused, or
        lacking what the config needs fails fast, before the model loads); then the bundle is loaded: the one
        an over-the-air update switched to, if any, else cfg.bundle."""
        if not cfg.bundle:
            raise ConfigError("no bundle to serve; pass --bundle DIR or set `bundle` in the config file")
        protocol = None
        if cfg.mqtt.enabled:
            cfg.mqtt.instance_id = resolve_instance_id(cfg)  # the probe's client id derives from it
            protocol = detect_protocol(cfg, broker_address(cfg), check=True)
        return cls(cfg, load_classifier(cfg, active_bundle(cfg) or cfg.bundle), protocol)

    # ---- start and stop -------------------------------------------------------------------
    def start(self) -> None:
        if self.cfg.mqtt.enabled:
            bus = self.bus = Bus(self.cfg, self.address, self.protocol, self.topics, self.metrics)
            bus.on_fatal = lambda _error: self.stop_event.set()  # run() stops, then raises bus.fatal
        else:
            bus = self.bus = NoBus()
        pipeline = self.pipeline = ClassifyPipeline(
            self.cfg, self.topics, bus, self.metrics, self.classifier, self.stop_event
        )
        # One teacher for the MQTT command and the file watcher: a change one applies, the other skips.
        self.teacher = Teacher(self.cfg.state_dir, pipeline.current)
        checks = {"batch worker": lambda: pipeline.worker_alive}
        if isinstance(bus, Bus):
            self._wire_mqtt(bus, pipeline)
            checks["MQTT network thread"] = lambda: bus.network_alive
        pipeline.start()
        if isinstance(bus, Bus):
            bus.start()
            threading.Thread(target=self._metrics_loop, name="metrics", daemon=True).start()
        TaughtWatcher(self.teacher, self.stop_event, self._taught_changed).start()
        if self.cfg.assist.wyoming:
            assist = self.assist = start_assist(self.cfg, pipeline)
            checks["Wyoming service"] = lambda: assist.alive
        self.watchdog = Watchdog(checks, stopping=self.stop_event.is_set).start()

    def _wire_mqtt(self, bus: Bus, pipeline: ClassifyPipeline) -> None:
        """Routes, fleet rescue and Home Assistant discovery: what only a broker needs."""
        self._add_routes(bus, pipeline)
        if self.topics.member and bus.v5:  # a dead member's commands are adopted, not stranded (rescue.py)
            rescuer = Rescuer(
                self.cfg,
                self.address,
                self.protocol,
                self.topics,
                bus.dispatch,
                lambda topic, payload: bus.publish_volatile(topic, payload, qos=1, retain=True),
                self.metrics,
                self.stop_event,
            )
            bus.routes.add(rescuer.status_filter, rescuer.on_status, qos=1, ack_first=True, first=True)
        bus.on_connected.append(self.publish_discovery)  # on: the configs; off: clears an earlier run's
        if self.cfg.mqtt.ha_discovery:
            pipeline.on_swap.append(lambda _classifier: self.publish_discovery())

    def _add_routes(self, bus: Bus, pipeline: ClassifyPipeline) -> None:
        """Inputs -> the classify pipeline; <prefix>/cmd/model -> the OTA updater (when enabled)."""
        for topic_filter, subscription in zip(self.topics.inputs, self.topics.subscriptions(shared=True)):
            bus.routes.add(topic_filter, pipeline.handle, self.cfg.mqtt.qos, subscription)
        teach = TeachRoute(
            self.teacher,
            lambda obj: bus.publish_json(self.topics.cmd_result, obj),
            trusted_keys(self.cfg),
            self._taught_changed,
        )
        _add_command(bus, self.topics.cmd_teach, teach.handle)
        if self.cfg.ota.enabled:
            host = ModelHost(
                load=lambda path: load_classifier(self.cfg, path),
                current=pipeline.current,
                swap=pipeline.swap,
                reply=lambda obj: bus.publish_json(self.topics.cmd_result, obj),
            )
            _add_command(bus, self.topics.cmd_model, ModelUpdater(self.cfg, host).handle)

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; SIGHUP reloads the bundle. Returns the exit code."""
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        reload = guarded("the SIGHUP reload", self.metrics)(self.reload)
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=reload, name="reload", daemon=True).start())
        self.start()
        while not self.stop_event.wait(0.5):
            pass
        if self.bus.fatal is not None:
            self.shutdown(timeout=2.0)
            raise self.bus.fatal  # the CLI prints its one line and exits with its code
        return self.shutdown()

    def shutdown(self, timeout: float = 30.0) -> int:
        """Stop taking input, finish what is queued, flush the outbox, publish offline."""
        self.stop_event.set()  # also stands the watchdog down: threads end on purpose from here
        log.info("stopping: finishing %d queued messages", self.pipeline.batcher.depth)
        self.bus.draining = True  # later arrivals stay unacknowledged: the broker redelivers them next time
        if self.assist is not None:
            self.assist.stop()
        self.pipeline.stop()
        self.bus.stop(timeout)
        log.info("stopped")
        return 0

    # ---- models, discovery, metrics --------------------------------------------------------
    @property
    def model_info(self) -> dict[str, str]:
        classifier = self.pipeline.current() if self.pipeline else self.classifier
        return classifier.model_info

    def publish_discovery(self) -> None:
        """Home Assistant configs (discovery on) or their removal (off); the labels are HA's event types."""
        classifier = self.pipeline.current()
        announce(
            self.bus.publish_volatile,
            self.topics,
            self.cfg.mqtt.ha_discovery,
            classifier.bundle.name,
            classifier.all_labels,
            marker=Path(self.cfg.state_dir) / DISCOVERY_MARKER,
        )

    def _taught_changed(self) -> None:
        """Taught labels changed: Home Assistant's event types follow (discovery on)."""
        if self.cfg.mqtt.ha_discovery and isinstance(self.bus, Bus):
            self.publish_discovery()

    def reload(self) -> None:
        """SIGHUP: load the configured bundle again (e.g. a new `current` link) and switch to it.

        This also drops an over-the-air choice: the operator's bundle wins."""
        try:
            new = load_classifier(self.cfg, self.cfg.bundle)
        except EdgeAppError as exc:
            log.error("reload refused, keeping the running model: %s", exc)
            return
        (Path(self.cfg.state_dir) / ACTIVE_BUNDLE_FILE).unlink(missing_ok=True)
        self.pipeline.swap(new)

    def _metrics_loop(self) -> None:
        publish = guarded("the metrics loop", self.metrics)(self._publish_metrics)
        while not self.stop_event.wait(self.cfg.mqtt.metrics_interval):
            publish()

    def _publish_metrics(self) -> None:
        bus = self.bus
        bus.publisher.reap()
        snapshot = self.metrics.snapshot(
            {
                "queue_depth": self.pipeline.batcher.depth,
                "outbox_depth": len(bus.outbox),
                "outbox_full_waits": bus.publisher.full_waits,
                "model": self.model_info,
                "provider": self.pipeline.current().provider,
                "protocol": "5" if bus.v5 else "3.1.1",
                "instance": self.topics.instance_id,  # members of a shared group publish metrics on one topic
            }
        )
        bus.publish_volatile(self.topics.metrics, json.dumps(snapshot), qos=0)


def _add_command(bus: Bus, topic: str, handle: Callable[[bytes, bool], None]) -> None:
    """A command topic (<prefix>/cmd/...): acknowledged on arrival, matched before any input filter such as
    <prefix>/# that would swallow it, and with Retain As Published, so a retained command is always seen as
    one (and refused), not only when the broker replays it after a reconnect."""
    bus.routes.add(topic, lambda m: handle(m.payload, m.retain), qos=1, ack_first=True, first=True, keep_retain=True)


def start_assist(cfg: Config, pipeline: ClassifyPipeline) -> AssistService:
    """The Wyoming intent service for Assist, asking `pipeline` (assist.wyoming set)."""
    # Lazy: wyoming and zeroconf cost start time and are needed only with Assist on.
    from ..assist.advertise import Advertiser
    from ..assist.intents import IntentMap
    from ..assist.wyoming_service import AssistService, Described

    a = cfg.assist

    def model() -> Described:
        bundle = pipeline.current().bundle
        return Described(bundle.name, str(bundle.version or bundle.sha256[:12]))

    advertiser = None
    if a.zeroconf and a.wyoming.startswith("tcp://"):
        advertiser = Advertiser(a.zeroconf_name or f"edge-app-{cfg.resolved_device_id}", urlparse(a.wyoming).hostname)
    intents = IntentMap.from_tables(a.intents, a.areas, a.temperature_unit)
    return AssistService(a.wyoming, pipeline.ask, intents, model, a.timeout, advertiser).start()


def broker_address(cfg: Config) -> BrokerAddress:
    """The broker `cfg` names (mqtt.broker, mqtt.username)."""
    return BrokerAddress.parse(cfg.mqtt.broker, cfg.mqtt.username)


def load_classifier(cfg: Config, bundle: str, verify: bool | None = None) -> Classifier:
    """The one place the service builds a Classifier from its config (start, reload, OTA)."""
    # trust.keys set: refuse an unsigned or foreign bundle before onnxruntime reads it (this hashes every file)
    trusted = check_trusted(cfg, bundle) is not None
    verify = (cfg.verify_bundle if verify is None else verify) and not trusted
    classifier = Classifier.load(
        bundle,
        cfg.device,
        cfg.threads or None,
        verify,
        batch_size=cfg.batching.max_batch,
        spin=cfg.spin,
        min_score=cfg.classifier.min_score,
    )
    Teacher(cfg.state_dir, lambda: classifier).apply(classifier)  # the taught labels, computed for this bundle
    return classifier


def trusted_keys(cfg: Config) -> Any:
    """The keys commands must be signed by (trust.keys), or None when signatures are not required."""
    return load_trusted_keys(cfg.trust.keys) if cfg.trust.keys else None


# ---- CLI ------------------------------------------------------------------------------------
def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config file (every key may also come from EDGE_APP_* variables)")
    p.add_argument("--bundle", help="bundle folder to serve")
    p.add_argument("--broker", help="mqtt://[user@]host[:port] or mqtts://... (password: EDGE_APP_MQTT_PASSWORD)")
    p.add_argument("--username", help="MQTT user name")
    p.add_argument("--device-id", help="device id (default: hostname); part of the topic prefix")
    p.add_argument("--prefix", help="topic prefix (default: edge-app/<device-id>)")
    p.add_argument("--input", action="append", help="input topic filter, wildcards allowed; repeatable")
    p.add_argument("--result-topic", help="result topic; '{input}/result' derives it from the input topic")
    p.add_argument("--qos", type=int, choices=[0, 1, 2], help="QoS in and out (default 1)")
    p.add_argument("--protocol", choices=["auto", "5", "3.1.1"], help="MQTT version (default: auto-detect)")
    p.add_argument("--ca-file", help="CA certificate for mqtts://")
    p.add_argument("--cert-file", help="client certificate for mqtts://")
    p.add_argument("--key-file", help="client key for mqtts://")
    p.add_argument("--state-dir", help="where the outbox lives")
    p.add_argument("--metrics-interval", type=float, help="seconds between metrics messages")
    p.add_argument("--max-batch", type=int, help="most messages in one model call")
    p.add_argument("--max-wait-ms", type=float, help="how long the first message waits for company")
    p.add_argument("--queue-size", type=int, help="messages held in memory before input pauses")
    p.add_argument("--ha-discovery", action="store_true", default=None, help="publish Home Assistant discovery")
    p.add_argument("--shared-group", help="subscribe as $share/NAME/<filter> to split input across boards")
    p.add_argument("--ota", action="store_true", default=None, help="accept model updates on <prefix>/cmd/model")
    p.add_argument("--device", choices=DEVICE_CHOICES, help="execution provider")
    p.add_argument("--threads", type=int, help="onnxruntime threads (default: physical cores)")
    p.add_argument(
        "--spin",
        action="store_true",
        default=None,
        help="onnxruntime threads keep busy-waiting between calls: costs CPU when idle",
    )
    p.add_argument("--no-verify", action="store_true", help="skip the bundle's sha256 check at start")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--wyoming",
        metavar="URI",
        help="also serve Home Assistant's Assist as a Wyoming intent service on tcp://HOST:PORT",
    )
    p.add_argument("--no-zeroconf", action="store_true", help="do not advertise the Wyoming service (_wyoming._tcp)")
    p.add_argument("--no-mqtt", action="store_true", help="no broker: answer only Assist (needs --wyoming)")
    p.add_argument("--print-config", action="store_true", help="print the effective config (secrets masked) and exit")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    mqtt = {
        "broker": args.broker,
        "username": args.username,
        "prefix": args.prefix,
        "inputs": args.input,
        "result_topic": args.result_topic,
        "qos": args.qos,
        "protocol": args.protocol,
        "ca_file": args.ca_file,
        "cert_file": args.cert_file,
        "key_file": args.key_file,
        "metrics_interval": args.metrics_interval,
        "ha_discovery": args.ha_discovery,
        "shared_group": args.shared_group,
        "enabled": False if args.no_mqtt else None,
    }
    return {
        "bundle": args.bundle,
        "device_id": args.device_id,
        "state_dir": args.state_dir,
        "device": args.device,
        "threads": args.threads,
        "spin": args.spin,
        "log_level": args.log_level,
        "verify_bundle": False if args.no_verify else None,
        "mqtt": mqtt,
        "batching": {"max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "queue_size": args.queue_size},
        "ota": {"enabled": args.ota},
        "assist": {"wyoming": args.wyoming, "zeroconf": False if args.no_zeroconf else None},
    }


def run_serve(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, _overrides(args))
    if args.print_config:
        cfg.mqtt.instance_id = resolve_instance_id(cfg, create=False)  # "" until the first serve makes one
        topics = Topics.from_config(cfg)
        derived = {
            "device_id": cfg.resolved_device_id,
            "client_id": cfg.client_id,
            "prefix": cfg.prefix,
            "inputs": list(topics.inputs),
            "result": topics.result,
            "status": topics.status,
            "instance_id": topics.instance_id,
            "last_will": topics.will,
        }
        print(json.dumps({**cfg.masked(), "derived": derived}, indent=2))
        return 0
    logging.getLogger().setLevel(cfg.log_level.upper())
    return Service.create(cfg).run()
