"""`edge-app export` for multilingual checkpoints (issue 14): XLM-RoBERTa (SentencePiece-style
Unigram tokenizer, no token_type_ids, <pad> = 1) and mBERT (cased WordPiece that keeps Hangul
syllables), besides the BERT of test_export.py.

Each checkpoint is built here, tiny and randomly initialised, with a tokenizer trained by the
`tokenizers` library on our own English and Korean sentences (no download), then goes the whole
way a user's would: export -> bundle -> verify -> Classifier -> a Korean and an English text.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from test_export import edge_app

from edge_app.bundle import Bundle
from edge_app.classifier import Classifier

DATA = Path(__file__).resolve().parents[2] / "export" / "data" / "intents"
LABELS = ["lights_off", "lights_on", "out_of_scope"]
KOREAN, ENGLISH = "거실 불 켜줘", "turn on the kitchen lights"


def corpus() -> list[str]:
    rows = [
        json.loads(line)
        for name in ("train.jsonl", "ko/train.jsonl")
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [r["text"] for r in rows]


def _tiny_config(config_cls, vocab_size: int, **extra):
    return config_cls(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
        **extra,
    )


def xlmr_checkpoint(folder: Path) -> Path:
    """XLMRobertaForSequenceClassification + a Unigram (SentencePiece-style) tokenizer.json."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(
        corpus(), trainers.UnigramTrainer(vocab_size=800, special_tokens=specials, unk_token="<unk>")
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    fast = XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=64,
    )
    config = _tiny_config(
        XLMRobertaConfig,
        tok.get_vocab_size(),
        max_position_embeddings=66,
        type_vocab_size=1,
        pad_token_id=tok.token_to_id("<pad>"),
        bos_token_id=0,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    XLMRobertaForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def mbert_checkpoint(folder: Path) -> Path:
    """BertForSequenceClassification + a cased multilingual WordPiece tokenizer.json (Hangul
    syllables stay whole, as in bert-base-multilingual-cased)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(corpus(), trainers.WordPieceTrainer(vocab_size=1500, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    fast = BertTokenizerFast(tokenizer_object=tok, do_lower_case=False, model_max_length=64)
    config = _tiny_config(BertConfig, tok.get_vocab_size(), max_position_embeddings=64)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=["xlm-roberta", "mbert"])
def family(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def exported(family: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(family)
    build = xlmr_checkpoint if family == "xlm-roberta" else mbert_checkpoint
    checkpoint = build(root / "checkpoint")
    eval_file = root / "eval.jsonl"
    rows = [
        (KOREAN, "lights_on"),
        ("거실 불 꺼줘", "lights_off"),
        ("음악 틀어줘", "out_of_scope"),
        (ENGLISH, "lights_on"),
        ("switch the lights off", "lights_off"),
        ("play some jazz", "out_of_scope"),
    ]
    eval_file.write_text(
        "".join(json.dumps({"text": t, "label": label}, ensure_ascii=False) + "\n" for t, label in rows),
        encoding="utf-8",
    )
    out = root / "bundle"
    proc = edge_app(
        "export",
        "--model",
        checkpoint,
        "--out",
        out,
        "--quantize",
        "arm64",
        "--eval",
        eval_file,
        "--min-agreement",
        "0.0",
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_multilingual_checkpoint_exports_to_a_bundle_that_verifies(exported: Path) -> None:
    assert edge_app("verify", exported).returncode == 0
    bundle = Bundle.load(exported)
    assert bundle.labels == LABELS
    assert bundle.manifest["quantization"]["target"] == "arm64"


def test_multilingual_bundle_classifies_korean_and_english(exported: Path) -> None:
    clf = Classifier.load(exported)
    korean, english = clf.classify([KOREAN, ENGLISH])
    assert korean.label in LABELS and english.label in LABELS
    assert 0.0 <= korean.score <= 1.0 and korean.tokens > 2 and english.tokens > 2
    # Decomposed and full-width input reach the model as the same tokens as NFC / ASCII.
    (nfc,) = clf.classify([KOREAN])
    (nfd,) = clf.classify([unicodedata.normalize("NFD", KOREAN)])
    assert (nfd.label, nfd.score, nfd.tokens) == (nfc.label, nfc.score, nfc.tokens)


def test_multilingual_inputs_and_padding_follow_the_tokenizer(family: str, exported: Path) -> None:
    """XLM-R takes no token_type_ids and pads with <pad> (id 1), not id 0 (<s>): its position
    ids count the non-pad tokens. mBERT takes token_type_ids and pads with [PAD]."""
    clf = Classifier.load(exported)
    assert ("token_type_ids" in clf.input_names) == (family == "mbert")
    enc = clf.encoder.encode(["불", "거실 에어컨 온도 이십이 도로 맞춰 줘"], clf.input_names)
    ids, mask = enc.arrays["input_ids"], enc.arrays["attention_mask"]
    pad = clf.encoder.tokenizer.token_to_id("<pad>" if family == "xlm-roberta" else "[PAD]")
    assert mask[0].sum() < mask[1].sum() and set(ids[0][mask[0] == 0].tolist()) == {pad}
