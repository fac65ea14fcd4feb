"""Tidy an exported encoder's fp32 graph before quantization, without changing what it computes.

Why: a short command on a board is a batch of one with ~13 tokens, and then the model call is
mostly kernel launches, not arithmetic. The exported BERT graph recomputes, in every layer, the
shapes its Reshapes need (Shape -> Gather -> Unsqueeze -> Concat) and the attention scale
(Shape -> Slice -> Cast -> Sqrt -> Div -> Sqrt), and it projects Q, K and V with three MatMuls
on the same input. ORTOptimizer's O1 leaves all of that in place: its fusions that would remove
it (O2's Attention) made the int8 model no faster (docs/benchmarks.md).

So, on the O1 graph:
- a Reshape whose target is [batch, seq, 12, 32] gets the constant target [0, 0, 12, 32]
  (0 copies the input's dimension), and a value computed only from shapes that is the same for
  every probed input shape (the attention scale) becomes a constant;
- three MatMul + Add pairs that share their input become one MatMul on the concatenated weights,
  one Add, and a Split.
Nodes nobody reads any more are dropped. The tidied graph is run against the original on input
shapes it was not probed with, and refused unless their outputs agree.

Measured on the e5 default (docs/benchmarks.md, fifth pass): 358 -> 226 nodes; int8 batch 1
about 13 % faster, fp32 batch 1 about 10 %; batch 32 unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from edge_app.errors import ExportError

# Input shapes (batch, tokens) the graph is probed with. Odd sizes, so that no dimension equals
# a head count or width by chance; the bundle's max_length is added, so a value that changes
# only for long inputs is not taken for a constant.
PROBE_SHAPES = ((1, 7), (3, 11))
# Shapes the tidied graph is checked on: none of them was probed.
CHECK_SHAPES = ((4, 23), (1, 3), (2, 64))
MAX_OUTPUT_DIFF = 1e-4  # fp32 against fp32: only the order of additions may differ
FIRST_ID = 5  # probe token ids start above the usual special tokens (pad, cls, sep, unk, mask)


@dataclass
class TidyReport:
    """What `tidy` changed; recorded in the bundle's manifest."""

    nodes_before: int
    nodes_after: int
    constant_reshapes: int
    constant_values: int
    qkv_fused: int
    max_output_diff: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def tidy(src: Path, dest: Path, max_length: int) -> TidyReport:
    """Write the tidied form of the fp32 model at `src` to `dest`; ExportError if it would
    compute something else."""
    original = onnx.load(str(src))
    model = copy.deepcopy(original)
    before = len(model.graph.node)
    shapes = [*PROBE_SHAPES, (2, max_length)]
    reshapes, values = _fold_shapes(model, shapes)
    fused = _fuse_shared_projections(model)
    _drop_unused(model.graph)
    onnx.checker.check_model(model)
    diff = _largest_difference(original, model, [s for s in CHECK_SHAPES if s[1] <= max_length])
    if not diff <= MAX_OUTPUT_DIFF:  # also refuses NaN
        raise ExportError(
            f"tidying the graph of {src.name} changed its outputs by up to {diff:.2g}; "
            "export with --optimize none to keep the graph as exported, and report this model"
        )
    onnx.save(model, str(dest))
    return TidyReport(before, len(model.graph.node), reshapes, values, fused, diff)


