"""What a bundle carries so a board can be taught new labels from a few examples (edge_app/teaching.py).

- `expose_teach_embedding`: a third graph output, `teach_embedding`: the mean of the real tokens'
  vectors after layer 4 of 6. Fine-tuning for our labels gathers everything else into one corner at
  the last layer; the layers below still tell unknown commands apart (docs/teaching.md).
- `fit`: the whitening the board compares in (mean and PCA projection of the bundle's own training
  texts) and a similarity threshold per language, chosen by teaching the bundle's labels as if they
  were new, six at a time with 10 examples each, and counting the out-of-scope texts they would take.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.calibration import OUT_OF_SCOPE
from edge_app.classifier import Classifier
from edge_app.teaching import TEACH_OUTPUT, Space
from edge_app.text import is_hangul

from .data import Example

log = logging.getLogger(__name__)
SPACE_PER_LABEL = 40  # training texts per in-scope label the whitening is fitted on
SPACE_OUT_OF_SCOPE = 400  # ... and out-of-scope ones
SPACE_DIMS = 256  # principal directions kept (of 384)
SIMULATED_EN, SIMULATED_KO = 6, 4  # what a user teaches one label with
GROUP_SIZE = 6  # labels taught at once: more taught examples, more chances to take chatter
GROUPINGS = 3
MAX_FALSE_ACCEPTS = 0.0125  # of unseen out-of-scope texts the bundle refuses, taken by a simulated taught label
THRESHOLDS = np.round(np.arange(0.10, 0.96, 0.025), 3)
SEED = 13


def teach_layer(num_layers: int) -> int:
    """The hidden state read: two thirds up (after layer 4 of 6)."""
    return max(1, num_layers * 2 // 3)


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


def space_texts(train: list[Example], rng: random.Random) -> list[str]:
    """A fixed sample of the training texts: SPACE_PER_LABEL of each in-scope label and SPACE_OUT_OF_SCOPE
    out-of-scope ones, so no one label's phrasing dominates the whitening."""
    texts = []
    for label, items in sorted(_by_label(train).items()):
        k = SPACE_OUT_OF_SCOPE if label == OUT_OF_SCOPE else SPACE_PER_LABEL
        texts += rng.sample(items, min(k, len(items)))
    return texts


def whitening(vectors: np.ndarray, dims: int = SPACE_DIMS) -> Space:
    """Mean and the top `dims` principal directions of unit `vectors`, each scaled to unit variance."""
    mean = vectors.mean(axis=0)
    values, directions = np.linalg.eigh(np.cov((vectors - mean).T))
    top = np.argsort(values)[::-1][: min(dims, len(values), len(vectors) - 1)]
    top = top[values[top] > values[top[0]] * 1e-6]  # few texts: no direction they do not span
    projection = directions[:, top] / np.sqrt(np.maximum(values[top], 1e-12))
    return Space(mean.astype(np.float32), projection.astype(np.float32))


def _examples(items: list[str], rng: random.Random) -> list[str]:
    """What a user teaches one label with: 6 English and 4 Korean examples where the data has them."""
    en = [t for t in items if not is_hangul(t)]
    ko = [t for t in items if is_hangul(t)]
    return rng.sample(en, min(SIMULATED_EN, len(en))) + rng.sample(ko, min(SIMULATED_KO, len(ko)))


def _draw(groups: list[list[str]], train_by: dict[str, list[str]], embed, rng: random.Random) -> list[tuple]:
    """Per group of labels taught at once: the group, its examples' vectors and their labels."""
    drawn = []
    for group in groups:
        rows = [(label, text) for label in group for text in _examples(train_by[label], rng)]
        drawn.append((group, embed([t for _, t in rows]), np.array([label for label, _ in rows])))
    return drawn


def _simulate(drawn: list[tuple], val_vectors: np.ndarray, val_labels: np.ndarray, refused: np.ndarray) -> np.ndarray:
    """Per threshold: [taken right, positives, unseen taken, unseen] counts, each group of labels taught at once.
    Positives are the group's validation texts as if the bundle did not know them; unseen are the
    out-of-scope texts the bundle itself refuses (only those can a taught label take on the board)."""
    counts = np.zeros((len(THRESHOLDS), 4), dtype=np.int64)
    unseen = (val_labels == OUT_OF_SCOPE) & refused
    for group, taught, taught_of in drawn:
        sims = val_vectors @ taught.T
        best, answer = sims.max(axis=1), taught_of[sims.argmax(axis=1)]
        positive = np.isin(val_labels, group)
        for i, th in enumerate(THRESHOLDS):
            taken = best >= th
            counts[i] += [(taken & (answer == val_labels)).sum(), positive.sum(), (taken & unseen).sum(), unseen.sum()]
    return counts


def fit(served: Path, train: list[Example], validation: list[Example]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The manifest's `teaching` fields and the whitening arrays, from the served model's own outputs.

    The bundle's labels are taught as if new, GROUP_SIZE at a time (6 English and 4 Korean training examples
    each), in GROUPINGS random groupings; the validation split's out-of-scope texts that the bundle refuses
    stand for chatter. Per language (of the text asked about), the threshold is the lowest that lets at most
    MAX_FALSE_ACCEPTS of those texts be taken."""
    rng = random.Random(SEED)
    clf = Classifier.load(served, verify=False, latency_session=False)
    fitted = space_texts(train, rng)
    space = whitening(clf.teach_embeddings(fitted))

    def embed(texts: list[str]) -> np.ndarray:
        return space(clf.teach_embeddings(texts))

    val_texts = [e.text for e in validation]
    val_labels = np.array([e.label for e in validation])
    val_vectors = embed(val_texts)
    refused = np.array([p.label == OUT_OF_SCOPE for p in clf.classify(val_texts, top_k=1)])
    train_by = _by_label(train)
    labels = sorted(set(val_labels) - {OUT_OF_SCOPE})
    groups = []
    for _ in range(GROUPINGS):
        order = rng.sample(labels, len(labels))
        groups += [order[i : i + GROUP_SIZE] for i in range(0, len(order), GROUP_SIZE)]
    drawn = _draw(groups, train_by, embed, random.Random(SEED))
    korean = np.array([is_hangul(t) for t in val_texts])
    thresholds, simulated = {}, {}
    for language, mask in (("en", ~korean), ("ko", korean)):
        counts = _simulate(drawn, val_vectors[mask], val_labels[mask], refused[mask])
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
        "space": {"whitened_dims": int(space.projection.shape[1]), "fitted_on": len(fitted)},
        "simulated": {"labels_at_once": GROUP_SIZE, "examples": SIMULATED_EN + SIMULATED_KO, **simulated},
    }
    return fields, {"mean": space.mean, "projection": space.projection}
