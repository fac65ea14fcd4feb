"""Can the latency and throughput sessions share one set of weights? `python -m edge_app_tools.bench.session_memory MODEL.onnx [OUT.json]`.

Each way of building the sessions runs in a fresh process (RSS is per process) and reports its
RSS after one call per session, and its batch-1 p50 per session:

- one: one session, all threads (Classifier with latency_session=False);
- two: a 2-thread and a 1-thread session, each loading the file (Classifier's default today);
- shared: both sessions given the same initializers, OrtValues from one load
  (SessionOptions.add_initializer; reading the initializers needs the `onnx` package, a workstation
  dependency, so this is a measurement, not something a board could do as is);
- shared, no prepacking: the same with session.disable_prepacking, so that no session keeps its own
  packed copy of the int8 weights.

onnxruntime's other sharing mechanisms are not reachable from Python 1.32: PrepackedWeightsContainer has
no binding, and session.use_ort_model_bytes_for_initializers needs a buffer that outlives the call,
which the Python binding's bytes argument does not (it crashes). docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .stats import median

WAYS = ("one", "two", "shared", "shared, no prepacking")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _options(threads: int, prepack: bool, initializers: list | None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not prepack:
        opts.add_session_config_entry("session.disable_prepacking", "1")
    for name, value in initializers or []:
        opts.add_initializer(name, value)
    opts.log_severity_level = 3
    return opts


def _initializers(model: str) -> tuple[list, float]:
    """(name, OrtValue) for every initializer, and the RSS the onnx import itself costs."""
    before = _rss_mib()
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    onnx_cost = _rss_mib() - before
    proto = onnx.load(model)
    values = [(t.name, ort.OrtValue.ortvalue_from_numpy(numpy_helper.to_array(t))) for t in proto.graph.initializer]
    return values, onnx_cost


def measure(way: str, model: str) -> dict[str, Any]:
    import onnxruntime as ort

    base = _rss_mib()
    shared, onnx_cost = _initializers(model) if way.startswith("shared") else (None, 0.0)
    threads = (2,) if way == "one" else (2, 1)
    sessions = [ort.InferenceSession(model, _options(t, "no prepacking" not in way, shared)) for t in threads]
    names = {i.name for i in sessions[0].get_inputs()}
    feeds = {
        k: v
        for k, v in {
            "input_ids": np.full((1, 12), 1000, np.int64),
            "attention_mask": np.ones((1, 12), np.int64),
            "token_type_ids": np.zeros((1, 12), np.int64),
        }.items()
        if k in names
    }
    p50 = []
    for session in sessions:
        for _ in range(30):
            session.run(None, feeds)
        samples = []
        for _ in range(300):
            start = time.perf_counter()
            session.run(None, feeds)
            samples.append(time.perf_counter() - start)
        p50.append(round(1000 * median(samples), 3))
    return {
        "way": way,
        "rss_mib": round(_rss_mib(), 1),
        "rss_after_import_mib": round(base, 1),
        "onnx_import_mib": round(onnx_cost, 1),
        "batch1_p50_ms_per_session": p50,
    }


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "--one":
        print(json.dumps(measure(argv[1], argv[2])))
        return 0
    if not argv:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    rows = []
    for way in WAYS:
        out = subprocess.run(
            [sys.executable, "-m", "edge_app_tools.bench.session_memory", "--one", way, argv[0]],
            capture_output=True,
            text=True,
        )
        rows.append(json.loads(out.stdout) if out.returncode == 0 else {"way": way, "error": out.stderr[-500:]})
        print(json.dumps(rows[-1]), flush=True)
    if len(argv) > 1:
        Path(argv[1]).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
