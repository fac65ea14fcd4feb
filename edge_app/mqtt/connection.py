"""Getting a paho client onto the broker, with errors a user can act on.

Before the service starts it makes one probe connection: that tells apart an unreachable
broker, bad credentials, a TLS problem and a missing authorisation (each its own message and
exit code), and finds out whether the broker speaks MQTT 5 or only 3.1.1. After that, paho's
own reconnect with backoff keeps the real client connected.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config import Config
from ..errors import BrokerError

log = logging.getLogger(__name__)
V5_FEATURES_OFF = "request/response (response topic, correlation data), session expiry, shared subscriptions"

EXIT_UNREACHABLE, EXIT_AUTH, EXIT_TLS, EXIT_NOT_AUTHORISED, EXIT_REFUSED = 10, 11, 12, 13, 14
EXIT_UNSUPPORTED = 15  # the broker lacks a feature the config needs ($share, wildcards, QoS, retain, packet size)
SUBACK_SHARED_NOT_SUPPORTED, SUBACK_WILDCARD_NOT_SUPPORTED = 0x9E, 0xA2


@dataclass(frozen=True)
class BrokerAddress:
    url: str
    host: str
    port: int
    tls: bool
    username: str

    @classmethod
    def parse(cls, url: str, username: str = "") -> BrokerAddress:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise BrokerError(f"broker URL {url!r} must start with mqtt:// or mqtts://")
        tls = parts.scheme in ("mqtts", "ssl")
        if not parts.hostname:
            raise BrokerError(f"broker URL {url!r} has no host; use mqtt://host[:port]")
        if parts.password:
            raise BrokerError(
                f"broker URL {url!r} holds a password; put it in EDGE_APP_MQTT_PASSWORD or mqtt.password_file "
                "so it never shows in process lists"
            )
        user = unquote(parts.username) if parts.username else username
        port = parts.port or (8883 if tls else 1883)
        shown = f"{parts.scheme}://{parts.hostname}:{port}"
        return cls(shown, parts.hostname, port, tls, user)


def make_client(cfg: Config, address: BrokerAddress, protocol: int, client_id: str, manual_ack: bool) -> mqtt.Client:
    """A configured, not yet connected, paho client (callback API version 2)."""
    v5 = protocol == mqtt.MQTTv5
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        clean_session=None if v5 else False,  # 3.1.1: a persistent session keeps our inputs while we are down
        manual_ack=manual_ack,
    )
    if address.username:
        client.username_pw_set(address.username, cfg.mqtt.password or None)
    if address.tls:
        client.tls_set(
            ca_certs=cfg.mqtt.ca_file or None,
            certfile=cfg.mqtt.cert_file or None,
            keyfile=cfg.mqtt.key_file or None,
        )
        client.tls_insecure_set(cfg.mqtt.tls_insecure)
    client.reconnect_delay_set(1, 30)
    return client


def no_delay(client: mqtt.Client) -> None:
    """Nagle off on a connected client's socket (paho leaves it on); a websocket transport keeps it.

    The worker sends an input's PUBACK and then its result as two small packets; with Nagle the second
    may wait for the peer's delayed ACK of the first. The broker's own `set_tcp_nodelay` matters as much
    (docs/benchmarks.md). The service, the bench and the test harness all call this one."""
    sock = client.socket()
    if sock is not None and hasattr(sock, "setsockopt"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # not TCP (a unix socket): nothing to turn off
            log.debug("TCP_NODELAY not set: %s", exc)


def connect_properties(cfg: Config, protocol: int):
    if protocol != mqtt.MQTTv5:
        return None
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = cfg.mqtt.session_expiry
    # The broker's own flow control: at most this many unacknowledged QoS 1/2 inputs in our hands.
    # A group member takes half: the other half is for a dead member's session it may adopt (rescue.py).
    share = 2 if cfg.mqtt.shared_group else 1
    props.ReceiveMaximum = max(1, min(65535, cfg.batching.queue_size // share))
    # The broker drops (never sends us) anything bigger: a 200 MB publish is not buffered here.
    props.MaximumPacketSize = cfg.mqtt.max_packet_size
    return props


@dataclass(frozen=True)
class BrokerCapabilities:
    """What the broker said it can do. MQTT 5 CONNACK properties; absent means "yes" (the spec's
    defaults); a 3.1.1 broker says nothing, so `v5` False means "unknown", not "yes"."""

    v5: bool = True
    shared: bool = True
    wildcard: bool = True
    max_qos: int = 2
    retain: bool = True
    max_packet_size: int | None = None  # None: no limit announced
    refused_filters: dict[str, int] = field(default_factory=dict)  # probe filter -> SUBACK reason code (>= 0x80)

    @classmethod
    def from_connack(cls, props: Properties | None, v5: bool = True) -> BrokerCapabilities:
        def prop(name: str, default):
            value = getattr(props, name, None) if props is not None else None
            return default if value is None else value

        return cls(
            v5=v5,
            shared=bool(prop("SharedSubscriptionAvailable", 1)),
            wildcard=bool(prop("WildcardSubscriptionAvailable", 1)),
            max_qos=int(prop("MaximumQoS", 2)),
            retain=bool(prop("RetainAvailable", 1)),
            max_packet_size=prop("MaximumPacketSize", None),
        )


def needs_wildcards(cfg: Config) -> bool:
    return any("+" in f or "#" in f for f in cfg.mqtt.inputs)


def capability_problems(cfg: Config, caps: BrokerCapabilities) -> list[str]:
    """Each feature the config needs and the broker lacks, as "what is missing; the fix" (pure logic)."""
    m, problems = cfg.mqtt, []
    group = m.shared_group
    if group and not caps.v5 and not m.assume_shared:
        problems.append(
            f"mqtt.shared_group {group!r} needs shared subscriptions, and an MQTT 3.1.1 broker cannot say whether it "
            "has them (RabbitMQ, for one, binds '$share/...' literally and nothing ever arrives); use an MQTT 5 "
            "broker with shared subscriptions, or set mqtt.assume_shared = true if this broker supports $share "
            "on 3.1.1 (mosquitto does)"
        )
    share_refused = caps.refused_filters.get("shared") == SUBACK_SHARED_NOT_SUPPORTED
    if group and (caps.v5 or m.assume_shared) and (not caps.shared or share_refused):
        problems.append(
            f"mqtt.shared_group {group!r} needs shared subscriptions, which this broker does not offer; "
            "drop mqtt.shared_group (run one board) or use a broker with $share (see docs/fleet.md)"
        )
    if needs_wildcards(cfg) and (
        not caps.wildcard or caps.refused_filters.get("wildcard") == SUBACK_WILDCARD_NOT_SUPPORTED
    ):
        problems.append(
            f"mqtt.inputs {m.inputs} use wildcards (+ #), which this broker does not allow; "
            "list each input topic without wildcards"
        )
    if m.qos > caps.max_qos:
        problems.append(
            f"mqtt.qos is {m.qos} but the broker allows at most QoS {caps.max_qos}; "
            f"set mqtt.qos = {caps.max_qos} or raise the broker's limit"
        )
    if not caps.retain:
        problems.append(
            "the broker does not keep retained messages, and <prefix>/status (online/offline, the Last "
            "Will) is retained; enable retained messages on the broker"
        )
    if caps.max_packet_size is not None and caps.max_packet_size < m.max_packet_size:
        problems.append(
            f"the broker accepts packets up to {caps.max_packet_size} bytes, less than "
            f"mqtt.max_packet_size ({m.max_packet_size}), so large answers would be refused; lower "
            "mqtt.max_packet_size and mqtt.max_payload to fit, or raise the broker's max_packet_size"
        )
    return problems


def check_capabilities(cfg: Config, address: BrokerAddress, caps: BrokerCapabilities) -> None:
    """Raise one BrokerError (EXIT_UNSUPPORTED) naming everything the broker lacks, with the fixes."""
    problems = capability_problems(cfg, caps)
    if problems:
        raise BrokerError(
            f"broker {address.url} cannot serve this config: " + "; and ".join(problems), exit_code=EXIT_UNSUPPORTED
        )


def closed_for_share(reason_value: int, pending_shared: bool) -> bool:
    """Did the broker drop us for a `$share` subscription? ejabberd answers one with DISCONNECT 0x9E
    ("Shared Subscriptions not supported") or just closes the socket while the SUBSCRIBE is pending;
    either way a reconnect would only repeat it."""
    return reason_value == SUBACK_SHARED_NOT_SUPPORTED or pending_shared


def share_refused_error(address: BrokerAddress, group: str, detail: str) -> BrokerError:
    return BrokerError(
        f"broker {address.url} refused the shared subscription of mqtt.shared_group {group!r} "
        f"({detail}); this broker has no shared subscriptions: drop mqtt.shared_group (one board) "
        "or use a broker with $share (see docs/fleet.md)",
        exit_code=EXIT_UNSUPPORTED,
    )


def _refusal(address: BrokerAddress, reason: str, code: int) -> BrokerError:
    """Map a CONNACK refusal (v5 reason code or 3.1.1 return code) to a clear error.

    Mosquitto answers a wrong password with "not authorised" (135/5), so with a user name set
    both causes get one message that names both fixes."""
    fix = "check mqtt.username and EDGE_APP_MQTT_PASSWORD or mqtt.password_file"
    if code in (134, 4):
        return BrokerError(
            f"broker {address.url} rejected user {address.username!r}: bad user name or password; {fix}",
            exit_code=EXIT_AUTH,
        )
    if code in (135, 5) and address.username:
        return BrokerError(
            f"broker {address.url} refused user {address.username!r}: bad user name or password, or not authorised; "
            f"{fix}, and the broker's password file/ACL",
            exit_code=EXIT_AUTH,
        )
    if code in (135, 5):
        return BrokerError(
            f"broker {address.url} refused anonymous clients: not authorised; set a user name "
            "(mqtt://user@host or mqtt.username) and EDGE_APP_MQTT_PASSWORD",
            exit_code=EXIT_NOT_AUTHORISED,
        )
    return BrokerError(f"broker {address.url} refused the connection: {reason}", exit_code=EXIT_REFUSED)


def probe_filters(cfg: Config) -> dict[str, str]:
    """Throwaway filters that try the subscription kinds the config needs, on topics no one publishes
    to (subscribing to the real inputs would take, and lose, a message meant for the service)."""
    tag = f"{cfg.prefix}/cmd/probe-{uuid.uuid4().hex[:8]}"  # cmd/#: readable under the shipped mosquitto ACL
    filters = {}
    if cfg.mqtt.shared_group:
        filters["shared"] = f"$share/{cfg.mqtt.shared_group}/{tag}"
    if needs_wildcards(cfg):
        filters["wildcard"] = f"{tag}/+"
    return filters


@dataclass
class ProbeResult:
    accepted: bool
    reason: str
    code: int
    caps: BrokerCapabilities = field(default_factory=BrokerCapabilities)


def probe(
    cfg: Config, address: BrokerAddress, protocol: int, timeout: float = 10.0, filters: dict[str, str] | None = None
) -> ProbeResult:
    """One throwaway connection. Raises for network/TLS errors. With `filters`, also subscribes to
    each (QoS 0) and records refusals, and a connection closed in answer, in `caps`."""
    v5 = protocol == mqtt.MQTTv5
    client = make_client(cfg, address, protocol, f"edge-app-probe-{uuid.uuid4().hex[:8]}", manual_ack=False)
    done, subscribed = threading.Event(), threading.Event()
    result = ProbeResult(False, "no answer from the broker", -1, BrokerCapabilities(v5=v5))
    pending: dict[int, str] = {}  # SUBSCRIBE mid -> which kind it tries
    refused: dict[str, int] = {}

    def on_connect(c, _u, _flags, reason, props):
        result.accepted, result.reason, result.code = not reason.is_failure, str(reason), reason.value
        if v5:
            result.caps = BrokerCapabilities.from_connack(props)
        if result.accepted and filters:
            for kind, topic_filter in filters.items():
                pending[c.subscribe(topic_filter, qos=0)[1]] = kind
        else:
            subscribed.set()
        done.set()

    def on_subscribe(_c, _u, mid, reasons, _props):
        kind = pending.pop(mid, None)
        if kind and reasons and reasons[0].value >= 0x80:
            refused[kind] = reasons[0].value
        if not pending:
            subscribed.set()

    def on_disconnect(_c, _u, _flags, reason, _props):
        value = getattr(reason, "value", -1)
        if not done.is_set():
            result.reason, result.code = f"closed the connection ({reason})", value
            done.set()
        for kind in list(pending.values()):  # dropped while a SUBSCRIBE was open: that filter is refused
            refused[kind] = SUBACK_SHARED_NOT_SUPPORTED if kind == "shared" else SUBACK_WILDCARD_NOT_SUPPORTED
        pending.clear()
        subscribed.set()

    client.on_connect, client.on_disconnect, client.on_subscribe = on_connect, on_disconnect, on_subscribe
    try:
        client.connect(
            address.host,
            address.port,
            keepalive=cfg.mqtt.keepalive,
            clean_start=True if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
        )
    except ssl.SSLCertVerificationError as exc:
        raise BrokerError(
            f"TLS certificate of broker {address.url} is not trusted ({exc.verify_message}); set mqtt.ca_file to "
            "the CA that signed it",
            exit_code=EXIT_TLS,
        ) from None
    except ssl.SSLError as exc:
        raise BrokerError(
            f"TLS with broker {address.url} failed ({exc.reason}); check the port and mqtt.ca_file/cert_file/key_file",
            exit_code=EXIT_TLS,
        ) from None
    except (TimeoutError, OSError) as exc:
        raise BrokerError(
            f"cannot reach broker {address.url} ({exc.strerror or exc}); check the host and port, and that the "
            "broker is running",
            exit_code=EXIT_UNREACHABLE,
        ) from None
    client.reconnect_delay_set(timeout, timeout)  # a probe never reconnects within its own lifetime
    client.loop_start()
    done.wait(timeout)
    subscribed.wait(timeout)
    client.disconnect()
    client.loop_stop()
    if refused:
        result.caps = dataclasses.replace(result.caps, refused_filters=refused)
    return result


def detect_protocol(cfg: Config, address: BrokerAddress, check: bool = False) -> int:
    """MQTT 5 when the broker speaks it (or config says 5), else 3.1.1, saying what is lost.

    `check` (serve): also find out what the broker can do, and refuse to start (EXIT_UNSUPPORTED)
    if it lacks something the config needs: better one clear line now than silence later."""
    filters = probe_filters(cfg) if check else None
    if cfg.mqtt.protocol == "3.1.1":
        return _checked(cfg, address, mqtt.MQTTv311, filters) if check else mqtt.MQTTv311
    found = probe(cfg, address, mqtt.MQTTv5, filters=filters)
    if found.accepted:
        if check:
            check_capabilities(cfg, address, found.caps)
        return mqtt.MQTTv5
    if found.code in (134, 135):
        raise _refusal(address, found.reason, found.code)
    if cfg.mqtt.protocol == "5":
        raise BrokerError(f'broker {address.url} does not accept MQTT 5 ({found.reason}); set mqtt.protocol = "auto"')
    protocol = _checked(cfg, address, mqtt.MQTTv311, filters)
    log.warning("broker %s speaks MQTT 3.1.1 only; falling back. Off without MQTT 5: %s", address.url, V5_FEATURES_OFF)
    return protocol


def _checked(cfg: Config, address: BrokerAddress, protocol: int, filters: dict[str, str] | None) -> int:
    found = probe(cfg, address, protocol, filters=filters)
    if not found.accepted:
        raise _refusal(address, found.reason, found.code)
    if filters is not None:
        check_capabilities(cfg, address, found.caps)
    return protocol
