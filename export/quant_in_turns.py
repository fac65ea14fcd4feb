"""Two bundles of one model, timed in turns through the product's Classifier (docs/benchmarks.md).

    python -m export.quant_in_turns NEW_BUNDLE OLD_BUNDLE [--cycles 30] [--json out.json]

Each cycle times NEW then OLD (then OLD then NEW on the next cycle): 20 batch-1 calls of one short
command on the latency session, and 4 batch-32 calls over the test split's texts. A host that
slows down for a while slows both alike, so the per-cycle ratio (OLD time / NEW time: above 1 means
NEW is faster) is what to read; the table prints its median and quartiles, and the median of the
same ratio in CPU time (steadier on a busy host).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from edge_app.classifier import Classifier

from .data import DEFAULT_TEST_FILES, load_many

SHORT = "turn on the kitchen lights"
BATCH_1_CALLS = 20
BATCH_32_CALLS = 4


def _timed(call: Callable[[], object], times: int) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds (every thread) for `times` calls: on a busy host
    the CPU seconds move less, since waiting for a core costs wall time only."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(times):
        call()
    return time.perf_counter() - wall, time.process_time() - cpu


def in_turns(new: Classifier, old: Classifier, texts: list[str], cycles: int) -> dict[str, dict[str, float]]:
    """Per-cycle ratios old/new (wall and CPU time) for batch 1 and batch 32, after untimed
    warm-up calls of both."""
    batches = [texts[i : i + 32] for i in range(0, 32 * BATCH_32_CALLS, 32)]
    work = {
        "batch 1": lambda c: _timed(lambda: c.classify([SHORT]), BATCH_1_CALLS),
        "batch 32": lambda c: _timed(lambda: [c.classify(b) for b in batches], 1),
    }
    for clf in (new, old):
        for run in work.values():
            run(clf)
    ratios: dict[str, list[tuple[float, float]]] = {name: [] for name in work}
    for cycle in range(cycles):
        for name, run in work.items():
            pair = (new, old) if cycle % 2 == 0 else (old, new)
            spent = {id(c): run(c) for c in pair}
            ratios[name].append(tuple(o / n for o, n in zip(spent[id(old)], spent[id(new)])))
    out = {}
    for name, pairs in ratios.items():
        wall, cpu = [p[0] for p in pairs], [p[1] for p in pairs]
        out[name] = {
            "median": statistics.median(wall),
            "q1": statistics.quantiles(wall, n=4)[0],
            "q3": statistics.quantiles(wall, n=4)[2],
            "cpu_median": statistics.median(cpu),
            "cycles": len(wall),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", type=Path)
    parser.add_argument("old", type=Path)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    texts = [e.text for e in load_many(DEFAULT_TEST_FILES)]
    new, old = Classifier.load(args.new, device="cpu"), Classifier.load(args.old, device="cpu")
    result = in_turns(new, old, texts, args.cycles)
    print(
        f"| calls | {args.new.name} is ... as fast as {args.old.name} (median, wall) | quartiles | by CPU time | cycles |"
    )
    print("|---|---|---|---|---|")
    for name, r in result.items():
        print(f"| {name} | {r['median']:.3f}x | {r['q1']:.3f}-{r['q3']:.3f} | {r['cpu_median']:.3f}x | {r['cycles']} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
