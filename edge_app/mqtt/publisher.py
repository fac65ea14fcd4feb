"""ResultPublisher: results go to the broker and to the outbox, and leave the outbox on PUBACK.

Early publishing: while connected, answers to a topic the broker has already accepted are
published first and stored in the same transaction right after (one fsync), and the inputs are
acknowledged once that fsync is done. No input is acknowledged before its answer is durable
(stored, or PUBACKed by the broker), but the answer itself does not wait for the fsync. A PUBACK that arrives before the row is stored means the row is not stored at all;
one that arrives while it is being stored deletes it with the next transaction. Answers to a topic
not yet accepted (the first on each topic, or one the broker refused) take the safe order: stored,
inputs acknowledged, then published; a broker that closes the connection right after refusing a
publish (mosquitto 2.0.11 on an ACL deny) would otherwise drop the input's ack each time, and the
redelivered input would be refused again, forever.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .outbox import Outbox, OutMessage

log = logging.getLogger(__name__)
EARLY_TTL_S = 5.0  # mids wrap after 65,535 publishes: far more than a board sends in this long
MAX_ACCEPTED_TOPICS = 4096  # topics remembered as accepted; beyond that new ones take the safe order


@dataclass(eq=False)
class Flight:
    """A message handed to paho: the message (row_id 0 until it is stored) and whether the broker
    has it already (PUBACK, or QoS 0 sent), so that its row is deleted, or never written."""

    message: OutMessage
    acked: bool = False


class ResultPublisher:
    def __init__(
        self,
        client: mqtt.Client,
        outbox: Outbox,
        v5: bool,
        on_refused: Callable[[OutMessage, Any], None] = lambda m, reason: None,
    ):
        self.client = client
        self.outbox = outbox
        self.v5 = v5
        self.connected = False
        self.on_refused = on_refused  # called (network thread) with the refused message and paho's reason code
        self._lock = threading.Lock()
        self._in_flight: dict[int, Flight] = {}  # paho mid -> message paho holds (stored or about to be)
        self._acked: list[int] = []
        self._early: dict[int, tuple[float, Any]] = {}  # mid -> (when, reason) of PUBACKs not matched yet
        self._accepted: set[str] = set()  # topics the broker has PUBACKed with success: published before the fsync
        self._gate = threading.Lock()  # orders "stored" against "connected" so no row is missed or sent twice
        self.full_waits = 0
        self.refused = 0
        self.early_sends = 0  # sends published before their fsync

    def send(self, messages: list[OutMessage], stored_hook: Callable[[], None] | None = None) -> None:
        """Publish and durably store (either order, see the module docstring), then call
        `stored_hook` (ack the inputs here): after the fsync, and before any publish of the safe order.

        Acking before publishing matters there: a broker may close the connection right after refusing
        a publish (mosquitto 2.0.11 does on an ACL deny), and an ack queued after the publish
        would die with it, so the input came back and was refused again, forever."""
        if not messages:
            if stored_hook:
                stored_hook()
            return
        if self._may_publish_early(messages):
            self.early_sends += 1
            flights = self._publish(messages)
            with self._gate:
                self._store(flights)
            if stored_hook:
                stored_hook()
            return
        with self._gate:
            stored = self._store([Flight(m) for m in messages])
            live = self.connected
        if stored_hook:
            stored_hook()
        if live:
            self._publish(stored)

    def _may_publish_early(self, messages: list[OutMessage]) -> bool:
        """Connected, and every topic already accepted by the broker (a refusal there costs an ack)."""
        with self._lock:
            return self.connected and all(m.topic in self._accepted for m in messages)

    def _store(self, flights: list[Flight]) -> list[OutMessage]:
        """One transaction: insert what is not PUBACKed yet, delete what was PUBACKed since the last.
        Called with the gate held, so on_connect sees a stored row only once its Flight knows its row id."""
        with self._lock:
            done, self._acked = self._acked, []
            todo = [f for f in flights if not f.acked]
        try:
            stored = self.outbox.add([f.message for f in todo], remove=done)
        except BaseException:
            with self._lock:  # rolled back: those rows still wait to be deleted
                self._acked[:0] = done
            raise
        with self._lock:
            for flight, message in zip(todo, stored):
                if flight.acked:  # the PUBACK came while the row was being written
                    self._acked.append(message.row_id)
                else:
                    flight.message = message
        return stored

    def wait_for_room(self, stop: threading.Event) -> None:
        """Block while the outbox is at its bound: inputs stay unacknowledged at the broker meanwhile."""
        warned = False
        while self.outbox.full and not stop.is_set():
            if not warned:
                self.full_waits += 1
                log.warning(
                    "outbox holds %d results (bound %d): pausing input until the broker takes them",
                    len(self.outbox),
                    self.outbox.max_messages,
                )
                warned = True
            time.sleep(0.2)
            self.reap()

    def _publish(self, messages: list[OutMessage]) -> list[Flight]:
        """Hand messages to paho; returns one Flight each (a row id of 0: not stored yet)."""
        # Never hold self._lock across client.publish: paho calls on_publish with its own mutex held.
        flights = []
        for m in messages:
            info = self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain, properties=self._properties(m))
            flight = Flight(m)
            flights.append(flight)
            early = None
            with self._lock:
                if m.qos == 0:
                    if info.rc == mqtt.MQTT_ERR_SUCCESS:
                        self._delivered(flight)
                    continue
                early = self._early.pop(info.mid, None)  # the PUBACK beat us here
                if early is not None and time.monotonic() - early[0] > EARLY_TTL_S:
                    early = None  # a stale entry from an earlier use of this mid
                if early is None:
                    self._in_flight[info.mid] = flight
                else:
                    self._delivered(flight)
            if early is not None:
                self._check_reason(m, early[1])
        return flights

    def _delivered(self, flight: Flight) -> None:
        """(under self._lock) The broker has it: its row goes, or is never written."""
        flight.acked = True
        if flight.message.row_id:
            self._acked.append(flight.message.row_id)

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
            flight = self._in_flight.pop(mid, None)
            if flight is not None:
                self._delivered(flight)
            else:  # not ours (status, metrics) or not registered yet: kept a few seconds for _publish
                self._early[mid] = (now, reason)
                if len(self._early) > 256:
                    self._early = {k: v for k, v in self._early.items() if now - v[0] < EARLY_TTL_S}
        if flight is not None:
            self._check_reason(flight.message, reason)

    def _check_reason(self, message: OutMessage, reason: Any) -> None:
        if reason is not None and getattr(reason, "is_failure", False):
            with self._lock:  # later answers to it take the safe order again
                self._accepted.discard(message.topic)
            self.refused += 1
            log.error(
                "broker refused the message for %s: %s (reason code 0x%02x); not delivered",
                message.topic,
                reason,
                reason.value,
            )
            self.on_refused(message, reason)
        elif message.qos > 0:
            with self._lock:
                if len(self._accepted) < MAX_ACCEPTED_TOPICS:
                    self._accepted.add(message.topic)

    def on_connect(self) -> None:
        """Replay, oldest first, what is stored and not already held (and resent) by paho."""
        self.reap()
        # Under the gate, and `connected` only once the backlog is handed to paho: a send meanwhile waits
        # here, then publishes itself, so no row is missed or sent twice and new answers follow old ones.
        with self._gate:
            with self._lock:
                held = {f.message.row_id for f in self._in_flight.values()}
            backlog = [m for m in self.outbox.pending(limit=10**9) if m.row_id not in held]
            if backlog:
                log.info(
                    "replaying %d results from the outbox (%d more are resent by the MQTT client)",
                    len(backlog),
                    len(held),
                )
                self._publish(backlog)
            with self._lock:
                self.connected = True

    def on_disconnect(self) -> None:
        with self._lock:
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
