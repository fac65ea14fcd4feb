"""Text in, Prediction out: the bundle's tokenizer and model, and the post-processing.

Knows nothing of MQTT or of files beyond the bundle; the service and the CLI both use it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .bundle import Bundle
from .calibration import EMBEDDING_OUTPUT, OUT_OF_SCOPE, load_calibration, softmax
from .errors import BundleError
from .padding import split_by_length
from .session import create_sessions
from .slots.decode import SLOT_OUTPUT, Span, allowed, decode_spans, parse_tags, slot_values
from .teaching import TEACH_OUTPUT, TaughtSet, Teaching, build, unit
from .text import TextMap, is_hangul
from .tokenize import Encoded, TextEncoder

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    """One text's answer. `score` estimates the probability that the best candidate is right
    (calibrated when the bundle carries calibration); under the minimum score the label is
    `out_of_scope` and `rejected` is set, with the candidates still in `top_k`, so an automation
    can ask again instead of acting."""

    label: str
    score: float
    top_k: list[tuple[str, float]]
    truncated: bool = False  # the text was longer than the model's max length
    tokens: int = 0
    labels: list[str] = field(default_factory=list)  # multi-label bundles: every label scoring >= 0.5
    rejected: bool = False  # the best candidate scored under the minimum score
    # Joint bundles: the values in the command, by slot ({} for none, a rejection, or a plain bundle).
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What the export side measures and compares (not sent): the kept spans and every token's tag id.
    spans: list[Span] = field(default_factory=list, repr=False)
    token_tags: tuple[int, ...] = field(default=(), repr=False)
    taught: bool = False  # the label was taught on this device (edge_app/teaching.py); score: its similarity

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "score": round(self.score, 6),
            "rejected": self.rejected,
            "scores": [{"label": name, "score": round(score, 6)} for name, score in self.top_k],
            "truncated": self.truncated,
            "slots": self.slots,
        }
        if self.labels:
            out["labels"] = self.labels
        if self.taught:
            out["taught"] = True
        return out


def check_texts(texts: Sequence[Any]) -> list[str]:
    """Refuse what the model cannot meaningfully classify, naming the offending item."""
    if isinstance(texts, str):
        raise ValueError("classify() takes a list of strings; wrap a single text in a list")
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"text {i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise ValueError(f"text {i} is empty or whitespace only; send some words")
        out.append(text)
    return out


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


class Classifier:
    """A loaded bundle, ready to classify. Thread-compatible: one caller at a time."""

    def __init__(
        self,
        bundle: Bundle,
        device: str = "auto",
        threads: int | None = None,
        batch_size: int = 32,
        spin: bool = False,
        min_score: float | None = None,
        latency_session: bool = True,
    ):
        self.bundle = bundle
        # `threads` is the maximum: batches use them all, a lone short text runs on one thread
        # (session.Sessions); latency_session=False keeps one session for every call.
        self.sessions = create_sessions(bundle.model_path, device, threads, spin, bundle.device_models, latency_session)
        self.session, self.provider = self.sessions.throughput, self.sessions.provider
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.encoder = TextEncoder(bundle.tokenizer_path, bundle.max_length)
        self.labels = bundle.labels
        self._check_label_count()
        self.batch_size = batch_size
        self.calibration = load_calibration(bundle.manifest, bundle.path)
        self.slot_tags = bundle.slot_tags
        self._tags = parse_tags(self.slot_tags) if self.slot_tags else []
        self.teaching = Teaching.from_manifest(bundle.manifest, bundle.path)
        self.output_names = self._output_names()
        # The bundle's own examples (edge-app train); the owner of taught labels replaces it (edge_app.teach).
        self.taught: TaughtSet | None = None
        if self.teaching is not None and self.teaching.examples:
            self.taught = build(self.teach_embeddings, self.teaching, {})
        # None or negative: the bundle's threshold (chosen on its validation split), if it has one.
        self.min_score = self.calibration.threshold if min_score is None or min_score < 0 else min_score
        log.info("loaded model %s (%s) with %d labels", bundle.name, bundle.sha256[:12], len(self.labels))

    def _check_label_count(self) -> None:
        """A manifest whose labels do not match the model's outputs would mislabel every text."""
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != len(self.labels):
            raise BundleError(
                f"bundle {self.bundle.path}: the model has {width} outputs but the manifest lists "
                f"{len(self.labels)} labels; re-export the bundle"
            )

    def _output_names(self) -> list[str]:
        """Logits; the slot tags of a joint bundle; the pooled embedding when the detector needs it."""
        outputs = {o.name: o for o in self.session.get_outputs()}
        names = [next(iter(outputs))]
        if self.slot_tags:
            self._check_slot_output(outputs.get(SLOT_OUTPUT))
            names.append(SLOT_OUTPUT)
        if self.calibration.needs_embedding:
            if EMBEDDING_OUTPUT not in outputs:
                raise BundleError(
                    f"bundle {self.bundle.path}: its calibration needs the model output {EMBEDDING_OUTPUT!r}, "
                    "which model.onnx lacks; re-export the bundle"
                )
            names.append(EMBEDDING_OUTPUT)
        if self.teaching is not None:
            if TEACH_OUTPUT not in outputs:
                raise BundleError(
                    f"bundle {self.bundle.path}: its manifest offers teaching but model.onnx lacks the "
                    f"{TEACH_OUTPUT!r} output; re-export the bundle"
                )
            names.append(TEACH_OUTPUT)
        return names

    def _check_slot_output(self, output: Any) -> None:
        """A joint bundle's model must tag tokens with exactly the manifest's slot tags."""
        tags = len(self.slot_tags or [])
        width = output.shape[-1] if output is not None else None
        if output is None or (isinstance(width, int) and width != tags):
            found = f"no {SLOT_OUTPUT} output" if output is None else f"{width} tag columns"
            raise BundleError(
                f"bundle {self.bundle.path}: the manifest lists {tags} slot tags but model.onnx has "
                f"{found}; re-export the bundle"
            )

    @classmethod
    def load(
        cls,
        bundle_dir: str | os.PathLike[str],
        device: str = "auto",
        threads: int | None = None,
        verify: bool = True,
        batch_size: int = 32,
        spin: bool = False,
        min_score: float | None = None,
        latency_session: bool = True,
    ) -> Classifier:
        """Load and (unless verify=False) sha256-check a bundle, then build its sessions.
        `min_score` overrides the bundle's rejection threshold (None or < 0: keep it; 0: never reject).
        `latency_session=False`: one session for every call (no one-thread session for lone texts)."""
        return cls(
            Bundle.load(bundle_dir, verify=verify), device, threads, batch_size, spin, min_score, latency_session
        )

    @property
    def model_info(self) -> dict[str, str]:
        return {"name": self.bundle.name, "sha256": self.bundle.sha256}

    def classify(self, texts: Sequence[str], top_k: int = 3) -> list[Prediction]:
        """Predictions in input order. Long inputs are split into length-sorted batches, so
        texts of similar length share a batch; each batch is tokenized once and run as the
        model calls that pad least (edge_app.padding)."""
        texts = check_texts(texts)
        results: list[Prediction | None] = [None] * len(texts)
        for idx in self._length_sorted_batches(texts):
            enc = self.encoder.encode([texts[i] for i in idx], self.input_names)
            for rows in split_by_length(enc.lengths):
                outputs = self._call(enc, rows)
                probs, scores = self._probabilities(outputs)
                tag_ids = outputs[SLOT_OUTPUT].argmax(axis=-1) if SLOT_OUTPUT in outputs else None
                preds = [
                    self._predict(probs[k], float(scores[k]), enc.lengths[row], enc.truncated[row], top_k)
                    for k, row in enumerate(rows)
                ]
                taught, learnt = self.taught, [None] * len(rows)
                if taught is not None and TEACH_OUTPUT in outputs:
                    korean = [is_hangul(enc.texts[row].original) for row in rows]
                    learnt = taught.match(outputs[TEACH_OUTPUT], korean, [p.label == OUT_OF_SCOPE for p in preds])
                for k, (row, pred) in enumerate(zip(rows, preds)):
                    if learnt[k] is not None:
                        _take_taught(pred, *learnt[k], taught=learnt[k][0] not in self.labels)
                    elif tag_ids is not None:
                        self._add_slots(pred, enc.texts[row], tag_ids[k], enc.encodings[row])
                    results[idx[row]] = pred
        return results  # type: ignore[return-value]

    def _call(self, enc: Encoded, rows: list[int]) -> dict[str, np.ndarray]:
        """One model call on some rows of an encoded batch (Encoded.call_arrays)."""
        return dict(zip(self.output_names, self.sessions.run(self.output_names, enc.call_arrays(rows))))

    def _add_slots(self, pred: Prediction, mapped: TextMap, tag_ids: np.ndarray, encoding: Any) -> None:
        """Decode one text's token tags into the slots its predicted intent can carry; none when
        the answer is out of scope (rejected or not), since nothing should act on them."""
        word_ids = encoding.word_ids
        tag_list = tag_ids.tolist()  # plain ints: a walk over numpy scalars is slower per token
        pred.token_tags = tuple(t for t, w in zip(tag_list, word_ids) if w is not None)
        if pred.label == OUT_OF_SCOPE or pred.rejected:
            return
        # The tokenizer saw the normalised text (edge_app.text): values are read from that form
        # (ASCII digits, NFC), spans and their "text" are reported against what was sent.
        spans = allowed(pred.label, decode_spans(tag_list, encoding.offsets, word_ids, self._tags, mapped.normalised))
        pred.slots = slot_values(mapped.normalised, spans)
        pred.spans = [Span(s.slot, *mapped.span(s.start, s.end)) for s in spans]
        for span in pred.spans:
            pred.slots[span.slot]["text"] = mapped.original[span.start : span.end]

    @property
    def all_labels(self) -> list[str]:
        """The bundle's labels, then the taught ones in effect."""
        taught = self.taught
        return self.labels + [n for n in (taught.names if taught is not None else []) if n not in self.labels]

    def teach_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """Unit `teach_embedding` vectors of `texts`, rows in input order; `Teaching.vectors` maps them
        into the space taught labels are compared in."""
        names = [o.name for o in self.session.get_outputs() if o.name != SLOT_OUTPUT]
        if TEACH_OUTPUT not in names:
            raise BundleError(
                f"bundle {self.bundle.path} cannot be taught: model.onnx has no {TEACH_OUTPUT!r} output; "
                "re-export it with this version of edge-app"
            )
        return unit(self.model_outputs(texts)[names.index(TEACH_OUTPUT)])

    def model_outputs(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Every output of the model (logits, and the pooled embedding where exported), rows in
        input order; what the export side fits a detector on."""
        texts = check_texts(texts)
        # Per-text outputs only: a joint model's per-token slot_logits differ in length per batch.
        names = [o.name for o in self.session.get_outputs() if o.name != SLOT_OUTPUT]
        parts: list[list[np.ndarray]] = [[] for _ in names]
        order: list[int] = []
        for idx in self._length_sorted_batches(texts):
            enc = self.encoder.encode([texts[i] for i in idx], self.input_names)
            for part, out in zip(parts, self.session.run(names, enc.arrays)):
                part.append(out)
            order += idx
        inverse = np.argsort(order)
        return [np.concatenate(part)[inverse] for part in parts]

    def _length_sorted_batches(self, texts: Sequence[str]) -> Iterator[list[int]]:
        """Indices of `texts` in batches of similar length, so padding stays small."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            yield order[start : start + self.batch_size]

    def _probabilities(self, outputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per-label probabilities and the score of each row's best label."""
        logits = outputs[self.output_names[0]]
        if self.bundle.multi_label:
            probs = _sigmoid(logits)
            return probs, probs.max(axis=-1)
        if self.calibration.method == "none":
            probs = softmax(logits)
            return probs, probs.max(axis=-1)
        return self.calibration.scores(logits, outputs.get(EMBEDDING_OUTPUT))

    def _predict(self, probs: np.ndarray, score: float, tokens: int, truncated: bool, top_k: int) -> Prediction:
        multi = self.bundle.multi_label
        ranked = np.argsort(-probs)
        # A detector's score may differ from the best probability; the candidates keep their
        # ranking and ratios, scaled so that the first of them carries the score.
        scale = score / max(float(probs[ranked[0]]), 1e-12)
        top = [(self.labels[j], float(probs[j]) * scale) for j in ranked[: max(1, top_k)]]
        chosen = [self.labels[j] for j in ranked if multi and probs[j] >= 0.5]
        best = self.labels[int(ranked[0])]
        rejected = not multi and self.min_score is not None and score < self.min_score and best != OUT_OF_SCOPE
        return Prediction(OUT_OF_SCOPE if rejected else best, score, top, truncated, tokens, chosen, rejected)


def _take_taught(pred: Prediction, label: str, similarity: float, taught: bool) -> None:
    """A label matched by example wins: it carries no slots, and its score is the similarity to its nearest
    example. `taught`: taught on this device, not one of the bundle's own labels."""
    pred.label, pred.score, pred.rejected, pred.taught = label, similarity, False, taught
    pred.top_k = [(label, similarity)] + [c for c in pred.top_k if c[0] != label][: max(0, len(pred.top_k) - 1)]
    pred.slots, pred.spans = {}, []
