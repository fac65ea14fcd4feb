"""`edge-app export`: a Hugging Face sequence classifier in, a verified bundle out.

Steps: Optimum ONNX export (plus the pooled embedding as a second output) -> optional ORTOptimizer
graph optimisation, then the graph tidied (export/graph_tidy.py) -> ORTQuantizer dynamic int8, the
MatMuls of two activations left in fp32 -> optional calibration on a validation split
(temperature or distance detector, threshold) -> validation of fp32 and int8 through the device
runtime (accuracy, out-of-scope recall, per-label precision/recall, ECE) -> (with --gpu) an fp16
model for GPUs, validated against fp32 the same way -> bundle with manifest.
The same path serves a local checkpoint folder and a Hub model id.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_app import __version__
from edge_app.bundle import EVAL_SAMPLES_FILE, FP16_MODEL_FILE, MODEL_FILE, TOKENIZER_FILE, Bundle, write_manifest
from edge_app.calibration import EMBEDDING_OUTPUT
from edge_app.errors import ExportError
from edge_app.session import DEVICES
from edge_app.teaching import TEACHING_FILE

from . import calibrate, teaching
from .data import DEFAULT_TEST, Example, check_labels, has_slots, load_many, load_minimal_pairs
from .evaluate import (
    BATCH_SCORE_TOLERANCE,
    agreement,
    batch_invariance,
    evaluate,
    model_outputs,
    per_label_lines,
    polarity_flips,
    slot_figures,
    tag_agreement,
    uncalibrated_ece,
)
from .evaluate import figures as eval_figures
from .fp16 import convert_to_fp16
from .progress import Steps

if TYPE_CHECKING:
    from .graph_tidy import TidyReport

log = logging.getLogger(__name__)
QUANTIZE_CHOICES = ("arm64", "avx2", "avx512", "avx512_vnni", "none")
OPTIMIZE_CHOICES = ("O1", "O2", "O3", "none")
SCALES = ("static", "dynamic")  # export/quantize.py: calibrated activation scales, or per call
EVAL_SAMPLES_IN_BUNDLE = 64
STATS_FILE = "detector.npz"
# fp16 changes no weights' meaning, only their precision: it must agree almost everywhere.
FP16_MIN_AGREEMENT = 0.995
# The slot head of a joint model, int8 against fp32: the share of real tokens whose tag is the
# same, and how much lower the int8 span F1 (against the data's spans) may be.
MIN_TAG_AGREEMENT = 0.98
MAX_SPAN_F1_DROP = 0.02


@dataclass
class ExportOptions:
    model: str
    out: Path
    optimize: str = "O1"
    quantize: str = "arm64"
    scales: str = "static"  # activation scales: "static" (calibrated, one answer per text) or "dynamic" (per call)
    eval_file: Path | list[Path] | None = None  # a list: several splits as one (e.g. English + Korean)
    min_agreement: float = 0.98
    force: bool = False
    max_length: int = 128
    fp32_out: Path | None = None
    name: str | None = None
    source: str | None = None  # what the manifest records as the origin; default: model
    quiet: bool = False
    calibration_file: Path | list[Path] | None = None  # labelled validation split(s): fit the detector and threshold
    train_file: Path | list[Path] | None = None  # the training split(s): class statistics for the distance detector
    gpu: bool = False  # also an fp16 model for --device cuda|tensorrt (the int8 one stays for CPUs)
    minimal_pairs: Path | None = None  # polarity pairs the model must never answer with the opposite action
    examples: dict[str, list[str]] | None = None  # label -> examples the bundle also matches by similarity


def _looks_local(model: str) -> bool:
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or Path(model).exists()


def _paths(value: Path | list[Path] | None) -> list[Path]:
    if value is None:
        return []
    return [Path(v) for v in value] if isinstance(value, (list, tuple)) else [Path(value)]


def _name(value: Path | list[Path]) -> str:
    return "+".join(p.name for p in _paths(value))


def slot_tags_of(config: Any) -> list[str] | None:
    """The BIO tags of a joint intent + slot checkpoint (export/joint.py); None for a plain classifier."""
    tags = getattr(config, "slot_tags", None)
    return list(tags) if tags else None


def check_model(model: str) -> Any:
    """The model's config, or one clear ExportError for a missing folder or a non-classifier."""
    from transformers import AutoConfig

    if _looks_local(model):
        folder = Path(model).expanduser()
        if not folder.is_dir():
            raise ExportError(f"model folder {folder} does not exist; pass a checkpoint folder or a Hub model id")
        if not (folder / "config.json").is_file():
            raise ExportError(f"{folder} has no config.json; it is not a Hugging Face checkpoint folder")
    try:
        config = AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot load model {model!r} ({str(exc).splitlines()[0]}); check the id or folder") from None
    archs = config.architectures or []
    if slot_tags_of(config) is None and not any(a.endswith("ForSequenceClassification") for a in archs):
        raise ExportError(
            f"{model} is a {', '.join(archs) or 'model of unknown architecture'}, not a sequence classifier; "
            "fine-tune it for text classification first (or run `edge-app build-default`)"
        )
    return config


