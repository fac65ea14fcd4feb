"""`edge-app train`: sentence files expanded through hassil into examples with slot spans, the
held-out split, the head extension, and one real training run (`--base none`) end to end."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_app.errors import ExportError
from export.annotations import Annotations
from export.holdout import check_counts, shared_sentences, split
from export.sentences import expand
from export.train import MixPlan, own_data, slot_tags

pytest.importorskip("hassil")


def texts(data: dict, label: str | None = None) -> set[str]:
    return {e.text for e in expand(data).examples if label is None or e.label == label}


def one_intent(*sentences: str, **extra) -> dict:
    return {"language": "en", "intents": {"act": {"data": [{"sentences": list(sentences)}]}}, **extra}


def spans(example) -> list[tuple[str, str]]:
    return [(s.slot, example.text[s.start : s.end]) for s in example.slots]


# --- expansion through hassil ----------------------------------------------------------------------


def test_alternatives_and_optional_words_expand():
    assert texts(one_intent("(open|raise) [the] blinds")) == {
        "open the blinds",
        "open blinds",
        "raise the blinds",
        "raise blinds",
    }


def test_list_values_become_slot_spans_named_after_the_list():
    data = one_intent(
        "brew [me] a {coffee} please",
        lists={"coffee": {"values": ["latte", {"in": "(long black|americano)", "out": "americano"}]}},
    )
    found = {e.text: e for e in expand(data).examples}
    assert set(found) == {f"brew{me} a {c} please" for me in ("", " me") for c in ("latte", "long black", "americano")}
    example = found["brew me a long black please"]
    assert spans(example) == [("coffee", "long black")]
    assert example.slots[0].value == "americano"


def test_area_is_the_room_slot_and_has_values_when_the_file_defines_none():
    examples = expand(one_intent("{area} blinds up")).examples
    assert {"kitchen blinds up", "living room blinds up"} <= {e.text for e in examples}
    assert all(spans(e) == [("room", e.text.removesuffix(" blinds up"))] for e in examples)


def test_expansion_rules_global_and_per_data_block():
    data = {
        "language": "en",
        "expansion_rules": {"open": "(open|raise)"},
        "intents": {"act": {"data": [{"sentences": ["<open> <what>"], "expansion_rules": {"what": "[the] shades"}}]}},
    }
    assert texts(data) == {"open the shades", "open shades", "raise the shades", "raise shades"}


def test_range_list_digits_and_words_typed_by_the_range():
    data = one_intent(
        "blinds to {position} percent",
        lists={"position": {"range": {"from": 0, "to": 100, "step": 50, "type": "percentage"}}},
    )
    result = expand(data)
    assert {"blinds to 50 percent", "blinds to fifty percent", "blinds to one hundred percent"} <= {
        e.text for e in result.examples
    }
    assert result.slot_types == {"position": "percentage"}
    fifty = next(e for e in result.examples if e.text == "blinds to fifty percent")
    assert spans(fifty) == [("position", "fifty")] and fifty.slots[0].value == 50


def test_slots_typed_by_name_or_text():
    data = one_intent(
        "water for {minutes} minutes in the {zone}",
        lists={"minutes": {"range": {"from": 5, "to": 10, "step": 5}}, "zone": {"values": ["front", "back"]}},
    )
    assert expand(data).slot_types == {"minutes": "number", "zone": "text"}
    named = one_intent("set {temperature}", lists={"temperature": {"range": {"from": 20, "to": 22}}})
    assert expand(named).slot_types == {"temperature": "temperature"}


def test_a_schema_value_slot_carries_no_list_value():
    named = one_intent("heat to {temperature} degrees", lists={"temperature": {"range": {"from": 20, "to": 21}}})
    assert all(s.value is None for e in expand(named).examples for s in e.slots)


def test_annotations_are_slots_on_plain_sentences():
    data = one_intent("wake me at [7:30](alarm_time) tomorrow", "set the alarm for [six am](alarm_time)")
    found = {e.text: spans(e) for e in expand(data).examples}
    assert found == {
        "wake me at 7:30 tomorrow": [("alarm_time", "7:30")],
        "set the alarm for six am": [("alarm_time", "six am")],
    }


def test_annotation_beside_template_syntax():
    data = one_intent("(make|brew) a [strong](strength) coffee [please]")
    found = {e.text: spans(e) for e in expand(data).examples}
    assert found["brew a strong coffee please"] == [("strength", "strong")]
    assert len(found) == 4


WORD = st.text(alphabet=string.ascii_lowercase + "0123456789:'-", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    before=st.lists(WORD, max_size=3),
    value=st.lists(WORD, min_size=1, max_size=3),
    after=st.lists(WORD, max_size=3),
    slot=st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
)
def test_annotation_span_is_the_value_in_the_expanded_text(before, value, after, slot):
    template = " ".join([*before, f"[{' '.join(value)}]({slot})", *after])
    (example,) = expand(one_intent(template)).examples
    assert example.text == " ".join([*before, *value, *after])
    assert spans(example) == [(slot, " ".join(value))]


def test_annotation_rewrite_leaves_optional_words_alone():
    notes = Annotations()
    assert notes.rewrite("[the] lamp [on](state) [please]") == "[the] lamp {_ann0} [please]"
    assert notes.slot_of("_ann0") == "state" and notes.slot_of("state") is None


def test_list_products_are_capped_by_a_seeded_sample():
    data = one_intent("{a} {b} {c}", lists={k: {"values": [f"{k}{i}" for i in range(10)]} for k in "abc"})
    first = [e.text for e in expand(data, cap=25, seed=1).examples]
    assert len(first) == len(set(first)) == 25
    assert first == [e.text for e in expand(data, cap=25, seed=1).examples]
    assert first != [e.text for e in expand(data, cap=25, seed=2).examples]


def test_a_missing_list_names_it():
    with pytest.raises(ExportError, match=r"\{door\}.*no list `door`"):
        expand(one_intent("lock the {door} door"))


def test_an_unparsable_template_is_named():
    with pytest.raises(ExportError, match=r"'lock \(the door'"):
        expand(one_intent("fine sentence", "lock (the door"))


def test_wildcard_sentences_are_skipped_with_a_note():
    result = expand(one_intent("add {item} to my list", "shopping list", lists={"item": {"wildcard": True}}))
    assert {e.text for e in result.examples} == {"shopping list"}
    assert any("wildcard list {item}" in note for note in result.notes)


# --- data made ready to train ----------------------------------------------------------------------


def test_identical_sentences_across_intents_are_found_and_left_out(tmp_path: Path):
    path = tmp_path / "en.yaml"
    path.write_text(
        "language: en\nintents:\n"
        "  blinds_up:\n    data:\n      - sentences: ['(open|raise) the (blinds|shades) [now|please|today]', 'blinds up']\n"
        "  blinds_down:\n    data:\n      - sentences: ['(close|lower) the (blinds|shades) [now|please|today]', 'blinds up']\n",
        encoding="utf-8",
    )
    own = own_data([path], cap=40, seed=13)
    assert any("blinds_down and blinds_up share 1 identical sentences" in w for w in own.warnings)
    everything = own.train + own.validation + own.held
    assert "blinds up" not in {e.text for e in everything}
    assert shared_sentences(everything) == {}


def test_split_is_per_label_and_holds_out_whole_templates():
    examples, groups = [], []
    from export.data import Example

    for label in ("a", "b"):
        for template in range(6):
            for i in range(5):
                examples.append(Example(f"{label} {template} {i}", label))
                groups.append(f"{label}:{template}")
    result = split(examples, groups, 0.15, seed=3)
    assert sorted(result.train + result.held) == list(range(len(examples)))
    assert result.by_template == ["a", "b"]
    for label in ("a", "b"):
        held = [i for i in result.held if examples[i].label == label]
        assert 1 <= len(held) <= 10
        assert not {groups[i] for i in held} & {groups[i] for i in result.train}


def test_split_falls_back_to_sentences_with_few_templates():
    from export.data import Example

    examples = [Example(f"t {i}", "a") for i in range(20)]
    result = split(examples, ["one"] * 20, 0.15, seed=3)
    assert len(result.held) == 3 and result.by_template == []


def test_too_few_sentences_for_an_intent_is_refused():
    from export.data import Example

    with pytest.raises(ExportError, match="intents tiny have fewer than 5"):
        check_counts([Example("x", "big")] * 9 + [Example("y", "tiny")] * 2)


def test_user_slots_extend_the_default_tag_set():
    from edge_app.slots.schema import bio_tags
    from export.data import Example, SlotSpan

    examples = [Example("brew latte in kitchen", "c", (SlotSpan("coffee", 5, 10), SlotSpan("room", 14, 21)))]
    assert slot_tags(examples) == bio_tags() + ["B-coffee", "I-coffee"]


def test_mix_plan_takes_every_own_example_and_a_fresh_draw_each_epoch():
    plan = MixPlan(own=5, total=50, draw=10)
    generator = random.Random(0)
    first, second = plan.order(generator), plan.order(generator)
    for order in (first, second):
        assert len(order) == plan.size == 15 and len(set(order)) == 15
        assert set(range(5)) <= set(order)
    assert set(first) != set(second)


def test_a_few_own_examples_are_repeated_to_a_third_of_each_epoch():
    plan = MixPlan(own=3, total=100, draw=60, share=1 / 3)
    order = plan.order(random.Random(0))
    own = [i for i in order if i < 3]
    assert len(order) == plan.size and len(own) >= len(order) / 3 - 1
    assert {i: own.count(i) for i in range(3)} == {0: 10, 1: 10, 2: 10}  # each as often as the others


def test_extended_heads_keep_the_known_rows(tmp_path: Path):
    torch = pytest.importorskip("torch")
    from transformers import BertConfig

    from export.heads import extended_joint
    from export.joint import BertForIntentAndSlots

    config = BertConfig(
        vocab_size=40,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        num_labels=2,
        id2label={0: "a", 1: "b"},
        label2id={"a": 0, "b": 1},
    )
    config.slot_tags = ["O", "B-room", "I-room"]
    torch.manual_seed(0)
    BertForIntentAndSlots(config).save_pretrained(tmp_path)
    old = BertForIntentAndSlots.from_pretrained(tmp_path)
    new = extended_joint(tmp_path, ["a", "b", "c"][::-1], ["O", "B-room", "I-room", "B-x", "I-x"])
    assert new.config.id2label == {0: "c", 1: "b", 2: "a"} and new.slot_tags[-1] == "I-x"
    assert torch.equal(new.classifier.weight[2], old.classifier.weight[0])
    assert torch.equal(new.classifier.bias[1], old.classifier.bias[1])
    assert torch.equal(new.slot_classifier.weight[:3], old.slot_classifier.weight)
    assert not torch.equal(new.classifier.weight[0], old.classifier.weight[0])
    for name, value in old.bert.state_dict().items():
        assert torch.equal(new.bert.state_dict()[name], value), name


def test_the_example_files_expand_without_warnings():
    root = Path(__file__).resolve().parents[2] / "examples" / "sentences"
    own = own_data([root / "en.yaml", root / "ko.yaml"], cap=40, seed=13)
    assert own.warnings == []
    assert {e.label for e in own.held} == {"blinds_set", "blinds_close", "door_lock", "coffee_make", "garden_water"}
    assert {e.lang for e in own.train} == {"en", "ko"}


# --- end to end -------------------------------------------------------------------------------------

TINY = """\
language: en
intents:
  blinds_open:
    data:
      - sentences:
          - "(open|raise) [the] {area} (blinds|shades)"
          - "(open|raise) [the] (blinds|shades) in [the] {area}"
          - "let [some] (light|sun) in"
  door_lock:
    data:
      - sentences:
          - "(lock|bolt) [the] {door} door"
          - "make sure [the] {door} door is locked"
          - "lock up [for the night]"
  coffee_make:
    data:
      - sentences:
          - "(make|brew) [me] [a|an] {coffee}"
          - "I('d| would) like [a|an] {coffee} [please]"
          - "start the coffee machine"
