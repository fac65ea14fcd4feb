"""The joint intent + slot model: one BERT encoder, two heads, one model call on the board.

- `BertForIntentAndSlots`: the intent head is BertForSequenceClassification's (dropout + linear on
  the pooled output), so `logits` stays the first output and the calibration's `embedding` output
  (the pooled vector) is found the same way; the tagging head is a linear layer over every token,
  `slot_logits` [batch, sequence, len(slot_tags)] (BIO tags, edge_app/slots/schema.py).
- `tag_targets`: character spans -> one BIO tag per token via the fast tokenizer's offsets;
  every sub-token of a span is tagged (B on the first, I on the rest), special tokens and
  padding get -100 (ignored by the loss).
- `JointOnnxConfig`: Optimum's BERT ONNX config with both outputs, for
  `optimum.exporters.onnx.onnx_export_from_model(custom_onnx_configs=...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from optimum.exporters.onnx.model_configs import BertOnnxConfig
from torch import nn
from transformers import BertConfig, BertModel, BertPreTrainedModel
from transformers.utils import ModelOutput

from edge_app.slots.schema import BIO_OUTSIDE

SLOT_OUTPUT = "slot_logits"
IGNORE = -100
# The tag loss is added to the intent loss with this weight (both are means of cross-entropies).
SLOT_LOSS_WEIGHT = 1.0


@dataclass
class IntentAndSlotsOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    slot_logits: torch.Tensor | None = None
    embedding: torch.Tensor | None = None  # the intent head's input; only while `return_embedding` is set


class BertForIntentAndSlots(BertPreTrainedModel):
    """BERT with an intent head (as BertForSequenceClassification) and a token-tagging head.

    The config carries `slot_tags` (the BIO tag list) beside id2label; `save_pretrained` writes it
    into config.json, so `from_pretrained` and the exporter read the same tag list back.
    """

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.slot_tags = list(config.slot_tags)
        self.slot_loss_weight = float(getattr(config, "slot_loss_weight", SLOT_LOSS_WEIGHT))
        self.pooling = getattr(config, "pooling", "cls")
        self.return_embedding = False  # training sets it to read the embedding (the export must not see it)
        self.bert = BertModel(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.slot_classifier = nn.Linear(config.hidden_size, len(self.slot_tags))
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        slot_labels: torch.Tensor | None = None,
        **_: Any,
    ) -> IntentAndSlotsOutput:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        embedding = out.pooler_output if self.pooling == "cls" else mean_pool(out.last_hidden_state, attention_mask)
        logits = self.classifier(self.dropout(embedding))
        slot_logits = self.slot_classifier(self.dropout(out.last_hidden_state))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels)
            if slot_labels is not None:
                tag_loss = nn.functional.cross_entropy(
                    slot_logits.reshape(-1, slot_logits.shape[-1]), slot_labels.reshape(-1), ignore_index=IGNORE
                )
                loss = loss + self.slot_loss_weight * tag_loss
        return IntentAndSlotsOutput(
            loss=loss, logits=logits, slot_logits=slot_logits, embedding=embedding if self.return_embedding else None
        )


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """The mean of the real tokens' vectors: how (multilingual-)e5 makes a sentence embedding, so the
    intent head starts from the pretrained geometry instead of a fresh pooler over one token."""
    if attention_mask is None:
        return hidden.mean(dim=1)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def joint_from_encoder(
    source: str, labels: list[str], slot_tags: list[str], pooling: str = "cls"
) -> BertForIntentAndSlots:
    """A joint model whose encoder is the (sentence-transformers / BERT) checkpoint at `source`
    and whose two heads start fresh. `pooling`: the intent head reads BERT's pooler over the
    first token ("cls") or the mean of the real tokens ("mean")."""
    config = BertConfig.from_pretrained(
        source,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    config.slot_tags = list(slot_tags)
    config.pooling = pooling
    config.architectures = [BertForIntentAndSlots.__name__]
    return BertForIntentAndSlots.from_pretrained(source, config=config)


def is_joint(config: Any) -> bool:
    """Whether a checkpoint's config is a joint intent + slot model (it lists its slot tags)."""
    return bool(getattr(config, "slot_tags", None))


def tag_targets(
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    spans: Sequence[tuple[str, int, int]],
    tag2id: dict[str, int],
) -> list[int]:
    """BIO tag ids for one encoded text: every sub-token overlapping a span is tagged (B on the
    span's first token, I on the rest), other real tokens O, special tokens and padding -100."""
    out: list[int] = []
    started: set[int] = set()
    for (start, end), word in zip(offsets, word_ids):
        if word is None or start == end:
            out.append(IGNORE)
            continue
        tag = BIO_OUTSIDE
        for i, (slot, s_start, s_end) in enumerate(spans):
            if start < s_end and end > s_start:
                tag = f"{'I' if i in started else 'B'}-{slot}"
                started.add(i)
                break
        out.append(tag2id[tag])
    return out


class JointOnnxConfig(BertOnnxConfig):
    """Optimum's BERT config with the joint model's two outputs: `logits` first (what every
    plain bundle has), then `slot_logits` per token."""

    @property
    def outputs(self) -> dict[str, dict[int, str]]:
        return {
            "logits": {0: "batch_size"},
            SLOT_OUTPUT: {0: "batch_size", 1: "sequence_length"},
        }


def onnx_config(model: BertForIntentAndSlots) -> JointOnnxConfig:
    return JointOnnxConfig(model.config, task="text-classification")
