"""`edge-app bench`: latency, throughput, memory, accuracy and MQTT numbers a board owner can trust.

Every engine runs in its own process on the same texts, with the same thread count, after a
warm-up, and reports medians over repeats; the hardware goes into the header. Modules:
hardware (the machine), texts (the inputs), engines + worker + runner (one process per
engine), peak (distance to the CPU's int8 limit), mqtt_load (end to end through a broker),
goals (the issue's targets) and report (table, JSON, PNG).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

from edge_app.errors import ConfigError

FULL = {
    "warmup": 20,
    "iterations_short": 200,
    "iterations_long": 100,
    "repeats": 5,
    "batch_texts": 256,
    "mqtt_count": 2000,
    "mqtt_rates": "250,500,1000,max",
    "rtt_count": 200,
    "paced_calls": 40,
    "paired_cycles": 30,
    "paired_calls": 20,
    "paired32_cycles": 20,
    "paired32_calls": 8,
}
QUICK = {
    "warmup": 3,
    "iterations_short": 20,
    "iterations_long": 6,
    "repeats": 2,
    "batch_texts": 64,
    "mqtt_count": 100,
    "mqtt_rates": "max",
    "rtt_count": 20,
    "paced_calls": 5,
    "paired_cycles": 3,
    "paired_calls": 5,
    "paired32_cycles": 2,
    "paired32_calls": 2,
}
BATCH_SIZES = [8, 32]
ENGINE_ORDER = ("int8", "fp32", "optimum", "torch")


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", required=True, type=Path, help="the (int8) bundle to benchmark")
    p.add_argument("--compare", type=Path, help="fp32 bundle of the same model (written by --fp32-out)")
    p.add_argument(
        "--baseline",
        action="append",
        choices=["torch", "optimum"],
        default=[],
        help="also run PyTorch eager / Optimum's pipeline (export extra); repeatable. "
        "optimum runs anyway when the export extra is installed, unless --no-optimum",
    )
    p.add_argument("--no-optimum", action="store_true", help="skip the Optimum pipeline engine")
    p.add_argument(
        "--torch-model",
        help="HF checkpoint folder the bundle was exported from, for the torch engine "
        "(default: a random MiniLM-L6-shaped model fed the bundle's tokens: speed only)",
    )
    p.add_argument(
        "--mqtt", metavar="BROKER_URL", help="also measure end to end through this broker (mqtt://host:port)"
    )
    p.add_argument("--json", type=Path, help="write every number to this JSON file")
    p.add_argument("--plot", type=Path, help="write bar charts to this PNG (needs matplotlib: the bench extra)")
    p.add_argument("--threads", type=int, help="threads per engine (default: physical cores)")
    p.add_argument(
        "--spin",
        action="store_true",
        help="build the product's sessions with onnxruntime spinning on (Classifier spin, serve --spin)",
    )
    p.add_argument("--eval", type=Path, help="CSV/JSONL of text,label for accuracy (default: the shipped test split)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every engine this many times, interleaved, and report medians (a noisy machine: 3)",
    )
    p.add_argument("--quick", action="store_true", help="few iterations: a smoke test, not a measurement")
    p.add_argument("--warmup", type=int, help=f"untimed calls before each batch-1 series (default {FULL['warmup']})")
    p.add_argument(
        "--iterations", type=int, help=f"timed batch-1 calls, short command (default {FULL['iterations_short']})"
    )
    p.add_argument(
        "--long-iterations", type=int, help=f"timed batch-1 calls, long text (default {FULL['iterations_long']})"
    )
    p.add_argument("--repeats", type=int, help=f"repeats for throughput, medians reported (default {FULL['repeats']})")
    p.add_argument("--batch-texts", type=int, help=f"texts per throughput repeat (default {FULL['batch_texts']})")
    p.add_argument("--mqtt-count", type=int, help=f"messages per sustained-rate step (default {FULL['mqtt_count']})")
    p.add_argument("--mqtt-rates", help=f"offered rates per step, 'max' = unthrottled (default {FULL['mqtt_rates']})")
    p.add_argument("--max-wait-ms", type=float, help="passed to the bench's `edge-app serve` (default: serve's own)")
    p.add_argument(
        "--rtt-count", type=int, help=f"messages for round-trip latency at 20/s (default {FULL['rtt_count']})"
    )


def _plan(args: argparse.Namespace, threads: int) -> dict[str, Any]:
    base = QUICK if args.quick else FULL
    pick = lambda name: getattr(args, name) if getattr(args, name) is not None else base[name]
    plan = {
        "quick": args.quick,
        "threads": threads,
        "batch_sizes": BATCH_SIZES,
        "warmup": pick("warmup"),
        "iterations_short": args.iterations if args.iterations is not None else base["iterations_short"],
        "iterations_long": args.long_iterations if args.long_iterations is not None else base["iterations_long"],
        "repeats": pick("repeats"),
        "batch_texts": pick("batch_texts"),
        "rounds": args.rounds,
        "spin": args.spin,
        "paced_calls": base["paced_calls"],
        "paired_cycles": base["paired_cycles"],
        "paired_calls": base["paired_calls"],
        "paired32_cycles": base["paired32_cycles"],
        "paired32_calls": base["paired32_calls"],
    }
    if min(plan["iterations_short"], plan["iterations_long"], plan["repeats"], plan["batch_texts"], plan["rounds"]) < 1:
        raise ConfigError("--iterations, --long-iterations, --repeats, --batch-texts and --rounds must be at least 1")
    try:
        rates = [None if r.strip() == "max" else float(r) for r in pick("mqtt_rates").split(",") if r.strip()]
    except ValueError:
        raise ConfigError(
            f"--mqtt-rates takes numbers and 'max' separated by commas, not {args.mqtt_rates!r}"
        ) from None
    plan["mqtt"] = {
        "count": pick("mqtt_count"),
        "rates": rates,
        "rtt_rate": 20.0,
        "rtt_count": pick("rtt_count"),
        "max_batch": max(BATCH_SIZES),
        "max_wait_ms": args.max_wait_ms,
        "spin": args.spin,
    }
    return plan


def _export_extra() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "optimum"))


def _engines(args: argparse.Namespace) -> list[str]:
    wanted = {"int8"} | set(args.baseline)
    if args.compare:
        wanted.add("fp32")
    if args.no_optimum:
        wanted.discard("optimum")
    elif _export_extra():
        wanted.add("optimum")
    missing = [b for b in ("torch", "optimum") if b in wanted and not _export_extra()]
    if missing:
        raise ConfigError(
            f"--baseline {missing[0]} needs the export extra (torch, transformers, optimum); "
            "pip install -e .[export], or drop the flag"
        )
    return [name for name in ENGINE_ORDER if name in wanted]


class _Progress:
    """Plain lines on stderr with the elapsed time: works in a terminal, a log and CI alike."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self.start:6.1f}s] {message}", file=sys.stderr, flush=True)


