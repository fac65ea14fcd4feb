"""`edge-app serve`: classify what arrives on the input topics and publish the results.

Flow: paho's network thread parses each message (bad ones are answered on `<prefix>/error`)
and queues it; the micro-batcher groups queued messages into one model call; results are
stored in the outbox and only then are the inputs acknowledged (manual ack), so a crash
anywhere means redelivery, never loss.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Pending:
    """One accepted input message waiting for its result."""

    request: Any  # payloads.Request
    topic: str
    mid: int
    qos: int
    reply_to: str | None
    correlation: bytes | None
    arrived: float

    @property
    def size(self) -> int:
        return sum(len(item.text) for item in self.request.items)


class Service:
    def __init__(self, cfg, classifier):
        from .connection import BrokerAddress
        from .metrics import Metrics
        from .topics import Topics

        self.cfg = cfg
        self.classifier = classifier
        self.topics = Topics.from_config(cfg)
        self.address = BrokerAddress.parse(cfg.mqtt.broker, cfg.mqtt.username)
        self.metrics = Metrics()
        self.stop_event = threading.Event()
        self.draining = False
        self.model_lock = threading.Lock()
        self.protocol: int | None = None  # set by detect_protocol, before or in start()
        self.v5 = False

    # ---- start and stop -------------------------------------------------------------------
    def start(self) -> None:
        import paho.mqtt.client as mqtt

        from ..batching import MicroBatcher
        from .connection import connect_properties, detect_protocol, make_client
        from .outbox import Outbox
        from .publisher import ResultPublisher

        protocol = self.protocol = self.protocol or detect_protocol(self.cfg, self.address)
        self.v5 = protocol == mqtt.MQTTv5
        if not self.v5 and self.cfg.mqtt.shared_group:
            log.warning("shared group %r needs MQTT 5; subscribing with $share anyway (mosquitto accepts it)",
                        self.cfg.mqtt.shared_group)
        self.client = make_client(self.cfg, self.address, protocol, self.cfg.client_id, manual_ack=True)
        self.client.will_set(self.topics.status, "offline", qos=1, retain=True)
        state = Path(self.cfg.state_dir)
        self.outbox = Outbox(state / "outbox.sqlite3", self.cfg.outbox.max_messages)
        self.publisher = ResultPublisher(self.client, self.outbox, self.v5)
        b = self.cfg.batching
        self.batcher = MicroBatcher(self._handle_batch, b.max_batch, b.max_wait_ms, b.queue_size,
                                    size_of=lambda p: p.size).start()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = lambda _c, _u, mid, _rc, _p: self.publisher.on_publish(mid)
        self.client.max_inflight_messages_set(100)
        self.client.connect(self.address.host, self.address.port, keepalive=self.cfg.mqtt.keepalive,
                            # keep the session: v5 here, 3.1.1 through clean_session=False in make_client
                            clean_start=False if self.v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                            properties=connect_properties(self.cfg, protocol))
        self.client.loop_start()
        threading.Thread(target=self._metrics_loop, name="metrics", daemon=True).start()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; SIGHUP reloads the bundle. Returns the exit code."""
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.reload, daemon=True).start())
        self.start()
        while not self.stop_event.wait(0.5):
            pass
        return self.shutdown()

    def shutdown(self, timeout: float = 30.0) -> int:
        """Stop taking input, finish what is queued, flush the outbox, publish offline."""
        log.info("stopping: finishing %d queued messages", self.batcher.depth)
        self.draining = True  # later arrivals stay unacknowledged: the broker redelivers them next time
        self.batcher.stop()
        if not self.publisher.flush(timeout):
            log.warning("%d results still in the outbox; they are sent on the next start", len(self.outbox))
        info = self.client.publish(self.topics.status, "offline", qos=1, retain=True)
        if self.publisher.connected:
            info.wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()
        self.outbox.close()
        log.info("stopped")
        return 0

    # ---- MQTT callbacks (paho's network thread) -------------------------------------------
    def _on_connect(self, client, _userdata, flags, reason, _props) -> None:
        if reason.is_failure:
            log.error("broker %s refused the connection: %s", self.address.url, reason)
            return
        log.info("connected to %s (MQTT %s, session %s)", self.address.url, "5" if self.v5 else "3.1.1",
                 "resumed" if flags.session_present else "new")
        qos = self.cfg.mqtt.qos
        for topic in self.topics.subscriptions(shared=True):
            client.subscribe(topic, qos=qos)
        if self.cfg.ota.enabled:
            client.subscribe(self.topics.cmd_model, qos=1)
        client.publish(self.topics.status, "online", qos=1, retain=True)
        if self.cfg.mqtt.ha_discovery:
            from .discovery import discovery_messages

            for topic, payload in discovery_messages(self.topics, self.model_info):
                client.publish(topic, payload, qos=1, retain=True)
        self.publisher.on_connect()

    def _on_disconnect(self, _client, _userdata, _flags, reason, _props) -> None:
        self.publisher.on_disconnect()
        if not self.stop_event.is_set():
            log.warning("lost the broker %s (%s); paho reconnects with backoff, results wait in the outbox",
                        self.address.url, reason)

    def _on_message(self, client, _userdata, msg) -> None:
        if self.draining:
            return
        if msg.topic == self.topics.cmd_model:
            self._on_model_command(msg)
            return
        from .payloads import PayloadError, parse

        self.metrics.count("messages_in")
        try:
            request = parse(msg.payload, self.cfg.mqtt.max_payload)
        except PayloadError as exc:
            self._reject(msg, exc.reason, exc.msg_id)
            return
        props = getattr(msg, "properties", None)
        reply_to = getattr(props, "ResponseTopic", None) if self.v5 else None
        correlation = getattr(props, "CorrelationData", None) if self.v5 else None
        self.batcher.submit(Pending(request, msg.topic, msg.mid, msg.qos, reply_to, correlation, time.monotonic()))

    def _reject(self, msg, reason: str, msg_id: Any) -> None:
        from .outbox import OutMessage
        from .payloads import error_payload

        self.metrics.count("errors")
        log.debug("rejected a message on %s: %s", msg.topic, reason)
        payload = error_payload(reason, msg_id, msg.topic, len(msg.payload))
        self.publisher.send([OutMessage(self.topics.error, payload, self.cfg.mqtt.qos)])
        self.client.ack(msg.mid, msg.qos)

    # ---- the batch worker -----------------------------------------------------------------
    def _handle_batch(self, batch: list[Pending]) -> None:
        from .outbox import OutMessage
        from .payloads import encode, envelope, result_object

        self.publisher.wait_for_room(self.stop_event)
        with self.model_lock:
            classifier = self.classifier
        texts = [item.text for p in batch for item in p.request.items]
        predictions = iter(classifier.classify(texts, top_k=self.cfg.mqtt.top_k))
        done = time.monotonic()
        model = {"name": classifier.bundle.name, "sha256": classifier.bundle.sha256}
        out = []
        for p in batch:
            latency = (done - p.arrived) * 1000.0
            results = [result_object(item, next(predictions).to_dict()) for item in p.request.items]
            body = envelope({"items": results} if p.request.batch else results[0], model, latency, p.topic)
            topic = p.reply_to or self.topics.result_for(p.topic)
            out.append(OutMessage(topic, encode(body), self.cfg.mqtt.qos, correlation=p.correlation))
            self.metrics.latency(latency)
        self.publisher.send(out)  # durable from here on: now the inputs may be acknowledged
        for p in sorted(batch, key=lambda p: p.arrived):
            self.client.ack(p.mid, p.qos)
        self.metrics.count("results_out", len(out))

    # ---- model switching, metrics ---------------------------------------------------------
    @property
    def model_info(self) -> dict[str, str]:
        return {"name": self.classifier.bundle.name, "sha256": self.classifier.bundle.sha256}

    def swap_model(self, classifier) -> None:
        """Switch models between two batches: no batch ever sees half of each."""
        with self.model_lock:
            old, self.classifier = self.classifier, classifier
        log.info("model switched: %s (%s) -> %s (%s)", old.bundle.name, old.bundle.sha256[:12],
                 classifier.bundle.name, classifier.bundle.sha256[:12])

    def reload(self) -> None:
        """SIGHUP: load the configured bundle again (e.g. a new `current` link) and switch to it.

        This also drops an over-the-air choice: the operator's bundle wins."""
        from ..errors import EdgeAppError
        from .ota import ACTIVE_BUNDLE_FILE

        try:
            new = load_classifier(self.cfg, self.cfg.bundle)
        except EdgeAppError as exc:
            log.error("reload refused, keeping the running model: %s", exc)
            return
        (Path(self.cfg.state_dir) / ACTIVE_BUNDLE_FILE).unlink(missing_ok=True)
        self.swap_model(new)

    def _on_model_command(self, msg) -> None:
        from .ota import handle_model_command

        self.client.ack(msg.mid, msg.qos)
        threading.Thread(target=handle_model_command, args=(self, msg.payload), daemon=True).start()

    def _metrics_loop(self) -> None:
        while not self.stop_event.wait(self.cfg.mqtt.metrics_interval):
            self.publisher.reap()
            snapshot = self.metrics.snapshot({
                "queue_depth": self.batcher.depth,
                "outbox_depth": len(self.outbox),
                "outbox_full_waits": self.publisher.full_waits,
                "model": self.model_info,
                "provider": self.classifier.provider,
                "protocol": "5" if self.v5 else "3.1.1",
            })
            self.client.publish(self.topics.metrics, json.dumps(snapshot), qos=0)


