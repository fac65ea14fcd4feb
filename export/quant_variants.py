"""Graph and quantization variants of one fp32 bundle, measured side by side (#16).

    python -m export.quant_variants --fp32 BUNDLE_FP32 [--int8 BUNDLE] [--test FILE] [--validation FILE]
                                    [--out variants.json] [--rounds 2] [--only NAME,...]

A workstation script (export extra): it builds each variant from the fp32 bundle's model.onnx into a
temporary bundle (the fp32 bundle's tokenizer, manifest and detector, verify off) and measures, with the
product's own Classifier and session settings:

- accuracy on the test split (the label the product answers, detector and threshold included) and argmax
  agreement with fp32;
- batch-1 p50 of one short command on a one-thread session (the latency session);
- batch-32 texts/s over the whole test split in length-sorted batches, on the all-cores session;
- the model file's size.

Variants: fp32 (reference); today's default (O1 graph, Optimum's ORTQuantizer dynamic, arm64 config,
per-tensor); the same with the avx512_vnni config and per-channel; onnxruntime's quantize_dynamic on the O1
graph and on the O2-fused graph (Attention, SkipLayerNorm, BiasGelu fused; DefaultTensorType FLOAT, which
Optimum's quantizer lacks and the fused graph needs), per-tensor and per-channel; static QDQ calibrated on
the validation split. Every figure goes to the JSON; the table goes to stdout (docs/benchmarks.md keeps it).
The measurements interleave the variants round by round, so a burst of other work hits them alike.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.classifier import Classifier
from edge_app.session import create_session, physical_cores

from .data import load_examples

DATA = Path(__file__).parent / "data" / "intents"
SHORT = "turn on the kitchen lights"
NUM_HEADS, HIDDEN = 12, 384  # MiniLM-L6 (the default model); --heads/--hidden for another


@dataclass
class Variant:
    name: str
    build: Callable[[Path, Path], None]  # (fp32 model.onnx, out model.onnx)
    note: str


def _ort_quantizer(config: str, per_channel: bool) -> Callable[[Path, Path], None]:
    """Optimum's ORTQuantizer, dynamic: what export/pipeline.py's quantize step does today."""

    def build(src: Path, out: Path) -> None:
        from optimum.onnxruntime import ORTQuantizer
        from optimum.onnxruntime.configuration import AutoQuantizationConfig

        quantizer = ORTQuantizer.from_pretrained(src.parent, file_name=src.name)
        qconfig = getattr(AutoQuantizationConfig, config)(is_static=False, per_channel=per_channel)
        with tempfile.TemporaryDirectory() as tmp:
            quantizer.quantize(save_dir=tmp, quantization_config=qconfig)
            shutil.move(str(next(Path(tmp).glob("*.onnx"))), out)

    return build


def _fused(src: Path, out: Path, heads: int = NUM_HEADS, hidden: int = HIDDEN) -> None:
    """The O2 graph: onnxruntime's transformer fusions, as Optimum's O2 applies them."""
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1)
    print(f"  fusions: {model.get_fused_operator_statistics()}", file=sys.stderr)
    model.save_model_to_file(str(out))


def _quantize_dynamic(fused: bool, per_channel: bool) -> Callable[[Path, Path], None]:
    def build(src: Path, out: Path) -> None:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory() as tmp:
            graph = src
            if fused:
                graph = Path(tmp) / "fused.onnx"
                _fused(src, graph)
            quantize_dynamic(
                str(graph),
                str(out),
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )

    return build


def _static_qdq(validation: list[str], tokenize: Callable[[list[str]], dict[str, np.ndarray]]):
    """Static int8 (QDQ), activations calibrated (MinMax) on the validation split."""

    def build(src: Path, out: Path) -> None:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.batches = iter([tokenize([text]) for text in validation])

            def get_next(self):
                return next(self.batches, None)

        quantize_static(
            str(src),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
        )

    return build


def variants(validation: list[str], tokenize) -> list[Variant]:
    return [
        Variant("fp32", lambda src, out: shutil.copyfile(src, out), "O1 graph, no quantization (reference)"),
        Variant("o1-ortq-arm64", _ort_quantizer("arm64", False), "today: O1 + ORTQuantizer dynamic, arm64, per-tensor"),
        Variant("o1-ortq-arm64-pc", _ort_quantizer("arm64", True), "O1 + ORTQuantizer dynamic, arm64, per-channel"),
        Variant(
            "o1-ortq-vnni", _ort_quantizer("avx512_vnni", False), "O1 + ORTQuantizer dynamic, avx512_vnni, per-tensor"
        ),
        Variant(
            "o1-qd", _quantize_dynamic(False, False), "O1 + quantize_dynamic (DefaultTensorType FLOAT), per-tensor"
        ),
        Variant("o2-qd", _quantize_dynamic(True, False), "O2 fused + quantize_dynamic, per-tensor"),
        Variant("o2-qd-pc", _quantize_dynamic(True, True), "O2 fused + quantize_dynamic, per-channel"),
        Variant(
            "o1-static-qdq",
            _static_qdq(validation, tokenize),
            "O1 + static QDQ, MatMul, per-channel, calibrated on the validation split",
        ),
    ]


def _bundle(fp32_bundle: Path, model: Path, where: Path) -> Path:
    """A bundle folder around `model`: the fp32 bundle's other files (loaded with verify off)."""
    where.mkdir(parents=True)
    for item in fp32_bundle.iterdir():
        if item.name != "model.onnx" and item.is_file():
            shutil.copyfile(item, where / item.name)
    shutil.copyfile(model, where / "model.onnx")
    return where