def _load_average() -> list[float] | None:
    """1/5/15-minute load: a busy machine is the first suspect for a surprising number."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _agreement(engines: dict[str, Any]) -> dict[str, float]:
    """Share of test texts where int8 and fp32 pick the same label (argmax agreement)."""
    int8, fp32 = engines.get("int8", {}), engines.get("fp32", {})
    out = {}
    for name, data in int8.get("accuracy", {}).items():
        other = fp32.get("accuracy", {}).get(name)
        if other:
            pairs = list(zip(data["predictions"], other["predictions"]))
            out[name] = sum(a == b for a, b in pairs) / len(pairs)
    return out


def _validation(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """What the export measured on its test split and chose on its validation split."""
    ev, cal = manifest.get("eval") or {}, manifest.get("calibration") or {}
    keys = (
        "source",
        "examples",
        "in_scope_accuracy",
        "out_of_scope_recall",
        "ece",
        "ece_uncalibrated",
        "rejected",
        "per_label",
    )
    if "in_scope_accuracy" not in ev:
        return None
    return {
        **{k: ev.get(k) for k in keys},
        "detector": cal.get("method"),
        "threshold": cal.get("threshold"),
        "temperature": cal.get("temperature"),
    }


def _drop_predictions(engines: dict[str, Any]) -> None:
    for engine in engines.values():
        for data in engine.get("accuracy", {}).values():
            data.pop("predictions", None)


def run_bench(args: argparse.Namespace) -> int:
    from edge_app.bundle import Bundle
    from edge_app.session import physical_cores

    progress = _Progress()
    bundle = Bundle.load(args.bundle)
    compare = Bundle.load(args.compare) if args.compare else None
    if compare is not None and compare.labels != bundle.labels:
        raise ConfigError(
            f"--compare {args.compare} has other labels than {args.bundle}; pass the fp32 twin of the bundle"
        )
    names = _engines(args)
    plan = _plan(args, args.threads or physical_cores())
    if args.mqtt:
        from .mqtt_load import check_broker

        check_broker(args.mqtt)  # before minutes of engine runs, not after
    progress(f"engines: {', '.join(names)}; {plan['threads']} threads; {'quick' if args.quick else 'full'} run")
    results = _measure(args, bundle, compare, names, plan, progress)
    _write(args, results, progress)
    failed = any("error" in e for e in results["engines"].values()) or "error" in results.get("mqtt", {})
    return 1 if failed else 0


def _in_turns(
    args: argparse.Namespace, bundle, compare, names: list[str], plan: dict[str, Any], inputs: dict[str, Any], progress
) -> dict[str, Any]:
    """paired_batch1 and paired_batch32: the engines loaded at once and called in turns
    (bench/paired.py). A step that fails is reported in its key; the rest of the run stands."""
    from . import paired

    biggest = max(BATCH_SIZES)
    steps = {  # key: (calls of, cycles, calls per block, untimed calls per block, inputs the workers need)
        "paired_batch1": (
            1,
            plan["paired_cycles"],
            plan["paired_calls"],
            paired.WARMUP_CALLS,
            {"short": inputs["short"]},
        ),
        f"paired_batch{biggest}": (
            biggest,
            plan["paired32_cycles"],
            plan["paired32_calls"],
            1,
            {"short": inputs["short"], "batch": inputs["batch"]},
        ),
    }
    results: dict[str, Any] = {}
    for key, (batch, cycles, calls, warmup, needed) in steps.items():
        # The spec travels on the worker's command line: only what the step needs, no eval sets.
        specs = [
            {
                **_engine_spec(args, bundle, compare, name, plan, inputs),
                "plan": {"warmup": plan["warmup"]},
                "inputs": needed,
            }
            for name in names
        ]
        try:
            results[key] = paired.measure(specs, cycles, calls, progress, batch=batch, warmup=warmup)
        except RuntimeError as exc:
            progress(f"batch {batch} in turns failed: {exc}")
            results[key] = {"error": str(exc)}
    return results


def _measure(
    args: argparse.Namespace, bundle, compare, names: list[str], plan: dict[str, Any], progress
) -> dict[str, Any]:
    """Every engine in its own process, then the peak estimate and the MQTT run."""
    from .hardware import describe_hardware, runtime_versions
    from .noise import host_speed, other_load, reference_speed, snapshot
    from .onnx_graph import matmul_weights
    from .peak import int8_peak
    from .runner import run_engine
    from .stats import median_merge
    from .texts import build_inputs

    inputs = build_inputs(bundle, args.eval, plan["batch_texts"])
    load_start, cpu_start = _load_average(), snapshot()
    results: dict[str, Any] = {
        "format": 1,
        "command": ["edge-app", *sys.argv[1:]],
        "hardware": describe_hardware(),
        "runtime": runtime_versions(),
        "plan": plan,
        "bundle": {
            "path": str(bundle.path),
            "name": bundle.name,
            "sha256": bundle.sha256,
            "model_bytes": bundle.model_path.stat().st_size,
            "compare": None if compare is None else {"path": str(compare.path), "sha256": compare.sha256},
            "validation": _validation(bundle.manifest),
        },
        "inputs": inputs,
        "engines": {},
    }
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    probes: list[float] = []  # the host's speed before each round and after the last
    for r in range(plan["rounds"]):  # interleaved, so a burst of other work hits every engine alike
        probes.append(reference_speed())
        for n, name in enumerate(names, 1):
            load = _load_average()
            where = f"round {r + 1}/{plan['rounds']}, " if plan["rounds"] > 1 else ""
            progress(f"{where}engine {n}/{len(names)}: {name} (load average {load[0] if load else 'n/a'})")
            spec = _engine_spec(args, bundle, compare, name, plan, inputs)
            rounds[name].append({**run_engine(spec), "load_average_before": load[0] if load else None})
    for name, runs in rounds.items():
        failed = [run for run in runs if "error" in run]
        results["engines"][name] = failed[0] if failed else median_merge(runs)
    ok = [name for name in names if "error" not in results["engines"][name]]
    if len(ok) > 1:  # every engine against the same host, call block by call block
        results.update(_in_turns(args, bundle, compare, ok, plan, inputs, progress))
    # noise over the engine runs only: during the MQTT run the broker is expected to work too
    probes.append(reference_speed())
    results["noise"] = {
        "load_average_start": load_start,
        "load_average_end": _load_average(),
        **other_load(cpu_start, snapshot(), results["hardware"]["cores_logical"]),
        **host_speed(probes),
    }
    int8 = results["engines"]["int8"]
    biggest = str(max(BATCH_SIZES))
    b32 = None if "error" in int8 else int8["throughput"][biggest]["texts_per_s"]
    weights = matmul_weights(bundle.model_path)
    results["peak"] = int8_peak(results["hardware"], weights.int8, inputs["batch_padded_tokens"][biggest], b32)
    if args.mqtt:
        mqtt_start = snapshot()
        results["mqtt"] = _mqtt(args, bundle, inputs, plan, progress)
        # the serve processes are our children; a broker on this machine counts as "other"
        results["mqtt"]["noise"] = other_load(mqtt_start, snapshot(), results["hardware"]["cores_logical"])
    return results


def _engine_spec(
    args: argparse.Namespace, bundle, compare, name: str, plan: dict[str, Any], inputs: dict[str, Any]
) -> dict[str, Any]:
    """What a worker process needs to build and measure one engine."""
    bundle_dir = compare.path if name == "fp32" and compare else bundle.path
    return {
        "engine": name,
        "bundle_dir": str(bundle_dir),
        "threads": plan["threads"],
        "spin": plan["spin"],
        "torch_model": args.torch_model,
        "plan": plan,
        "inputs": inputs,
    }


def _write(args: argparse.Namespace, results: dict[str, Any], progress) -> None:
    """Goals, then the table on stdout, the JSON and the plot."""
    from . import report
    from .goals import evaluate

    results["agreement_int8_fp32"] = _agreement(results["engines"])
    _drop_predictions(results["engines"])
    for data in results["inputs"]["eval_sets"].values():  # the files are named; no need to repeat their texts
        data["examples"] = len(data.pop("texts"))
        del data["labels"]
    results["goals"] = evaluate(results)
    sys.stdout.write(report.render(results))
    sys.stdout.flush()
    if args.json:
        report.write_json(results, args.json)
        progress(f"wrote {args.json}")
    if args.plot:
        note = report.write_plot(results, args.plot)
        progress(note or f"wrote {args.plot}")


def _mqtt(args: argparse.Namespace, bundle, inputs: dict[str, Any], plan: dict[str, Any], progress) -> dict[str, Any]:
    from edge_app.errors import BrokerError

    from .mqtt_load import run_mqtt

    try:
        return run_mqtt(
            str(bundle.path), args.mqtt, plan["threads"], inputs["short"], inputs["batch"], plan["mqtt"], progress
        )
    except BrokerError as exc:
        progress(f"MQTT run failed: {exc}")
        return {"broker": args.mqtt, "error": str(exc)}
