"""The classify pipeline: parse -> micro-batcher -> classifier -> writer: publish + outbox -> ack.

`handle` runs on the network thread and only parses and queues (no disk, no model, no wait).
Rejected inputs are queued too, as errors, so every answer, result or error, is made by the one
worker thread and stored and sent by the one writer thread, in the order the inputs arrived; each
input is acknowledged once its answer is durable. When a model call fails for a batch, each message is retried alone, so one bad
message never costs its neighbours their results.

Swapping models (`swap`) happens between two batches under a lock; hooks in `on_swap` (e.g. Home
Assistant discovery) run after each swap.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..batching import MicroBatcher
from ..config import Config
from ..model import Model
from .bus import Bus
from .guard import guarded
from .metrics import Metrics
from .outbox import OutMessage
from .payloads import PayloadError, PayloadLimits, Request, encode, envelope, error_payload, parse, result_object
from .routes import Inbound
from .topics import Topics

log = logging.getLogger(__name__)
RESULT_HEADROOM = 1024  # bytes of a packet kept for topic and properties
WRITER_GROUP = 64  # micro-batches stored in one transaction at most
WRITER_QUEUE = 4  # micro-batches the worker may run ahead of the writer


@dataclass
class Pending:
    """One input waiting for its answer: a request to classify, or an error to send."""

    message: Inbound
    seq: int  # arrival order
    request: Request | None = None
    error: PayloadError | None = None
    reply_to: str | None = None  # validated Response Topic
    on_answer: Callable[[dict[str, Any] | PayloadError], None] | None = None  # a local asker's (Assist) callback

    @property
    def size(self) -> int:
        return sum(len(item.text) for item in self.request.items) if self.request else 0


@dataclass
class Answers:
    """One micro-batch's answers on their way to the outbox, and the inputs they acknowledge."""

    messages: list[OutMessage]
    inputs: list[Inbound]
    results: int  # how many of the messages are results (the rest are errors)


def response_topic_problem(topic: str, allowed: list[str]) -> str | None:
    """Why a Response Topic may not be used, or None. `allowed` are topic prefixes."""
    if not topic or "+" in topic or "#" in topic or "\0" in topic:
        return f"response topic {topic!r} is empty or holds a wildcard (+ #); name one topic"
    if topic.startswith("$"):
        return f"response topic {topic!r} is a broker topic ($...)"
    if not any(topic.startswith(p) for p in allowed):
        return f"response topic {topic!r} is outside the allowed prefixes {allowed} (mqtt.response_prefixes)"
    return None


