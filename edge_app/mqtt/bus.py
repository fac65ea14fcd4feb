"""The MQTT bus: one paho client, guarded callbacks, the route table, acks and one publish API.

Everything that faces the broker goes through here. Callbacks run on paho's network thread
inside `guarded` (see guard.py): an exception is logged and counted, never fatal to the thread.
`on_message` only dispatches to a route's handler, which hands work off and returns: the network
thread never blocks, so PUBACKs and pings keep flowing. Back-pressure is MQTT's own: inputs are
acknowledged only once answered, and MQTT 5 Receive Maximum caps how many unacknowledged inputs
the broker lets us hold.

Publishing: `publish()` is durable (outbox and broker, see publisher.py for the order; safe to ack
inputs after it returns); `publish_volatile()` is for status and metrics, worth nothing when stale.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from ..config import Config
from ..errors import BrokerError
from .connection import (
    EXIT_NOT_AUTHORISED,
    EXIT_UNSUPPORTED,
    SUBACK_SHARED_NOT_SUPPORTED,
    SUBACK_WILDCARD_NOT_SUPPORTED,
    BrokerAddress,
    closed_for_share,
    connect_properties,
    make_client,
    no_delay,
    share_refused_error,
)
from .guard import guarded
from .metrics import Metrics
from .outbox import Outbox, OutMessage
from .payloads import encode, now_iso
from .publisher import ResultPublisher
from .routes import Inbound, Routes
from .topics import Topics

log = logging.getLogger(__name__)
MAX_INFLIGHT_OUT = 100
READ_BURST = 32  # packets the network thread reads before it writes again (see cap_read_burst)


class Bus:
    def __init__(self, cfg: Config, address: BrokerAddress, protocol: int, topics: Topics, metrics: Metrics):
        self.cfg = cfg
        self.address = address
        self.topics = topics
        self.metrics = metrics
        self.v5 = protocol == mqtt.MQTTv5
        self.protocol = protocol
        self.routes = Routes()
        self.on_connected: list[Callable[[], None]] = []  # hooks run (guarded) on each (re)connect, before online
        self.draining = False  # set on shutdown: later arrivals stay unacknowledged, redelivered next start
        self.stopping = False
        self.fatal: BrokerError | None = None  # set when the broker refuses what we need: the service exits with it
        self.on_fatal: Callable[[BrokerError], None] = lambda _error: None
        self._subscribing: dict[int, str] = {}  # SUBSCRIBE mid -> filter, until its SUBACK
        self._share_granted = False  # once granted, a close mid-SUBSCRIBE is a lost node, not a refusal
        self.client = make_client(cfg, address, protocol, cfg.client_id, manual_ack=True)
        self.client.will_set(topics.will, "offline", qos=1, retain=True)
        self.client.max_inflight_messages_set(MAX_INFLIGHT_OUT)
        cap_read_burst(self.client)
        self.outbox = Outbox(Path(cfg.state_dir) / "outbox.sqlite3", cfg.outbox.max_messages)
        if self.outbox.moved_aside:
            metrics.count("outbox_corrupt")
        self.publisher = ResultPublisher(self.client, self.outbox, self.v5, on_refused=self._refused)
        guard = guarded("an MQTT callback", metrics)
        self.client.on_connect = guard(self._on_connect)
        self.client.on_disconnect = guard(self._on_disconnect)
        self.client.on_message = guard(self._on_message)
        self.client.on_subscribe = guard(self._on_subscribe)
        self.client.on_publish = guard(lambda _c, _u, mid, reason, _p: self.publisher.on_publish(mid, reason))

    # ---- the public API -------------------------------------------------------------------
    def start(self) -> None:
        self.client.connect(
            self.address.host,
            self.address.port,
            keepalive=self.cfg.mqtt.keepalive,
            # keep the session: v5 here, 3.1.1 through clean_session=False in make_client
            clean_start=False if self.v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=connect_properties(self.cfg, self.protocol),
        )
        self.client.loop_start()

    def publish(self, messages: list[OutMessage], stored_hook: Callable[[], None] | None = None) -> None:
        """Durable: stored in the outbox (one transaction) and sent; delivered at least once.
        `stored_hook` runs once they are stored (they may be sent already, to a topic the broker has
        accepted before; else they are sent after it): acknowledge inputs there."""
        self.publisher.send(messages, stored_hook)

    def publish_json(self, topic: str, obj: dict[str, Any], qos: int = 1, correlation: bytes | None = None) -> None:
        """Durable publish of one JSON object (e.g. OTA replies on <prefix>/cmd/result)."""
        self.publish([OutMessage(topic, encode(obj), qos, correlation=correlation)])

    def publish_volatile(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False):
        """Not stored: status, metrics, discovery. Returns paho's MQTTMessageInfo."""
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def ack(self, message: Inbound) -> None:
        """Acknowledge an input (QoS 1/2) once its answer is durable."""
        if message.qos > 0:
            (message.via or self.client).ack(message.mid, message.qos)

    def wait_for_room(self, stop: threading.Event) -> None:
        self.publisher.wait_for_room(stop)

    @property
    def network_alive(self) -> bool:
        """paho's network thread runs (loop_start); false once something killed it."""
        thread = getattr(self.client, "_thread", None)  # paho has no public accessor for it
        return thread is not None and thread.is_alive()

    def stop(self, timeout: float) -> None:
        """Flush what is stored, publish offline, disconnect."""
        if not self.publisher.flush(timeout):
            log.warning("%d results still in the outbox; they are sent on the next start", len(self.outbox))
        self.stopping = True
        info = self.client.publish(self.topics.will, "offline", qos=1, retain=True)  # a member: only its own
        if self.publisher.connected:
            info.wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()
        self.outbox.close()

    # ---- paho callbacks (network thread, guarded) -----------------------------------------
    def _on_connect(self, client: mqtt.Client, _userdata, flags, reason, _props) -> None:
        if reason.is_failure:
            log.error("broker %s refused the connection: %s", self.address.url, reason)
            return
        log.info(
            "connected to %s (MQTT %s, session %s)",
            self.address.url,
            "5" if self.v5 else "3.1.1",
            "resumed" if flags.session_present else "new",
        )
        no_delay(client)
        for route in self.routes:
            if self.v5 and route.keep_retain:
                _rc, mid = client.subscribe(
                    route.subscribe_as, options=SubscribeOptions(qos=route.qos, retainAsPublished=True)
                )
            else:
                _rc, mid = client.subscribe(route.subscribe_as, qos=route.qos)
            self._subscribing[mid] = route.subscribe_as
        for hook in self.on_connected:  # before "online": a subscriber that sees online sees what they publish too
            guarded("an on-connect hook", self.metrics)(hook)()
        for topic in self.topics.online_topics():
            client.publish(topic, "online", qos=1, retain=True)
        self.publisher.on_connect()

    def _on_subscribe(self, _client, _userdata, mid: int, reasons: list, _props) -> None:
        """A refused subscription is fatal: serving without it would be silence, not service."""
        topic_filter = self._subscribing.pop(mid, "?")
        refused = next((r for r in reasons if r.is_failure), None)
        if refused is None:
            self._share_granted |= topic_filter.startswith("$share/")
            return
        if refused.value == SUBACK_SHARED_NOT_SUPPORTED:
            error = share_refused_error(self.address, self.cfg.mqtt.shared_group, f"SUBACK: {refused}")
        elif refused.value == SUBACK_WILDCARD_NOT_SUPPORTED:
            error = BrokerError(
                f"broker {self.address.url} does not allow wildcards in {topic_filter!r}; list "
                "each input topic without + or # in mqtt.inputs",
                exit_code=EXIT_UNSUPPORTED,
            )
        elif refused.value == 0x87:
            error = BrokerError(
                f"broker {self.address.url} refused the subscription to {topic_filter!r}: not "
                "authorised; grant this user read access to it in the broker's ACL",
                exit_code=EXIT_NOT_AUTHORISED,
            )
        else:
            error = BrokerError(
                f"broker {self.address.url} refused the subscription to {topic_filter!r} ({refused});"
                " check the filter and the broker's limits",
                exit_code=EXIT_UNSUPPORTED,
            )
        self._fail(error)

    def _fail(self, error: BrokerError) -> None:
        """Stop reconnecting and hand the error to the service, which exits with it."""
        if self.fatal is not None:
            return
        log.error("%s", error)
        self.fatal = error
        self.stopping = True
        self.client.disconnect()  # no reconnect loop: what the broker refused it would refuse again
        self.on_fatal(error)

    def _on_disconnect(self, _client, _userdata, _flags, reason, _props) -> None:
        self.publisher.on_disconnect()
        pending_share = not self._share_granted and any(f.startswith("$share/") for f in self._subscribing.values())
        self._subscribing.clear()
        if (
            self.cfg.mqtt.shared_group
            and not self.stopping
            and closed_for_share(getattr(reason, "value", -1), pending_share)
        ):
            self._fail(
                share_refused_error(
                    self.address,
                    self.cfg.mqtt.shared_group,
                    f"it closed the connection right after SUBSCRIBE: {reason}",
                )
            )
            return
        if not self.stopping:
            log.warning(
                "lost the broker %s (%s); paho reconnects with backoff, results wait in the outbox",
                self.address.url,
                reason,
            )

    def _on_message(self, _client, _userdata, msg: mqtt.MQTTMessage) -> None:
        self.dispatch(msg)

    def dispatch(self, msg: mqtt.MQTTMessage, via: Any = None) -> None:
        """Hand one message to its route; `via` acknowledges it when it came through another session
        (a dead member's, see rescue.py). Guarded by the caller."""
        if self.draining:
            return
        props = getattr(msg, "properties", None) if self.v5 else None
        inbound = Inbound(
            msg.topic,
            msg.payload,
            msg.qos,
            msg.mid,
            bool(msg.retain),
            getattr(props, "ResponseTopic", None),
            getattr(props, "CorrelationData", None),
            via=via,
        )
        route = self.routes.match(inbound.topic)
        if route is None:
            log.warning("no route for a message on %s; acknowledged and dropped", inbound.topic)
            self.metrics.count("unrouted")
            self.ack(inbound)
            return
        if route.ack_first:
            self.ack(inbound)
        try:
            route.handler(inbound)
        except Exception:
            if not route.ack_first:  # the handler failed before answering: answer here, exactly once
                self._internal_error_answer(inbound)
            raise

    def _internal_error_answer(self, inbound: Inbound) -> None:
        self.publish_json(
            self.topics.error,
            {
                "error": "internal error while taking this message; see the service log",
                "kind": "internal",
                "id": None,
                "source_topic": inbound.topic,
                "bytes": len(inbound.payload),
                "ts": now_iso(),
            },
            self.cfg.mqtt.qos,
            inbound.correlation,
        )
        self.ack(inbound)

    def _refused(self, message: OutMessage, reason: Any) -> None:
        """The broker refused a message we published (PUBACK >= 0x80): say so where someone listens."""
        self.metrics.count("puback_refused")
        if message.topic == self.topics.error:
            return  # refusing our error topic too: the log line and the counter are all we can do
        report = {
            "error": f"the broker refused the answer published to {message.topic}: {reason}",
            "kind": "refused_by_broker",
            "reason_code": reason.value,
            "topic": message.topic,
            "id": None,
            "ts": now_iso(),
        }
        # Not from inside paho's on_publish (it holds paho's message lock and is mid-packet): a thread.
        threading.Thread(
            target=guarded("reporting a refused publish", self.metrics)(self.publish_json),
            args=(self.topics.error, report, self.cfg.mqtt.qos, message.correlation),
            name="refused-report",
            daemon=True,
        ).start()


