"""Percentiles and medians, the only statistics the report uses."""

from __future__ import annotations

import statistics


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), as numpy's default does."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "mean_ms": statistics.fmean(ms),
        "samples": len(ms),
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def median_merge(runs: list[dict]) -> dict:
    """Merge results of the same shape from several rounds: median of every number, the first
    value of everything else. Lists (per-repeat rates) are kept from every round, concatenated."""
    first = runs[0]
    out: dict = {}
    for key, value in first.items():
        values = [run[key] for run in runs if key in run]
        if isinstance(value, bool) or value is None or isinstance(value, str):
            out[key] = value
        elif isinstance(value, (int, float)) and all(isinstance(v, (int, float)) for v in values):
            out[key] = statistics.median(values)
        elif isinstance(value, dict) and all(isinstance(v, dict) for v in values):
            out[key] = median_merge(values)
        elif isinstance(value, list):
            out[key] = [item for v in values for item in v]
        else:
            out[key] = value
    return out
