"""The route table: which handler gets a message, by MQTT topic filter.

The bus subscribes every route's filter (or its `$share/...` form) and hands each message to the
first route whose filter matches its topic. Handlers run on paho's network thread: they must
return at once (hand the work to a thread) and never block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from paho.mqtt.client import topic_matches_sub


@dataclass(frozen=True)
class Inbound:
    """One message as a handler sees it; `mid`/`qos` are what the bus needs to acknowledge it."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool = False
    reply_to: str | None = None  # MQTT 5 Response Topic, verbatim (the handler validates it)
    correlation: bytes | None = None  # MQTT 5 Correlation Data
    arrived: float = field(default_factory=time.monotonic)
    via: Any = None  # what acknowledges it (has .ack(mid, qos)); None: the bus's own client (else a rescue session)


Handler = Callable[[Inbound], None]


@dataclass(frozen=True)
class Route:
    filter: str  # matched against the topic of each message
    handler: Handler
    qos: int = 1
    subscription: str = ""  # what is subscribed; default the filter (differs for $share/<group>/<filter>)
    ack_first: bool = False  # the bus acknowledges before calling the handler; else the handler must call bus.ack
    keep_retain: bool = False  # MQTT 5: subscribe with Retain As Published, so the handler always sees the retain flag

    @property
    def subscribe_as(self) -> str:
        return self.subscription or self.filter


class Routes:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self,
        topic_filter: str,
        handler: Handler,
        qos: int = 1,
        subscription: str = "",
        ack_first: bool = False,
        first: bool = False,
        keep_retain: bool = False,
    ) -> Route:
        """Register a handler. Where filters overlap the earlier route wins; `first` puts this one ahead."""
        route = Route(topic_filter, handler, qos, subscription, ack_first, keep_retain)
        self._routes.insert(0 if first else len(self._routes), route)
        return route

    def match(self, topic: str) -> Route | None:
        for route in self._routes:
            if topic_matches_sub(route.filter, topic):
                return route
        return None

    def __iter__(self) -> Iterator[Route]:
        return iter(list(self._routes))

    def __len__(self) -> int:
        return len(self._routes)
