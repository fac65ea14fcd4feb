"""Was the machine quiet? CPU time used by everything but the bench, over the bench's run.

A shared or noisy machine (other jobs, a hypervisor stealing time) skews every number, and
medians only hide part of it. /proc/stat gives busy time for the whole machine; our own and
our finished children's CPU time comes from getrusage; the difference is other work.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuSnapshot:
    wall: float
    busy: float | None  # seconds of CPU busy on the whole machine (steal excluded)
    steal: float | None
    ours: float  # seconds of CPU used by this process and its waited-for children


def _proc_stat() -> tuple[float, float] | tuple[None, None]:
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None, None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / TICKS, steal / TICKS


def snapshot() -> CpuSnapshot:
    busy, steal = _proc_stat()
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = self_usage.ru_utime + self_usage.ru_stime + children.ru_utime + children.ru_stime
    return CpuSnapshot(time.monotonic(), busy, steal, ours)


def other_load(start: CpuSnapshot, end: CpuSnapshot, cores: int) -> dict[str, Any]:
    """Share of the machine's CPU capacity that others (and the hypervisor) took meanwhile."""
    capacity = max(1e-9, (end.wall - start.wall) * cores)
    if start.busy is None or end.busy is None or start.steal is None or end.steal is None:
        return {"other_percent": None, "steal_percent": None}
    other = (end.busy - start.busy) - (end.ours - start.ours)
    return {
        "other_percent": round(max(0.0, 100.0 * other / capacity), 1),
        "steal_percent": round(100.0 * (end.steal - start.steal) / capacity, 1),
    }
