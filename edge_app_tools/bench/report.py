"""The bench's outputs: a plain-text table for people, JSON for machines, a PNG when
matplotlib is installed. Formatting only; every number arrives already measured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .engines import ENGINE_TITLES

MIB = 1024 * 1024
Row = tuple[str, Callable[[dict[str, Any]], Any], str]


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return format(value, spec)


def header_lines(results: dict[str, Any]) -> list[str]:
    hw, rt, bundle, inputs, plan = (results[k] for k in ("hardware", "runtime", "bundle", "inputs", "plan"))
    clock = f"{hw['clock_mhz']:.0f} MHz" if hw.get("clock_mhz") else "clock unknown"
    board = hw.get("board_model") or "none (no /proc/device-tree/model)"
    providers = sorted({e.get("provider", "") for n, e in results["engines"].items() if n in ("int8", "fp32")} - {""})
    return [
        f"edge-app bench: {bundle['name']} (bundle sha256 {bundle['sha256'][:16]}, model.onnx {bundle['model_bytes'] / MIB:.1f} MiB)",
        f"cpu:      {hw['cpu_model']} ({hw['machine']}), {hw['cores_physical']} physical / {hw['cores_logical']} logical "
        f"cores, {clock}, int8 SIMD: {', '.join(hw['flags']) or 'none found'}; core: {hw.get('cpu_core', 'unknown')}",
        f"board:    {board}",
        f"runtime:  onnxruntime {rt['onnxruntime']} ({', '.join(providers) or 'provider n/a'}), python {hw['python']}, "
        f"kernel {hw['kernel']}, {plan['threads']} threads per engine, "
        f"product sessions spinning {'within and between calls (--spin)' if plan.get('spin') else 'within calls only (default)'}",
        f"inputs:   short command {inputs['short_tokens']} tokens, long text {inputs['long_tokens']} tokens, "
        f"{len(inputs['batch'])} batch texts (mean {inputs['batch_mean_tokens']:.1f} tokens{_padding(inputs)}); "
        f"warm-up {plan['warmup']}, "
        f"{plan['iterations_short']}/{plan['iterations_long']} batch-1 calls, {plan['repeats']} repeats"
        f"{', ' + str(plan['rounds']) + ' interleaved rounds' if plan.get('rounds', 1) > 1 else ''} (medians)",
        _noise_line(results.get("noise") or {}),
    ]


def _noise_line(noise: dict[str, Any]) -> str:
    """Other work on the machine during the run, and whether the host kept its speed: the
    reader's cue to distrust a number."""
    other, steal = noise.get("other_percent"), noise.get("steal_percent")
    if other is None:
        return "noise:    unknown (no /proc/stat)"
    steady = noise.get("host_steady")
    quiet = other < 5 and (steal or 0) < 5 and steady is not False
    verdict = "quiet" if quiet else "NOT quiet: numbers are pessimistic, rerun when idle"
    start = (noise.get("load_average_start") or [None])[0]
    relative = noise.get("reference_relative") or []
    speed = ""
    if relative:
        speed = (
            f"; host speed (a fixed loop before each round and after the last) "
            f"{' / '.join(f'{100 * r:.0f}' for r in relative)} % of the fastest"
            f"{'' if steady else ': the host slowed this VM, which the counters above cannot see'}"
        )
    return (
        f"noise:    other processes used {other:.1f} % of the CPU during the run, hypervisor steal {steal:.1f} %, "
        f"load average {start if start is not None else 'n/a'} at start{speed}: {verdict}"
    )