def _labels(config: Any) -> list[str]:
    return [str(config.id2label[i]) for i in range(config.num_labels)]


def _optimize(onnx_dir: Path, level: str, work: Path, max_length: int) -> tuple[Path, TidyReport]:
    """ORTOptimizer at `level`, then the graph tidied in place (constant shapes, one Q/K/V MatMul)."""
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import AutoOptimizationConfig

    from . import graph_tidy  # lazy, like optimum: it imports onnx, which a board without the extra lacks

    out = work / "optimized"
    ORTOptimizer.from_pretrained(onnx_dir).optimize(AutoOptimizationConfig.with_optimization_level(level), out)
    (model,) = sorted(out.glob("*.onnx"))
    return out, graph_tidy.tidy(model, model, max_length)


def _quantize(
    onnx_dir: Path, opts: ExportOptions, work: Path, tokenizer_json: Path, max_length: int
) -> tuple[Path, dict[str, Any]]:
    """int8 per export/quantize.py: fixed scales calibrated on the training texts (`--scales
    static`, the default), or onnxruntime's per-call scales through ORTQuantizer (`dynamic`)."""
    from . import quantize  # lazy, like optimum: it imports onnx, which a board without the extra lacks

    (model,) = sorted(onnx_dir.glob("*.onnx"))
    out = work / "quantized"
    if opts.scales == "static":
        texts = _calibration_texts(opts)
        settings = quantize.quantize_static(model, out, texts, tokenizer_json, max_length, opts.quantize)
        return out, settings
    return out, _quantize_dynamic(onnx_dir, opts.quantize, out, quantize.activation_matmuls(model))


def _calibration_texts(opts: ExportOptions) -> list[str]:
    """What static scales are calibrated on: the training split(s), else the calibration
    split(s), else the validation set; evenly over labels (export/quantize.py)."""
    from .quantize import pick_calibration_texts

    files = next((_paths(f) for f in (opts.train_file, opts.calibration_file, opts.eval_file) if f), [DEFAULT_TEST])
    examples = load_many(files)
    return pick_calibration_texts([e.text for e in examples], [e.label for e in examples])


def _quantize_dynamic(onnx_dir: Path, target: str, out: Path, fp32_matmuls: list[str]) -> dict[str, Any]:
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    onnx_files = sorted(onnx_dir.glob("*.onnx"))
    quantizer = ORTQuantizer.from_pretrained(onnx_dir, file_name=onnx_files[0].name)
    # Per-channel weight scales: the same speed and size as per-tensor, and int8 agrees with fp32
    # more often (docs/benchmarks.md).
    qconfig = getattr(AutoQuantizationConfig, target)(is_static=False, per_channel=True, nodes_to_exclude=fp32_matmuls)
    try:
        quantizer.quantize(save_dir=out, quantization_config=qconfig)
    except RuntimeError as exc:  # onnxruntime's quantizer: e.g. the fused contrib ops of O2/O3 graphs
        first = str(exc).splitlines()[0].split(". ")[0]
        raise ExportError(
            f"ORTQuantizer cannot quantize this graph ({first}); "
            "export with --optimize O1 (the default), or --quantize none"
        ) from None
    return {
        "method": "dynamic",
        "target": target,
        "weights": qconfig.weights_dtype.name,
        "per_channel": qconfig.per_channel,
        "operators": list(qconfig.operators_to_quantize),
        "fp32_matmuls": len(fp32_matmuls),
    }


