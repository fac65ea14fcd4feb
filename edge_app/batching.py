"""Micro-batching: group items that arrive close together into one model call.

A board classifying MQTT traffic sees bursts; one model call for 16 texts costs far less than
16 calls. The batcher waits at most `max_wait_ms` after the first item for company, never
more than `max_batch` items, and hands the batch over sorted by length (similar lengths pad
less); a caller that needs arrival order restores it. `queue_size=0` makes the queue unbounded,
for callers whose input is bounded elsewhere (the service: by MQTT flow control). Knows nothing
of models or MQTT.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_STOP = object()


class MicroBatcher(Generic[T]):
    def __init__(
        self,
        handler: Callable[[list[T]], None],
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        queue_size: int = 1024,
        size_of: Callable[[T], int] = lambda item: 0,
    ):
        self.handler = handler
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.size_of = size_of
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._stopped = False

    def start(self) -> MicroBatcher[T]:
        self._thread.start()
        return self

    def submit(self, item: T, timeout: float | None = None, block: bool = True) -> None:
        """Queue an item; blocks while a bounded queue is full (raises queue.Full after timeout or at
        once with block=False)."""
        if self._stopped:
            raise RuntimeError("batcher is stopped")
        self.queue.put(item, block=block, timeout=timeout)

    @property
    def depth(self) -> int:
        return self.queue.qsize()

    @property
    def alive(self) -> bool:
        """The worker thread runs (false before start, after stop, or if something killed it)."""
        return self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> None:
        """Process everything already queued, then end the worker thread. Safe to call twice
        (a shutdown path and a signal handler may both call it) or before start()."""
        already, self._stopped = self._stopped, True
        if not self._thread.is_alive():
            return
        if not already:
            self.queue.put(_STOP)
        self._thread.join(timeout)

    def _collect(self) -> tuple[list[T], bool]:
        first = self.queue.get()
        if first is _STOP:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                item = self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._collect()
            if not batch:
                continue
            batch.sort(key=self.size_of)
            try:
                self.handler(batch)
            except Exception:  # a handler bug must not end the worker and strand the queue
                log.exception("batch handler failed on %d items", len(batch))