def _feed(inputs: list[Any], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Token ids, zero segment ids and an attention mask for every graph input; row k of the
    mask pads its last k tokens, as a batch of texts of different lengths would."""
    batch, tokens = shape
    rng = np.random.default_rng(batch * 1000 + tokens)
    feed = {}
    for value in inputs:
        dtype = helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        if "mask" in value.name:
            feed[value.name] = (np.arange(tokens)[None, :] < tokens - np.arange(batch)[:, None] % tokens).astype(dtype)
        elif "ids" in value.name and "type" not in value.name:
            feed[value.name] = rng.integers(FIRST_ID, FIRST_ID + 95, shape).astype(dtype)
        else:
            feed[value.name] = np.zeros(shape, dtype)
    return feed


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every name
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _values(model: onnx.ModelProto, names: list[str], shapes: list[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
    """The values of tensors `names` for an input of each shape: the model with them as outputs."""
    probe = copy.deepcopy(model)
    typed = onnx.shape_inference.infer_shapes(probe).graph
    known = {v.name: v for v in [*typed.value_info, *typed.output]}
    del probe.graph.output[:]
    probe.graph.output.extend(known.get(n) or helper.make_empty_tensor_value_info(n) for n in names)
    session = _session(probe)
    return [dict(zip(names, session.run(names, _feed(list(model.graph.input), s)))) for s in shapes]


def _shape_only(graph: onnx.GraphProto) -> set[str]:
    """Tensors computed from input shapes and constants only, never from input values."""
    constants = {i.name for i in graph.initializer}
    found: set[str] = set()
    for node in graph.node:  # ONNX keeps nodes in topological order
        if (
            node.op_type == "Shape"
            or node.op_type == "Constant"
            or (node.input and all(i in constants or i in found or i == "" for i in node.input))
        ):
            found.update(node.output)
    return found


def _fold_shapes(model: onnx.ModelProto, shapes: list[tuple[int, int]]) -> tuple[int, int]:
    """Constant Reshape targets and constant shape-only values; returns how many of each."""
    graph = model.graph
    shape_only = _shape_only(graph)
    reshapes = [
        n
        for n in graph.node
        if n.op_type == "Reshape"
        and n.input[1] in shape_only
        and not any(a.name == "allowzero" and a.i for a in n.attribute)
    ]
    targets = {n.input[1] for n in reshapes}
    frontier = sorted(
        {i for n in graph.node if not set(n.output) <= shape_only for i in n.input if i in shape_only} - targets
    )
    runs = _values(model, sorted(targets | {n.input[0] for n in reshapes} | set(frontier)), shapes)
    added: list[onnx.TensorProto] = []
    for node in reshapes:
        target = _static_target([run[node.input[1]] for run in runs], [run[node.input[0]].shape for run in runs])
        if target is not None:
            added.append(numpy_helper.from_array(target, f"{node.input[1]}/static"))
            node.input[1] = added[-1].name
    folded_reshapes = len(added)
    for name in frontier:
        seen = [run[name] for run in runs]
        if all(v.shape == seen[0].shape and v.dtype == seen[0].dtype and np.array_equal(v, seen[0]) for v in seen):
            added.append(numpy_helper.from_array(seen[0], f"{name}/static"))
            _rename_input(graph, name, added[-1].name)
    graph.initializer.extend(added)
    return folded_reshapes, len(added) - folded_reshapes


def _static_target(targets: list[np.ndarray], inputs: list[tuple[int, ...]]) -> np.ndarray | None:
    """[0, 0, *tail] (or -1 where the graph says -1) when every probe asked for the input's own
    leading dimensions and the same tail; None when the target is not of that form."""
    if (
        len({t.shape for t in targets}) != 1
        or targets[0].ndim != 1
        or targets[0].size < 3
        or any(len(dims) < 2 for dims in inputs)
    ):
        return None
    heads = {
        tuple(0 if x == dims[k] else -1 if x == -1 else None for k, x in enumerate(t[:2].tolist()))
        for t, dims in zip(targets, inputs)
    }
    tails = {tuple(t[2:].tolist()) for t in targets}
    if len(heads) != 1 or len(tails) != 1 or None in next(iter(heads)):
        return None
    return np.array([*next(iter(heads)), *next(iter(tails))], dtype=np.int64)


def _rename_input(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name == old:
                node.input[k] = new


def _fuse_shared_projections(model: onnx.ModelProto) -> int:
    """Q, K and V: three MatMul(x, W) + Add(b) on one x -> one MatMul, one Add, one Split."""
    graph = model.graph
    if max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < 13:
        return 0  # Split takes its sizes as an input from opset 13 on
    weights = {i.name: i for i in graph.initializer}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    nodes = list(graph.node)
    position = {out: k for k, node in enumerate(nodes) for out in node.output}
    groups: dict[str, list[tuple[int, int]]] = {}  # x -> (MatMul, Add) positions
    for k, node in enumerate(nodes):
        after = readers.get(node.output[0], [])
        if (
            node.op_type == "MatMul"
            and node.input[1] in weights
            and len(after) == 1
            and after[0].op_type == "Add"
            and _bias_of(after[0], weights) is not None
        ):
            groups.setdefault(node.input[0], []).append((k, position[after[0].output[0]]))
    replaced: dict[int, list[onnx.NodeProto]] = {}
    dropped: set[int] = set()
    for x, pairs in groups.items():
        fused = (
            _fused_projection(x, [(nodes[m], nodes[a]) for m, a in pairs], weights, graph) if len(pairs) == 3 else None
        )
        if fused:
            replaced[pairs[0][0]] = fused
            dropped.update(k for pair in pairs for k in pair)
    tidied = [new for k, node in enumerate(nodes) for new in [*replaced.get(k, []), *([] if k in dropped else [node])]]
    del graph.node[:]
    graph.node.extend(tidied)
    return len(replaced)


def _bias_of(add: onnx.NodeProto, weights: dict[str, onnx.TensorProto]) -> str | None:
    return next((i for i in add.input if i in weights and len(weights[i].dims) == 1), None)


def _fused_projection(x: str, pairs, weights: dict[str, onnx.TensorProto], graph: onnx.GraphProto):
    """The MatMul, Add and Split that replace `pairs`; None when their weights differ in shape."""
    w = [numpy_helper.to_array(weights[m.input[1]]) for m, _ in pairs]
    b = [numpy_helper.to_array(weights[_bias_of(a, weights)]) for _, a in pairs]
    if len({m.shape for m in w}) != 1 or w[0].ndim != 2 or any(v.shape != (m.shape[1],) for v, m in zip(b, w)):
        return None
    name = pairs[0][0].name + "/qkv"
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.concatenate(w, axis=1), name + "/weight"),
            numpy_helper.from_array(np.concatenate(b), name + "/bias"),
            numpy_helper.from_array(np.array([m.shape[1] for m in w], dtype=np.int64), name + "/split"),
        ]
    )
    return [
        helper.make_node("MatMul", [x, name + "/weight"], [name + "/matmul"], name=name + "/MatMul"),
        helper.make_node("Add", [name + "/matmul", name + "/bias"], [name + "/add"], name=name + "/Add"),
        helper.make_node(
            "Split", [name + "/add", name + "/split"], [a.output[0] for _, a in pairs], axis=-1, name=name + "/Split"
        ),
    ]


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Nodes whose outputs nothing reads, and initializers no node reads."""
    live = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(o in live for o in node.output):
            kept.append(node)
            live.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = [i for i in graph.initializer if i.name in live]
    del graph.initializer[:]
    graph.initializer.extend(used)


def _largest_difference(a: onnx.ModelProto, b: onnx.ModelProto, shapes: list[tuple[int, int]]) -> float:
    """The largest absolute difference between any output of `a` and `b` over `shapes`."""
    first, second = _session(a), _session(b)
    names = [o.name for o in a.graph.output]
    worst = 0.0
    for shape in shapes:
        feed = _feed(list(a.graph.input), shape)
        for x, y in zip(first.run(names, feed), second.run(names, feed)):
            if x.shape != y.shape:
                return float("inf")
            worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y))) if x.size else 0.0)
    return worst
