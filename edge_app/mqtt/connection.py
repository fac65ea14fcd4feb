"""Getting a paho client onto the broker, with errors a user can act on.

Before the service starts it makes one probe connection: that tells apart an unreachable
broker, bad credentials, a TLS problem and a missing authorisation (each its own message and
exit code), and finds out whether the broker speaks MQTT 5 or only 3.1.1. After that, paho's
own reconnect with backoff keeps the real client connected.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass
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


@dataclass(frozen=True)
class BrokerAddress:
    url: str
    host: str
    port: int
    tls: bool
    username: str

    @classmethod
    def parse(cls, url: str, username: str = "") -> "BrokerAddress":
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


def connect_properties(cfg: Config, protocol: int):
    if protocol != mqtt.MQTTv5:
        return None
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = cfg.mqtt.session_expiry
    # The broker's own flow control: at most this many unacknowledged QoS 1/2 inputs in our hands.
    props.ReceiveMaximum = max(1, min(65535, cfg.batching.queue_size))
    # The broker drops (never sends us) anything bigger: a 200 MB publish is not buffered here.
    props.MaximumPacketSize = cfg.mqtt.max_packet_size
    return props


def _refusal(address: BrokerAddress, reason: str, code: int) -> BrokerError:
    """Map a CONNACK refusal (v5 reason code or 3.1.1 return code) to a clear error.

    Mosquitto answers a wrong password with "not authorised" (135/5), so with a user name set
    both causes get one message that names both fixes."""
    fix = "check mqtt.username and EDGE_APP_MQTT_PASSWORD or mqtt.password_file"
    if code in (134, 4):
        return BrokerError(f"broker {address.url} rejected user {address.username!r}: bad user name or password; "
                           f"{fix}", exit_code=EXIT_AUTH)
    if code in (135, 5) and address.username:
        return BrokerError(
            f"broker {address.url} refused user {address.username!r}: bad user name or password, or not authorised; "
            f"{fix}, and the broker's password file/ACL", exit_code=EXIT_AUTH,
        )
    if code in (135, 5):
        return BrokerError(
            f"broker {address.url} refused anonymous clients: not authorised; set a user name "
            "(mqtt://user@host or mqtt.username) and EDGE_APP_MQTT_PASSWORD", exit_code=EXIT_NOT_AUTHORISED,
        )
    return BrokerError(f"broker {address.url} refused the connection: {reason}", exit_code=EXIT_REFUSED)


def probe(cfg: Config, address: BrokerAddress, protocol: int, timeout: float = 10.0) -> tuple[bool, str, int]:
    """One throwaway connection; returns (accepted, reason, code). Raises for network/TLS errors."""
    client = make_client(cfg, address, protocol, f"edge-app-probe-{uuid.uuid4().hex[:8]}", manual_ack=False)
    done = threading.Event()
    outcome: list = [False, "no answer from the broker", -1]

    def on_connect(_c, _u, _flags, reason, _props):
        outcome[:] = [not reason.is_failure, str(reason), reason.value]
        done.set()

    def on_disconnect(_c, _u, _flags, reason, _props):
        if not done.is_set():
            outcome[:] = [False, f"closed the connection ({reason})", getattr(reason, "value", -1)]
            done.set()

    client.on_connect, client.on_disconnect = on_connect, on_disconnect
    try:
        client.connect(address.host, address.port, keepalive=cfg.mqtt.keepalive,
                       clean_start=True if protocol == mqtt.MQTTv5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY)
    except ssl.SSLCertVerificationError as exc:
        raise BrokerError(
            f"TLS certificate of broker {address.url} is not trusted ({exc.verify_message}); set mqtt.ca_file to "
            "the CA that signed it", exit_code=EXIT_TLS,
        ) from None
    except ssl.SSLError as exc:
        raise BrokerError(f"TLS with broker {address.url} failed ({exc.reason}); check the port and mqtt.ca_file/"
                          "cert_file/key_file", exit_code=EXIT_TLS) from None
    except (OSError, socket.timeout) as exc:
        raise BrokerError(
            f"cannot reach broker {address.url} ({exc.strerror or exc}); check the host and port, and that the "
            "broker is running", exit_code=EXIT_UNREACHABLE,
        ) from None
    client.loop_start()
    done.wait(timeout)
    client.disconnect()
    client.loop_stop()
    return outcome[0], outcome[1], outcome[2]


def detect_protocol(cfg: Config, address: BrokerAddress) -> int:
    """MQTT 5 when the broker speaks it (or config says 5), else 3.1.1, saying what is lost."""
    if cfg.mqtt.protocol == "3.1.1":
        return mqtt.MQTTv311
    ok, reason, code = probe(cfg, address, mqtt.MQTTv5)
    if ok:
        return mqtt.MQTTv5
    if code in (134, 135):
        raise _refusal(address, reason, code)
    if cfg.mqtt.protocol == "5":
        raise BrokerError(f"broker {address.url} does not accept MQTT 5 ({reason}); set mqtt.protocol = \"auto\"")
    ok, reason, code = probe(cfg, address, mqtt.MQTTv311)
    if not ok:
        raise _refusal(address, reason, code)
    log.warning("broker %s speaks MQTT 3.1.1 only; falling back. Off without MQTT 5: %s", address.url, V5_FEATURES_OFF)
    return mqtt.MQTTv311
