"""ResultPublisher: results go to the outbox first, then to the broker, and leave the outbox on PUBACK.

While the broker is unreachable results only accumulate in the outbox. On a reconnect paho
resends, by itself, every QoS 1 message it still holds (published but not acknowledged), so the
outbox replays only the rows paho does not hold: a result outstanding at a drop is sent once more
by paho, not twice. After a restart paho holds nothing and the whole outbox is replayed.

A PUBACK with a reason code >= 0x80 (MQTT 5: the broker refused the message, e.g. not
authorised, packet too large) is not a delivery: it is logged, counted (`puback_refused`) and
answered with an error on `<prefix>/error` naming the topic and the reason, then the row goes.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .outbox import OutMessage, Outbox

log = logging.getLogger(__name__)
EARLY_TTL_S = 5.0  # mids wrap after 65,535 publishes: far more than happen in 5 s on a board


class ResultPublisher:
    def __init__(self, client: mqtt.Client, outbox: Outbox, v5: bool,
                 on_refused: Callable[[OutMessage, Any], None] = lambda m, reason: None):
        self.client = client
        self.outbox = outbox
        self.v5 = v5
        self.connected = False
        self.on_refused = on_refused  # called (network thread) with the refused message and paho's reason code
        self._lock = threading.Lock()
        self._in_flight: dict[int, OutMessage] = {}  # paho mid -> stored message paho holds
        self._acked: list[int] = []
        self._early: dict[int, tuple[float, Any]] = {}  # mid -> (when, reason) of PUBACKs not matched yet
        self._gate = threading.Lock()  # orders "stored" against "connected" so no row is missed or sent twice
        self.full_waits = 0
        self.refused = 0

    def send(self, messages: list[OutMessage], stored_hook: Callable[[], None] | None = None) -> None:
        """Durably store, call `stored_hook` (ack the inputs here), then publish if connected.

        Acking before publishing matters: a broker may close the connection right after refusing
        a publish (mosquitto 2.0.11 does on an ACL deny), and an ack queued after the publish
        would die with it, so the input came back and was refused again, forever."""
        if not messages:
            if stored_hook:
                stored_hook()
            return
        with self._lock:
            done, self._acked = self._acked, []
        with self._gate:  # the acknowledged rows leave in the same transaction (one fsync, not two)
            try:
                stored = self.outbox.add(messages, remove=done)
            except BaseException:
                with self._lock:  # rolled back: those rows still wait to be deleted
                    self._acked[:0] = done
                raise
            live = self.connected
        if stored_hook:
            stored_hook()
        if live:
            self._publish(stored)

    def wait_for_room(self, stop: threading.Event) -> None:
        """Block while the outbox is at its bound: inputs stay unacknowledged at the broker meanwhile."""
        warned = False
        while self.outbox.full and not stop.is_set():
            if not warned:
                self.full_waits += 1
                log.warning("outbox holds %d results (bound %d): pausing input until the broker takes them",
                            len(self.outbox), self.outbox.max_messages)
                warned = True
            time.sleep(0.2)
            self.reap()

    def _publish(self, messages: list[OutMessage]) -> None:
        # Never hold self._lock across client.publish: paho calls on_publish with its own mutex held.
        for m in messages:
            info = self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain, properties=self._properties(m))
            early = None
            with self._lock:
                if m.qos == 0:
                    if info.rc == mqtt.MQTT_ERR_SUCCESS:
                        self._acked.append(m.row_id)
                    continue
                early = self._early.pop(info.mid, None)  # the PUBACK beat us here
                if early is not None and time.monotonic() - early[0] > EARLY_TTL_S:
                    early = None  # a stale entry from an earlier use of this mid
                if early is None:
                    self._in_flight[info.mid] = m
                else:
                    self._acked.append(m.row_id)
            if early is not None:
                self._check_reason(m, early[1])

    def _properties(self, m: OutMessage) -> Properties | None:
        if not (self.v5 and m.correlation is not None):
            return None
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = m.correlation
        return props

    def on_publish(self, mid: int, reason: Any = None) -> None:
        """PUBACK arrived (paho's network thread): the row may go, delivered or refused."""
        now = time.monotonic()
        with self._lock:
            message = self._in_flight.pop(mid, None)
            if message is not None:
                self._acked.append(message.row_id)
            else:  # not ours (status, metrics) or not registered yet: kept a few seconds for _publish
                self._early[mid] = (now, reason)
                if len(self._early) > 256:
                    self._early = {k: v for k, v in self._early.items() if now - v[0] < EARLY_TTL_S}
        if message is not None:
            self._check_reason(message, reason)

    def _check_reason(self, message: OutMessage, reason: Any) -> None:
        if reason is not None and getattr(reason, "is_failure", False):
            self.refused += 1
            log.error("broker refused the message for %s: %s (reason code 0x%02x); not delivered",
                      message.topic, reason, reason.value)
            self.on_refused(message, reason)

    def on_connect(self) -> None:
        """Replay, oldest first, what is stored and not already held (and resent) by paho."""
        self.reap()
        with self._gate:  # rows stored after this point are published by send() itself
            self.connected = True
            with self._lock:
                held = {m.row_id for m in self._in_flight.values()}
            backlog = [m for m in self.outbox.pending(limit=10**9) if m.row_id not in held]
        if backlog:
            log.info("replaying %d results from the outbox (%d more are resent by the MQTT client)",
                     len(backlog), len(held))
            self._publish(backlog)

    def on_disconnect(self) -> None:
        self.connected = False

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def reap(self) -> None:
        with self._lock:
            done, self._acked = self._acked, []
        self.outbox.remove(done)

    def flush(self, timeout: float) -> bool:
        """Wait until every stored result has been acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.reap()
            if len(self.outbox) == 0:
                return True
            time.sleep(0.05)
        return False