def _metric_rows(results: dict[str, Any]) -> list[Row]:
    inputs = results["inputs"]
    s, long = inputs["short_tokens"], inputs["long_tokens"]
    rows: list[Row] = [
        (f"batch 1, short ({s} tok): p50 ms", lambda e: e["latency_short"]["p50_ms"], ".2f"),
        ("    p95 ms", lambda e: e["latency_short"]["p95_ms"], ".2f"),
        ("    p99 ms", lambda e: e["latency_short"]["p99_ms"], ".2f"),
        ("    texts/s", lambda e: e["latency_short"]["texts_per_s"], ".0f"),
        (
            "batch 1, short, one call every 50 ms: p50 ms",
            lambda e: e["latency_paced"]["p50_ms"] if "latency_paced" in e else None,
            ".2f",
        ),
        (f"batch 1, long ({long} tok): p50 ms", lambda e: e["latency_long"]["p50_ms"], ".2f"),
        ("    p95 ms", lambda e: e["latency_long"]["p95_ms"], ".2f"),
        ("    p99 ms", lambda e: e["latency_long"]["p99_ms"], ".2f"),
    ]
    for batch in results["plan"]["batch_sizes"]:
        rows.append((f"batch {batch}: texts/s", lambda e, b=str(batch): e["throughput"][b]["texts_per_s"], ".0f"))
    rows += [
        ("start to first prediction s", lambda e: e["first_prediction_s"], ".2f"),
        ("peak RSS MiB", lambda e: e["peak_rss_bytes"] / MIB, ".0f"),
        ("model size on disk MiB", lambda e: e["size_bytes"] / MIB, ".1f"),
    ]
    for batch in ("1", str(max(results["plan"]["batch_sizes"]))):
        rows.append(
            (
                f"CPU ms in the 3 s after a batch-{batch} call",
                lambda e, b=batch: 1000 * e["idle_cpu_after_call_s"][b] if "idle_cpu_after_call_s" in e else None,
                ".1f",
            )
        )
    for name, data in inputs["eval_sets"].items():
        title = "bundle eval set" if name == "bundle" else "test split"
        rows.append(
            (
                f"accuracy, {title} (n={data.get('examples') or len(data['labels'])}) %",
                lambda e, n=name: None if e["accuracy"][n]["accuracy"] is None else 100 * e["accuracy"][n]["accuracy"],
                ".2f",
            )
        )
    rows += [
        ("tokenization share, batch 1 %", lambda e: 100 * e["latency_short"]["tokenize_share"], ".1f"),
        (
            f"tokenization share, batch {max(results['plan']['batch_sizes'])} %",
            lambda e: 100 * e["throughput"][str(max(results["plan"]["batch_sizes"]))]["tokenize_share"],
            ".1f",
        ),
    ]
    return rows