def cap_read_burst(client: mqtt.Client, burst: int = READ_BURST) -> None:
    """Make paho's network loop write between bursts of at most `burst` incoming packets.

    paho's loop_read reads up to len(out_messages) + len(in_messages) packets before the loop
    writes anything: under a flood of QoS 1 inputs with hundreds of our results unacknowledged,
    that is hundreds of reads (each an on_message) while results and PUBACKs wait, and results
    leave in bursts with gaps of 0.4-1.5 s (docs/benchmarks.md). The same loop, with a bound: it
    uses paho's own packet reader, so a paho without it keeps its own loop_read."""
    packet_read, rc_handle = getattr(client, "_packet_read", None), getattr(client, "_loop_rc_handle", None)
    if packet_read is None or rc_handle is None:
        log.debug("paho %s has no _packet_read/_loop_rc_handle: its own loop_read stays", mqtt.__name__)
        return

    def loop_read(max_packets: int = 1) -> mqtt.MQTTErrorCode:
        for _ in range(burst):
            if client.socket() is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = packet_read()
            if rc > 0:
                return rc_handle(rc)
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    client.loop_read = loop_read  # type: ignore[method-assign]


class NoBus:
    """The pipeline's side of a Bus when MQTT is off (`mqtt.enabled = false`): answers reach only
    the local asker (Assist), so nothing is stored, sent or acknowledged."""

    fatal: BaseException | None = None
    network_alive = True

    def publish(self, messages: list[OutMessage], stored_hook: Callable[[], None] | None = None) -> None:
        if stored_hook is not None:
            stored_hook()

    def ack(self, message: Inbound) -> None:
        pass

    def wait_for_room(self, stop: threading.Event) -> None:
        pass

    def stop(self, timeout: float) -> None:
        pass
