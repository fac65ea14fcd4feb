"""`edge-app broker`: a small MQTT broker on loopback for a machine that has none.

It exists so the demo and the tests run on a fresh laptop without installing a system
service. It is amqtt (pure Python, from the `broker` extra) run in the foreground of its own
process, listening on 127.0.0.1 only, with anonymous access: a local convenience, never a
deployment. amqtt 0.12 speaks MQTT 3.1.1 only; the service falls back to 3.1.1 by itself.
A board uses Debian's mosquitto instead (see deploy/ and the README).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys

from .errors import BrokerError

HOST = "127.0.0.1"
DEFAULT_PORT = 1883
SHUTDOWN_TIMEOUT_S = 5.0
READY_LINE = "listening on mqtt://{host}:{port}"  # the demo and the tests wait for this line


def add_broker_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port on {HOST} (default {DEFAULT_PORT})")


def run_broker(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise BrokerError(f"--port {args.port} is not a TCP port; use 1 to 65535")
    broker_class = _import_amqtt()
    if not args.verbose:
        _silence_amqtt_logging()
    asyncio.run(_serve(broker_class, args.port))
    return 0


def broker_config(port: int) -> dict:
    """amqtt's config: one TCP listener on loopback, anonymous access, no $SYS or packet logging.

    Listing plugins explicitly replaces amqtt's defaults (event and packet loggers, periodic $SYS topics),
    which only add noise and work to a local test broker.
    """
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{HOST}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


def _import_amqtt():
    try:
        from amqtt.broker import Broker
    except ImportError:
        raise BrokerError(
            "the embedded broker needs amqtt, which is not installed; run `pip install edge-app[broker]` "
            "(or `pip install -e '.[broker]'` in a checkout), or use a real broker such as Debian's mosquitto"
        ) from None

    class LoopbackBroker(Broker):
        """amqtt's Broker, sending retained messages only to clients that subscribed to them.

        amqtt 0.12.1 sends every connecting client the retained messages of every topic filter that
        *any* client holds (its connect path loops over all subscriptions, not the session's), so a
        client that subscribed to nothing still receives, say, another device's retained status.
        Here a retained message goes out only for a filter this session holds, as MQTT 3.1.1 says.
        """

        async def _publish_retained_messages_for_subscription(self, subscription, session) -> None:
            holders = self._subscriptions.get(subscription[0], [])
            if any(held.client_id == session.client_id for held, _qos in holders):
                await super()._publish_retained_messages_for_subscription(subscription, session)

    return LoopbackBroker


def _silence_amqtt_logging() -> None:
    """amqtt logs every connection at info and a traceback on a failed bind; we report in one line instead."""
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


async def _serve(broker_class, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    broker = broker_class(broker_config(port))
    try:
        await broker.start()
    except Exception as exc:  # amqtt wraps the OSError of the bind in its own BrokerError
        raise _start_error(exc, port) from None
    print(READY_LINE.format(host=HOST, port=port), flush=True)
    await stop.wait()
    try:
        await asyncio.wait_for(broker.shutdown(), SHUTDOWN_TIMEOUT_S)
    except (TimeoutError, asyncio.TimeoutError):
        print(f"edge-app broker: shutdown took over {SHUTDOWN_TIMEOUT_S:g} s; exiting anyway", file=sys.stderr)


def _start_error(exc: BaseException, port: int) -> BrokerError:
    cause = exc.__cause__ or exc
    if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
        return BrokerError(
            f"port {port} on {HOST} is already in use (another broker?); pick another with --port or stop that one"
        )
    if isinstance(cause, OSError) and cause.errno == errno.EACCES:
        return BrokerError(f"not allowed to listen on port {port}; use a port above 1023 with --port")
    return BrokerError(f"the embedded broker did not start on {HOST}:{port}: {cause}")