lists:
  door:
    values: [front, back, garage, patio]
  coffee:
    values: [espresso, cappuccino, latte, flat white, americano]
"""
# Phrasings none of the templates make: the model has to generalise to answer them.
UNSEEN = {
    "please brew a latte for me": "coffee_make",
    "lock the back door now": "door_lock",
    "open up the kitchen blinds please": "blinds_open",
}


@pytest.mark.slow
def test_train_base_none_end_to_end(tmp_path: Path, capsys):
    from edge_app.classifier import Classifier
    from edge_app.cli import main

    sentences = tmp_path / "en.yaml"
    sentences.write_text(TINY, encoding="utf-8")
    expanded = {e.text for e in expand(__import__("yaml").safe_load(TINY)).examples}
    assert not set(UNSEEN) & expanded
    out = tmp_path / "bundle"
    assert main(["train", str(sentences), "--base", "none", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "bundle written:" in printed.out and "held out:" in printed.out
    assert "held-out accuracy" in printed.err
    clf = Classifier.load(out, device="cpu")
    assert set(clf.bundle.manifest["labels"]) == {"blinds_open", "door_lock", "coffee_make", "out_of_scope"}
    assert {"B-coffee", "B-door", "B-room"} <= set(clf.bundle.manifest["slot_tags"])
    assert clf.bundle.manifest["trained_from"]["base"] == "none"
    # The bundle also matches its intents by example where its head refuses (edge_app/teaching.py).
    assert set(clf.teaching.examples) == {"blinds_open", "door_lock", "coffee_make"}
    assert all(1 <= len(v) <= 20 for v in clf.teaching.examples.values())
    assert clf.taught is not None and clf.all_labels == clf.labels
    predictions = clf.classify(list(UNSEEN), top_k=1)
    got = {text: p.label for text, p in zip(UNSEEN, predictions)}
    assert got["open up the kitchen blinds please"] == "blinds_open", got
    # Borderline between runs of this tiny model (not reproducible across processes yet): right, or refused;
    # never another action.
    assert got["lock the back door now"] in ("door_lock", "out_of_scope"), got
    assert got["please brew a latte for me"] in ("coffee_make", "out_of_scope"), got
    if got["please brew a latte for me"] == "coffee_make":
        assert predictions[0].slots.get("coffee", {}).get("text") == "latte"
    (refused,) = clf.classify(["what is the capital of france"], top_k=1)
    assert refused.label == "out_of_scope"


def test_refusals_close_to_the_users_sentences_are_claimed():
    from export.data import Example
    from export.holdout import covered

    own = [Example("lock the back door", "door_lock"), Example("make sure the patio door is locked", "door_lock")]
    refusals = [
        Example(t, "out_of_scope")
        for t in ("please lock the back door", "is the patio door locked", "how do I make pancakes", "lock")
    ]
    assert covered(refusals, own) == [True, True, False, False]
