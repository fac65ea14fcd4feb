"""End to end through a broker: a real `edge-app serve` process, driven and timed from here.

The bench starts its own service (unique device id, throw-away state dir) against the
broker it is given, waits for the retained "online" status, then measures:
- round-trip latency at a low steady rate (publish -> result received), QoS 1;
- sustained results/s at QoS 0 and QoS 1 on a rising ladder of offered rates, stopping at
  the first step that loses or refuses a message; lost (no answer at all), refused (an error
  naming the id, e.g. QoS 0 "busy") and duplicated ids are counted per step.
The service is stopped with SIGTERM (it drains and exits 0) before the next QoS level.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_app.errors import BrokerError

from .. import harness
from .stats import latency_summary

ONLINE_TIMEOUT_S = 120.0
Progress = Callable[[str], None]


def parse_broker(url: str):
    """The service's own URL parsing (one definition); the bench speaks plain TCP only."""
    from edge_app.mqtt.connection import BrokerAddress

    address = BrokerAddress.parse(url)
    if address.tls:
        raise BrokerError(f"bench --mqtt takes mqtt://[user@]host[:port], not {url!r}; TLS brokers are not benchmarked")
    return address


def _password(username: str) -> str | None:
    """Same source as the service: EDGE_APP_MQTT_PASSWORD or mqtt.password_file, via the config."""
    if not username:
        return None
    from edge_app.config import load_config

    return load_config().mqtt.password or None


def _connect(address, role: str, on_message=None):
    """A started paho client with Nagle off (edge_app.mqtt.connection.no_delay, as the service does)."""
    import paho.mqtt.client as mqtt

    from edge_app.mqtt.connection import no_delay

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edge-app-bench-{role}-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)  # QoS 1 publishing in bulk: do not stall on 20 acks
    client.max_queued_messages_set(0)
    client.on_message = on_message
    if address.username:
        client.username_pw_set(address.username, _password(address.username))
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason, properties) -> None:
        no_delay(client)
        if not reason.is_failure:
            connected.set()

    client.on_connect = on_connect
    try:
        client.connect(address.host, address.port, keepalive=30)
    except OSError as exc:
        raise BrokerError(
            f"cannot reach the MQTT broker at {address.url} ({exc.strerror or exc}); start one "
            "(`edge-app broker` or mosquitto) or fix --mqtt"
        ) from None
    client.loop_start()
    if not connected.wait(10):
        client.loop_stop()
        raise BrokerError(
            f"the MQTT broker at {address.url} refused the bench's connection; check the user name and "
            "EDGE_APP_MQTT_PASSWORD"
        )
    return client


class ResultCollector:
    """Publishes requests on one connection and records every result and error by id on another.

    Two connections, because on one, the broker's PUBACK for our publish and the result after
    it share a socket: with the broker's default Nagle (mosquitto's set_tcp_nodelay false) the
    result then waits for our delayed ACK, adding ~40 ms that is no part of the service.
    """

    def __init__(self, address, prefix: str):
        self.prefix = prefix
        self.lock = threading.Lock()
        self.arrivals: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.service_ms: dict[str, float] = {}  # the service's own latency_ms: arrival to prediction
        self.status = ""
        self.status_event = threading.Event()
        self.client = _connect(address, "sub", self._on_message)
        for topic in ("result", "error", "status"):
            self.client.subscribe(f"{prefix}/{topic}", qos=1)
        try:
            self.publisher = _connect(address, "pub")
        except BrokerError:
            self.client.loop_stop()
            raise

    def _on_message(self, client, userdata, message) -> None:
        now = time.perf_counter()
        topic = message.topic.rsplit("/", 1)[-1]
        if topic == "status":
            self.status = message.payload.decode("utf-8", errors="replace")
            if self.status == "online":
                self.status_event.set()
            return
        try:
            body = json.loads(message.payload)
            ident = str(body.get("id"))
        except (ValueError, AttributeError):
            return
        with self.lock:
            if topic == "result":
                self.arrivals.setdefault(ident, []).append(now)
                if isinstance(body.get("latency_ms"), (int, float)):
                    self.service_ms.setdefault(ident, float(body["latency_ms"]))
            elif topic == "error":
                self.errors[ident] = self.errors.get(ident, 0) + 1

    def publish(self, ident: str, text: str, qos: int) -> None:
        payload = json.dumps({"id": ident, "text": text})
        self.publisher.publish(f"{self.prefix}/classify", payload, qos=qos)

    def received(self, ids: list[str]) -> int:
        """How many of `ids` have been answered: a result, or an error naming the id."""
        with self.lock:
            return sum(1 for i in ids if i in self.arrivals or i in self.errors)

    def close(self) -> None:
        for client in (self.publisher, self.client):
            client.disconnect()
            client.loop_stop()