def _speed(bundle: Path, texts: list[str]) -> dict[str, float]:
    """Batch-1 p50 (one thread) and batch-32 texts/s (all cores), session calls only."""
    clf = Classifier.load(bundle, device="cpu", verify=False, latency_session=False, threads=1)
    one = clf.encoder.encode([SHORT], clf.input_names).arrays
    lone, _ = create_session(clf.bundle.model_path, "cpu", 1)
    for _ in range(30):
        lone.run(None, one)
    samples = []
    cpu_start = time.process_time()
    for _ in range(300):
        start = time.perf_counter()
        lone.run(None, one)
        samples.append(time.perf_counter() - start)
    cpu_one = (time.process_time() - cpu_start) / 300
    wide, _ = create_session(clf.bundle.model_path, "cpu", physical_cores())
    order = sorted(texts, key=len)
    batches = [clf.encoder.encode(order[i : i + 32], clf.input_names).arrays for i in range(0, len(order), 32)]
    for b in batches[:3]:
        wide.run(None, b)
    rates, cpu_rates = [], []
    for _ in range(3):
        start, cpu_start = time.perf_counter(), time.process_time()
        for b in batches:
            wide.run(None, b)
        rates.append(len(texts) / (time.perf_counter() - start))
        cpu_rates.append(len(texts) / (time.process_time() - cpu_start))
    # CPU time (spinning is off, so it is work, not waiting) moves less than wall time on a shared machine
    return {
        "batch1_p50_ms": 1000 * statistics.median(samples),
        "batch32_texts_per_s": statistics.median(rates),
        "batch1_cpu_ms": 1000 * cpu_one,
        "batch32_texts_per_cpu_s": statistics.median(cpu_rates),
    }


