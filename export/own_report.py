"""What `edge-app train` reports on the user's held-out sentences: per-label precision and recall
of the written bundle (through the runtime's Classifier), and the pairs of intents it mixes up."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from edge_app.bundle import Bundle, write_manifest
from edge_app.calibration import OUT_OF_SCOPE

from .data import Example
from .progress import Steps

CONFUSED = 0.2  # share of one intent's held-out sentences answered as another that earns a warning
CONFUSED_MIN = 2  # ... and at least this many of them
LOW_RECALL = 0.5  # an intent recognised in fewer of its held-out sentences than this earns a warning


def held_out_report(bundle: Path, held: list[Example], steps: Steps) -> dict[str, Any]:
    """Per-label precision/recall on `held` (the bundle's answers, rejections included) and warnings
    for intents confused with one another."""
    from .evaluate import evaluate, figures, per_label_lines

    result = evaluate(bundle, held)
    found = figures(held, result.details)
    for line in per_label_lines(found["per_label"]):
        steps.info(line)
    steps.info(f"held-out accuracy {result.accuracy:.3f}, rejected {found['rejected']}")
    return {
        "examples": len(held),
        "accuracy": round(result.accuracy, 4),
        "rejected": found["rejected"],
        "per_label": found["per_label"],
        "warnings": confusions(held, result.predictions) + missed(found["per_label"]),
    }


def missed(per_label: dict[str, dict[str, Any]]) -> list[str]:
    """A warning per intent recognised in fewer than LOW_RECALL of its held-out sentences."""
    return [
        f"only {row['recall']:.0%} of the {row['support']} held-out {label} sentences were recognised; "
        "write more varied sentences for it (other verbs, word orders, templates)"
        for label, row in per_label.items()
        if label != OUT_OF_SCOPE and row["recall"] is not None and row["recall"] < LOW_RECALL
    ]


def confusions(held: list[Example], predictions: list[str]) -> list[str]:
    """A warning per (intent, other intent) where the other took at least CONFUSED of its sentences."""
    support = Counter(e.label for e in held)
    pairs = Counter((e.label, p) for e, p in zip(held, predictions) if p not in (e.label, OUT_OF_SCOPE))
    out = []
    for (truth, answer), n in sorted(pairs.items()):
        if n >= CONFUSED_MIN and n / support[truth] >= CONFUSED:
            example = next(e.text for e, p in zip(held, predictions) if e.label == truth and p == answer)
            out.append(
                f"{n} of {support[truth]} held-out {truth} sentences were answered as {answer} "
                f"(e.g. {example!r}); make their sentences more different, or merge the two intents"
            )
    return out


def record_in_manifest(bundle: Bundle, opts: Any, own: Any, report: dict[str, Any]) -> Bundle:
    """Add what the bundle was trained from, its slots' types and the held-out figures to its manifest
    (and the fp32 twin's), before any signing."""
    fields = {
        "slot_types": own.slot_types,
        "trained_from": {
            "base": opts.base,
            "files": [Path(f).name for f in opts.files],
            "held_out": {k: report[k] for k in ("examples", "accuracy", "rejected", "per_label")},
        },
    }
    for folder in (bundle.path, opts.fp32_out):
        if folder is None:
            continue
        manifest = Bundle.load(folder).manifest
        kept = {k: v for k, v in manifest.items() if k not in ("files", "format_version")}
        write_manifest(folder, {**kept, **fields})
    return Bundle.load(bundle.path)
