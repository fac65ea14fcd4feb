"""The graph tidy before quantization (export/graph_tidy.py, issue 16): fewer nodes, the same
outputs, and a refusal when a rewrite would change them.

A real (tiny, random) BERT exported by Optimum, as every bundle starts; and one hand-made graph
whose shape arithmetic only looks constant on the probed shapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_app.errors import ExportError
from export import graph_tidy
from helpers.checkpoints import tiny_checkpoint  # noqa: F401  (a fixture)

TINY_LAYERS = 2


@pytest.fixture(scope="module")
def exported(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """The tiny checkpoint's model.onnx as Optimum exports it."""
    from optimum.onnxruntime import ORTModelForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-onnx")
    ORTModelForSequenceClassification.from_pretrained(tiny_checkpoint, export=True).save_pretrained(folder)
    return folder / "model.onnx"


def _run(path: Path, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: feed[i.name] for i in session.get_inputs()})


def _reshape_targets_from_shapes(graph: onnx.GraphProto) -> int:
    shape_only = graph_tidy._shape_only(graph)
    return sum(1 for n in graph.node if n.op_type == "Reshape" and n.input[1] in shape_only)


def _weight_matmuls(graph: onnx.GraphProto) -> int:
    weights = {i.name for i in graph.initializer}
    return sum(1 for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights)


def test_tidy_removes_the_shape_arithmetic_and_fuses_q_k_v(exported: Path, tmp_path: Path) -> None:
    before = onnx.load(str(exported)).graph
    from_shapes = _reshape_targets_from_shapes(before)
    assert from_shapes >= 4 * TINY_LAYERS  # Q, K, V and the context, per layer

    report = graph_tidy.tidy(exported, tmp_path / "tidy.onnx", max_length=128)

    after = onnx.load(str(tmp_path / "tidy.onnx")).graph
    # Only the attention mask's reshape keeps a computed target: it is not [batch, tokens, ...].
    assert _reshape_targets_from_shapes(after) == from_shapes - 4 * TINY_LAYERS <= 1
    assert report.constant_reshapes == 4 * TINY_LAYERS and report.qkv_fused == TINY_LAYERS
    assert report.constant_values >= TINY_LAYERS  # the attention scale
    assert report.nodes_before == len(before.node) and report.nodes_after == len(after.node)
    assert len(after.node) < 0.75 * len(before.node)
    assert _weight_matmuls(after) == _weight_matmuls(before) - 2 * TINY_LAYERS  # Q, K, V: three become one
    assert report.max_output_diff <= graph_tidy.MAX_OUTPUT_DIFF


def test_tidied_graph_answers_like_the_original_on_real_padded_text(
    exported: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:  # noqa: F811
    """Shapes the tidy never saw, padding included: every output the same."""
    from tokenizers import Tokenizer

    graph_tidy.tidy(exported, tmp_path / "tidy.onnx", max_length=128)
    tokenizer = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
    tokenizer.enable_padding()
    texts = [
        "turn on the lights",
        "set the oven to 200 degrees and start it in ten minutes please",
        "hi",
        "what is the weather like on the moon today",
        "volume up",
    ]
    enc = tokenizer.encode_batch(texts)
    feed = {
        "input_ids": np.array([e.ids for e in enc], np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], np.int64),
    }
    for original, tidied in zip(_run(exported, feed), _run(tmp_path / "tidy.onnx", feed)):
        np.testing.assert_allclose(tidied, original, atol=1e-5)


def _graph_with_a_value_constant_only_on_the_probes(path: Path) -> None:
    """out = ids + (tokens // 20) % 2: 0 for every probed length (7, 11, 128), 1 for 23 tokens."""
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"])
    out = helper.make_tensor_value_info("out", TensorProto.INT64, ["batch", "tokens"])
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in [("one", 1), ("twenty", 20), ("two", 2)]]
    nodes = [
        helper.make_node("Shape", ["input_ids"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["tokens"]),
        helper.make_node("Div", ["tokens", "twenty"], ["twentieths"]),
        helper.make_node("Mod", ["twentieths", "two"], ["parity"]),
        helper.make_node("Add", ["input_ids", "parity"], ["out"]),
    ]
    graph = helper.make_graph(nodes, "looks-constant", [ids], [out], consts)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_tidy_refuses_a_rewrite_that_changes_the_outputs(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    _graph_with_a_value_constant_only_on_the_probes(source)
    with pytest.raises(ExportError, match="changed its outputs.*--optimize none"):
        graph_tidy.tidy(source, tmp_path / "tidy.onnx", max_length=128)
    assert not (tmp_path / "tidy.onnx").exists()