def _stage(src_dir: Path, dest: Path, tokenizer_json: Path, fields: dict[str, Any]) -> Path:
    """Lay out a (candidate) bundle: the single .onnx of src_dir as model.onnx, plus tokenizer."""
    dest.mkdir(parents=True, exist_ok=True)
    (onnx_file,) = [p for p in src_dir.glob("*.onnx")]
    shutil.copyfile(onnx_file, dest / MODEL_FILE)
    shutil.copyfile(tokenizer_json, dest / TOKENIZER_FILE)
    write_manifest(dest, fields)
    return dest


def _opset(model_path: Path) -> int:
    import onnx

    proto = onnx.load(str(model_path), load_external_data=False)
    return max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"edge-app": __version__}
    for pkg in ("optimum", "optimum-onnx", "transformers", "torch", "onnx", "onnxruntime"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _eval_set(opts: ExportOptions, labels: list[str]) -> tuple[list[Example], str, bool]:
    """Examples to validate on, their source, and whether their labels are the model's own."""
    if opts.eval_file:
        examples = load_many(_paths(opts.eval_file))
        check_labels(examples, labels, _name(opts.eval_file))
        return examples, _name(opts.eval_file), True
    examples = load_many([DEFAULT_TEST])
    labelled = {e.label for e in examples} <= set(labels)
    return examples, f"default:{DEFAULT_TEST.name}", labelled


def export_model(opts: ExportOptions) -> Bundle:
    """Run every step and return the written, verified bundle; raise ExportError on refusal."""
    if opts.quantize not in QUANTIZE_CHOICES or opts.optimize not in OPTIMIZE_CHOICES or opts.scales not in SCALES:
        raise ExportError(
            f"use --quantize {'|'.join(QUANTIZE_CHOICES)}, --optimize {'|'.join(OPTIMIZE_CHOICES)} "
            f"and --scales {'|'.join(SCALES)}"
        )
    steps = Steps(8 if opts.gpu else 7, quiet=opts.quiet)
    config = check_model(opts.model)
    labels = _labels(config)
    tags = slot_tags_of(config)
    examples, eval_source, labelled = _eval_set(opts, labels)
    with tempfile.TemporaryDirectory(prefix="edge-app-export-") as tmp:
        work = Path(tmp)
        kind = f"intent + {len(tags)} slot tags" if tags else "text-classification"
        with steps.step(f"Exporting {opts.model} to ONNX (Optimum, {kind})"):
            onnx_dir, tokenizer_json, max_length = _export_onnx(opts, work, tags is not None)
        fp32_dir, tidied = onnx_dir, None
        if opts.optimize != "none":
            with steps.step(f"Optimising the graph ({opts.optimize}, ORTOptimizer, then tidied)"):
                fp32_dir, tidied = _optimize(onnx_dir, opts.optimize, work, max_length)
            steps.info(
                f"{tidied.nodes_before} -> {tidied.nodes_after} nodes: {tidied.constant_reshapes} reshapes "
                f"and {tidied.constant_values} values made constant, {tidied.qkv_fused} Q/K/V projections "
                f"fused; outputs within {tidied.max_output_diff:.1g}"
            )
        else:
            steps.skip("Graph optimisation skipped (--optimize none)")
        base = _base_fields(opts, config, labels, max_length, tags)
        if tidied is not None:
            base["graph_tidy"] = tidied.as_dict()
        fp32_bundle = _stage(fp32_dir, work / "bundle-fp32", tokenizer_json, {**base, "quantization": None})
        served, quant = fp32_bundle, None
        if opts.quantize != "none":
            how = "static scales calibrated on training texts" if opts.scales == "static" else "ORTQuantizer, dynamic"
            with steps.step(f"Quantizing to int8 for {opts.quantize} ({how})"):
                q_dir, quant = _quantize(fp32_dir, opts, work, tokenizer_json, max_length)
                served = _stage(q_dir, work / "bundle-int8", tokenizer_json, {**base, "quantization": quant})
        else:
            steps.skip("Quantization skipped (--quantize none)")
        _calibrate(opts, config, labels, served, fp32_bundle, steps)
        _fit_teaching(opts, served, fp32_bundle, steps)
        with steps.step(f"Validating fp32 and int8 on {len(examples)} examples ({eval_source})"):
            figures, fp32_preds, served_preds = _validate(
                fp32_bundle, served, examples, labelled, quant is not None, steps
            )
            figures.update(_polarity_figures(served, opts.minimal_pairs, steps))
        _refuse_if_disagreeing(figures, opts)
        gpu_models: dict[str, Path] = {}
        if opts.gpu:
            with steps.step(f"Converting to fp16 for GPUs and validating on {len(examples)} examples"):
                fp16_fields = {**base, "calibration": _manifest(fp32_bundle).get("calibration")}
                fp16 = _stage_fp16(fp32_bundle, work / "bundle-fp16", tokenizer_json, fp16_fields)
                figures.update(_validate_fp16(fp16, examples, labelled, fp32_preds, steps))
            _refuse_fp16_if_disagreeing(figures, opts)
            gpu_models = {FP16_MODEL_FILE: fp16 / MODEL_FILE}
            base = {**base, "device_models": {d: MODEL_FILE if d == "cpu" else FP16_MODEL_FILE for d in DEVICES}}
        with steps.step(f"Writing bundle to {opts.out}"):
            cal = _manifest(served).get("calibration")
            base = {**base, "teaching": _manifest(served).get("teaching")}
            fields = {**base, "quantization": quant, "calibration": cal, "eval": {"source": eval_source, **figures}}
            bundle = _write_bundle(served, opts.out, fields, examples, served_preds, gpu_models)
            if opts.fp32_out:
                fp32_fields = {
                    **base,
                    "quantization": None,
                    "calibration": cal,
                    "eval": {"source": eval_source, **figures},
                }
                fp32_fields.pop("device_models", None)
                _write_bundle(fp32_bundle, opts.fp32_out, fp32_fields, examples, fp32_preds)
    return bundle


@contextmanager
def _library_chatter_hidden() -> Iterator[None]:
    """Hide what the export libraries print that a user cannot act on (the torch tracer's
    constant warnings, transformers' deprecation notes about its own internals), so the
    step lines stay readable. Real failures still raise."""
    from torch.jit import TracerWarning
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TracerWarning)
            yield
    finally:
        hf_logging.set_verbosity(level)


