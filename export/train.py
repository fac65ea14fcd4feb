"""`edge-app train SENTENCES.yaml... --out BUNDLE`: a bundle that knows a user's own intents.

The sentence files are expanded with hassil (export/sentences.py), about 15% of each intent is held
out (whole templates where it can, export/holdout.py) and another 10% kept to calibrate on. Then:
- `--base default`: the default model's fine-tuned checkpoint (the cached default build) gets head
  rows for the new intents and slot tags (export/heads.py) and is trained briefly on each epoch's
  mix of the user's sentences and a fresh draw of the default training data;
- `--base none`: the bare encoder is trained on the user's sentences and our out-of-scope examples
  of the same languages, so the bundle can still refuse.
Both keep the default recipe's distillation to the frozen 12-layer e5 (`Recipe`), so the bundle's
`embedding` output stays good for similarity. The checkpoint goes through the one export path
(export_model: quantized, calibrated, gated); the held-out report follows (export/own_report.py).
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edge_app.bundle import Bundle
from edge_app.errors import ExportError
from edge_app.slots.schema import SLOT_NAMES, bio_tags
from edge_app.teaching import MAX_EXAMPLES

from .data import DEFAULT_TEST_FILES, DEFAULT_TRAIN_FILES, DEFAULT_VALIDATION_FILES, MINIMAL_PAIRS, Example, load_many
from .holdout import check_counts, covered, shared_sentences, split
from .progress import Steps
from .sentences import CAP, Expanded, expand_files

BASES = ("default", "none")
HELD_OUT = 0.15
VALIDATION = 0.10
EPOCHS = {"default": 10, "none": 15}
SEED = 13
# --base default: each epoch draws max(DEFAULT_MIN, DEFAULT_PER_OWN x own) default examples from a
# fixed pool of max(POOL_MIN, POOL_PER_OWN x own), which alone gets teacher embeddings.
DEFAULT_PER_OWN, DEFAULT_MIN = 2, 256
POOL_PER_OWN, POOL_MIN = 4, 1200
# --base none: our out-of-scope examples per own one, per epoch, and in validation and evaluation.
OUT_OF_SCOPE_PER_OWN, OUT_OF_SCOPE_MIN, OUT_OF_SCOPE_EVAL = 1, 64, 200
OWN_SHARE = 1 / 3  # --base default: of each epoch at least, the user's examples repeated where they are few
NAME = "edge-intents-own"


@dataclass
class TrainOptions:
    files: list[Path]
    out: Path
    base: str = "default"
    fp32_out: Path | None = None
    checkpoint: Path | None = None  # --base default: start here instead of the cached default build
    epochs: int | None = None  # default: EPOCHS[base]
    cap: int = CAP
    seed: int = SEED
    quantize: str = "arm64"
    force: bool = False
    name: str | None = None
    quiet: bool = False


@dataclass
class OwnData:
    """The user's examples: trained on, calibrated on, held out; and what was noticed on the way."""

    train: list[Example]
    validation: list[Example]
    held: list[Example]
    slot_types: dict[str, str]
    by_template: list[str]
    warnings: list[str] = field(default_factory=list)


class MixPlan:
    """Each epoch: every own example (the first `own` indices), repeated until they make at least `share`
    of it (with --base default: a few examples an intent must not drown in the default data), and a fresh
    draw of `draw` from the rest."""

    def __init__(self, own: int, total: int, draw: int, share: float = 0.0):
        self.rest, self.draw = list(range(own, total)), min(draw, total - own)
        repeats = max(1, math.ceil(self.draw * share / ((1 - share) * max(own, 1))))
        self.own = list(range(own)) * repeats
        self.size = len(self.own) + self.draw

    def order(self, generator: random.Random) -> list[int]:
        """One epoch's indices into the training examples, shuffled."""
        order = self.own + generator.sample(self.rest, self.draw)
        generator.shuffle(order)
        return order