def _table(header: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)) -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned, the `left` columns not."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: "  ".join(
        c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
    ).rstrip()
    return [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def engine_table(results: dict[str, Any]) -> list[str]:
    names = list(results["engines"])
    ok = {n: e for n, e in results["engines"].items() if "error" not in e}
    rows = [
        [title] + [_fmt(get(ok[n]), spec) if n in ok else "error" for n in names]
        for title, get, spec in _metric_rows(results)
    ]
    lines = _table(["metric"] + names, rows)
    for name in names:
        engine = results["engines"][name]
        detail = engine.get("error") or "; ".join(filter(None, [engine.get("provider", ""), engine.get("note", "")]))
        lines.append(f"  {name}: {ENGINE_TITLES.get(name, name)}; {detail}")
    return lines


def _measured(goal: dict[str, Any]) -> str:
    value = goal["measured"]
    if value is None:
        return "n/a"
    return {"x": f"{value:.2f}x", "pt": f"{value:+.2f} pt", "%": f"{value:.0f} %", "ms": f"{value:.2f} ms"}.get(
        goal["unit"], f"{value:g}"
    )


def goal_table(goals: list[dict[str, Any]]) -> list[str]:
    rows = [
        [g["goal"], g["target"], _measured(g), g["status"] + (f" ({g['missing']})" if g["missing"] else "")]
        for g in goals
    ]
    return _table(["goal", "target", "measured", "result"], rows, left=(0, 3))


def _padding(inputs: dict[str, Any]) -> str:
    """Batch 32's padded tokens per text: as edge-app splits a batch, and as one call pads it."""
    split, whole = (inputs.get(k, {}).get("32") for k in ("batch_padded_tokens", "batch_padded_tokens_one_call"))
    return (
        f"; batch 32 pads to {split:.1f} per text in edge-app's calls, {whole:.1f} in one call"
        if split and whole
        else ""
    )


def peak_lines(peak: dict[str, Any] | None) -> list[str]:
    if not peak or peak.get("percent_of_peak") is None:
        return ["int8 peak: n/a (no clock speed, no int8 weights found, or no batch-32 int8 run)"]
    return [
        f"int8 peak: batch-32 int8 {peak['achieved_ops_per_s'] / 1e9:.1f} GOPS = {peak['percent_of_peak']:.1f} % of "
        f"{peak['peak_ops_per_s'] / 1e9:.0f} GOPS ({peak['cores']} cores x {peak['clock_mhz']:.0f} MHz x "
        f"{2 * peak['int8_macs_per_cycle_per_core']} int8 ops/cycle); at the peak: {peak['peak_texts_per_s']:.0f} texts/s",
        f"  ops/text = 2 x {peak['int8_matmul_weights'] / 1e6:.2f} M int8 matmul weights x {peak['mean_padded_tokens']:.1f} "
        f"padded tokens = {peak['ops_per_text'] / 1e6:.0f} M (attention score products not counted)",
        f"  core: {peak.get('core', 'unknown')}; assumption: {peak['assumption']}",
    ]


def mqtt_lines(mqtt: dict[str, Any] | None, paced_model_ms: float | None = None) -> list[str]:
    """The MQTT block; `paced_model_ms` (the int8 engine's batch 1 at one call per 50 ms) splits
    the round trip into the model as the service meets it and the rest."""
    if not mqtt:
        return ["MQTT: not run (add --mqtt mqtt://HOST:PORT)"]
    if "error" in mqtt:
        return [f"MQTT: failed: {mqtt['error']}"]
    rt = mqtt["round_trip"]
    lines = [
        f"MQTT end to end via {mqtt['broker']} (edge-app serve --max-batch {mqtt['max_batch']}"
        f"{'' if mqtt.get('max_wait_ms') is None else ' --max-wait-ms ' + format(mqtt['max_wait_ms'], 'g')}"
        f"{' --spin' if mqtt.get('spin') else ''}, "
        f"{mqtt['threads']} threads)",
        f"  round trip at {rt['rate']:g}/s, QoS 1: p50 {_fmt(rt.get('p50_ms'), '.2f')} ms, p99 {_fmt(rt.get('p99_ms'), '.2f')} ms"
        f" ({rt['received']}/{rt['sent']} received, lost {rt['lost']}, duplicates {rt['duplicates']})",
    ]
    if paced_model_ms is not None and rt.get("p50_ms") is not None:
        lines.append(
            f"    the int8 model alone at one call per 50 ms: p50 {paced_model_ms:.2f} ms; the rest of the "
            f"round trip (broker, service path, client): {rt['p50_ms'] - paced_model_ms:.2f} ms"
        )
    if rt.get("service_latency"):
        lines.append(
            f"    of which inside the service (its latency_ms, arrival to prediction): "
            f"p50 {rt['service_latency']['p50_ms']:.2f} ms, p99 {rt['service_latency']['p99_ms']:.2f} ms"
        )
    for qos in (1, 0):
        run = mqtt[f"qos{qos}"]
        steps = "; ".join(
            f"{'max' if s['offered_rate'] is None else format(s['offered_rate'], 'g') + '/s'} -> "
            f"{_fmt(s['results_per_s'], '.0f')}/s (lost {s['lost']}, dup {s['duplicates']}, "
            f"{'refused ' + str(s['refused']) + ' (answered with an error), ' if s.get('refused') else ''}"
            f"longest gap {s.get('longest_gap_s', 0) * 1000:.0f} ms)"
            for s in run["steps"]
        )
        lines.append(
            f"  QoS {qos}: highest zero-loss {_fmt(run['max_results_per_s'], '.0f')} results/s; "
            f"lost {run['lost']}, duplicates {run['duplicates']}; offered: {steps}"
        )
    codes = ", ".join(f"QoS {q}: {c}" for q, c in mqtt.get("serve_exit_code", {}).items())
    lines.append(f"  serve exit codes after SIGTERM: {codes}")
    noise = mqtt.get("noise") or {}
    if noise.get("other_percent") is not None:
        lines.append(
            f"  other processes (a local broker included) used {noise['other_percent']:.1f} % of the CPU "
            f"meanwhile, hypervisor steal {noise['steal_percent']:.1f} %"
        )
    return lines


def validation_lines(validation: dict[str, Any] | None) -> list[str]:
    """The export's own figures from the manifest: rejection, calibration, per label."""
    if not validation:
        return ["bundle validation: none recorded (exported without a labelled eval set)"]
    v = validation
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f} %"
    lines = [
        f"bundle validation (export side, {v['source']}, n={v['examples']}): in-scope accuracy "
        f"{pct(v['in_scope_accuracy'])}, out-of-scope recall {pct(v['out_of_scope_recall'])}, ECE {v['ece']} "
        f"(uncalibrated {v.get('ece_uncalibrated')}), rejected {pct(v.get('rejected'))}",
        f"  detector: {v.get('detector') or 'none'}, threshold {v.get('threshold')}, temperature {v.get('temperature')}",
    ]
    rows = [
        [label, pct(r["precision"]), pct(r["recall"]), str(r["support"])]
        for label, r in (v.get("per_label") or {}).items()
    ]
    return lines + ["  " + line for line in _table(["label", "precision", "recall", "n"], rows)]