def _accuracy(bundle: Path, examples, fp32_argmax: list[str] | None) -> dict[str, Any]:
    clf = Classifier.load(bundle, device="cpu", verify=False, latency_session=False)
    texts = [e.text for e in examples]
    answers = [p.label for p in clf.classify(texts, top_k=1)]
    logits = clf.model_outputs(texts)[0]
    argmax = [clf.labels[i] for i in logits.argmax(axis=1)]
    out = {
        "accuracy": sum(a == e.label for a, e in zip(answers, examples)) / len(examples),
        "argmax_accuracy": sum(a == e.label for a, e in zip(argmax, examples)) / len(examples),
    }
    if fp32_argmax is not None:
        out["agreement_fp32"] = sum(a == b for a, b in zip(argmax, fp32_argmax)) / len(argmax)
    return out, argmax


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.quant_variants", description=__doc__.split("\n\n")[0])
    p.add_argument("--fp32", type=Path, required=True, help="the fp32 bundle (written by --fp32-out)")
    p.add_argument("--test", type=Path, default=DATA / "test.jsonl")
    p.add_argument("--validation", type=Path, default=DATA / "validation.jsonl")
    p.add_argument("--out", type=Path, default=Path("quant-variants.json"))
    p.add_argument("--rounds", type=int, default=2, help="speed measurements per variant, interleaved; medians")
    p.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    p.add_argument("--keep", type=Path, default=None, help="keep the variant bundles in this folder")
    args = p.parse_args(argv)

    examples = load_examples(args.test)
    validation = [e.text for e in load_examples(args.validation)]
    reference = Classifier.load(args.fp32, device="cpu", verify=False, latency_session=False)
    tokenize = lambda texts: reference.encoder.encode(texts, reference.input_names).arrays  # noqa: E731
    chosen = [v for v in variants(validation, tokenize) if not args.only or v.name in args.only.split(",")]
    work = Path(tempfile.mkdtemp(prefix="quant-variants-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    fp32_argmax = None
    source = args.fp32 / "model.onnx"
    for v in chosen:
        print(f"building {v.name}: {v.note}", file=sys.stderr, flush=True)
        model = work / f"{v.name}.onnx"
        try:
            v.build(source, model)
        except Exception as exc:  # a variant that cannot be built is a result too
            rows[v.name] = {"note": v.note, "error": f"{type(exc).__name__}: {exc}"[:500]}
            print(f"  failed: {rows[v.name]['error']}", file=sys.stderr)
            continue
        bundle = _bundle(args.fp32, model, work / v.name)
        acc, argmax = _accuracy(bundle, examples, fp32_argmax)
        fp32_argmax = argmax if v.name == "fp32" else fp32_argmax
        rows[v.name] = {"note": v.note, "bytes": model.stat().st_size, **acc, "speed": []}
    for r in range(args.rounds):
        for name, row in rows.items():
            if "error" not in row:
                print(f"round {r + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
                row["speed"].append(_speed(work / name, [e.text for e in examples]))
    for row in rows.values():
        for key in ("batch1_p50_ms", "batch32_texts_per_s", "batch1_cpu_ms", "batch32_texts_per_cpu_s"):
            if row.get("speed"):
                row[key] = statistics.median(s[key] for s in row["speed"])
    result = {
        "fp32_bundle": str(args.fp32),
        "test": str(args.test),
        "validation": str(args.validation),
        "cores": physical_cores(),
        "rounds": args.rounds,
        "command": ["python", "-m", "export.quant_variants", *(argv or sys.argv[1:])],
        "variants": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(rows))
    return 0


def table(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| variant | what | accuracy | argmax acc. | agreement with fp32 | batch 1 p50 (1 thread) | batch 1 CPU ms "
        "| batch 32 texts/s | batch 32 texts per CPU s | size |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        if "error" in r:
            lines.append(f"| {name} | {r['note']} | failed: {r['error'][:80]} | | | | | | | |")
            continue
        agree = f"{100 * r['agreement_fp32']:.1f} %" if "agreement_fp32" in r else "—"
        lines.append(
            f"| {name} | {r['note']} | {100 * r['accuracy']:.1f} % | {100 * r['argmax_accuracy']:.1f} % | {agree} "
            f"| {r.get('batch1_p50_ms', float('nan')):.3f} ms | {r.get('batch1_cpu_ms', float('nan')):.3f} ms "
            f"| {r.get('batch32_texts_per_s', float('nan')):.0f} | {r.get('batch32_texts_per_cpu_s', float('nan')):.0f} "
            f"| {r['bytes'] / 2**20:.1f} MiB |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
