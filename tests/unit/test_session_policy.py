"""The latency/throughput policy: a lone short text after a pause on a one-thread session,
bigger calls and texts arriving back to back on the session with every thread; same answers
either way, on the real default bundle."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edge_app.bundle import Bundle
from edge_app.classifier import Classifier
from edge_app.session import LATENCY_MAX_TOKENS, STREAM_GAP_S, Sessions, disabled_optimizers, session_options

BATCH = [
    "turn on the kitchen lights",
    "what is the weather tomorrow",
    "set a timer for ten minutes",
    "play some jazz in the living room",
    "lock the front door please",
] * 4


def test_calls_go_by_padded_token_count():
    sessions = Sessions(throughput="all", latency="one", provider="CPUExecutionProvider")
    lone = {"input_ids": np.zeros((1, LATENCY_MAX_TOKENS), np.int64)}
    longer = {"input_ids": np.zeros((1, LATENCY_MAX_TOKENS + 1), np.int64)}
    pair = {"input_ids": np.zeros((2, 12), np.int64)}  # two short commands: still little work
    batch = {"input_ids": np.zeros((4, 12), np.int64), "attention_mask": np.zeros((4, 12), np.int64)}
    assert sessions.for_call(lone) == "one" and sessions.for_call(pair) == "one"
    assert sessions.for_call(longer) == "all" and sessions.for_call(batch) == "all"


class _Recorder:
    """A stand-in session that notes which of the two ran a call."""

    def __init__(self, name: str, log: list[str]):
        self.name, self.log = name, log

    def run(self, names, arrays):
        self.log.append(self.name)
        return [self.name]


def test_a_stream_of_lone_texts_moves_to_all_cores_and_back_after_a_pause():
    log: list[str] = []
    sessions = Sessions(_Recorder("all", log), _Recorder("one", log), "CPUExecutionProvider", stream_gap_s=0.05)
    lone = {"input_ids": np.zeros((1, 12), np.int64)}
    sessions.run(["logits"], lone)  # nothing before it: a lone text after a pause
    sessions.run(["logits"], lone)  # right after the first: a stream
    time.sleep(0.08)
    sessions.run(["logits"], lone)
    assert log == ["one", "all", "one"]


def test_a_failing_call_still_counts_for_the_stream():
    class Failing:
        def run(self, names, arrays):
            raise RuntimeError("boom")

    sessions = Sessions(Failing(), Failing(), "CPUExecutionProvider")
    with pytest.raises(RuntimeError):
        sessions.run(["logits"], {"input_ids": np.zeros((1, 12), np.int64)})
    assert time.monotonic() - sessions._last_end < 1.0


def _threads(session) -> int:
    return session.get_session_options().intra_op_num_threads


def test_two_threads_give_a_one_thread_latency_session(default_bundle):
    clf = Classifier.load(default_bundle, device="cpu", threads=2, verify=False)
    assert _threads(clf.sessions.latency) == 1 and _threads(clf.sessions.throughput) == 2
    assert clf.session is clf.sessions.throughput  # `threads` keeps its meaning: the maximum


@pytest.mark.parametrize("kwargs", [{"threads": 1}, {"threads": 2, "latency_session": False}])
def test_one_thread_or_opt_out_keeps_one_session(default_bundle, kwargs):
    clf = Classifier.load(default_bundle, device="cpu", verify=False, **kwargs)
    assert clf.sessions.latency is clf.sessions.throughput
    assert _threads(clf.session) == kwargs["threads"]


def test_both_sessions_give_the_same_answers(default_bundle):
    policy = Classifier.load(default_bundle, device="cpu", threads=2, verify=False)
    single = Classifier.load(default_bundle, device="cpu", threads=2, verify=False, latency_session=False)
    for texts in (BATCH[:1], BATCH):  # one short text (latency session), a batch (throughput session)
        got, want = policy.classify(texts), single.classify(texts)
        assert [p.label for p in got] == [p.label for p in want]
        assert np.allclose([p.score for p in got], [p.score for p in want], atol=1e-5)
    lone = policy.encoder.encode(BATCH[:1], policy.input_names).arrays
    time.sleep(2 * STREAM_GAP_S)
    assert policy.sessions.for_call(lone) is policy.sessions.latency  # the text really took the other path


def _fused_ops(model: Path, disabled: list[str], out: Path) -> list[str]:
    """The node types onnxruntime runs for `model` with the product's options and `disabled`."""
    opts = session_options(2, False)
    opts.optimized_model_filepath = str(out)
    ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)
    return [n.op_type for n in onnx.load(str(out)).graph.node]


def test_cpu_sessions_keep_the_residual_add_and_layer_norm_apart(default_bundle: Path, tmp_path: Path) -> None:
    """The slow fused SkipLayerNormalization is what the name in CPU_DISABLED_OPTIMIZERS stops;
    a misspelt name would be ignored by onnxruntime without a word."""
    model = Bundle.load(default_bundle).model_path
    assert "SkipLayerNormalization" in _fused_ops(model, [], tmp_path / "fused.onnx")
    ops = _fused_ops(model, disabled_optimizers("CPUExecutionProvider"), tmp_path / "product.onnx")
    assert "SkipLayerNormalization" not in ops and "LayerNormalization" in ops
    assert disabled_optimizers("CUDAExecutionProvider") == []