def bench_serve(
    bundle_dir: str,
    broker_url: str,
    folder: Path,
    threads: int,
    qos: int,
    max_batch: int,
    max_wait_ms: float | None = None,
    spin: bool = False,
) -> harness.ServeProcess:
    """`edge-app serve` for one bench run, not yet started: its own device id and prefix, state and log in `folder`."""
    device_id = f"bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    flags = [
        "--qos",
        str(qos),
        "--max-batch",
        str(max_batch),
        "--threads",
        str(threads),
        "--metrics-interval",
        "3600",
        *([] if max_wait_ms is None else ["--max-wait-ms", f"{max_wait_ms:g}"]),
        *(["--spin"] if spin else []),
    ]
    return harness.ServeProcess.serve(
        bundle_dir, broker_url, device_id, folder / "state", *flags, prefix=f"edge-app-bench/{device_id}"
    )


def _send_at_rate(
    collector: ResultCollector, ids: list[str], texts: list[str], qos: int, rate: float | None
) -> dict[str, float]:
    """Publish one message per id at `rate` per second (None: as fast as paho takes them)."""
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for n, (ident, text) in enumerate(zip(ids, texts)):
        if rate:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        sent[ident] = time.perf_counter()
        collector.publish(ident, text, qos)
    return sent


def _wait_for(collector: ResultCollector, ids: list[str], quiet_s: float, limit_s: float) -> None:
    """Until every id has a result, or nothing new arrived for quiet_s, or limit_s passed."""
    start = last_change = time.monotonic()
    seen = -1
    while time.monotonic() - start < limit_s:
        got = collector.received(ids)
        if got == len(ids):
            return
        if got != seen:
            seen, last_change = got, time.monotonic()
        elif time.monotonic() - last_change > quiet_s:
            return
        time.sleep(0.05)


def _tally(collector: ResultCollector, ids: list[str], sent: dict[str, float]) -> dict[str, Any]:
    with collector.lock:
        arrivals = {i: list(collector.arrivals.get(i, [])) for i in ids}
        errors = sum(collector.errors.get(i, 0) for i in ids)
        service_ms = [collector.service_ms[i] for i in ids if i in collector.service_ms]
        # an id answered with an error (e.g. "busy") and no result was answered, not lost
        refused = [i for i in ids if not arrivals[i] and i in collector.errors]
    got = [i for i in ids if arrivals[i]]
    first_sent = min(sent.values())
    times = sorted(arrivals[i][0] for i in got)
    last_result = times[-1] if times else first_sent
    gaps = [b - a for a, b in zip([first_sent] + times, times)]  # a stall shows as one long gap
    return {
        "sent": len(ids),
        "received": len(got),
        "lost": len(ids) - len(got) - len(refused),  # neither a result nor an error
        "duplicates": sum(len(arrivals[i]) - 1 for i in got),
        "errors": errors,
        "refused": len(refused),  # answered with an error instead of a result
        "round_trips": [arrivals[i][0] - sent[i] for i in got],
        "service_ms": service_ms,
        "seconds": last_result - first_sent,
        "publish_seconds": max(sent.values()) - first_sent,
        "longest_gap_s": max(gaps, default=0.0),
    }


