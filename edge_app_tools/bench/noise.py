"""Was the machine quiet? CPU time used by everything but the bench, over the bench's run, and
the speed of a fixed piece of work before each round.

A shared or noisy machine (other jobs, a hypervisor stealing time) skews every number, and
medians only hide part of it. /proc/stat gives busy time for the whole machine; our own and
our finished children's CPU time comes from getrusage; the difference is other work.

A virtual machine's host can also slow every vCPU (another tenant on the same physical cores,
lower clocks) without any of that showing inside: on 2026-12-04 the bench called a run quiet
(0.2 % other work, 0.1 % steal) while int8 batch 32 went 1,200 -> 875 -> 967 texts/s over its
rounds (docs/benchmarks.md). A fixed loop timed before each round and after the last sees it.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from typing import Any

REFERENCE_STEPS = 200_000  # one rep of the reference loop: ~10-20 ms of one core on a 2020s x86 core
REFERENCE_REPS = 9
STEADY_SPREAD = 0.10  # the slowest probe at most 10 % slower than the fastest: the host kept its speed
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


def _loop_speed(steps: int, reps: int) -> float:
    """Reps per second of a fixed integer loop, the median of `reps` (a stray interrupt does not
    count; a host that slows the vCPU for the whole probe does)."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        total = 0
        for i in range(steps):
            total += i * i
        times.append(time.perf_counter() - start)
    times.sort()
    return 1.0 / times[len(times) // 2]


def reference_speed(steps: int = REFERENCE_STEPS, reps: int = REFERENCE_REPS) -> float:
    """The fixed loop's speed on the slowest core this process may use: pinned to each in turn
    (Linux), since a host may slow one vCPU only and a two-thread call waits for the slower."""
    if not hasattr(os, "sched_setaffinity"):
        return _loop_speed(steps, reps)
    allowed = os.sched_getaffinity(0)
    try:
        speeds = []
        for cpu in sorted(allowed):
            os.sched_setaffinity(0, {cpu})
            speeds.append(_loop_speed(steps, reps))
        return min(speeds)
    finally:
        os.sched_setaffinity(0, allowed)


def host_speed(probes: list[float]) -> dict[str, Any]:
    """The probes relative to the fastest, and whether the host kept its speed throughout."""
    if not probes or min(probes) <= 0:
        return {"reference_relative": [], "reference_spread_percent": None, "host_steady": None}
    fastest = max(probes)
    spread = 1.0 - min(probes) / fastest
    return {
        "reference_relative": [round(p / fastest, 3) for p in probes],
        "reference_spread_percent": round(100.0 * spread, 1),
        "host_steady": spread <= STEADY_SPREAD,
    }
