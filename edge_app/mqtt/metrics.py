"""Counters and latency figures for `<prefix>/metrics`, the service's health at a glance."""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def cpu_temperature() -> float | None:
    """Degrees Celsius where the board exposes it (Pi, Jetson), else None."""
    try:
        return round(int(THERMAL_ZONE.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


class Metrics:
    def __init__(self, window: int = 2048):
        self.started = time.monotonic()
        self._lock = threading.Lock()
        # internal_errors: exceptions the guard caught (guard.py); puback_refused: results the broker
        # refused (publisher.py); model_errors: batches the model failed on (each retried alone).
        self.counters = {
            "messages_in": 0,
            "results_out": 0,
            "errors": 0,
            "internal_errors": 0,
            "model_errors": 0,
            "puback_refused": 0,
        }
        self._latencies: deque[float] = deque(maxlen=window)
        self._last_time = self.started
        self._last_results = 0

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + n

    def latency(self, ms: float) -> None:
        with self._lock:
            self._latencies.append(ms)

    def snapshot(self, extra: dict[str, Any]) -> dict[str, Any]:
        """A JSON-ready view; messages/s is over the time since the previous snapshot."""
        now = time.monotonic()
        with self._lock:
            lat = np.array(self._latencies) if self._latencies else None
            results = self.counters["results_out"]
            rate = (results - self._last_results) / max(1e-6, now - self._last_time)
            self._last_time, self._last_results = now, results
            counters = dict(self.counters)
        return {
            **counters,
            "latency_p50_ms": round(float(np.percentile(lat, 50)), 2) if lat is not None else None,
            "latency_p95_ms": round(float(np.percentile(lat, 95)), 2) if lat is not None else None,
            "messages_per_s": round(rate, 2),
            "uptime_s": round(now - self.started, 1),
            "cpu_temp_c": cpu_temperature(),
            **extra,
        }