def _export_onnx(opts: ExportOptions, work: Path, joint: bool = False) -> tuple[Path, Path, int]:
    from optimum.onnxruntime import ORTModelForSequenceClassification
    from transformers import AutoTokenizer

    onnx_dir = work / "onnx"
    try:
        with _library_chatter_hidden():
            if joint:
                model = _export_joint(opts.model, onnx_dir)
            else:
                model = ORTModelForSequenceClassification.from_pretrained(opts.model, export=True)
                model.save_pretrained(onnx_dir)
        tokenizer = AutoTokenizer.from_pretrained(opts.model)
    except (OSError, ValueError) as exc:
        raise ExportError(f"Optimum could not export {opts.model} ({str(exc).splitlines()[0]})") from None
    if not tokenizer.is_fast:
        raise ExportError(f"{opts.model} has no fast tokenizer (tokenizer.json); the board needs one")
    _expose_embedding(onnx_dir)
    (onnx_path,) = sorted(onnx_dir.glob("*.onnx"))
    teaching.expose_teach_embedding(onnx_path, teaching.teach_layer(getattr(model.config, "num_hidden_layers", 6)))
    tok_dir = work / "tokenizer"
    tokenizer.save_pretrained(tok_dir)
    limits = [opts.max_length, getattr(model.config, "max_position_embeddings", opts.max_length)]
    if tokenizer.model_max_length and tokenizer.model_max_length < 100_000:
        limits.append(tokenizer.model_max_length)
    return onnx_dir, tok_dir / TOKENIZER_FILE, min(limits)


