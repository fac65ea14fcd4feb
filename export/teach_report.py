"""How well a bundle learns new labels from a few examples: `python -m export.teach_report --bundle B`.

Teaches the hand-written hold-out's 6 new intents (export/data/teaching/holdout.json; 6 English and
4 Korean examples each) into a throw-away state dir, then classifies its other phrasings and the
commands and chatter that must keep their answer. Prints a table and the misses; `--json` writes it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from edge_app.classifier import Classifier
from edge_app.teach import Teacher

HOLDOUT = Path(__file__).resolve().parent / "data" / "teaching" / "holdout.json"


def report(bundle: str | Path, holdout: Path = HOLDOUT) -> dict:
    data = json.loads(holdout.read_text(encoding="utf-8"))
    clf = Classifier.load(bundle, verify=False, latency_session=False)
    with tempfile.TemporaryDirectory() as state:
        teacher = Teacher(state, lambda: clf)
        for label, examples in data["teach"].items():
            teacher.run({"teach": {"label": label, "examples": examples["en"] + examples["ko"]}})
        test = list(zip(data["test"], clf.classify([r["text"] for r in data["test"]], top_k=1)))
        keep = list(zip(data["keep"], clf.classify([r["text"] for r in data["keep"]], top_k=1)))
    chatter = [(r, p) for r, p in keep if r["label"] == "out_of_scope"]
    return {
        "bundle": str(bundle),
        "threshold": clf.teaching.threshold if clf.teaching else None,
        "taught_recognised": sum(p.label == r["label"] for r, p in test),
        "taught_texts": len(test),
        "taught_wrong_label": sum(p.taught and p.label != r["label"] for r, p in test),
        "known_kept": sum(p.label == r["label"] for r, p in keep if r["label"] != "out_of_scope"),
        "known_texts": len(keep) - len(chatter),
        "chatter_taken": sum(p.taught for r, p in chatter),
        "chatter_texts": len(chatter),
        "misses": [
            {"text": r["text"], "want": r["label"], "got": p.label, "score": round(p.score, 3)}
            for r, p in test + keep
            if p.label != r["label"]
        ],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.teach_report", description=__doc__.splitlines()[0])
    p.add_argument("--bundle", required=True, help="a bundle exported with teaching (teach_embedding)")
    p.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = p.parse_args(argv)
    r = report(args.bundle)
    print(f"threshold {r['threshold']}")
    print(
        f"new phrasings of taught labels recognised: {r['taught_recognised']}/{r['taught_texts']} "
        f"(given another taught label: {r['taught_wrong_label']})"
    )
    print(f"the bundle's own commands kept:            {r['known_kept']}/{r['known_texts']}")
    print(f"chatter and negations taken by a taught label: {r['chatter_taken']}/{r['chatter_texts']}")
    for miss in r["misses"]:
        print(f"  {miss['text']!r}: want {miss['want']}, got {miss['got']} ({miss['score']})")
    if args.json:
        args.json.write_text(json.dumps(r, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
