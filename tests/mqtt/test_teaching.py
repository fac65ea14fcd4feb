"""Teaching a device by example: the store and its limits, the nearest-neighbour rule, signed commands
(pure); the default bundle taught through the CLI and over MQTT (real model, real mosquitto)."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_app.bundle import sign_bundle
from edge_app.classifier import Classifier
from edge_app.errors import ConfigError
from edge_app.signing import generate, load_signing_key, load_trusted_keys
from edge_app.teach import Teacher, canonical, parse_command, sign_command, verify_command
from edge_app.teaching import MAX_EXAMPLES, Space, TaughtSet, TaughtStore, Teaching, build, negations, opposites
from helpers.fakes import FakeClassifier
from helpers.mqtt import Collector, Mosquitto, Serve

BLINDS = [
    "close the blinds",
    "lower the blinds in the living room",
    "shut the shades please",
    "블라인드 내려줘",
    "거실 블라인드 닫아줘",
]
EDGE_APP = [sys.executable, "-m", "edge_app.cli"]


# ---- pure -------------------------------------------------------------------------------------
def test_the_store_keeps_examples_and_enforces_its_limits(tmp_path):
    store = TaughtStore(tmp_path)
    store.teach("blinds_close", ["close the blinds", "  shut   the shades "], ["lights_on"])
    assert store.load()["blinds_close"]["examples"] == ["close the blinds", "shut the shades"]
    for label, examples, message in [
        ("Blinds", ["x"], "lower-case"),
        ("lights_on", ["x"], "bundle's own labels"),
        ("blinds_open", [], "at least one"),
        ("blinds_open", ["x"] * (MAX_EXAMPLES + 1), "at most"),
        ("blinds_open", ["x" * 201], "characters"),
        ("blinds_open", [3], "not a string"),
    ]:
        with pytest.raises(ConfigError, match=message):
            store.teach(label, examples, ["lights_on"])
    store.forget("blinds_close")
    assert store.load() == {}
    with pytest.raises(ConfigError, match="not taught"):
        store.forget("blinds_close")
    (tmp_path / "taught.json").write_text("{broken")
    with pytest.raises(ConfigError, match="delete it"):
        store.load()


def unit_rows(*rows) -> np.ndarray:
    x = np.array(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_a_taught_label_wins_only_where_the_bundle_refuses_above_the_threshold_and_nearer_than_its_negations():
    teaching = Teaching({"en": 0.8, "ko": 0.999})
    taught = TaughtSet(["blinds_close"], unit_rows([1, 0, 0]), unit_rows([1, 0, 1]), ["blinds_close"], teaching)
    x = unit_rows([1, 0.1, 0], [0.1, 1, 0], [1, 0, 0.9], [1, 0.1, 0])
    got = taught.match(x, [False] * 4, [True, True, True, False])
    assert [m and m[0] for m in got] == ["blinds_close", None, None, None]  # the last: the bundle knew it
    assert taught.match(x[:1], [True], [True]) == [None]  # Korean text: its own, higher threshold


def test_the_space_whitens_before_comparing():
    # Two texts alike only along the direction every text shares are told apart once it is whitened away.
    space = Space(np.array([0, 0, 1], np.float32), np.diag([1, 1, 0.01]).astype(np.float32))
    teaching = Teaching({"en": 0.5, "ko": 0.5}, space)
    taught = TaughtSet(["a"], teaching.vectors(unit_rows([1, 0, 5])), np.zeros((0, 3), np.float32), [], teaching)
    assert unit_rows([1, 0, 5]) @ unit_rows([0, 1, 5]).T > 0.9  # raw: nearly the same vector
    assert taught.match(unit_rows([0, 1, 5]), [False], [True]) == [None]
    assert taught.match(unit_rows([1, 0.1, 5]), [False], [True])[0][0] == "a"


def test_a_bundles_own_examples_are_matched_like_taught_ones():
    teaching = Teaching({"en": 0.8, "ko": 0.8}, examples={"coffee_make": ["make me a coffee"]})
    embed = lambda texts: unit_rows(*[[1, 0, 0] if t == "make me a coffee" else [0, 0, 1] for t in texts])  # noqa: E731
    taught = build(embed, teaching, {})
    assert taught is not None and taught.names == ["coffee_make"]
    assert taught.match(unit_rows([1, 0.1, 0]), [False], [True])[0][0] == "coffee_make"
    assert build(lambda texts: unit_rows([1, 0, 0]), Teaching({"en": 0.8, "ko": 0.8}), {}) is None


def test_opposites_swap_one_action_word_at_a_time_in_both_languages():
    assert opposites("Lock the front door") == ["unlock the front door"]
    assert opposites("turn on the fan and open the window") == [
        "turn off the fan and open the window",
        "turn on the fan and close the window",
    ]
    assert opposites("블라인드 내려줘") == ["블라인드 올려줘"] and opposites("현관문 잠가줘") == ["현관문 열어줘"]
    assert opposites("make me a coffee") == [] and opposites("once upon a time") == []  # whole words only


@given(st.lists(st.sampled_from(["the", "on", "off", "open", "blinds", "lock", "켜", "줘", "a"]), max_size=6))
def test_an_opposite_is_never_the_example_itself(words):
    text = " ".join(words)
    assert all(o != " ".join(text.lower().split()) for o in opposites(text))


def test_english_examples_get_negations_korean_ones_rely_on_the_bundles():
    assert negations("Close the blinds") == ["don't close the blinds", "do not close the blinds"]
    assert negations("블라인드 내려줘") == []


def test_signed_commands_verify_and_any_change_breaks_them(tmp_path):
    _, public, _ = generate(tmp_path / "keys")
    key, trusted = load_signing_key(tmp_path / "keys" / "signing.key"), load_trusted_keys(public)
    command = sign_command({"id": 7, "teach": {"label": "blinds_close", "examples": ["close the blinds"]}}, key)
    verify_command(command, trusted)
    verify_command({"forget": "x"}, None)  # no trust.keys: no signature needed
    with pytest.raises(ConfigError, match="only signed"):
        verify_command({"forget": "x"}, trusted)
    tampered = {**command, "teach": {"label": "blinds_close", "examples": ["open the door"]}}
    with pytest.raises(ConfigError, match="refused"):
        verify_command(tampered, trusted)


def test_the_watcher_skips_a_change_its_teacher_applied_and_takes_one_made_beside_it(tmp_path):
    teacher = Teacher(tmp_path, lambda: None)  # the CLI without a model: stored, not applied
    assert teacher.applied is None
    teacher.run({"teach": {"label": "blinds_close", "examples": BLINDS}})
    assert teacher.store.stamp() != teacher.applied  # a running service's watcher applies it
    teacher.apply(FakeClassifier())
    assert teacher.store.stamp() == teacher.applied  # applied once: the watcher leaves it


@given(
    st.dictionaries(
        st.sampled_from(["id", "teach", "forget", "list", "x"]),
        st.one_of(st.none(), st.text(max_size=5), st.integers(), st.lists(st.text(max_size=3))),
    )
)
def test_signing_is_canonical_whatever_the_key_order(command):
    assert canonical(dict(reversed(list(command.items())))) == canonical(command)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"not json", "one JSON object"),
        (b"[1]", "exactly one"),
        (b'{"teach": {}, "forget": "x"}', "exactly one"),
        (b'{"id": 1}', "exactly one"),
        (b"\xff", "one JSON object"),
    ],
)
def test_bad_commands_say_what_a_command_looks_like(payload, message):
    with pytest.raises(ConfigError, match=message):
        parse_command(payload)


# ---- the default bundle ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def taught_model(default_bundle, tmp_path_factory):
    clf = Classifier.load(default_bundle, verify=False)
    if clf.teaching is None:
        pytest.fail(f"{default_bundle} cannot be taught: the default build must carry teach_embedding")
    teacher = Teacher(tmp_path_factory.mktemp("taught"), lambda: clf)
    teacher.run({"teach": {"label": "blinds_close", "examples": BLINDS}})
    return clf


def test_a_taught_label_is_recognised_in_other_words_and_what_the_bundle_knows_stays(taught_model):
    texts = [
        "close the blinds in the kitchen",
        "거실 블라인드 좀 닫아줘",
        "turn on the kitchen lights",
        "set a timer for ten minutes",
        "don't close the blinds",
        "raise the blinds",
        "블라인드 올려줘",
    ]
    got = [(p.label, p.taught) for p in taught_model.classify(texts)]
    assert got[:2] == [("blinds_close", True)] * 2
    assert got[2:4] == [("lights_on", False), ("timer_set", False)]
    assert got[4:] == [("out_of_scope", False)] * 3  # its negation and its opposite action are not it
    assert "blinds_close" in taught_model.all_labels
    assert taught_model.classify(["close the blinds in the kitchen"])[0].to_dict()["taught"] is True


def test_a_bundle_change_recomputes_the_labels_and_an_untaughtable_bundle_drops_them(
    default_bundle, bundle_copy, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    Teacher(tmp_path, lambda: None).run({"teach": {"label": "blinds_close", "examples": BLINDS}})
    keys = tmp_path / "keys"
    generate(keys)
    sign_bundle(bundle_copy, load_signing_key(keys / "signing.key"))  # another bundle (new sha256), same model
    other = Classifier.load(bundle_copy, verify=False)
    Teacher(tmp_path, lambda: other).apply(other)
    assert other.classify(["close the blinds in the kitchen"])[0].label == "blinds_close"
    assert "taught labels in effect" in caplog.text and other.bundle.sha256[:12] in caplog.text
    other.teaching = None  # a bundle exported before teaching existed
    Teacher(tmp_path, lambda: other).apply(other)
    assert other.taught is None and "not in effect" in caplog.text


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*EDGE_APP, *args], capture_output=True, text=True, timeout=120)


def test_the_cli_teaches_lists_classifies_with_and_forgets(default_bundle, tmp_path):
    state = str(tmp_path / "state")
    taught = run_cli("teach", "--bundle", str(default_bundle), "--state-dir", state, "--label", "blinds_close", *BLINDS)
    assert taught.returncode == 0, taught.stderr
    assert json.loads(taught.stdout)["taught"]["blinds_close"]["examples"] == len(BLINDS)
    result = run_cli(
        "classify", "--bundle", str(default_bundle), "--state-dir", state, "close the blinds in the kitchen"
    )
    assert json.loads(result.stdout)["label"] == "blinds_close" and json.loads(result.stdout)["taught"] is True
    assert "blinds_close" in run_cli("teach", "--state-dir", state, "--list").stdout
    assert run_cli("teach", "--state-dir", state, "--forget", "blinds_close").returncode == 0
    refused = run_cli("teach", "--state-dir", state, "--forget", "blinds_close")
    assert refused.returncode != 0 and "not taught" in refused.stderr


# ---- over MQTT ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_teaching_over_mqtt_takes_effect_within_a_second_survives_sigkill_and_reaches_discovery(
    default_bundle, tmp_path
):
    broker = Mosquitto(tmp_path).start()
    state = tmp_path / "state-teach"
    bus = Collector(broker.url, ["edge-app/teach/#", "homeassistant/#"])
    serve = Serve(default_bundle, broker.url, state, "teach", "--ha-discovery").start()
    try:
        assert bus.wait_status("edge-app/teach", "online"), serve.output()
        sent = time.monotonic()
        bus.publish(
            "edge-app/teach/cmd/teach", json.dumps({"id": "t1", "teach": {"label": "blinds_close", "examples": BLINDS}})
        )
        assert bus.wait_for(lambda: bus.json("edge-app/teach/cmd/result"), 30), serve.output()
        answered = time.monotonic() - sent  # the label is in effect once the answer is sent
        assert bus.json("edge-app/teach/cmd/result")[0]["ok"] is True
        bus.publish("edge-app/teach/classify", json.dumps({"id": "c1", "text": "close the blinds in the kitchen"}))
        assert bus.wait_for(lambda: bus.json("edge-app/teach/result"), 30)
        assert bus.json("edge-app/teach/result")[0]["label"] == "blinds_close"
        assert answered < 1.0, f"the teach command took {answered:.2f} s to take effect"

        def event_types():
            configs = [json.loads(p) for p in bus.payloads("homeassistant/event/edge_app_teach/command/config") if p]
            return configs[-1]["event_types"] if configs else []

        assert bus.wait_for(lambda: "blinds_close" in event_types(), 30), event_types()
        serve.stop(signal.SIGKILL)  # no clean shutdown: taught.json was already on disk
        serve = Serve(default_bundle, broker.url, state, "teach").start()
        assert bus.wait_for(lambda: "taught labels in effect" in serve.output(), 60), serve.output()
        bus.publish("edge-app/teach/classify", json.dumps({"id": "c2", "text": "shut the shades"}))
        assert bus.wait_for(lambda: any(r["id"] == "c2" for r in bus.json("edge-app/teach/result")), 30)
        assert [r for r in bus.json("edge-app/teach/result") if r["id"] == "c2"][0]["label"] == "blinds_close"
    finally:
        bus.close()
        serve.stop()
        broker.stop()


@pytest.mark.slow
def test_with_trusted_keys_only_signed_teach_commands_are_obeyed(bundle_copy, tmp_path):
    _, public, _ = generate(tmp_path / "keys")
    key = load_signing_key(tmp_path / "keys" / "signing.key")
    sign_bundle(bundle_copy, key)
    broker = Mosquitto(tmp_path).start()
    bus = Collector(broker.url, ["edge-app/signed/#"])
    serve = Serve(
        bundle_copy, broker.url, tmp_path / "state", "signed", env={"EDGE_APP_TRUST_KEYS": str(public)}
    ).start()
    command = {"id": "u", "teach": {"label": "blinds_close", "examples": BLINDS}}
    try:
        assert bus.wait_status("edge-app/signed", "online"), serve.output()
        bus.publish("edge-app/signed/cmd/teach", json.dumps(command))
        assert bus.wait_for(lambda: bus.json("edge-app/signed/cmd/result"), 30)
        refused = bus.json("edge-app/signed/cmd/result")[0]
        assert refused["ok"] is False and "only signed" in refused["reason"]
        bus.publish("edge-app/signed/cmd/teach", json.dumps(sign_command({**command, "id": "s"}, key)))
        assert bus.wait_for(lambda: len(bus.json("edge-app/signed/cmd/result")) == 2, 30)
        assert bus.json("edge-app/signed/cmd/result")[1] == {
            **bus.json("edge-app/signed/cmd/result")[1],
            "ok": True,
            "id": "s",
        }
        assert (
            not (tmp_path / "state" / "taught.json").exists()
            or "blinds_close" in (tmp_path / "state" / "taught.json").read_text()
        )
    finally:
        bus.close()
        serve.stop()
        broker.stop()


def test_the_default_bundle_learns_the_hand_written_hold_out(default_bundle):
    """A floor under what docs/teaching.md reports (29/36 recognised, 2/12 chatter taken, 0.875 of the test
    split's out-of-scope texts still refused, most of the rest commands for the taught devices): the recipe
    must not lose it."""
    from export.teach_report import report

    r = report(default_bundle)
    assert r["taught_recognised"] >= 27 and r["taught_wrong_label"] <= 2, r["misses"]
    assert r["known_kept"] == r["known_texts"], r["misses"]
    assert r["chatter_taken"] <= 2, r["misses"]
    assert r["out_of_scope_before"] >= 0.9 and r["unrelated_out_of_scope_after"] >= 0.85, r
