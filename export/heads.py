"""A fine-tuned joint checkpoint with more intents and slot tags: the encoder and the rows of the
labels and tags it already has carry over; the new rows start fresh (export/joint.py's init)."""

from __future__ import annotations

from pathlib import Path

from edge_app.errors import ExportError


def extended_joint(checkpoint: Path, labels: list[str], tags: list[str]):
    """The joint model of `checkpoint` with intent head rows for `labels` and tag rows for `tags`,
    each row copied from the checkpoint where it has that label or tag."""
    import torch
    from transformers import AutoConfig

    from .joint import BertForIntentAndSlots, is_joint

    config = AutoConfig.from_pretrained(checkpoint)
    if not is_joint(config):
        raise ExportError(
            f"{checkpoint} is not a joint intent + slot checkpoint (no slot_tags in its config); "
            "pass the checkpoint folder of a default build (`python -m export.build_cache --cached`)"
        )
    old = BertForIntentAndSlots.from_pretrained(checkpoint)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {name: i for i, name in enumerate(labels)}
    config.slot_tags = list(tags)
    new = BertForIntentAndSlots(config)
    new.bert.load_state_dict(old.bert.state_dict())
    with torch.no_grad():
        _copy_rows(old.classifier, new.classifier, [old.config.id2label[i] for i in range(old.num_labels)], labels)
        _copy_rows(old.slot_classifier, new.slot_classifier, old.slot_tags, tags)
    return new


def _copy_rows(old, new, old_names: list[str], new_names: list[str]) -> None:
    """Copy each output row (weight and bias) of a linear layer to the row of the same name."""
    where = {name: i for i, name in enumerate(old_names)}
    for i, name in enumerate(new_names):
        if name in where:
            new.weight[i] = old.weight[where[name]]
            new.bias[i] = old.bias[where[name]]