def load_classifier(cfg, bundle: str, verify: bool | None = None):
    """The one place the service builds a Classifier from its config (start, reload, OTA)."""
    from ..classifier import Classifier

    return Classifier.load(bundle, cfg.device, cfg.threads or None, cfg.verify_bundle if verify is None else verify,
                           batch_size=cfg.batching.max_batch, spin=cfg.spin, min_score=cfg.classifier.min_score)


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
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "tensorrt"], help="execution provider")
    p.add_argument("--threads", type=int, help="onnxruntime threads (default: physical cores)")
    p.add_argument("--spin", action="store_true", default=None, help="onnxruntime threads busy-wait: faster, costs CPU")
    p.add_argument("--no-verify", action="store_true", help="skip the bundle's sha256 check at start")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--print-config", action="store_true", help="print the effective config (secrets masked) and exit")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    mqtt = {
        "broker": args.broker, "username": args.username, "prefix": args.prefix, "inputs": args.input,
        "result_topic": args.result_topic, "qos": args.qos, "protocol": args.protocol, "ca_file": args.ca_file,
        "cert_file": args.cert_file, "key_file": args.key_file, "metrics_interval": args.metrics_interval,
        "ha_discovery": args.ha_discovery, "shared_group": args.shared_group,
    }
    return {
        "bundle": args.bundle, "device_id": args.device_id, "state_dir": args.state_dir, "device": args.device,
        "threads": args.threads, "spin": args.spin, "log_level": args.log_level, "verify_bundle": False if args.no_verify else None,
        "mqtt": mqtt,
        "batching": {"max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "queue_size": args.queue_size},
        "ota": {"enabled": args.ota},
    }


def run_serve(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..errors import ConfigError
    from .topics import Topics

    cfg = load_config(args.config, _overrides(args))
    if args.print_config:
        topics = Topics.from_config(cfg)
        derived = {"device_id": cfg.resolved_device_id, "client_id": cfg.client_id, "prefix": cfg.prefix,
                   "inputs": list(topics.inputs), "result": topics.result, "status": topics.status}
        print(json.dumps({**cfg.masked(), "derived": derived}, indent=2))
        return 0
    logging.getLogger().setLevel(cfg.log_level.upper())
    if not cfg.bundle:
        raise ConfigError("no bundle to serve; pass --bundle DIR or set `bundle` in the config file")
    service = Service(cfg, None)
    from .connection import detect_protocol

    service.protocol = detect_protocol(cfg, service.address)  # fail fast with a clear message before loading the model
    from .ota import active_bundle

    bundle = active_bundle(cfg) or cfg.bundle  # a model switched to over the air survives a restart
    service.classifier = load_classifier(cfg, bundle)
    return service.run()