@dataclass
class TrainingSet:
    train: list[Example]  # own examples first, then the drawn-from pool
    plan: MixPlan
    validation: list[Example]
    evaluation: list[Example]
    minimal_pairs: Path | None


def own_data(files: list[Path], cap: int, seed: int, others: list[Example] = ()) -> OwnData:
    """Expand, drop sentences shared by two intents (warning), check counts, split."""
    expanded = expand_files(files, cap, seed)
    if not expanded.examples:
        raise ExportError(f"{', '.join(map(str, files))}: no sentences to train on; add intents with sentences")
    warnings = list(expanded.notes)
    shared = shared_sentences(expanded.examples, others)
    for (a, b), texts in sorted(shared.items()):
        warnings.append(
            f"intents {a} and {b} share {len(texts)} identical sentences (e.g. {texts[0]!r}); "
            "they cannot be told apart there, so those sentences are left out"
        )
    clashing = {t for texts in shared.values() for t in texts}
    examples, groups = _unique(expanded, clashing)
    check_counts(examples)
    first = split(examples, groups, HELD_OUT, seed)
    rest = [examples[i] for i in first.train]
    second = split(rest, [groups[i] for i in first.train], VALIDATION / (1 - HELD_OUT), seed + 1)
    return OwnData(
        [rest[i] for i in second.train],
        [rest[i] for i in second.held],
        [examples[i] for i in first.held],
        expanded.slot_types,
        first.by_template,
        warnings,
    )


def _unique(expanded: Expanded, clashing: set[str]) -> tuple[list[Example], list[str]]:
    """Each sentence once per intent, none of the clashing ones, with its template group."""
    from .holdout import key

    seen: set[tuple[str, str]] = set()
    examples, groups = [], []
    for example, group in zip(expanded.examples, expanded.groups):
        k = key(example.text)
        if k in clashing or (example.label, k) in seen:
            continue
        seen.add((example.label, k))
        examples.append(example)
        groups.append(group)
    return examples, groups


def training_set(own: OwnData, base: str, seed: int) -> TrainingSet:
    """The examples to train, calibrate and validate on for `base`; our out-of-scope examples that
    the user's sentences now claim are left out (with a warning in `own.warnings`)."""
    rng = random.Random(seed)
    n = len(own.train)
    theirs = own.train + own.validation + own.held
    if base == "default":
        default = _unclaimed(load_many(DEFAULT_TRAIN_FILES), theirs, own.warnings)
        pool = rng.sample(default, min(len(default), max(POOL_MIN, POOL_PER_OWN * n)))
        plan = MixPlan(n, n + len(pool), max(DEFAULT_MIN, DEFAULT_PER_OWN * n), OWN_SHARE)
        return TrainingSet(
            own.train + pool,
            plan,
            _unclaimed(load_many(DEFAULT_VALIDATION_FILES), theirs) + own.validation,
            _unclaimed(load_many(DEFAULT_TEST_FILES), theirs) + own.held,
            MINIMAL_PAIRS,
        )
    langs = {e.lang for e in own.train}
    pool = _unclaimed(_out_of_scope(DEFAULT_TRAIN_FILES, langs), theirs, own.warnings)
    pool = rng.sample(pool, min(len(pool), max(2 * OUT_OF_SCOPE_MIN, 2 * OUT_OF_SCOPE_PER_OWN * n)))
    plan = MixPlan(n, n + len(pool), max(OUT_OF_SCOPE_MIN, OUT_OF_SCOPE_PER_OWN * n))
    validation = _sample(_unclaimed(_out_of_scope(DEFAULT_VALIDATION_FILES, langs), theirs), OUT_OF_SCOPE_EVAL, rng)
    evaluation = _sample(_unclaimed(_out_of_scope(DEFAULT_TEST_FILES, langs), theirs), OUT_OF_SCOPE_EVAL, rng)
    return TrainingSet(own.train + pool, plan, own.validation + validation, own.held + evaluation, None)