def _export_joint(model_dir: str, onnx_dir: Path) -> Any:
    """A joint intent + slot checkpoint through Optimum's exporter with our ONNX config (two
    outputs), checked against PyTorch by Optimum's own output validation. Returns the model
    (its config: max_position_embeddings)."""
    # Lazy: export/joint.py imports torch and optimum, which the CLI must not load to start.
    from optimum.exporters.onnx import export, validate_model_outputs

    from .joint import BertForIntentAndSlots, onnx_config

    model = BertForIntentAndSlots.from_pretrained(model_dir).eval()
    config = onnx_config(model)
    onnx_dir.mkdir(parents=True, exist_ok=True)
    path = onnx_dir / MODEL_FILE
    _, outputs = export(model, config, path, opset=config.DEFAULT_ONNX_OPSET)
    validate_model_outputs(config, model, path, outputs, atol=config.ATOL_FOR_VALIDATION, use_subprocess=False)
    model.config.save_pretrained(onnx_dir)  # ORTOptimizer reads the model type from it
    return model


def _expose_embedding(onnx_dir: Path) -> None:
    """Add the classification head's input (the pooled embedding) as a second graph output,
    named `embedding`, so a distance detector can run on the board from the same model call.
    Logits stay the first output. A head we do not recognise is left alone: the bundle then
    offers temperature scaling only."""
    import onnx

    (path,) = sorted(onnx_dir.glob("*.onnx"))
    proto = onnx.load(str(path))
    graph = proto.graph
    logits = graph.output[0].name
    producers = {out: node for node in graph.node for out in node.output}
    node = producers.get(logits)
    if node is not None and node.op_type == "Add":  # MatMul + Add: follow the MatMul
        node = next(
            (producers.get(i) for i in node.input if producers.get(i) is not None and producers[i].op_type == "MatMul"),
            None,
        )
    if node is None or node.op_type not in ("Gemm", "MatMul"):
        log.info("no linear classification head found before %s; no embedding output", logits)
        return
    graph.node.append(onnx.helper.make_node("Identity", [node.input[0]], [EMBEDDING_OUTPUT], name="embedding_out"))
    graph.output.append(
        onnx.helper.make_tensor_value_info(EMBEDDING_OUTPUT, onnx.TensorProto.FLOAT, ["batch_size", "hidden_size"])
    )
    onnx.save(proto, str(path))


def _manifest(stage: Path) -> dict[str, Any]:
    return json.loads((stage / "manifest.json").read_text(encoding="utf-8"))


def _calibrate(opts: ExportOptions, config: Any, labels: list[str], served: Path, fp32: Path, steps: Steps) -> None:
    """Fit the detector on the served model's outputs for the validation split; write its
    statistics and manifest fields into both candidate bundles (fp32 shares them)."""
    multi = getattr(config, "problem_type", None) == "multi_label_classification"
    if not opts.calibration_file or multi:
        steps.skip(
            "Calibration skipped (no validation split given)"
            if not multi
            else "Calibration skipped (multi-label model)"
        )
        return
    val = load_many(_paths(opts.calibration_file))
    check_labels(val, [*labels, "out_of_scope"], _name(opts.calibration_file))
    with steps.step(f"Calibrating on {len(val)} validation examples ({_name(opts.calibration_file)})"):
        logits, emb = model_outputs(served, [e.text for e in val])
        split = calibrate.make_split(logits, emb, [e.label for e in val], labels)
        train_emb, train_truth = None, []
        if emb is not None and opts.train_file:
            train = load_many(_paths(opts.train_file))
            train_truth = [e.label for e in train]
            train_emb = model_outputs(served, [e.text for e in train])[1]
        choice = calibrate.choose(labels, split, train_emb, train_truth)
        stats_file = STATS_FILE if choice.calibration.method == "mahalanobis" else None
        cal_fields = calibrate.manifest_fields(choice, stats_file)
        for stage in (served, fp32) if served != fp32 else (served,):
            if stats_file and choice.calibration.stats is not None:
                stats = choice.calibration.stats
                np.savez(stage / stats_file, means=stats.means, precision=stats.precision)
            write_manifest(
                stage,
                {
                    **{k: v for k, v in _manifest(stage).items() if k not in ("files", "format_version")},
                    "calibration": cal_fields,
                },
            )
        compared = "; ".join(
            f"{k}: in-scope {v['in_scope_accuracy']}, out-of-scope recall {v['out_of_scope_recall']}"
            for k, v in choice.report["compared"].items()
        )
        steps.info(f"held-out halves of validation: {compared}")
        steps.info(
            f"chosen: {choice.calibration.method}, temperature {choice.calibration.temperature:.3f}, "
            f"threshold {choice.calibration.threshold}"
        )


