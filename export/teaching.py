"""What a bundle carries so a board can be taught new labels from a few examples (edge_app/teaching.py).

- `expose_teach_embedding`: a third graph output, `teach_embedding`: the mean of the real tokens'
  vectors after a middle layer of the encoder. Fine-tuning for our labels gathers everything else
  into one corner at the last layer; the middle layers still tell unknown commands apart
  (docs/own-commands.md has the comparison).
- `fit`: reference examples of the bundle's own labels (so a taught label never takes what the
  bundle already knows) and the similarity threshold, chosen by teaching each of the bundle's
  labels in turn as if it were new, with 6 examples, and counting the chatter it would then take.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.classifier import Classifier
from edge_app.teaching import TEACH_OUTPUT, ReferenceSet, decide

from .data import Example

log = logging.getLogger(__name__)
REFERENCE_PER_LABEL = 40
SIMULATED_EXAMPLES = 6  # what a user teaches with, per label
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


def fit(served: Path, train: list[Example], validation: list[Example]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The manifest's `teaching` fields and the reference arrays, from the served model's own outputs.

    Each of the bundle's labels is taught in turn as if new (6 training examples; its own reference
    examples left out); the validation split's out-of-scope texts stand for chatter. The threshold
    is the lowest that lets at most MAX_FALSE_ACCEPTS of those texts be taken."""
    rng = random.Random(SEED)
    clf = Classifier.load(served, verify=False, latency_session=False)
    ref_texts, ref_labels = reference_texts(train, rng)
    ref, ref_of = clf.teach_embeddings(ref_texts), np.array(ref_labels)
    val = _by_label(validation)
    val_labels = np.array([label for label, items in val.items() for _ in items])
    val_vectors = clf.teach_embeddings([t for items in val.values() for t in items])
    train_by = _by_label(train)
    counts = np.zeros((len(THRESHOLDS), 4), dtype=np.int64)  # taken right, positives, unseen taken, unseen
    unseen = val_labels == "out_of_scope"
    for label in sorted(set(val) - {"out_of_scope"}):
        taught = clf.teach_embeddings(rng.sample(train_by[label], min(SIMULATED_EXAMPLES, len(train_by[label]))))
        best, near = decide(val_vectors, taught, ReferenceSet(ref[ref_of != label], []))
        positive = val_labels == label
        for i, th in enumerate(THRESHOLDS):
            taken = (best >= th) & (best > near)
            counts[i] += [(taken & positive).sum(), positive.sum(), (taken & unseen).sum(), unseen.sum()]
    rates = counts[:, 2] / np.maximum(counts[:, 3], 1)
    i = next((i for i, rate in enumerate(rates) if rate <= MAX_FALSE_ACCEPTS), len(THRESHOLDS) - 1)
    fields = {
        "output": TEACH_OUTPUT,
        "threshold": float(THRESHOLDS[i]),
        "reference": len(ref_texts),
        "simulated": {
            "labels": len(set(val) - {"out_of_scope"}),
            "examples": SIMULATED_EXAMPLES,
            "recall": round(float(counts[i, 0] / max(counts[i, 1], 1)), 4),
            "unseen_out_of_scope_taken": round(float(rates[i]), 4),
        },
    }
    return fields, {"vectors": ref.astype(np.float16), "labels": np.array(ref_labels)}
