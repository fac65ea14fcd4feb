"""No stranded work: a living member of a shared group adopts a dead member's broker session.

On mosquitto 2.0.11 (docs/fleet.md) a member that dies keeps its place in the
`$share` round robin while its session lives, so every other command is queued for a member
that may never come back; and when the session ends (expiry), its queued and in-flight
(delivered, unacknowledged) commands are dropped, never handed to another member. A short
session expiry therefore trades stranding for loss.

So members keep their persistent sessions, and when a member's own status turns `offline`
(its Last Will, or a clean stop) the living member with the lowest instance id connects with
the dead member's client id after a short grace: the broker resends the in-flight commands and
the queued ones to it, it unsubscribes that session from the group (no new share goes there),
answers everything through the normal pipeline (results on its own connection, acks on the
adopted one), then disconnects with Session Expiry 0 and clears the dead member's retained
status. If the dead member comes back meanwhile, the broker hands the session back to it (a
takeover): what was not yet acknowledged is resent to it, so a command may be answered twice,
never lost. MQTT 5 only; a 3.1.1 group (mqtt.assume_shared) is not rescued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config import Config
from .connection import BrokerAddress, connect_properties, make_client
from .guard import guarded
from .metrics import Metrics
from .routes import Inbound
from .topics import Topics

log = logging.getLogger(__name__)
GRACE_S = 1.0  # a member that restarts at once comes back online within this and keeps its own session
IDLE_S = 2.0  # an adopted session with nothing new for this long, and all acknowledged, is finished
MAX_RESCUE_S = 300.0  # give up (keeping the session for the next try) after this


def rescuer_for(dead: str, online: set[str], me: str) -> bool:
    """Whether this member (`me`) adopts `dead`'s session: the lowest living instance id does, so the
    members agree without talking; if views differ two may try, which costs duplicates, not loss."""
    living = sorted((online | {me}) - {dead})
    return bool(living) and living[0] == me


class AdoptedSession:
    """One dead member's session, held until its commands are answered (a thread of its own)."""

    def __init__(
        self,
        cfg: Config,
        address: BrokerAddress,
        protocol: int,
        topics: Topics,
        instance_id: str,
        dispatch: Callable[..., None],
        metrics: Metrics,
    ):
        self.instance_id = instance_id
        self.topics = topics
        self.dispatch = dispatch
        self.metrics = metrics
        self.cfg, self.address, self.protocol = cfg, address, protocol
        self.client = make_client(cfg, address, protocol, cfg.member_client_id(instance_id), manual_ack=True)
        self.lock = threading.Lock()
        self.received = self.acked = 0
        self.last = time.monotonic()
        self.connected = threading.Event()
        self.lost = threading.Event()  # the session was taken back (the member returned) or the broker went away
        self.session_present = False
        guard = guarded("a rescue callback", metrics)
        self.client.on_connect = guard(self._on_connect)
        self.client.on_message = guard(self._on_message)
        self.client.on_disconnect = guard(lambda *_a: self.lost.set())

    # .ack(mid, qos) is what the bus calls for an Inbound with via=self
    def ack(self, mid: int, qos: int) -> None:
        self.client.ack(mid, qos)
        with self.lock:
            self.acked += 1

    def _on_connect(self, client: mqtt.Client, _u, flags, reason, _props) -> None:
        if reason.is_failure:
            self.lost.set()
            return
        self.session_present = flags.session_present
        # no new share for the dead member; what is queued or in flight still comes to us
        client.unsubscribe(self.topics.subscriptions(shared=True))
        self.connected.set()

    def _on_message(self, _client, _userdata, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.received += msg.qos > 0  # QoS 0 is never acknowledged: only count what we must ack
            self.last = time.monotonic()
        self.metrics.count("rescued")
        self.dispatch(msg, via=self)

    def _finished(self) -> bool:
        with self.lock:
            return self.acked >= self.received and time.monotonic() - self.last > IDLE_S

    def run(self, stop: threading.Event) -> bool:
        """Adopt, answer, end the session. True when the dead member's session is gone for good."""
        self.client.reconnect_delay_set(MAX_RESCUE_S, MAX_RESCUE_S)  # one try: never fight the member for it
        self.client.connect(
            self.address.host,
            self.address.port,
            keepalive=self.cfg.mqtt.keepalive,
            clean_start=False,
            properties=connect_properties(self.cfg, self.protocol),
        )
        self.client.loop_start()
        try:
            if not self.connected.wait(10):
                return False
            deadline = time.monotonic() + MAX_RESCUE_S
            while not (self._finished() or self.lost.is_set() or stop.is_set()) and time.monotonic() < deadline:
                time.sleep(0.2)
            if self.lost.is_set() or not self._finished():
                return False
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0  # the session ends now; nothing is left in it
            self.client.disconnect(properties=props)
            log.info("adopted the session of group member %s: %d commands answered", self.instance_id, self.received)
            return True
        finally:
            if not self.lost.is_set():
                self.client.disconnect()
            self.client.loop_stop()


class Rescuer:
    """Watches the members' status topics and adopts the session of each member that goes offline."""

    def __init__(
        self,
        cfg: Config,
        address: BrokerAddress,
        protocol: int,
        topics: Topics,
        dispatch: Callable[..., None],
        publish_retained: Callable[[str, bytes], None],
        metrics: Metrics,
        stop: threading.Event,
    ):
        self.cfg, self.address, self.protocol, self.topics = cfg, address, protocol, topics
        self.dispatch, self.publish_retained, self.metrics, self.stop = dispatch, publish_retained, metrics, stop
        self.status: dict[str, bytes] = {}
        self.busy: set[str] = set()
        self.lock = threading.Lock()
        self.one_at_a_time = threading.Lock()  # an adopted session may fill the half of the queue kept for it

    @property
    def status_filter(self) -> str:
        return f"{self.topics.prefix}/instances/+/status"

    def on_status(self, message: Inbound) -> None:
        """Route handler (network thread, must not block): note it; an offline member gets a rescue thread."""
        instance_id = message.topic.split("/")[-2]
        with self.lock:
            self.status[instance_id] = message.payload
            start = (
                message.payload == b"offline"
                and instance_id != self.topics.instance_id
                and instance_id not in self.busy
            )
            if start:
                self.busy.add(instance_id)
        if start:
            threading.Thread(
                target=guarded("a rescue", self.metrics)(self._rescue),
                args=(instance_id,),
                name=f"rescue-{instance_id}",
                daemon=True,
            ).start()

    def _online(self) -> set[str]:
        with self.lock:
            return {i for i, s in self.status.items() if s == b"online"}

    def _rescue(self, instance_id: str) -> None:
        try:
            if self.stop.wait(GRACE_S) or self.status.get(instance_id) != b"offline":
                return
            if not rescuer_for(instance_id, self._online(), self.topics.instance_id):
                return
            log.warning("group member %s is offline; adopting its session so its commands are answered", instance_id)
            session = AdoptedSession(
                self.cfg, self.address, self.protocol, self.topics, instance_id, self.dispatch, self.metrics
            )
            with self.one_at_a_time:
                ended = session.run(self.stop)
            if ended and self.status.get(instance_id) == b"offline":
                self.publish_retained(f"{self.topics.prefix}/instances/{instance_id}/status", b"")  # nothing left
        finally:
            with self.lock:
                self.busy.discard(instance_id)