def _fit_teaching(opts: ExportOptions, served: Path, fp32: Path, steps: Steps) -> None:
    """The teaching space and the taught-label thresholds (export/teaching.py), from the served model,
    written into both candidate bundles; skipped without train and validation splits or the output."""
    if not (opts.train_file and opts.calibration_file) or "teach_embedding" not in _output_names(served):
        steps.skip("Teaching not offered (needs --train, --validation and a mean-pooled BERT encoder)")
        return
    train, val = load_many(_paths(opts.train_file)), load_many(_paths(opts.calibration_file))
    with steps.step(f"Fitting teaching on {len(train)} training and {len(val)} validation examples"):
        fields, arrays = teaching.fit(served, train, val)
        if opts.examples:
            fields["examples"] = opts.examples
        for stage in (served, fp32) if served != fp32 else (served,):
            np.savez(stage / TEACHING_FILE, **arrays)
            write_manifest(
                stage,
                {
                    **{k: v for k, v in _manifest(stage).items() if k not in ("files", "format_version")},
                    "teaching": fields,
                },
            )
        sim = fields["simulated"]
        measured = "; ".join(
            f"{lang}: recall {sim[lang]['recall']}, unseen out-of-scope texts taken {sim[lang]['unseen_out_of_scope_taken']}"
            for lang in ("en", "ko")
            if lang in sim
        )
        steps.info(
            f"taught-label thresholds {fields['threshold']}: the labels taught as new, {sim['labels_at_once']} at "
            f"a time with {sim['examples']} examples each ({measured})"
        )


def _output_names(stage: Path) -> list[str]:
    import onnx

    return [o.name for o in onnx.load(str(stage / MODEL_FILE), load_external_data=False).graph.output]


def _base_fields(
    opts: ExportOptions, config: Any, labels: list[str], max_length: int, tags: list[str] | None = None
) -> dict[str, Any]:
    multi = getattr(config, "problem_type", None) == "multi_label_classification"
    slots = {"slot_tags": tags} if tags else {}  # only joint bundles: the runtime decodes slots when present
    return {
        "name": opts.name or Path(str(opts.model).rstrip("/")).name,
        "source": opts.source or str(opts.model),
        "task": "text-classification",
        "problem_type": "multi_label_classification" if multi else "single_label_classification",
        "labels": labels,
        "max_length": max_length,
        **slots,
        "optimization": None if opts.optimize == "none" else opts.optimize,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "exporter": _versions(),
    }


