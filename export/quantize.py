"""int8 quantization of an exported encoder: one text, one answer.

Two methods, chosen by `edge-app export --scales`:
- `static` (the default): every MatMul with a weight gets fixed activation scales, calibrated once
  here on texts encoded and padded as the product pads them (per-channel int8 weights), and is
  written as one MatMulIntegerToFloat (`fuse_int8_matmuls`). A row's result then depends on that
  row alone, so a command gets the same label and score alone, in any batch and beside any padding.
- `dynamic`: onnxruntime computes each activation's scale per call from the whole batch, so a
  text's answer moves with its batch-mates; kept to compare against (docs/benchmarks.md).

Both leave the MatMuls of two activations (attention) in fp32 and store the embedding table as
int8 with a constant scale (a lookup, row by row, under either method).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.errors import ExportError
from edge_app.padding import split_by_length
from edge_app.tokenize import TextEncoder

CALIBRATION_TEXTS = 1024  # drawn evenly from every label of the given texts; fixed seed
CALIBRATION_BATCH = 32  # the service's batch size: calibration sees the padding the product adds
CALIBRATION_SEED = 13
# x86 without VNNI multiplies uint8 by int8 in int16 pairs that can saturate: 7-bit weights there
# (onnxruntime's reduce_range). Arm64 and VNNI compute exactly with full 8-bit weights.
REDUCE_RANGE_TARGETS = frozenset({"avx2", "avx512"})


def activation_matmuls(model_path: Path) -> list[str]:
    """MatMuls whose both inputs are activations (attention scores and context): int8 would
    quantize both sides on every call for little gain, and moves the scores."""
    import onnx  # the export extra

    graph = onnx.load(str(model_path), load_external_data=False).graph
    constants = {i.name for i in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and not set(n.input) & constants]


def pick_calibration_texts(
    texts: Sequence[str], labels: Sequence[str], count: int = CALIBRATION_TEXTS, seed: int = CALIBRATION_SEED
) -> list[str]:
    """Up to `count` texts, taken round-robin over the labels (each label's texts shuffled with
    `seed`), so every intent and language of the training data shapes the scales."""
    by_label: dict[str, list[str]] = {}
    for text, label in zip(texts, labels):
        by_label.setdefault(label, []).append(text)
    rng = random.Random(seed)
    pools = [rng.sample(group, len(group)) for _, group in sorted(by_label.items())]
    out: list[str] = []
    while len(out) < count and any(pools):
        for pool in pools:
            if pool and len(out) < count:
                out.append(pool.pop())
    return out


def calibration_feeds(
    texts: list[str], tokenizer_json: Path, max_length: int, input_names: list[str]
) -> list[dict[str, np.ndarray]]:
    """The model inputs for `texts` as the service builds them: batches of CALIBRATION_BATCH,
    each tokenized once and cut into the calls that pad least (edge_app.padding), as Classifier does."""
    encoder = TextEncoder(tokenizer_json, max_length)
    feeds = []
    for start in range(0, len(texts), CALIBRATION_BATCH):
        enc = encoder.encode(texts[start : start + CALIBRATION_BATCH], input_names)
        feeds += [enc.call_arrays(rows) for rows in split_by_length(enc.lengths)]
    return feeds


class _Feeds:
    """onnxruntime's CalibrationDataReader over prepared feeds (duck-typed: get_next, rewind)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = feeds
        self._it: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._feeds)


def _input_names(model_path: Path) -> list[str]:
    import onnx  # the export extra

    graph = onnx.load(str(model_path), load_external_data=False).graph
    constants = {i.name for i in graph.initializer}
    return [i.name for i in graph.input if i.name not in constants]


@contextmanager
def _quantizer_advice_hidden() -> Iterator[None]:
    """onnxruntime's quantizer warns on the root logger with advice for other models (pre-process
    an image model, a model already quantized by the first pass); errors still show."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_embedding(model_path: Path, out_path: Path) -> None:
    """The word-embedding lookup on an int8 table with one constant scale (onnxruntime's Gather
    quantizer): a quarter of the bundle's size, and each row's lookup is its own."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        model_path,
        out_path,
        op_types_to_quantize=["Gather"],
        weight_type=QuantType.QInt8,
        per_channel=False,
        extra_options={"WeightSymmetric": True},
    )


