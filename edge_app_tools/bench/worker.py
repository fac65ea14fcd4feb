"""One engine, one process: `python -m edge_app_tools.bench.worker SPEC.json OUT.json`, or
`... worker --paired SPEC_JSON FD` for batch 1 and batch 32 in turns with the other engines (bench/paired.py).

Running each engine in a fresh process keeps peak RSS and start-up time honest (no engine
inherits another's imports or memory) and is how a user would run it. The parent passes the
wall-clock time at which it spawned us, so "start to first prediction" includes interpreter
start and imports. Progress goes to stderr; the result goes to OUT.json.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from .stats import latency_summary, median

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `edge-app` itself does (edge_app/cli.py), before numpy loads


def _progress(name: str, message: str) -> None:
    print(f"  [{name}] {message}", file=sys.stderr, flush=True)


def _timed_calls(call: Callable[[], Any], iterations: int, repeats: int) -> tuple[list[float], list[float]]:
    """Per-call seconds, and calls/s for each of `repeats` equal slices of the iterations."""
    samples: list[float] = []
    rates: list[float] = []
    per_repeat = max(1, iterations // repeats)
    for _ in range(repeats):
        start_repeat = time.perf_counter()
        for _ in range(per_repeat):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        rates.append(per_repeat / (time.perf_counter() - start_repeat))
    return samples, rates


def _latency(engine, name: str, text: str, plan: dict[str, Any], iterations: int) -> dict[str, Any]:
    for _ in range(plan["warmup"]):
        engine.predict([text])
    engine.timer.seconds = 0.0
    start = time.perf_counter()
    samples, rates = _timed_calls(lambda: engine.predict([text]), iterations, plan["repeats"])
    elapsed = time.perf_counter() - start
    out = latency_summary(samples)
    out["texts_per_s"] = median(rates)
    out["tokenize_share"] = engine.timer.seconds / elapsed
    _progress(name, f"batch 1, {out['samples']} calls: p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms")
    return out


PACED_INTERVAL_S = 0.05  # 20 calls/s: the rate of the MQTT round-trip measurement


def _paced(engine, name: str, text: str, calls: int, interval_s: float = PACED_INTERVAL_S) -> dict[str, Any]:
    """Batch-1 latency with a pause before each call, as commands reach a device one by one.

    Back-to-back calls find the model's weights in the CPU caches and every thread awake; a
    call after a pause does not (on the dev VM a lone command took ~1.4 ms back to back and
    ~3 ms after 50 ms of sleep, and as long after 50 ms of busy-waiting: caches, not sleep
    states). The MQTT round trip at 20/s pays this, so this is the model figure to set it against."""
    samples: list[float] = []
    for _ in range(calls):
        time.sleep(interval_s)
        start = time.perf_counter()
        engine.predict([text])
        samples.append(time.perf_counter() - start)
    out = latency_summary(samples)
    out["interval_s"] = interval_s
    _progress(name, f"batch 1 at {1 / interval_s:.0f}/s, {calls} calls: p50 {out['p50_ms']:.2f} ms")
    return out


def _throughput(engine, name: str, texts: list[str], batch: int, plan: dict[str, Any]) -> dict[str, Any]:
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    engine.predict(chunks[0])  # warm-up: first call at a new shape allocates
    engine.predict(chunks[-1])
    rates: list[float] = []
    engine.timer.seconds = 0.0
    total = 0.0
    for _ in range(plan["repeats"]):
        start = time.perf_counter()
        for chunk in chunks:
            engine.predict(chunk)
        elapsed = time.perf_counter() - start
        total += elapsed
        rates.append(len(texts) / elapsed)
    out = {
        "texts_per_s": median(rates),
        "repeats": rates,
        "texts": len(texts),
        "tokenize_share": engine.timer.seconds / total,
    }
    _progress(name, f"batch {batch}, {len(texts)} texts x {plan['repeats']}: {out['texts_per_s']:.0f} texts/s")
    return out


IDLE_WINDOW_S = 3.0


def idle_cpu_after_call(call: Callable[[], Any], window_s: float = IDLE_WINDOW_S) -> float:
    """CPU seconds this process (all its threads) uses in the `window_s` after one call: what
    spinning worker threads burn on a board between messages. A sleeping process scores ~0."""
    call()
    start = time.process_time()
    time.sleep(window_s)
    return time.process_time() - start


def _accuracy(engine, sets: dict[str, Any], batch: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for set_name, data in sets.items():
        texts, labels = data["texts"], data["labels"]
        predicted: list[str] = []
        for i in range(0, len(texts), batch):
            predicted.extend(engine.predict(texts[i : i + batch]))
        correct = sum(p == y for p, y in zip(predicted, labels))
        out[set_name] = {
            "accuracy": correct / len(labels) if engine.accuracy_valid else None,
            "examples": len(labels),
            "predictions": predicted,
        }
    return out


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """The whole measurement plan for one engine; timings in seconds unless named _ms."""
    from .engines import build_engine

    name, plan, inputs = spec["engine"], spec["plan"], spec["inputs"]
    _progress(name, "loading")
    engine = build_engine(spec)
    loaded = time.time()
    engine.predict([inputs["short"]])
    first = time.time()
    _progress(name, f"first prediction {first - spec['spawned_at']:.2f} s after process start")
    result: dict[str, Any] = {
        "engine": name,
        "provider": engine.provider,
        "note": engine.note,
        "size_bytes": engine.size_bytes,
        "load_s": loaded - spec["spawned_at"],
        "first_prediction_s": first - spec["spawned_at"],
        "latency_short": _latency(engine, name, inputs["short"], plan, plan["iterations_short"]),
        "latency_long": _latency(engine, name, inputs["long"], plan, plan["iterations_long"]),
        "latency_paced": _paced(engine, name, inputs["short"], plan["paced_calls"]),
        "throughput": {str(b): _throughput(engine, name, inputs["batch"], b, plan) for b in plan["batch_sizes"]},
        "accuracy": _accuracy(engine, inputs["eval_sets"], max(plan["batch_sizes"])),
    }
    biggest = max(plan["batch_sizes"])
    result["idle_cpu_after_call_s"] = {  # keyed by batch size, like "throughput"
        "1": idle_cpu_after_call(lambda: engine.predict([inputs["short"]])),
        str(biggest): idle_cpu_after_call(lambda: engine.predict(inputs["batch"][:biggest])),
    }
    _progress(
        name,
        "CPU in the {:.0f} s after a call: batch 1 {:.1f} ms, batch {} {:.1f} ms".format(
            IDLE_WINDOW_S,
            1000 * result["idle_cpu_after_call_s"]["1"],
            biggest,
            1000 * result["idle_cpu_after_call_s"][str(biggest)],
        ),
    )
    result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return result


def paired(spec: dict[str, Any], reply_fd: int) -> int:
    """Load the engine, say ready, then for each line "CALLS WARMUP [BATCH]" on stdin make WARMUP
    untimed and CALLS timed calls, and reply with the timed calls' milliseconds; end of stdin ends
    the worker. Without BATCH a call is the short command alone; with it, call k classifies texts
    k*BATCH .. (k+1)*BATCH-1 of the spec's batch texts (cycled), the same texts for every engine.
    One JSON line per reply on `reply_fd` ({"error": ...} if the engine cannot run here)."""
    from edge_app.errors import EdgeAppError

    from .engines import build_engine

    with os.fdopen(reply_fd, "w", encoding="utf-8") as replies:

        def reply(obj: dict[str, Any]) -> None:
            replies.write(json.dumps(obj) + "\n")
            replies.flush()

        try:
            engine = build_engine(spec)
        except (RuntimeError, EdgeAppError) as exc:  # a missing extra, a bad folder: one line, as main() does
            reply({"error": str(exc)})
            return 0
        text = spec["inputs"]["short"]
        for _ in range(spec["plan"]["warmup"]):
            engine.predict([text])
        reply({"ready": spec["engine"]})
        for line in sys.stdin:  # "CALLS WARMUP [BATCH]"
            calls, warmup, *batch = (int(v) for v in line.split())
            batches = _batches(spec["inputs"].get("batch") or [text], batch[0]) if batch else [[text]]
            for k in range(warmup):
                engine.predict(batches[k % len(batches)])
            order = itertools.cycle(batches)  # timed call k gets batch k, as for every engine
            samples, _rates = _timed_calls(lambda order=order: engine.predict(next(order)), calls, 1)
            reply({"ms": [1000.0 * s for s in samples]})
    return 0


def _batches(texts: list[str], size: int) -> list[list[str]]:
    """`texts` cut into calls of `size`, the last one filled from the start (every call full)."""
    count = max(1, -(-len(texts) // size))
    return [[texts[(k * size + i) % len(texts)] for i in range(size)] for k in range(count)]


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--paired":
        return paired(json.loads(argv[1]), int(argv[2]))
    spec_path, out_path = argv
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    try:
        result = run(spec)
    except RuntimeError as exc:  # an engine that cannot run here: a missing extra, a bad folder
        result = {"engine": spec["engine"], "error": str(exc)}
    except Exception as exc:  # EdgeAppError and friends: report the one line, not a traceback
        from edge_app.errors import EdgeAppError

        if not isinstance(exc, EdgeAppError):
            raise
        result = {"engine": spec["engine"], "error": str(exc)}
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
