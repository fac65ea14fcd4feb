"""ResultPublisher: results go to the outbox first, then to the broker, and leave the outbox on PUBACK.

While the broker is unreachable results only accumulate in the outbox; on every (re)connect
the outbox is replayed oldest first. A message paho had in flight when the link dropped may
then arrive twice; consumers see the same `id` and can count or drop the duplicate.
"""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as mqtt

from .outbox import OutMessage, Outbox

log = logging.getLogger(__name__)


class ResultPublisher:
    def __init__(self, client: mqtt.Client, outbox: Outbox, v5: bool):
        self.client = client
        self.outbox = outbox
        self.v5 = v5
        self.connected = False
        self._lock = threading.Lock()
        self._in_flight: dict[int, int] = {}  # paho mid -> outbox row id
        self._acked: list[int] = []
        self._gate = threading.Lock()  # orders "stored" against "connected" so no row is missed or sent twice
        self.full_waits = 0

    def send(self, messages: list[OutMessage]) -> None:
        """Durably store, then publish if connected. Returns once stored: safe to ack inputs."""
        self.reap()
        with self._gate:
            stored = self.outbox.add(messages)
            live = self.connected
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
        for m in messages:
            info = self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain,
                                       properties=self._properties(m))
            if m.qos == 0:
                if info.rc == mqtt.MQTT_ERR_SUCCESS:
                    with self._lock:
                        self._acked.append(m.row_id)
                continue
            with self._lock:
                self._in_flight[info.mid] = m.row_id

    def _properties(self, m: OutMessage):
        if not (self.v5 and m.correlation is not None):
            return None
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = m.correlation
        return props

    def on_publish(self, mid: int) -> None:
        """PUBACK arrived (paho's network thread): the row may go."""
        with self._lock:
            row = self._in_flight.pop(mid, None)
            if row is not None:
                self._acked.append(row)

    def on_connect(self) -> None:
        """Replay everything still in the outbox, oldest first."""
        with self._lock:
            self._in_flight.clear()
        self.reap()
        with self._gate:  # rows stored after this point are published by send() itself
            self.connected = True
            backlog = self.outbox.pending(limit=10**9)
        if backlog:
            log.info("replaying %d results from the outbox", len(backlog))
            self._publish(backlog)

    def on_disconnect(self) -> None:
        self.connected = False

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