def round_trip(collector: ResultCollector, text: str, rate: float, count: int, progress: Progress) -> dict[str, Any]:
    """Latency at a rate low enough that nothing queues: what one user of the board sees."""
    ids = [f"rt-{n}" for n in range(count)]
    progress(f"round trip: {count} messages at {rate:g}/s, QoS 1")
    sent = _send_at_rate(collector, ids, [text] * count, 1, rate)
    _wait_for(collector, ids, quiet_s=5.0, limit_s=60.0)
    tally = _tally(collector, ids, sent)
    out = {k: v for k, v in tally.items() if k not in ("round_trips", "service_ms")}
    out["rate"] = rate
    out.update(latency_summary(tally["round_trips"]) if tally["round_trips"] else {})
    if tally["service_ms"]:  # seconds -> the summary's ms: split the round trip into service and the rest
        out["service_latency"] = latency_summary([ms / 1000.0 for ms in tally["service_ms"]])
    return out


def sustained(
    collector: ResultCollector, texts: list[str], qos: int, count: int, rates: list[float | None], progress: Progress
) -> dict[str, Any]:
    """Step up the offered rate; each step sends `count` messages. Stops at the first loss."""
    steps: list[dict[str, Any]] = []
    for step, rate in enumerate(rates):
        ids = [f"q{qos}-s{step}-{n}" for n in range(count)]
        batch = [texts[n % len(texts)] for n in range(count)]
        offered = "max" if rate is None else f"{rate:g}/s"
        progress(f"sustained QoS {qos}: {count} messages offered at {offered}")
        sent = _send_at_rate(collector, ids, batch, qos, rate)
        _wait_for(collector, ids, quiet_s=5.0, limit_s=max(60.0, 4.0 * count / 100))
        tally = _tally(collector, ids, sent)
        result = {k: v for k, v in tally.items() if k not in ("round_trips", "service_ms")}
        result["offered_rate"] = rate
        result["results_per_s"] = tally["received"] / tally["seconds"] if tally["seconds"] > 0 else None
        if tally["round_trips"]:
            result["round_trip"] = latency_summary(tally["round_trips"])
        progress(
            f"  {result['received']}/{count} results, {result['results_per_s'] or 0:.0f} results/s, "
            f"lost {result['lost']}, duplicates {result['duplicates']}, refused {result['refused']}"
        )
        steps.append(result)
        if result["lost"] or result["refused"]:
            break
    clean = [s for s in steps if not s["lost"] and not s["refused"] and s["results_per_s"]]
    return {
        "qos": qos,
        "steps": steps,
        "max_results_per_s": max((s["results_per_s"] for s in clean), default=None),
        "lost": sum(s["lost"] for s in steps),
        "duplicates": sum(s["duplicates"] for s in steps),
        "refused": sum(s["refused"] for s in steps),
    }


def run_mqtt(
    bundle_dir: str,
    broker_url: str,
    threads: int,
    short_text: str,
    texts: list[str],
    plan: dict[str, Any],
    progress: Progress,
) -> dict[str, Any]:
    """Both QoS levels, each against a fresh service started with that QoS."""
    address = parse_broker(broker_url)
    out: dict[str, Any] = {
        "broker": broker_url,
        "max_batch": plan["max_batch"],
        "max_wait_ms": plan.get("max_wait_ms"),
        "spin": bool(plan.get("spin")),
        "threads": threads,
    }
    for qos in (1, 0):
        with tempfile.TemporaryDirectory(prefix="edge-app-bench-serve-") as tmp:
            service = bench_serve(
                bundle_dir,
                broker_url,
                Path(tmp),
                threads,
                qos,
                plan["max_batch"],
                plan.get("max_wait_ms"),
                bool(plan.get("spin")),
            )
            collector = ResultCollector(address, service.prefix)
            try:
                progress(f"starting `edge-app serve` (QoS {qos}, prefix {service.prefix})")
                service.start()
                out.setdefault("online_s", {})[str(qos)] = service.wait_online(
                    collector.status_event.is_set, ONLINE_TIMEOUT_S
                )
                if qos == 1:
                    out["round_trip"] = round_trip(collector, short_text, plan["rtt_rate"], plan["rtt_count"], progress)
                out[f"qos{qos}"] = sustained(collector, texts, qos, plan["count"], plan["rates"], progress)
            finally:
                out.setdefault("serve_exit_code", {})[str(qos)] = service.stop()
                collector.close()
    return out


def check_broker(broker_url: str) -> None:
    """Fail before minutes of engine runs if the broker is not there."""
    ResultCollector(parse_broker(broker_url), "edge-app-bench/check").close()
