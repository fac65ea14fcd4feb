"""The guard every callback and worker thread runs in, and the watchdog behind it.

paho 2.x re-raises an exception from a callback, which ends its network thread: from then on
nothing is read, while the process (and the retained `online`) lives on. So every callback and
every worker loop body runs inside `guarded`: the exception is logged with its traceback,
counted in `internal_errors` on `<prefix>/metrics`, and the thread carries on.

If a thread the service cannot live without ends anyway (something no guard can catch, or a bug
in the guard itself), the watchdog exits the process with EXIT_THREAD_DIED within about a
second: systemd restarts it, and because the socket closes without DISCONNECT the broker
publishes the Last Will (`offline`).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from .metrics import Metrics

log = logging.getLogger(__name__)
EXIT_THREAD_DIED = 70  # EX_SOFTWARE
F = TypeVar("F", bound=Callable[..., object])


def guarded(name: str, metrics: Metrics) -> Callable[[F], F]:
    """Decorator: run the function, but log, count and swallow any Exception it raises."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception:
                metrics.count("internal_errors")
                log.exception("internal error in %s (counted in internal_errors; carrying on)", name)
                return None

        return call  # type: ignore[return-value]

    return wrap


def _exit_now(reason: str) -> None:
    """Leave at once: no cleanup that could hang on a lock the dead thread held."""
    log.critical("%s; exiting with status %d so the supervisor restarts the service", reason, EXIT_THREAD_DIED)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe must not keep us alive
            pass
    os._exit(EXIT_THREAD_DIED)


class Watchdog:
    """Checks that the vital threads live; if one does not (and we are not stopping), exits."""

    def __init__(
        self,
        checks: dict[str, Callable[[], bool]],
        stopping: Callable[[], bool],
        interval: float = 0.5,
        on_dead: Callable[[str], None] = _exit_now,
    ):
        self.checks = checks
        self.stopping = stopping
        self.interval = interval
        self.on_dead = on_dead
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def dead(self) -> list[str]:
        return [name for name, alive in self.checks.items() if not alive()]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.stopping():
                return
            try:
                dead = self.dead()
            except Exception:
                log.exception("watchdog check failed")
                dead = ["watchdog check"]
            if dead and not self.stopping():
                self.on_dead(f"vital thread(s) ended: {', '.join(dead)}")
                return