def quantize_static_matmuls(
    model_path: Path, out_path: Path, feeds: list[dict[str, np.ndarray]], exclude: list[str], reduce_range: bool = False
) -> None:
    """QDQ int8 on every MatMul with a constant weight but `exclude`: per-channel symmetric int8
    weights, uint8 activations with the MinMax range seen over `feeds`."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        model_path,
        out_path,
        _Feeds(feeds),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={
            "MatMulConstBOnly": True,
            "WeightSymmetric": True,
            "ActivationSymmetric": False,
            "OpTypesToExcludeOutputQuantization": ["MatMul"],
        },
    )


def fuse_int8_matmuls(model_path: Path) -> dict[str, int]:
    """Rewrite the QDQ model in place so that each quantized MatMul is one MatMulIntegerToFloat
    (onnxruntime's contrib op, as the dynamic model's DynamicQuantizeMatMul is) with its bias
    folded in, reading the activation's QuantizeLinear output and the int8 weight directly; and
    so that every other consumer of an activation (the residual Add after a LayerNorm) reads the
    float tensor again, as in the fp32 model. onnxruntime's QDQ writer hands the dequantized copy
    to every consumer, which put int8 rounding into the residual stream, and its load-time fusion
    leaves the bias as a separate Add. Returns what was rewritten."""
    import onnx  # the export extra
    from onnx import helper

    proto = onnx.load(str(model_path))
    graph = proto.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    constants = {init.name: init for init in graph.initializer}
    fused, floats, drop = 0, 0, set()
    for node in list(graph.node):
        if node.op_type != "MatMul":
            continue
        act, weight = (producer.get(name) for name in node.input)
        quant = producer.get(act.input[0]) if act is not None and act.op_type == "DequantizeLinear" else None
        if (
            quant is None
            or quant.op_type != "QuantizeLinear"
            or weight is None
            or weight.op_type != "DequantizeLinear"
            or weight.input[0] not in constants
        ):
            continue
        after = consumers.get(node.output[0], [])
        bias = None
        if len(after) == 1 and after[0].op_type == "Add":
            other = [name for name in after[0].input if name != node.output[0]]
            if len(other) == 1 and other[0] in constants and len(constants[other[0]].dims) == 1:
                bias = other[0]
        inputs = [
            quant.output[0],
            weight.input[0],
            act.input[1],
            weight.input[1],
            act.input[2] if len(act.input) > 2 else "",
            weight.input[2] if len(weight.input) > 2 else "",
        ]
        output = after[0].output[0] if bias else node.output[0]
        merged = helper.make_node(
            "MatMulIntegerToFloat",
            inputs + ([bias] if bias else []),
            [output],
            name=node.name + "/int8",
            domain="com.microsoft",
        )
        graph.node.insert(list(graph.node).index(node), merged)
        drop.update(id(n) for n in ([node, after[0]] if bias else [node]))
        fused += 1
    for node in graph.node:
        if node.op_type in ("MatMul", "MatMulIntegerToFloat") or id(node) in drop:
            continue
        for k, name in enumerate(node.input):
            dq = producer.get(name)
            quant = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if quant is not None and quant.op_type == "QuantizeLinear":
                node.input[k] = quant.input[0]
                floats += 1
    kept = [n for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(_without_dead_nodes(kept, {o.name for o in graph.output}))
    if not any(op.domain == "com.microsoft" for op in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(proto, str(model_path))
    return {"fused_matmuls": fused, "float_inputs": floats}


def _without_dead_nodes(nodes: list[Any], outputs: set[str]) -> list[Any]:
    """`nodes` less those whose outputs nothing reads (the DequantizeLinears the fusion bypassed)."""
    while True:
        read = outputs | {name for node in nodes for name in node.input}
        alive = [node for node in nodes if any(out in read for out in node.output)]
        if len(alive) == len(nodes):
            return alive
        nodes = alive


def quantize_static(
    model_path: Path, out_dir: Path, texts: list[str], tokenizer_json: Path, max_length: int, target: str
) -> dict[str, Any]:
    """`model_path` (fp32) -> `out_dir`/model.onnx with fixed activation scales; the manifest's
    `quantization` fields, saying how the scales were obtained."""
    if not texts:
        raise ExportError(
            "static quantization needs calibration texts; give --calibration-file or --train-file, "
            "or use --scales dynamic"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    exclude = activation_matmuls(model_path)
    feeds = calibration_feeds(texts, tokenizer_json, max_length, _input_names(model_path))
    staged = out_dir / "matmuls.onnx.tmp"
    reduce_range = target in REDUCE_RANGE_TARGETS
    with _quantizer_advice_hidden():
        quantize_static_matmuls(model_path, staged, feeds, exclude, reduce_range)
        quantize_embedding(staged, out_dir / "model.onnx")
    staged.unlink()
    rewritten = fuse_int8_matmuls(out_dir / "model.onnx")
    return {
        "method": "static",
        "target": target,
        "format": "QuantizeLinear + MatMulIntegerToFloat",
        "weights": "QInt8",
        "per_channel": True,
        "reduce_range": reduce_range,
        "activations": "QUInt8",
        "scales": {
            "calibration": "MinMax",
            "texts": len(texts),
            "batch": CALIBRATION_BATCH,
            "padding": "as the product pads (edge_app.padding)",
        },
        "operators": ["MatMul", "Gather"],
        "fp32_matmuls": len(exclude),
        **rewritten,
    }
