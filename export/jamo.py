"""Korean through an English uncased WordPiece vocabulary (all-MiniLM-L6-v2): the jamo route.

The BERT uncased normaliser strips accents through NFD, which decomposes every Hangul syllable
into its jamo (불 -> ᄇ ᅮ ᆯ). The MiniLM vocabulary has most jamo but lacks 32 of them (ᄁ ᄄ ᄈ
ᄍ, ᅣ ᅤ ᅨ ᅫ ᅬ ᅰ ᅱ and most final consonants, ᆺ and ᆻ among them), and WordPiece turns a whole
word with one unknown piece into a single [UNK]: 꺼줘 ("turn it off"), 있어, 맞춰 and 몇 all
become [UNK]. `extend_jamo` appends the missing jamo (word-initial and ## forms) as real
WordPiece entries and starts each new embedding from the nearest plain jamo (ᄁ from ᄀ, ᅨ
from ᅦ ...), so fine-tuning starts from a sensible point.
"""

from __future__ import annotations

from pathlib import Path

JAMO_SEED = {
    "ᄁ": "ᄀ",
    "ᄄ": "ᄃ",
    "ᄈ": "ᄇ",
    "ᄍ": "ᄌ",
    "ᅣ": "ᅡ",
    "ᅤ": "ᅢ",
    "ᅨ": "ᅦ",
    "ᅫ": "ᅢ",
    "ᅬ": "ᅩ",
    "ᅰ": "ᅦ",
    "ᅱ": "ᅮ",
    "ᆩ": "ᆨ",
    "ᆪ": "ᆨ",
    "ᆬ": "ᆫ",
    "ᆭ": "ᆫ",
    "ᆮ": "ᆫ",
    "ᆰ": "ᆯ",
    "ᆱ": "ᆯ",
    "ᆲ": "ᆯ",
    "ᆳ": "ᆯ",
    "ᆴ": "ᆯ",
    "ᆵ": "ᆯ",
    "ᆶ": "ᆯ",
    "ᆹ": "ᆸ",
    "ᆺ": "ᆸ",
    "ᆻ": "ᆸ",
    "ᆽ": "ᆫ",
    "ᆾ": "ᆫ",
    "ᆿ": "ᆨ",
    "ᇀ": "ᆫ",
    "ᇁ": "ᆸ",
    "ᇂ": "ᆼ",
}


def missing_jamo(vocab: dict[str, int]) -> list[str]:
    """Vocabulary entries (word-initial and ##) for the modern Hangul jamo the vocabulary lacks."""
    jamo = [chr(c) for c in (*range(0x1100, 0x1113), *range(0x1161, 0x1176), *range(0x11A8, 0x11C3))]
    return [t for ch in jamo for t in (ch, "##" + ch) if t not in vocab]


def extend_jamo(source: Path, out: Path) -> tuple[Path, list[str]]:
    """A copy of a BERT WordPiece checkpoint at `out` with the missing jamo appended to its
    vocabulary (real WordPiece entries, not added tokens, so ## continuation works), the
    embedding matrix resized and each new row copied from the nearest plain jamo."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(source)
    vocab = tokenizer.get_vocab()
    extra = missing_jamo(vocab)
    out.mkdir(parents=True, exist_ok=True)
    ordered = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])] + extra
    (out / "vocab.txt").write_text("\n".join(ordered) + "\n", encoding="utf-8")
    new_tok = BertTokenizerFast(
        vocab_file=str(out / "vocab.txt"), do_lower_case=True, model_max_length=tokenizer.model_max_length
    )
    archs = AutoConfig.from_pretrained(source).architectures or []
    classifier = any(a.endswith("ForSequenceClassification") for a in archs)  # a fine-tuned checkpoint keeps its head
    model = (AutoModelForSequenceClassification if classifier else AutoModel).from_pretrained(source)
    model.resize_token_embeddings(len(ordered), mean_resizing=False)
    weights = model.get_input_embeddings().weight
    with torch.no_grad():
        for i, token in enumerate(extra):
            prefix, ch = ("##", token[2:]) if token.startswith("##") else ("", token)
            weights[len(vocab) + i] = weights[vocab.get(prefix + JAMO_SEED.get(ch, ch), vocab["[UNK]"])]
    model.save_pretrained(out)
    new_tok.save_pretrained(out)
    return out, extra