def _validate(fp32: Path, served: Path, examples: list[Example], labelled: bool, quantized: bool, steps: Steps):
    fp = evaluate(fp32, examples, by_example=False)
    q = evaluate(served, examples, by_example=False) if quantized else fp
    figures: dict[str, Any] = {
        "examples": len(examples),
        "accuracy_fp32": round(fp.accuracy, 4) if labelled else None,
        "accuracy_int8": round(q.accuracy, 4) if labelled and quantized else None,
        "agreement": round(agreement(fp.predictions, q.predictions), 4) if quantized else None,
    }
    if _manifest(served).get("slot_tags"):
        figures.update(_slot_gate_figures(fp, q, examples, quantized))
    figures["size_fp32"] = (fp32 / MODEL_FILE).stat().st_size
    figures["size_int8"] = (served / MODEL_FILE).stat().st_size if quantized else None
    figures["opset"] = _opset(served / MODEL_FILE)
    steps.info(", ".join(f"{k}={v}" for k, v in figures.items() if v is not None))
    figures["batch_invariance"] = inv = batch_invariance(served, [e.text for e in examples])
    steps.info(
        f"alone against {inv['batchings']} shuffled batchings of {'/'.join(map(str, inv['batch_sizes']))}: "
        f"{inv['label_changes']} answers changed, largest score move {inv['max_score_diff']:.1g}"
    )
    if labelled:
        # The served model's figures: what a board sees, with its calibration and threshold.
        served_figures = eval_figures(examples, q.details)
        labels = _manifest(served)["labels"]
        served_figures["ece_uncalibrated"] = round(
            uncalibrated_ece(model_outputs(served, [e.text for e in examples])[0], labels, examples), 4
        )
        figures.update(served_figures)
        steps.info(
            ", ".join(
                f"{k}={served_figures[k]}"
                for k in ("in_scope_accuracy", "out_of_scope_recall", "rejected", "ece", "ece_uncalibrated")
            )
        )
        for line in per_label_lines(served_figures["per_label"]):
            steps.info(line)
    return figures, fp.predictions, q.predictions


def _polarity_figures(served: Path, pairs_file: Path | None, steps: Steps) -> dict[str, Any]:
    """The minimal pairs the served model answers with the opposite action (none asked without a file)."""
    if pairs_file is None:
        return {}
    flips = polarity_flips(served, load_minimal_pairs(pairs_file))
    steps.info(f"minimal pairs ({_name(pairs_file)}): {len(flips)} answered with the opposite action")
    return {"polarity_flips": flips}


def _slot_gate_figures(fp, q, examples: list[Example], quantized: bool) -> dict[str, Any]:
    """The slot head, fp32 against int8: token-tag agreement, and span F1 of both against the data's spans."""
    out: dict[str, Any] = {"tag_agreement": round(tag_agreement(fp.details, q.details), 4) if quantized else None}
    if has_slots(examples):
        out["span_f1_fp32"] = slot_figures(examples, fp.details)["span_f1"]
        out["span_f1_int8"] = slot_figures(examples, q.details)["span_f1"] if quantized else None
    return out


def _refuse_if_disagreeing(figures: dict[str, Any], opts: ExportOptions) -> None:
    agree = figures["agreement"]
    problems = []
    if agree is not None and agree < opts.min_agreement:
        problems.append(
            f"the int8 model agrees with fp32 on only {agree:.1%} of {figures['examples']} examples "
            f"(--min-agreement {opts.min_agreement:.0%})"
        )
    tags = figures.get("tag_agreement")
    if tags is not None and tags < MIN_TAG_AGREEMENT:
        problems.append(f"its slot tags agree with fp32 on only {tags:.1%} of tokens (needs {MIN_TAG_AGREEMENT:.0%})")
    f1_fp, f1_q = figures.get("span_f1_fp32"), figures.get("span_f1_int8")
    if f1_fp is not None and f1_q is not None and round(f1_fp - f1_q, 4) > MAX_SPAN_F1_DROP:
        problems.append(
            f"its slot span F1 is {f1_q:.3f} against fp32's {f1_fp:.3f} (may drop {MAX_SPAN_F1_DROP:.2f} at most)"
        )
    flips = figures.get("polarity_flips") or []
    if flips:
        problems.append(
            f"{len(flips)} minimal pairs get the opposite action ({'; '.join(flips[:3])}; train on more "
            "sentences that differ only in on/off, start/dock or up/down)"
        )
    inv = figures.get("batch_invariance")
    if inv and (inv["label_changes"] or inv["max_score_diff"] > BATCH_SCORE_TOLERANCE):
        problems.append(
            f"{inv['label_changes']} of {inv['answers_compared']} answers changed with their batch-mates "
            f"(largest score move {inv['max_score_diff']:.2g}, allowed {BATCH_SCORE_TOLERANCE:g}); "
            "use --scales static"
        )
    if not problems:
        return
    message = (
        f"{'; '.join(problems)}; try another --quantize target or --optimize level, or pass --force to write it anyway"
    )
    if not opts.force:
        raise ExportError(message)
    log.warning("forced: %s", message)


