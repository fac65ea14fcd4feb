"""How many weights the model's matrix multiplications hold, read straight from model.onnx.

The int8 peak estimate needs "multiply-accumulates per token", which is the number of weight
parameters feeding MatMul-like nodes. The `onnx` package is an export-side dependency a board
does not have, so this reads the few protobuf fields it needs (graph nodes and initializer
shapes) by hand; tensor data is skipped, never decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Nodes whose second operand is a weight matrix when it is an initializer.
MATMUL_OPS = {
    "MatMul",
    "Gemm",
    "MatMulInteger",
    "DynamicQuantizeMatMul",
    "MatMulIntegerToFloat",
    "QLinearMatMul",
    "QGemm",
    "FusedMatMul",
    "MatMulNBits",
}
INT8_TYPES = {2, 3}  # TensorProto.UINT8, TensorProto.INT8

# ModelProto.graph, GraphProto.node / .initializer, NodeProto.input / .op_type,
# TensorProto.dims / .data_type / .name: field numbers from onnx.proto.
_MODEL_GRAPH, _GRAPH_NODE, _GRAPH_INIT = 7, 1, 5
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP = 1, 2, 4
_TENSOR_DIMS, _TENSOR_TYPE, _TENSOR_NAME = 1, 2, 8


@dataclass(frozen=True)
class MatmulWeights:
    """Weight parameters in matrix multiplications, split by storage type."""

    int8: int
    float: int
    nodes: int

    @property
    def total(self) -> int:
        return self.int8 + self.float


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview, start: int, end: int):
    """Yield (field number, wire type, value) where value is an int or a (start, end) span."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = 0, pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = (pos, pos + size), pos + size
        elif wire == 5:
            value, pos = 0, pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} at byte {pos}")
        yield number, wire, value


def _text(buf: memoryview, span: tuple[int, int]) -> str:
    return bytes(buf[span[0] : span[1]]).decode("utf-8", errors="replace")


def _tensor_shape(buf: memoryview, span: tuple[int, int]) -> tuple[str, list[int], int]:
    name, dims, dtype = "", [], 0
    for number, wire, value in _fields(buf, *span):
        if number == _TENSOR_DIMS and wire == 0:
            dims.append(value)
        elif number == _TENSOR_DIMS and wire == 2:  # packed repeated int64
            pos, end = value
            while pos < end:
                dim, pos = _varint(buf, pos)
                dims.append(dim)
        elif number == _TENSOR_TYPE:
            dtype = value
        elif number == _TENSOR_NAME:
            name = _text(buf, value)
    return name, dims, dtype


def _node(buf: memoryview, span: tuple[int, int]) -> tuple[str, list[str], list[str]]:
    op, inputs, outputs = "", [], []
    for number, _wire, value in _fields(buf, *span):
        if number == _NODE_INPUT:
            inputs.append(_text(buf, value))
        elif number == _NODE_OUTPUT:
            outputs.append(_text(buf, value))
        elif number == _NODE_OP:
            op = _text(buf, value)
    return op, inputs, outputs


def matmul_weights(model_path: Path) -> MatmulWeights:
    """Sum the 2-D initializers that feed MatMul-like nodes, directly or through a DequantizeLinear
    (a QDQ model keeps its int8 weights there); activation x activation products, such as
    attention scores, hold no weights and are not counted."""
    buf = memoryview(Path(model_path).read_bytes())
    graph = next((v for n, w, v in _fields(buf, 0, len(buf)) if n == _MODEL_GRAPH and w == 2), None)
    if graph is None:
        raise ValueError(f"{model_path} holds no ONNX graph")
    shapes: dict[str, tuple[list[int], int]] = {}
    nodes: list[tuple[str, list[str], list[str]]] = []
    for number, wire, value in _fields(buf, *graph):
        if number == _GRAPH_INIT and wire == 2:
            name, dims, dtype = _tensor_shape(buf, value)
            shapes[name] = (dims, dtype)
        elif number == _GRAPH_NODE and wire == 2:
            nodes.append(_node(buf, value))
    dequantized = {outputs[0]: inputs[0] for op, inputs, outputs in nodes if op == "DequantizeLinear" and outputs}
    int8 = floating = count = 0
    for op, inputs, _outputs in nodes:
        if op not in MATMUL_OPS:
            continue
        for name in inputs:
            dims, dtype = shapes.get(dequantized.get(name, name), ([], 0))
            if len(dims) == 2:
                count += 1
                if dtype in INT8_TYPES:
                    int8 += dims[0] * dims[1]
                else:
                    floating += dims[0] * dims[1]
    return MatmulWeights(int8=int8, float=floating, nodes=count)
