"""edge_app/mqtt/guard.py: the guard (counts and swallows) and the watchdog (reports a dead thread)."""

from __future__ import annotations

import threading
import time

from edge_app.mqtt.guard import Watchdog, guarded
from edge_app.mqtt.metrics import Metrics


def test_guard_counts_and_swallows():
    metrics = Metrics()
    assert guarded("x", metrics)(lambda: 1 / 0)() is None
    assert metrics.counters["internal_errors"] == 1


def test_watchdog_reports_a_dead_thread():
    dead = []
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    dog = Watchdog({"worker": thread.is_alive}, stopping=lambda: False, interval=0.05, on_dead=dead.append).start()
    deadline = time.monotonic() + 5
    while not dead and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dead and "worker" in dead[0]
    dog.stop()
