"""fp16 for GPUs: int8 dynamic quantization is a CPU technique (on a GPU it is slower than
fp16), so a GPU bundle also carries the fp32 model converted to fp16.

The conversion is onnxruntime's own (onnxruntime.transformers, what Optimum's fp16 optimisation
calls). Inputs and outputs stay as they were (int64 ids in, fp32 logits out), so the runtime
feeds and reads both models alike; Cast nodes at the edges do the rest.
"""

from __future__ import annotations

from pathlib import Path


def convert_to_fp16(src: Path, dest: Path) -> Path:
    """Write `src` (an fp32 ONNX model) as fp16 to `dest`; returns `dest`."""
    import onnx
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = OnnxModel(onnx.load(str(src)))
    model.convert_float_to_float16(keep_io_types=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model.model, str(dest))
    return dest