class ClassifyPipeline:
    def __init__(
        self, cfg: Config, topics: Topics, bus: Bus, metrics: Metrics, classifier: Model, stop: threading.Event
    ):
        self.cfg = cfg
        self.topics = topics
        self.bus = bus
        self.metrics = metrics
        self.stop_event = stop
        self.limits = PayloadLimits.from_config(cfg)
        self.allowed_replies = [p.replace("{prefix}", topics.prefix) for p in cfg.mqtt.response_prefixes] or [
            f"{topics.prefix}/"
        ]
        self.on_swap: list[Callable[[Model], None]] = []
        self._classifier = classifier
        self._model_lock = threading.Lock()
        self._seq = itertools.count()
        b = cfg.batching
        # Unbounded: QoS 1/2 input is bounded by Receive Maximum / the broker's in-flight window,
        # since nothing is acknowledged before it is answered; QoS 0 overflow is answered "busy".
        self.batcher = MicroBatcher(
            guarded("the batch worker", metrics)(self._handle_batch),
            b.max_batch,
            b.max_wait_ms,
            0,
            size_of=lambda p: p.size,
        )
        # The writer: answers of every micro-batch queued behind the model are published (to topics the
        # broker has accepted before; see publisher.py) and go to the outbox in one transaction (one fsync,
        # group commit), then their inputs are acknowledged, while the worker already runs the next batch.
        # A small bound keeps the worker at most WRITER_QUEUE batches ahead of the disk; no input is
        # acknowledged before its answer's fsync.
        self.writer = MicroBatcher(guarded("the result writer", metrics)(self._write), WRITER_GROUP, 0.0, WRITER_QUEUE)

    def start(self) -> ClassifyPipeline:
        self.writer.start()
        self.batcher.start()
        return self

    def stop(self) -> None:
        self.batcher.stop()  # answers everything queued, handing each batch to the writer
        self.writer.stop()  # stores, acknowledges and sends them

    @property
    def worker_alive(self) -> bool:
        return self.batcher.alive and self.writer.alive

    # ---- models -------------------------------------------------------------------------
    def current(self) -> Model:
        """The model answering now."""
        with self._model_lock:
            return self._classifier

    def swap(self, classifier: Model) -> None:
        """Switch models between two batches: no batch ever sees half of each."""
        with self._model_lock:
            old, self._classifier = self._classifier, classifier
        log.info(
            "model switched: %s (%s) -> %s (%s)",
            old.bundle.name,
            old.bundle.sha256[:12],
            classifier.bundle.name,
            classifier.bundle.sha256[:12],
        )
        for hook in self.on_swap:
            guarded("an on-swap hook", self.metrics)(hook)(classifier)

    # ---- network thread -------------------------------------------------------------------
    def handle(
        self, message: Inbound, on_answer: Callable[[dict[str, Any] | PayloadError], None] | None = None
    ) -> None:
        """Parse and queue; never blocks, never touches the disk or the model."""
        self.metrics.count("messages_in")
        pending = Pending(message, next(self._seq), on_answer=on_answer)
        try:
            if message.reply_to is not None:
                problem = response_topic_problem(message.reply_to, self.allowed_replies)
                if problem:
                    raise PayloadError(problem, kind="bad_response_topic")
                pending.reply_to = message.reply_to
            request = parse(message.payload, self.limits)  # first, so a "busy" answer names the message's id
            if message.qos == 0 and self.batcher.depth >= self.cfg.batching.queue_size:
                raise PayloadError(
                    f"service busy: {self.batcher.depth} messages queued; QoS 0 input is answered "
                    "instead of queued without bound (send with QoS 1 to be queued)",
                    None if request.batch else request.items[0].id,
                    kind="busy",
                )
            pending.request = request
        except PayloadError as exc:
            pending.error = exc
        self.batcher.submit(pending, block=False)

    def ask(self, text: str, msg_id: str, on_answer: Callable[[dict[str, Any] | PayloadError], None]) -> None:
        """Classify a text from inside the process (Assist): it is answered and published like an input on
        `<prefix>/assist`, and `on_answer` gets its result object or the PayloadError, on the worker thread."""
        payload = encode({"text": text, "id": msg_id, "source": "assist"})
        self.handle(Inbound(self.topics.assist, payload, qos=0, mid=0), on_answer)

    # ---- the worker -----------------------------------------------------------------------
    def _handle_batch(self, batch: list[Pending]) -> None:
        self.bus.wait_for_room(self.stop_event)
        batch.sort(key=lambda p: p.seq)  # the batcher sorted by length; answers leave in arrival order
        classifier = self.current()
        outcomes = self._classify(classifier, [p for p in batch if p.request])
        done = time.monotonic()
        model = classifier.model_info
        out, results = [], 0
        for p in batch:
            outcome = outcomes.get(p.seq) if p.error is None else p.error
            if not isinstance(outcome, PayloadError):
                latency = (done - p.message.arrived) * 1000.0
                outcome = self._result(p, outcome, model, latency)
                if isinstance(outcome, OutMessage):
                    out.append(outcome)
                    results += 1
                    self.metrics.latency(latency)
                    continue
            out.append(self._error(p, outcome))
        self.writer.submit(Answers(out, [p.message for p in batch], results))

    def _write(self, groups: list[Answers]) -> None:
        """Publish and store the answers of several batches (one transaction), then acknowledge their inputs."""

        def ack_inputs() -> None:  # the answers are durable: now the inputs may be acknowledged
            for group in groups:
                for message in group.inputs:
                    self.bus.ack(message)

        self.bus.publish([m for group in groups for m in group.messages], ack_inputs)
        results = sum(group.results for group in groups)
        self.metrics.count("results_out", results)
        self.metrics.count("errors", sum(len(group.messages) for group in groups) - results)

    def _classify(self, classifier: Model, batch: list[Pending]) -> dict[int, Any]:
        """seq -> list of predictions, or a PayloadError; one call for all, else one call each."""
        top_k = self.cfg.mqtt.top_k
        texts = [item.text for p in batch for item in p.request.items]
        if not texts:
            return {}
        try:
            predictions = iter(classifier.classify(texts, top_k=top_k))
            return {p.seq: [next(predictions) for _ in p.request.items] for p in batch}
        except Exception:
            self.metrics.count("model_errors")
            log.exception("the model failed on a batch of %d messages; retrying each alone", len(batch))
        outcomes: dict[int, Any] = {}
        for p in batch:
            try:
                outcomes[p.seq] = list(classifier.classify([item.text for item in p.request.items], top_k=top_k))
            except Exception as exc:
                log.warning("the model failed on one message from %s: %r", p.message.topic, exc)
                outcomes[p.seq] = PayloadError(
                    f"the model could not classify this message ({type(exc).__name__})",
                    p.request.items[0].id if not p.request.batch else None,
                    "model_error",
                )
        return outcomes

    def _result(self, p: Pending, predictions: list, model: dict, latency: float) -> OutMessage | PayloadError:
        request = p.request
        results = [result_object(item, pred.to_dict()) for item, pred in zip(request.items, predictions)]
        self._tell(p, results[0])
        body = envelope({"items": results} if request.batch else results[0], model, latency, p.message.topic)
        if self.topics.member:  # which member of the shared group answered
            body["instance"] = self.topics.instance_id
        payload = encode(body)
        topic = p.reply_to or self.topics.result_for(p.message.topic)
        limit = self.cfg.mqtt.max_packet_size - RESULT_HEADROOM - len(topic.encode())
        if len(payload) > limit:
            return PayloadError(
                f"the result would be {len(payload)} bytes, over the {limit} the broker takes "
                "(mqtt.max_packet_size); send fewer items or fewer extra keys",
                None if request.batch else request.items[0].id,
                "result_too_large",
            )
        return OutMessage(topic, payload, self.cfg.mqtt.qos, correlation=p.message.correlation)

    def _tell(self, p: Pending, answer: dict[str, Any] | PayloadError) -> None:
        """Hand a local asker its answer; its failure is logged, never the worker's."""
        if p.on_answer is not None:
            guarded("an answer callback", self.metrics)(p.on_answer)(answer)

    def _error(self, p: Pending, exc: PayloadError) -> OutMessage:
        self._tell(p, exc)
        log.debug("rejected a message on %s: %s", p.message.topic, exc.reason)
        payload = error_payload(exc.reason, exc.msg_id, p.message.topic, len(p.message.payload), exc.kind)
        return OutMessage(
            p.reply_to or self.topics.error, payload, self.cfg.mqtt.qos, correlation=p.message.correlation
        )
