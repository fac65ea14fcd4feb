"""Before/after of the thread policy, in one run: `python -m edge_app_tools.bench.policy BUNDLE [ROUNDS] [OUT.json] [THREADS]`.

"one session" is the old way (every call on one session with all threads); "policy" is
Classifier's default (a one-thread session for a lone short text, all threads for bigger
calls); "one session, spinning" is the reference for the idle-CPU figure. Each measurement runs in a fresh process, the two alternating round by round, so a
burst of other work on a shared machine hits both alike; medians over rounds and the
after/before ratios go to stdout and the JSON.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from edge_app.bundle import Bundle
from edge_app.classifier import Classifier

from .stats import median
from .texts import build_inputs
from .worker import idle_cpu_after_call

# name -> (latency_session, spin); spinning is the reference the idle-CPU figure must catch
POLICIES = {"one session": (False, False), "policy": (True, False), "one session, spinning": (False, True)}


def _p50_ms(call, iterations: int) -> float:
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return 1000 * median(samples)


def _rss_now() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def measure(bundle_dir: str, latency_session: bool, spin: bool, threads: int | None) -> dict[str, Any]:
    """One process's figures for one policy."""
    inputs = build_inputs(Bundle.load(bundle_dir, verify=False), None, 64)
    clf = Classifier.load(
        bundle_dir, device="cpu", verify=False, threads=threads, spin=spin, latency_session=latency_session
    )
    short, long_text, batch = inputs["short"], inputs["long"], inputs["batch"][:32]
    for _ in range(30):
        clf.classify([short])
    clf.classify(batch)
    start, n = time.perf_counter(), 12
    for _ in range(n):
        clf.classify(batch)
    texts_per_s = n * len(batch) / (time.perf_counter() - start)
    return {
        "batch1_short_p50_ms": _p50_ms(lambda: clf.classify([short]), 400),
        "batch1_long_p50_ms": _p50_ms(lambda: clf.classify([long_text]), 60),
        "batch32_texts_per_s": texts_per_s,
        "rss_bytes": _rss_now(),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "idle_cpu_after_batch1_s": idle_cpu_after_call(lambda: clf.classify([short])),
        "idle_cpu_after_batch32_s": idle_cpu_after_call(lambda: clf.classify(batch)),
    }


def _load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def compare(bundle_dir: str, rounds: int, threads: int | None) -> dict[str, Any]:
    """Alternating child processes; every round's figures kept, medians and ratios on top."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in POLICIES}
    for r in range(rounds):
        for name, (lone, spin) in POLICIES.items() if r % 2 == 0 else reversed(list(POLICIES.items())):
            load = _load_average()
            child = ["--child", bundle_dir, str(int(lone)), str(int(spin)), str(threads or 0)]
            out = subprocess.run(
                [sys.executable, "-m", "edge_app_tools.bench.policy", *child],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append({**json.loads(out.stdout), "load_average_before": load})
            print(f"round {r + 1}/{rounds} {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
    medians = {name: {k: median([run[k] for run in rs]) for k in rs[0]} for name, rs in runs.items()}
    before, after = medians["one session"], medians["policy"]
    ratios = {
        "batch1_short_speedup": before["batch1_short_p50_ms"] / after["batch1_short_p50_ms"],
        "batch1_long_speedup": before["batch1_long_p50_ms"] / after["batch1_long_p50_ms"],
        "batch32_throughput_ratio": after["batch32_texts_per_s"] / before["batch32_texts_per_s"],
        "rss_extra_mib": (after["rss_bytes"] - before["rss_bytes"]) / 2**20,
    }
    return {"rounds": rounds, "threads": threads, "runs": runs, "medians": medians, "ratios": ratios}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(measure(argv[1], bool(int(argv[2])), bool(int(argv[3])), int(argv[4]) or None)))
        return 0
    bundle_dir, rounds = argv[0], int(argv[1]) if len(argv) > 1 else 5
    threads = int(argv[3]) if len(argv) > 3 else None
    result = compare(bundle_dir, rounds, threads)
    for name, m in result["medians"].items():
        print(f"{name:12s} " + ", ".join(f"{k} {v:.4g}" for k, v in m.items()))
    print("ratios (after/before): " + ", ".join(f"{k} {v:.3f}" for k, v in result["ratios"].items()))
    if len(argv) > 2:
        Path(argv[2]).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
