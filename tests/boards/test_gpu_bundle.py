"""GPU bundles (issue 15): an fp16 model beside the int8 one, picked per device.

int8 quantization is a CPU technique; on a GPU fp16 is the fast one. There is no GPU
here, so the fp16 model's agreement is measured on the CPU (fp16 arithmetic is the same up to
rounding), and the per-device choice is tested where it is made.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_app.bundle import FP16_MODEL_FILE, MODEL_FILE, TOKENIZER_FILE, Bundle, write_manifest
from edge_app.classifier import Classifier
from edge_app.errors import BundleError
from edge_app.session import PROVIDERS, pick_model
from helpers.checkpoints import export_args, tiny_checkpoint  # noqa: F401  (tiny_checkpoint: a fixture)

TEST_SPLIT = Path(__file__).resolve().parents[2] / "export" / "data" / "intents" / "test.jsonl"
MB = 1_000_000


def texts() -> list[str]:
    return [json.loads(line)["text"] for line in TEST_SPLIT.read_text(encoding="utf-8").splitlines() if line.strip()]


def fields_of(bundle: Path) -> dict:
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    return {k: v for k, v in manifest.items() if k not in ("files", "format_version")}


@pytest.fixture(scope="module")
def fp16_stage(default_bundle_fp32: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model in fp16, staged by the export pipeline's own step (model.onnx = fp16)."""
    pytest.importorskip("onnx", reason="the fp16 conversion is on the export side (export extra)")
    from export.pipeline import _stage_fp16

    dest = tmp_path_factory.mktemp("fp16") / "bundle-fp16"
    return _stage_fp16(default_bundle_fp32, dest, default_bundle_fp32 / TOKENIZER_FILE, fields_of(default_bundle_fp32))


@pytest.fixture(scope="module")
def gpu_bundle(default_bundle: Path, fp16_stage: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default int8 bundle plus the fp16 model, laid out as `export --gpu` lays it out."""
    out = Path(shutil.copytree(default_bundle, tmp_path_factory.mktemp("gpu") / "bundle"))
    shutil.copyfile(fp16_stage / MODEL_FILE, out / FP16_MODEL_FILE)
    (out / "manifest.json").unlink()
    device_models = {"cpu": MODEL_FILE, "cuda": FP16_MODEL_FILE, "tensorrt": FP16_MODEL_FILE}
    write_manifest(out, {**fields_of(default_bundle), "device_models": device_models})
    return out


def test_fp16_agrees_with_fp32_on_the_test_split(default_bundle_fp32: Path, fp16_stage: Path) -> None:
    fp32 = Classifier.load(default_bundle_fp32, device="cpu", verify=False).classify(texts(), top_k=1)
    fp16 = Classifier.load(fp16_stage, device="cpu", verify=False).classify(texts(), top_k=1)
    same = sum(a.label == b.label for a, b in zip(fp32, fp16))
    assert same / len(fp32) >= 0.995, f"{same}/{len(fp32)}"
    assert max(abs(a.score - b.score) for a, b in zip(fp32, fp16)) < 0.02
    # fp16 halves fp32: the model and tokenizer alone stay under 50 MB.
    assert (fp16_stage / MODEL_FILE).stat().st_size + (fp16_stage / TOKENIZER_FILE).stat().st_size <= 50 * MB
    assert (fp16_stage / MODEL_FILE).stat().st_size < 0.55 * (default_bundle_fp32 / MODEL_FILE).stat().st_size


def test_a_gpu_bundle_serves_int8_on_the_cpu(default_bundle: Path, gpu_bundle: Path) -> None:
    bundle = Bundle.load(gpu_bundle)
    pick = lambda device: pick_model(bundle.model_path, bundle.device_models, PROVIDERS[device]).name  # noqa: E731
    assert pick("cuda") == FP16_MODEL_FILE and pick("cpu") == MODEL_FILE
    # Same scores to the last digit as the int8 bundle: the CPU ran model.onnx, not the fp16 one.
    sample = texts()[:40]
    want = [p.to_dict() for p in Classifier.load(default_bundle, device="cpu").classify(sample)]
    got = [p.to_dict() for p in Classifier.load(gpu_bundle, device="auto").classify(sample)]
    assert got == want


@pytest.mark.parametrize(
    "provider, expect",
    [
        (PROVIDERS["cuda"], FP16_MODEL_FILE),
        (PROVIDERS["tensorrt"], FP16_MODEL_FILE),
        (PROVIDERS["cpu"], MODEL_FILE),
    ],
)
def test_the_device_picks_the_model(provider: str, expect: str) -> None:
    device_models = {"cpu": Path(MODEL_FILE), "cuda": Path(FP16_MODEL_FILE), "tensorrt": Path(FP16_MODEL_FILE)}
    assert pick_model(Path(MODEL_FILE), device_models, provider).name == expect
    assert pick_model(Path(MODEL_FILE), None, provider).name == MODEL_FILE  # bundles without fp16: as before


@pytest.mark.parametrize(
    "device_models, complaint",
    [
        ({"npu": MODEL_FILE}, "unknown device"),
        ({"cuda": "model.fp16.onnx"}, "not a file of the bundle"),
        (["cuda"], "must map a device"),
    ],
)
def test_a_bad_device_models_entry_is_refused(bundle_copy: Path, device_models, complaint: str) -> None:
    manifest = json.loads((bundle_copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["device_models"] = device_models
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match=complaint):
        Bundle.load(bundle_copy)


def test_export_gpu_writes_the_fp16_model(tiny_checkpoint: Path, tmp_path: Path) -> None:  # noqa: F811
    """`edge-app export --gpu` end to end, on test_export's tiny random checkpoint (its fp16
    agreement means little with random weights, hence --force; the real figure is above)."""
    checkpoint = tiny_checkpoint
    out = tmp_path / "gpu-bundle"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge_app.cli",
            *export_args(checkpoint, out, "--min-agreement", "0", "--gpu", "--force"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[8/8]" in proc.stderr and "agreement_fp16=" in proc.stderr
    bundle = Bundle.load(out)
    assert bundle.manifest["device_models"] == {"cpu": MODEL_FILE, "cuda": FP16_MODEL_FILE, "tensorrt": FP16_MODEL_FILE}
    ev = bundle.manifest["eval"]
    assert ev["size_fp16"] < ev["size_fp32"] and 0 <= ev["agreement_fp16"] <= 1
    assert (out / FP16_MODEL_FILE).stat().st_size == ev["size_fp16"]