def _unclaimed(examples: list[Example], theirs: list[Example], warnings: list[str] | None = None) -> list[Example]:
    """`examples` without the out-of-scope ones close to the user's sentences (export/holdout.py)."""
    refusals = [e for e in examples if e.label == "out_of_scope"]
    claimed = {id(e) for e, hit in zip(refusals, covered(refusals, theirs)) if hit}
    if claimed and warnings is not None:
        sample = next(e.text for e in refusals if id(e) in claimed)
        warnings.append(
            f"{len(claimed)} of our out-of-scope training examples are close to your sentences "
            f"(e.g. {sample!r}) and were left out; the default model refused them"
        )
    return [e for e in examples if id(e) not in claimed]


def _out_of_scope(files, langs: set[str]) -> list[Example]:
    return [e for e in load_many(files) if e.label == "out_of_scope" and e.lang in langs]


def _sample(examples: list[Example], k: int, rng: random.Random) -> list[Example]:
    return rng.sample(examples, min(k, len(examples)))


def slot_tags(examples: list[Example]) -> list[str]:
    """The default tag set, then B-/I- for each slot the examples name that it lacks (first seen first)."""
    extra = dict.fromkeys(s.slot for e in examples for s in e.slots if s.slot not in SLOT_NAMES)
    return bio_tags() + [f"{p}-{name}" for name in extra for p in ("B", "I")]


def write_jsonl(path: Path, examples: list[Example]) -> Path:
    """Examples as JSONL rows that export/data.py reads back (slots with their spans)."""
    with open(path, "w", encoding="utf-8") as handle:
        for e in examples:
            row = {"text": e.text, "label": e.label, "lang": e.lang}
            if e.slots:
                row["slots"] = [{"slot": s.slot, "start": s.start, "end": s.end} for s in e.slots]
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def train_sentences(opts: TrainOptions) -> tuple[Bundle, dict]:
    """Expand, train, export and report; returns the bundle and the held-out report."""
    from .own_report import held_out_report, record_in_manifest

    if opts.base not in BASES:
        raise ExportError(f"--base {opts.base} is not one of {', '.join(BASES)}")
    steps = Steps(4, quiet=opts.quiet)
    with steps.step(f"Expanding {len(opts.files)} sentence file(s) with hassil"):
        own = own_data([Path(f) for f in opts.files], opts.cap, opts.seed)
        data = training_set(own, opts.base, opts.seed)
    _describe(own, data, steps)
    epochs = opts.epochs or EPOCHS[opts.base]
    with tempfile.TemporaryDirectory(prefix="edge-app-train-") as tmp:
        work = Path(tmp)
        with steps.step(
            f"Fine-tuning from {'the default model' if opts.base == 'default' else 'the bare encoder'} "
            f"({epochs} epochs of {data.plan.size} examples, seed {opts.seed})"
        ):
            checkpoint = _fine_tune(data, opts, epochs, work, steps)
        with steps.step("Exporting through the export pipeline"):
            bundle = _export(checkpoint, data, opts, work, remembered(own.train + own.validation, opts.seed))
    with steps.step(f"Checking {len(own.held)} held-out sentences"):
        report = held_out_report(bundle.path, own.held, steps)
    report["warnings"] = own.warnings + report["warnings"]
    for line in report["warnings"]:
        steps.info(f"warning: {line}")
    bundle = record_in_manifest(bundle, opts, own, report)
    return bundle, report


def _describe(own: OwnData, data: TrainingSet, steps: Steps) -> None:
    counts: dict[str, int] = {}
    for e in own.train + own.validation + own.held:
        counts[e.label] = counts.get(e.label, 0) + 1
    steps.info(", ".join(f"{label} {n}" for label, n in sorted(counts.items())))
    typed = ", ".join(f"{slot} ({kind})" for slot, kind in sorted(own.slot_types.items()))
    steps.info(f"slots: {typed or 'none'}")
    steps.info(
        f"{len(own.train)} to train on, {len(own.validation)} to calibrate on, {len(own.held)} held out "
        f"(whole templates for {len(own.by_template)} of {len(counts)} intents); "
        f"{len(data.train) - len(own.train)} more examples to draw from"
    )


