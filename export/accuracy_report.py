"""Figures and the reliability diagram for docs/accuracy.md, through the device runtime.

    python -m export.accuracy_report BUNDLE --set test=export/data/intents/test.jsonl \\
        --set holdout=export/data/near_domain_holdout.jsonl --plot docs/reliability.png

Prints one markdown row per set (in-scope accuracy, out-of-scope recall, opposite actions, wrong
actions scored >= 0.9, ECE before and after calibration), with --batching how many answers move
between a text alone and in shuffled batches, for a joint intent + slot bundle a second table per set annotated with slots
(intent accuracy, slot span precision/recall/F1, value exact match for temperature, duration and
volume), and draws, per set, the reliability of the int8 scores before (plain softmax) and
after calibration. matplotlib comes with the bench extra.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from edge_app.calibration import softmax
from edge_app.classifier import Classifier

from .data import (
    DEFAULT_TEST_FILES,
    DEFAULT_TRAIN_FILES,
    DEFAULT_VALIDATION_FILES,
    Example,
    has_slots,
    load_examples,
    load_many,
)
from .evaluate import ECE_BINS, VALUE_SLOTS, batch_invariance, ece, figures, slot_figures

TRAINING_DATA = (*DEFAULT_TRAIN_FILES, *DEFAULT_VALIDATION_FILES, *DEFAULT_TEST_FILES)


def measure(clf: Classifier, examples: list[Example]) -> dict:
    """The runtime's answers plus the raw (uncalibrated) confidences, for one labelled set."""
    preds = clf.classify([e.text for e in examples], top_k=1)
    out = figures(examples, preds)
    probs = softmax(clf.model_outputs([e.text for e in examples])[0])
    raw_right = np.array([clf.labels[i] == e.label for i, e in zip(probs.argmax(axis=1), examples)])
    out["raw"] = (probs.max(axis=1), raw_right)
    out["calibrated"] = (
        np.array([p.score for p in preds]),
        np.array([p.top_k[0][0] == e.label for p, e in zip(preds, examples)]),
    )
    out["ece_uncalibrated"] = round(ece(*out["raw"]), 4)
    out["examples"] = len(examples)
    out["misses"] = [
        (e.text, e.label, p.label, round(p.score, 3)) for e, p in zip(examples, preds) if p.label != e.label
    ]
    out["accuracy"] = round(sum(p.label == e.label for p, e in zip(preds, examples)) / len(examples), 4)
    if clf.slot_tags and has_slots(examples):
        out["slots"] = slot_figures(examples, preds)
        out["slot_misses"] = [
            (e.text, [(s.slot, e.text[s.start : s.end]) for s in e.slots], p.label, p.slots)
            for e, p in zip(examples, preds)
            if {(s.slot, s.start, s.end) for s in e.slots} != {(s.slot, s.start, s.end) for s in p.spans}
        ]
    return out


def slot_table(results: dict[str, dict]) -> list[str]:
    """The slot section's markdown rows: one per set that has slot annotations."""
    head = (
        "| set | n | intent accuracy | span precision | span recall | span F1 | "
        + " | ".join(f"{s} value exact (n)" for s in VALUE_SLOTS)
        + " |"
    )
    lines = [head, "|---" * (6 + len(VALUE_SLOTS)) + "|"]
    for name, res in results.items():
        if "slots" not in res:
            continue
        sl = res["slots"]
        values = " | ".join(
            "-" if v["exact"] is None else f"{v['exact']:.4f} ({v['n']})" for v in sl["value_exact_match"].values()
        )
        lines.append(
            f"| {name} | {res['examples']} | {res['accuracy']:.4f} | {sl['span_precision']:.4f} | "
            f"{sl['span_recall']:.4f} | {sl['span_f1']:.4f} | {values} |"
        )
    return lines


def _curve(conf: np.ndarray, right: np.ndarray) -> tuple[list[float], list[float], list[int]]:
    edges = np.linspace(0, 1, ECE_BINS + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, ECE_BINS - 1)
    xs, ys, ns = [], [], []
    for b in range(ECE_BINS):
        mask = which == b
        if mask.any():
            xs.append(float(conf[mask].mean()))
            ys.append(float(right[mask].mean()))
            ns.append(int(mask.sum()))
    return xs, ys, ns


def plot(results: dict[str, dict], path: Path, title: str) -> None:
    import matplotlib  # lazy: the bench extra, only for this report

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.8), squeeze=False)
    for ax, (name, res) in zip(axes[0], results.items()):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
        for key, style, label in (("raw", "o--", "softmax"), ("calibrated", "s-", "calibrated")):
            xs, ys, ns = _curve(*res[key])
            e = res["ece_uncalibrated"] if key == "raw" else res["ece"]
            ax.plot(xs, ys, style, label=f"{label} (ECE {e:.3f})")
            for x, y, n in zip(xs, ys, ns):
                ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(3, -10), fontsize=7)
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1.02),
            xlabel="score of the best candidate (15 bins, n per bin)",
            ylabel="share right",
            title=f"{name} (n={res['examples']})",
        )
        ax.legend(loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _key(text: str) -> str:
    return "".join(text.lower().split())


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--set", action="append", required=True, help="NAME=FILE of text,label")
    parser.add_argument("--plot", type=Path, help="write the reliability diagram here (PNG)")
    parser.add_argument("--misses", action="store_true", help="list every wrong answer")
    parser.add_argument(
        "--unseen",
        action="store_true",
        help="drop each set's sentences that are also in the default model's data (spaces and case ignored)",
    )
    parser.add_argument(
        "--batching",
        action="store_true",
        help="also classify each set alone and in 3 shuffled batchings of 8 and 32, and count answers that move",
    )
    args = parser.parse_args(argv)
    clf = Classifier.load(args.bundle, device="cpu")
    results = {}
    trained = {_key(e.text) for e in load_many(TRAINING_DATA)} if args.unseen else set()
    print(
        "| set | n | in-scope accuracy | out-of-scope recall | opposite actions | wrong actions scored >= 0.9 "
        "| rejected | ECE before | ECE after |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for spec in args.set:
        name, file = spec.split("=", 1)
        examples = load_examples(file)
        if args.unseen:
            examples = [e for e in examples if _key(e.text) not in trained]
        res = results[name] = measure(clf, examples)
        print(
            f"| {name} | {res['examples']} | {_num(res['in_scope_accuracy'])} | {_num(res['out_of_scope_recall'])} | "
            f"{res['opposite_actions']} | {_num(res['confident_wrong_actions'])} | "
            f"{res['rejected']:.4f} | {res['ece_uncalibrated']:.4f} | {res['ece']:.4f} |"
        )
    if args.batching:
        print()
        print("| set | answers compared | label or slot changes | largest score move |")
        print("|---|---|---|---|")
        for spec in args.set:
            name, file = spec.split("=", 1)
            inv = batch_invariance(args.bundle, [e.text for e in load_examples(file)])
            print(f"| {name} | {inv['answers_compared']} | {inv['label_changes']} | {inv['max_score_diff']:.2g} |")
    if any("slots" in res for res in results.values()):
        print()
        print("\n".join(slot_table(results)))
    for name, res in results.items():
        if args.misses:
            for text, truth, got, score in res["misses"]:
                print(f"{name}: {text!r} is {truth}, got {got} ({score})", file=sys.stderr)
            for text, gold, label, slots in res.get("slot_misses", []):
                print(f"{name}: {text!r} has slots {gold}, got {label} {slots}", file=sys.stderr)
    if args.plot:
        plot(results, args.plot, f"{clf.bundle.name}: int8 scores before and after calibration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
