"""What a bundle carries so a board can be taught new labels from a few examples (edge_app/teaching.py).

- `expose_teach_embedding`: a third graph output, `teach_embedding`: the mean of the real tokens'
  vectors after a middle layer of the encoder. Fine-tuning for our labels gathers everything else
  into one corner at the last layer; the middle layers still tell unknown commands apart
  (docs/own-commands.md has the comparison).
- `fit`: reference examples of the bundle's own labels (so a taught label never takes what the
  bundle already knows) and a similarity threshold per language, chosen by teaching the bundle's
  labels as if they were new, six at a time with 10 examples each, and counting the chatter they
  would then take.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.classifier import Classifier
from edge_app.teaching import TEACH_OUTPUT
from edge_app.text import is_hangul

from .data import Example

log = logging.getLogger(__name__)
REFERENCE_PER_LABEL = 40
SIMULATED_EN, SIMULATED_KO = 6, 4  # what a user teaches one label with
GROUP_SIZE = 6  # labels taught at once: more taught examples, more chances to take chatter
GROUPINGS = 3
MAX_FALSE_ACCEPTS = 0.02  # of unseen out-of-scope texts, taken by a simulated taught label
THRESHOLDS = np.round(np.arange(0.30, 0.96, 0.025), 3)
SEED = 13


def teach_layer(num_layers: int) -> int:
    """The hidden state read: after the middle layer (3 of 6)."""
    return max(1, num_layers // 2)


def expose_teach_embedding(onnx_path: Path, layer: int) -> bool:
    """Add `teach_embedding` (masked mean of the hidden states after encoder layer `layer`, 1-based) to
    the graph, reusing the mask and token count of the final mean pooling. False when the graph is
    not a mean-pooled BERT as the default recipe exports it (the bundle then cannot be taught)."""
    import onnx

    proto = onnx.load(str(onnx_path))
    graph = proto.graph
    producers = {out: node for node in graph.node for out in node.output}
    div = producers.get(next((n.input[0] for n in graph.node if n.output == ["embedding"]), ""))
    source = f"/bert/encoder/layer.{layer - 1}/output/LayerNorm/LayerNormalization_output_0"
    if div is None or div.op_type != "Div" or source not in producers:
        log.info("no mean-pooled encoder layer %d found; the bundle cannot be taught", layer)
        return False
    total = producers[div.input[0]]  # ReduceSum(hidden * mask, axis 1)
    masked = producers.get(total.input[0])
    if total.op_type != "ReduceSum" or masked is None or masked.op_type != "Mul":
        return False
    mask = next(
        i for i in masked.input if producers.get(i) is None or producers[i].op_type != "LayerNormalization"
    )  # the other factor is the last hidden state
    make = onnx.helper.make_node
    reduce = make("ReduceSum", ["teach/masked", *total.input[1:]], ["teach/sum"], name="teach/ReduceSum")
    reduce.attribute.extend(total.attribute)
    graph.node.extend(
        [
            make("Mul", [source, mask], ["teach/masked"], name="teach/Mul"),
            reduce,
            make("Div", ["teach/sum", div.input[1]], [TEACH_OUTPUT], name="teach/Div"),
        ]
    )
    graph.output.append(
        onnx.helper.make_tensor_value_info(TEACH_OUTPUT, onnx.TensorProto.FLOAT, ["batch_size", "hidden_size"])
    )
    onnx.save(proto, str(onnx_path))
    return True


def _by_label(examples: list[Example]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for e in examples:
        out[e.label].append(e.text)
    return out


def reference_texts(train: list[Example], rng: random.Random) -> tuple[list[str], list[str]]:
    """A fixed sample of the training texts of each in-scope label. Not out_of_scope: what the bundle
    refuses (blinds, door locks, chatter) is what users teach; the threshold keeps chatter out."""
    texts, labels = [], []
    for label, items in sorted(_by_label(train).items()):
        if label == "out_of_scope":
            continue
        chosen = rng.sample(items, min(REFERENCE_PER_LABEL, len(items)))
        texts += chosen
        labels += [label] * len(chosen)
    return texts, labels


def _examples(items: list[str], rng: random.Random) -> list[str]:
    """What a user teaches one label with: 6 English and 4 Korean examples where the data has them."""
    en = [t for t in items if not is_hangul(t)]
    ko = [t for t in items if is_hangul(t)]
    return rng.sample(en, min(SIMULATED_EN, len(en))) + rng.sample(ko, min(SIMULATED_KO, len(ko)))


def _simulate(
    clf: Classifier,
    groups: list[list[str]],
    train_by: dict[str, list[str]],
    ref: np.ndarray,
    ref_of: np.ndarray,
    val_vectors: np.ndarray,
    val_labels: np.ndarray,
    rng: random.Random,
) -> np.ndarray:
    """Per threshold: [taken right, positives, unseen taken, unseen] counts, each group of labels taught at once."""
    counts = np.zeros((len(THRESHOLDS), 4), dtype=np.int64)
    unseen = val_labels == "out_of_scope"
    for group in groups:
        rows = [(label, text) for label in group for text in _examples(train_by[label], rng)]
        taught, taught_of = clf.teach_embeddings([t for _, t in rows]), np.array([label for label, _ in rows])
        sims = val_vectors @ taught.T
        best, answer = sims.max(axis=1), taught_of[sims.argmax(axis=1)]
        others = ref[~np.isin(ref_of, group)]  # empty when the group is every label the bundle has
        near = (val_vectors @ others.T).max(axis=1) if len(others) else np.full(len(val_vectors), -1.0)
        positive = np.isin(val_labels, group)
        for i, th in enumerate(THRESHOLDS):
            taken = (best >= th) & (best > near)
            counts[i] += [(taken & (answer == val_labels)).sum(), positive.sum(), (taken & unseen).sum(), unseen.sum()]
    return counts


def fit(served: Path, train: list[Example], validation: list[Example]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The manifest's `teaching` fields and the reference arrays, from the served model's own outputs.

    The bundle's labels are taught as if new, GROUP_SIZE at a time (6 English and 4 Korean training examples
    each; their reference examples left out), in GROUPINGS random groupings; the validation split's
    out-of-scope texts stand for chatter. Per language (of the text asked about), the threshold is the lowest
    that lets at most MAX_FALSE_ACCEPTS of those texts be taken."""
    rng = random.Random(SEED)
    clf = Classifier.load(served, verify=False, latency_session=False)
    ref_texts, ref_labels = reference_texts(train, rng)
    ref, ref_of = clf.teach_embeddings(ref_texts), np.array(ref_labels)
    val_texts = [e.text for e in validation]
    val_labels = np.array([e.label for e in validation])
    val_vectors = clf.teach_embeddings(val_texts)
    train_by = _by_label(train)
    labels = sorted(set(val_labels) - {"out_of_scope"})
    groups = []
    for _ in range(GROUPINGS):
        order = rng.sample(labels, len(labels))
        groups += [order[i : i + GROUP_SIZE] for i in range(0, len(order), GROUP_SIZE)]
    korean = np.array([is_hangul(t) for t in val_texts])
    thresholds, simulated = {}, {}
    for language, mask in (("en", ~korean), ("ko", korean)):
        counts = _simulate(clf, groups, train_by, ref, ref_of, val_vectors[mask], val_labels[mask], random.Random(SEED))
        if counts[0, 3] == 0:  # no out-of-scope text in this language to measure on: the other's threshold
            continue
        rates = counts[:, 2] / counts[:, 3]
        i = next((i for i, rate in enumerate(rates) if rate <= MAX_FALSE_ACCEPTS), len(THRESHOLDS) - 1)
        thresholds[language] = float(THRESHOLDS[i])
        simulated[language] = {
            "recall": round(float(counts[i, 0] / max(counts[i, 1], 1)), 4),
            "unseen_out_of_scope_taken": round(float(rates[i]), 4),
        }
    strictest = max(thresholds.values(), default=float(THRESHOLDS[-1]))
    thresholds = {language: thresholds.get(language, strictest) for language in ("en", "ko")}
    fields = {
        "output": TEACH_OUTPUT,
        "threshold": thresholds,
        "reference": len(ref_texts),
        "simulated": {"labels_at_once": GROUP_SIZE, "examples": SIMULATED_EN + SIMULATED_KO, **simulated},
    }
    return fields, {"vectors": ref.astype(np.float16), "labels": np.array(ref_labels)}