def _fine_tune(data: TrainingSet, opts: TrainOptions, epochs: int, work: Path, steps: Steps) -> Path:
    """The fine-tuned checkpoint folder, under `work`."""
    from transformers import AutoTokenizer

    from .default_model import ENCODER, Recipe, _teacher, encoder_source, seed_training, train_joint
    from .heads import extended_joint
    from .joint import joint_from_encoder

    seed_training(opts.seed)
    labels = sorted({e.label for e in data.train})
    tags = slot_tags(data.train)
    recipe = Recipe()
    if opts.base == "default":
        source = _default_checkpoint(opts.checkpoint, steps, opts.quiet)
        model = extended_joint(source, labels, tags)
    else:
        source = encoder_source(ENCODER, work)
        model = joint_from_encoder(str(source), labels, tags, pooling=recipe.pooling)
    tokenizer = AutoTokenizer.from_pretrained(source)
    teacher = _teacher(data.train, ENCODER, recipe, work)
    train_joint(
        model,
        tokenizer,
        data.train,
        teacher,
        epochs=epochs,
        seed=opts.seed,
        recipe=recipe,
        quiet=opts.quiet,
        plan=data.plan,
    )
    out = work / "checkpoint"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _default_checkpoint(given: Path | None, steps: Steps, quiet: bool) -> Path:
    """--checkpoint, else the cached default build's checkpoint (built first when there is none)."""
    if given is not None:
        if not (Path(given) / "config.json").is_file():
            raise ExportError(
                f"--checkpoint {given} is not a checkpoint folder (no config.json); pass the "
                "`checkpoint` folder of a default build, or leave it out to use the cached one"
            )
        return Path(given)
    from .build_cache import cached_build, ensure_default_bundle

    found = cached_build()
    if found is None:
        steps.info("no cached default build yet: building it first (once; later runs reuse it)")
        found = ensure_default_bundle(say=steps.info, quiet=quiet)
    return found.checkpoint


def remembered(examples: list[Example], seed: int) -> dict[str, list[str]]:
    """Up to MAX_EXAMPLES of the user's sentences (never the held-out ones) of each intent, which the bundle
    also matches by similarity where its head refuses (edge_app/teaching.py): a few sentences train a head
    poorly."""
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for e in examples:
        by_label.setdefault(e.label, []).append(e.text)
    return {
        label: sorted(rng.sample(texts, min(MAX_EXAMPLES, len(texts)))) for label, texts in sorted(by_label.items())
    }


def _export(
    checkpoint: Path, data: TrainingSet, opts: TrainOptions, work: Path, examples: dict[str, list[str]]
) -> Bundle:
    from .default_model import ENCODER, ENCODER_SOURCES, Recipe
    from .pipeline import ExportOptions, export_model

    start = "the default model" if opts.base == "default" else ENCODER_SOURCES[ENCODER]
    files = ", ".join(Path(f).name for f in opts.files)
    return export_model(
        ExportOptions(
            model=str(checkpoint),
            out=Path(opts.out),
            quantize=opts.quantize,
            force=opts.force,
            eval_file=write_jsonl(work / "evaluation.jsonl", data.evaluation),
            calibration_file=write_jsonl(work / "validation.jsonl", data.validation),
            train_file=write_jsonl(work / "train.jsonl", data.train),
            fp32_out=opts.fp32_out,
            name=opts.name or NAME,
            quiet=opts.quiet,
            minimal_pairs=data.minimal_pairs,
            examples=examples,
            source=f"{start} fine-tuned on {files} (edge-app train --base {opts.base}; {Recipe().describe()}; "
            f"seed {opts.seed})",
        )
    )