def _paced_int8(results: dict[str, Any]) -> float | None:
    int8 = results["engines"].get("int8") or {}
    return (int8.get("latency_paced") or {}).get("p50_ms")


def paired_lines(paired: dict[str, Any] | None) -> list[str]:
    """An in-turns step (batch 1, or batch 32) with every engine loaded and called in turns: the
    comparison a host that changes speed cannot tilt (bench/paired.py)."""
    if not paired:
        return []
    batch = paired.get("batch", 1)
    if "error" in paired:
        return [f"batch {batch}, every engine loaded and called in turns: failed ({paired['error']})"]
    ref = paired["reference"]
    what = "short" if batch == 1 else f"{paired['calls_per_block'] * batch} texts a block"
    lines = [
        f"batch {batch}, {what}, every engine loaded and called in turns ({paired['cycles']} cycles of "
        f"{paired['calls_per_block']} calls each; ratios are medians of cycle-by-cycle ratios):"
    ]
    for name, engine in paired["engines"].items():
        ratio = paired["ratio_to_reference"].get(name)
        vs = "" if ratio is None else f", {ratio:.2f}x {ref}'s time ({ref} {ratio:.2f}x as fast)"
        rate = f", {engine['texts_per_s']:.0f} texts/s" if engine.get("texts_per_s") else ""
        lines.append(f"  {name:8s} p50 {engine['p50_ms']:.2f} ms{rate}{vs}")
    return lines


def render(results: dict[str, Any]) -> str:
    blocks = [
        header_lines(results),
        engine_table(results),
        paired_lines(results.get("paired_batch1")),
        paired_lines(results.get("paired_batch32")),
        validation_lines(results["bundle"].get("validation")),
        goal_table(results["goals"]),
        peak_lines(results.get("peak")),
        mqtt_lines(results.get("mqtt"), _paced_int8(results)),
    ]
    return "\n\n".join("\n".join(block) for block in blocks if block) + "\n"


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_plot(results: dict[str, Any], path: Path) -> str | None:
    """Bar charts of batch-1 p50 and batch-32 texts/s per engine; a note instead when
    matplotlib is missing (it is the `bench` extra, not a runtime dependency)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"--plot: matplotlib is not installed, no {path} written; pip install edge-app[bench]"
    engines = {n: e for n, e in results["engines"].items() if "error" not in e}
    names = list(engines)
    biggest = str(max(results["plan"]["batch_sizes"]))
    panels = [
        (
            "batch 1, short command: p50 latency (ms, lower is better)",
            [engines[n]["latency_short"]["p50_ms"] for n in names],
        ),
        ("batch 1, 128 tokens: p50 latency (ms)", [engines[n]["latency_long"]["p50_ms"] for n in names]),
        (
            f"batch {biggest}: throughput (texts/s, higher is better)",
            [engines[n]["throughput"][biggest]["texts_per_s"] for n in names],
        ),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    colors = ["#2b8a3e", "#1971c2", "#e8590c", "#862e9c", "#868e96"]
    for ax, (title, values) in zip(axes, panels):
        bars = ax.bar(names, values, color=colors[: len(names)])
        ax.bar_label(bars, labels=[f"{v:.0f}" if v >= 100 else f"{v:.3g}" for v in values])
        ax.set_title(title, fontsize=9)
        ax.margins(y=0.15)
    hw = results["hardware"]
    fig.suptitle(f"{results['bundle']['name']} on {hw['cpu_model']}, {results['plan']['threads']} threads", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
