"""The onnxruntime session: providers and options, decided once, in one place."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BundleError, ProviderError

log = logging.getLogger(__name__)

# What each --device name means, and the order `auto` tries them in.
PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
DEVICES = tuple(PROVIDERS)  # the devices a bundle's device_models may name
DEVICE_CHOICES = ("auto", *DEVICES)  # what --device and the config's `device` accept
AUTO_ORDER = ("tensorrt", "cuda", "cpu")

# The latency session takes model calls with at most this many padded tokens (batch x length):
# a lone command is 8-20 tokens, and below ~32 tokens handing work to a second thread and
# waking it costs more than it saves when threads do not spin (docs/benchmarks.md).
LATENCY_MAX_TOKENS = 32
# ...unless the call comes within this many seconds of the previous one's end: the texts then
# arrive as a stream, the cores have not gone idle and the caches are warm: back to back, a lone
# command runs faster on two threads than on one; after a pause, slower (docs/benchmarks.md).
STREAM_GAP_S = 0.002
# onnxruntime's CPU kernel for SkipLayerNormalization (the residual Add and the LayerNorm after it,
# fused at load) is slower than the two nodes it replaces: left apart, batch 32 runs faster and
# batch 1 the same (onnxruntime 1.32 on x86, docs/benchmarks.md; Arm boards untested).
CPU_DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


def physical_cores() -> int:
    """Physical cores, not hyper-threads: a second thread per core only adds contention here."""
    cores: set[str] = set()
    base = Path("/sys/devices/system/cpu")
    for topo in base.glob("cpu[0-9]*/topology"):
        try:
            package = (topo / "physical_package_id").read_text().strip()
            core = (topo / "core_id").read_text().strip()
        except OSError:
            continue
        cores.add(f"{package}:{core}")
    return len(cores) or os.cpu_count() or 1


def choose_providers(device: str, available: list[str]) -> list[str]:
    """Provider list for onnxruntime: the chosen one first, CPU always last as fallback for ops."""
    if device == "auto":
        device = next(d for d in AUTO_ORDER if PROVIDERS[d] in available)
    if device not in PROVIDERS:
        raise ProviderError(f"unknown device {device!r}; use one of {', '.join(DEVICE_CHOICES)}")
    wanted = PROVIDERS[device]
    if wanted not in available:
        names = ", ".join(available)
        raise ProviderError(
            f"device {device!r} needs {wanted}, which this onnxruntime does not offer (available: {names}); "
            "install onnxruntime-gpu for cuda/tensorrt, or use --device cpu"
        )
    return [wanted] if wanted == PROVIDERS["cpu"] else [wanted, PROVIDERS["cpu"]]


def device_of(provider: str) -> str:
    """The --device name of an execution provider (the inverse of PROVIDERS)."""
    return next(name for name, p in PROVIDERS.items() if p == provider)


def pick_model(model_path: Path, device_models: Mapping[str, Path] | None, provider: str) -> Path:
    """The bundle's model for the provider chosen (Bundle.device_models); `model_path` where the bundle names none."""
    return (device_models or {}).get(device_of(provider), model_path)


def session_options(threads: int | None, spin: bool):
    """The options of every product session: threads, and spinning only within a call."""
    import onnxruntime as ort  # lazy, like create_session: the CLI starts without it

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or physical_cores()
    opts.inter_op_num_threads = 1
    # Spinning makes worker threads busy-wait between the pieces of work of one call (no wake-up
    # per node) and, by default, after the call too, before they park. The second half is what
    # costs a board: busy CPU for a while after every call, so a trickle of MQTT messages keeps
    # a core (and its temperature) up for nothing. So threads spin only while a call runs and
    # stop at its end (force_spinning_stop): batch 32 runs faster than never spinning, with no
    # more CPU used after a call (docs/benchmarks.md). `spin` keeps them spinning
    # between calls as well, for throughput-bound uses that can spare the core.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")  # one inter-op thread: unused
    opts.add_session_config_entry("session.force_spinning_stop", "0" if spin else "1")
    opts.log_severity_level = 3
    return opts


def disabled_optimizers(provider: str) -> list[str]:
    """onnxruntime graph fusions left out on `provider` (see CPU_DISABLED_OPTIMIZERS)."""
    return list(CPU_DISABLED_OPTIMIZERS) if provider == PROVIDERS["cpu"] else []


def create_session(
    model_path: Path,
    device: str = "auto",
    threads: int | None = None,
    spin: bool = False,
    device_models: Mapping[str, Path] | None = None,
):
    """An InferenceSession tuned for a small board; returns (session, provider actually used).

    `device_models` (a GPU bundle's) picks the model per device once `auto` is resolved: fp16
    runs fast on a GPU, while on a CPU the int8 model in `model_path` is the fast one.
    """
    import onnxruntime as ort

    providers = choose_providers(device, ort.get_available_providers())
    model_path = pick_model(model_path, device_models, providers[0])
    opts = session_options(threads, spin)
    try:
        session = ort.InferenceSession(
            str(model_path),
            sess_options=opts,
            providers=providers,
            disabled_optimizers=disabled_optimizers(providers[0]),
        )
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise BundleError(f"onnxruntime cannot load {model_path} ({exc}); re-export the bundle") from None
    used = session.get_providers()[0]
    log.info(
        "onnxruntime %s on %s with %d threads (%s)",
        ort.__version__,
        used,
        opts.intra_op_num_threads,
        Path(model_path).name,
    )
    return session, used


@dataclass
class Sessions:
    """The latency/throughput policy: parallelism follows the load. A lone short text after a
    pause runs on a one-thread session (no thread hand-off, no wake-up of a parked core); a batch,
    or a text that follows the previous call within STREAM_GAP_S, runs on the all-cores session,
    whose threads have just been working. Both load the same model file; on a GPU, or with one
    thread, both names point at the same session. One caller at a time, like Classifier."""

    throughput: Any
    latency: Any
    provider: str
    max_latency_tokens: int = LATENCY_MAX_TOKENS
    stream_gap_s: float = STREAM_GAP_S
    _last_end: float = float("-inf")

    def for_call(self, arrays: Mapping[str, Any]) -> Any:
        """The session for one model call, by its padded token count and the time since the last."""
        first = next(iter(arrays.values()))
        streaming = time.monotonic() - self._last_end < self.stream_gap_s
        return self.latency if first.size <= self.max_latency_tokens and not streaming else self.throughput

    def run(self, output_names: list[str], arrays: Mapping[str, Any]) -> list[Any]:
        """One model call on the session for_call picks."""
        try:
            return self.for_call(arrays).run(output_names, arrays)
        finally:
            self._last_end = time.monotonic()


def create_sessions(
    model_path: Path,
    device: str = "auto",
    threads: int | None = None,
    spin: bool = False,
    device_models: Mapping[str, Path] | None = None,
    latency_session: bool = True,
) -> Sessions:
    """The throughput session with `threads` (all physical cores when None) and, on a multi-core CPU,
    a one-thread latency session beside it (`latency_session=False`: the throughput session alone)."""
    session, provider = create_session(model_path, device, threads, spin, device_models)
    cpu = provider == PROVIDERS["cpu"]
    if not (latency_session and cpu and (threads or physical_cores()) > 1):
        return Sessions(session, session, provider)
    lone, _ = create_session(model_path, "cpu", 1, spin, device_models)
    return Sessions(session, lone, provider)