def _stage_fp16(fp32: Path, dest: Path, tokenizer_json: Path, base: dict[str, Any]) -> Path:
    """A candidate bundle whose model.onnx is the fp16 conversion of the fp32 one, so the
    validation runs it through the runtime's own Classifier like the others. The fp32 stage's
    detector statistics come along: the bundle serves both models with one calibration."""
    dest.mkdir(parents=True, exist_ok=True)
    convert_to_fp16(fp32 / MODEL_FILE, dest / MODEL_FILE)
    shutil.copyfile(tokenizer_json, dest / TOKENIZER_FILE)
    if (fp32 / STATS_FILE).is_file():
        shutil.copyfile(fp32 / STATS_FILE, dest / STATS_FILE)
    write_manifest(dest, {**base, "quantization": None})
    return dest


def _validate_fp16(fp16: Path, examples: list[Example], labelled: bool, fp32_preds: list[str], steps: Steps):
    """fp16 against fp32 on the CPU (a GPU gives the same fp16 arithmetic up to rounding)."""
    result = evaluate(fp16, examples, by_example=False)
    figures = {
        "accuracy_fp16": round(result.accuracy, 4) if labelled else None,
        "agreement_fp16": round(agreement(fp32_preds, result.predictions), 4),
        "size_fp16": (fp16 / MODEL_FILE).stat().st_size,
    }
    steps.info(", ".join(f"{k}={v}" for k, v in figures.items() if v is not None))
    return figures


def _refuse_fp16_if_disagreeing(figures: dict[str, Any], opts: ExportOptions) -> None:
    agree = figures["agreement_fp16"]
    if agree >= FP16_MIN_AGREEMENT:
        return
    message = (
        f"the fp16 model agrees with fp32 on only {agree:.1%} of {figures['examples']} examples "
        f"(needs {FP16_MIN_AGREEMENT:.1%}); export without --gpu, or pass --force to write it anyway"
    )
    if not opts.force:
        raise ExportError(message)
    log.warning("forced: %s", message)


def _write_bundle(
    stage: Path,
    out: Path,
    fields: dict[str, Any],
    examples: list[Example],
    preds,
    extra_models: dict[str, Path] | None = None,
) -> Bundle:
    """Write the bundle beside `out`, then swap it in, so `out` is never half a bundle and
    never keeps files of an older export. The eval samples carry the predictions validated
    here, for a board's self-test before it switches to this bundle. `extra_models` are
    further model files by their name in the bundle (the fp16 one of a GPU bundle)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    for name in (MODEL_FILE, TOKENIZER_FILE, STATS_FILE, TEACHING_FILE):
        if name in (STATS_FILE, TEACHING_FILE) and not (stage / name).is_file():
            continue
        shutil.copyfile(stage / name, new / name)
    for name, src in (extra_models or {}).items():
        shutil.copyfile(src, new / name)
    with open(new / EVAL_SAMPLES_FILE, "w", encoding="utf-8") as handle:
        for text_label, expected in zip(examples[:EVAL_SAMPLES_IN_BUNDLE], preds):
            row = {"text": text_label.text, "label": text_label.label, "expected": expected}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    write_manifest(new, {**fields, "opset": fields["eval"]["opset"]})
    if out.exists():
        old = out.with_name(f".{out.name}.old-{time.time_ns()}")
        out.rename(old)
        shutil.rmtree(old)
    new.rename(out)
    return Bundle.load(out)
