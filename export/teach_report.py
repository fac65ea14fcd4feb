"""How well a bundle learns new labels from a few examples: `python -m export.teach_report --bundle B`.

Teaches the hand-written hold-out's 6 new intents (export/data/teaching/holdout.json; 6 English and
4 Korean examples each) into a throw-away state dir, then classifies its other phrasings and the
commands and chatter that must keep their answer. Prints a table and the misses; `--json` writes it.
`--train OUT` instead trains the same examples into a bundle at OUT (`edge-app train --base default`, one
sentence file per language) and measures that bundle, untaught.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml

from edge_app.classifier import Classifier
from edge_app.teach import Teacher
from edge_app.text import is_hangul

from .data import DEFAULT_TEST_FILES, load_many
from .train import TrainOptions, train_sentences

HOLDOUT = Path(__file__).resolve().parent / "data" / "teaching" / "holdout.json"


def _accuracy(rows: list) -> float | None:
    return round(sum(p.label == r["label"] for r, p in rows) / len(rows), 4) if rows else None


def report(bundle: str | Path, holdout: Path = HOLDOUT, unrelated: list[str] | None = None, teach: bool = True) -> dict:
    """Teach the hold-out's labels into a throw-away state dir and measure; `unrelated`: texts that must stay
    out_of_scope after teaching (default: the out-of-scope texts of the default test split). `teach=False`:
    measure the bundle as it is (one trained with the labels, `train_bundle`)."""
    data = json.loads(holdout.read_text(encoding="utf-8"))
    clf = Classifier.load(bundle, verify=False, latency_session=False)
    unrelated = unrelated if unrelated is not None else _unrelated()
    texts = [r["text"] for r in data["test"]]
    before = clf.classify(texts, top_k=1)
    with tempfile.TemporaryDirectory() as state:
        teacher = Teacher(state, lambda: clf)
        for label, examples in data["teach"].items() if teach else ():
            teacher.run({"teach": {"label": label, "examples": examples["en"] + examples["ko"]}})
        test = list(zip(data["test"], clf.classify(texts, top_k=1)))
        keep = list(zip(data["keep"], clf.classify([r["text"] for r in data["keep"]], top_k=1)))
        after = clf.classify(unrelated, top_k=1) if unrelated else []
    chatter = [(r, p) for r, p in keep if r["label"] == "out_of_scope"]
    new = set(data["teach"])  # the set's new labels, taught or trained
    return {
        "bundle": str(bundle),
        "threshold": clf.teaching.threshold if clf.teaching else None,
        "taught_recognised": sum(p.label == r["label"] for r, p in test),
        "taught_texts": len(test),
        "accuracy_en": _accuracy([(r, p) for r, p in test if not is_hangul(r["text"])]),
        "accuracy_ko": _accuracy([(r, p) for r, p in test if is_hangul(r["text"])]),
        "out_of_scope_before": round(sum(p.label == "out_of_scope" for p in before) / len(before), 4),
        "unrelated_out_of_scope_after": round(sum(p.label == "out_of_scope" for p in after) / len(after), 4)
        if after
        else None,
        "unrelated_texts": len(after),
        "taught_wrong_label": sum(p.label in new and p.label != r["label"] for r, p in test),
        "known_kept": sum(p.label == r["label"] for r, p in keep if r["label"] != "out_of_scope"),
        "known_texts": len(keep) - len(chatter),
        "chatter_taken": sum(p.label in new for r, p in chatter),
        "chatter_texts": len(chatter),
        "misses": [
            {"text": r["text"], "want": r["label"], "got": p.label, "score": round(p.score, 3)}
            for r, p in test + keep
            if p.label != r["label"]
        ],
    }


def train_bundle(holdout: Path, out: Path, checkpoint: Path | None = None) -> Path:
    """The set's teaching examples as plain sentence files (en, ko), trained into `out` on the default model."""
    data = json.loads(holdout.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for lang in ("en", "ko"):
            intents = {label: {"data": [{"sentences": ex[lang]}]} for label, ex in data["teach"].items()}
            files.append(Path(tmp) / f"{lang}.yaml")
            files[-1].write_text(yaml.safe_dump({"language": lang, "intents": intents}, allow_unicode=True))
        train_sentences(TrainOptions(files=files, out=out, base="default", checkpoint=checkpoint))
    return out


def _unrelated() -> list[str]:
    """The default test split's out-of-scope texts: what the bundle refused before anything was taught."""
    return [e.text for e in load_many(DEFAULT_TEST_FILES) if e.label == "out_of_scope"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.teach_report", description=__doc__.splitlines()[0])
    p.add_argument("--bundle", help="a bundle exported with teaching (teach_embedding); not with --train")
    p.add_argument("--train", type=Path, default=None, help="train the examples into a bundle here and measure it")
    p.add_argument("--checkpoint", type=Path, default=None, help="with --train: the default build's checkpoint")
    p.add_argument(
        "--set", type=Path, default=HOLDOUT, help=f"the teaching set (default {HOLDOUT.name}; dev.json chose)"
    )
    p.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = p.parse_args(argv)
    if bool(args.bundle) == bool(args.train):
        p.error("give --bundle (teach it) or --train OUT (train the examples into a bundle), not both")
    bundle = train_bundle(args.set, args.train, args.checkpoint) if args.train else args.bundle
    r = report(bundle, args.set, teach=not args.train)
    print(f"threshold {r['threshold']}")
    print(f"bundle {bundle} ({'trained with the new labels' if args.train else 'taught the new labels'})")
    if not args.train:
        print(f"before teaching, the new phrasings answered out_of_scope: {r['out_of_scope_before']}")
    print(f"after teaching: English {r['accuracy_en']}, Korean {r['accuracy_ko']} on new phrasings")
    print(
        f"after teaching, unrelated texts still out_of_scope: {r['unrelated_out_of_scope_after']} "
        f"({r['unrelated_texts']} out-of-scope texts of the default test split)"
    )
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
