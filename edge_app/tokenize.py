"""Tokenization: the bundle's tokenizer.json, truncated at the manifest's max length.

Padding goes to the longest text in the batch, not to max length: a 10-token command in a
batch of short commands costs 10 positions, not 128.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from .errors import BundleError
from .text import TextMap


@dataclass
class Encoded:
    """Model inputs for one batch plus what the caller should know about each text."""

    arrays: dict[str, np.ndarray]
    lengths: list[int]  # real tokens per text, after truncation
    truncated: list[bool]
    # The tokenizer's Encoding per text: character offsets and word ids per token, which a
    # joint model's slot decoding maps its token tags back to the text with.
    encodings: list[Any] = field(default_factory=list)
    # Per text, what the tokenizer saw (edge_app.text) and where each of its characters came from.
    texts: list[TextMap] = field(default_factory=list)

    def call_arrays(self, rows: list[int]) -> dict[str, np.ndarray]:
        """The model inputs of one call on some rows of this batch, cut to the longest of them
        (padding is on the right, so the columns beyond it are padding for every one of these rows)."""
        if rows == list(range(len(self.lengths))):  # the whole batch, in its order: as encoded
            return self.arrays
        width = max(self.lengths[r] for r in rows)
        return {name: np.ascontiguousarray(a[rows, :width]) for name, a in self.arrays.items()}


def pad_token(tokenizer: Tokenizer) -> tuple[str, int]:
    """(token, id) a batch is padded with: the tokenizer.json's own padding when it has one, else
    whichever of BERT's [PAD] (0) and XLM-R's <pad> (1) its vocabulary holds; XLM-R's position
    ids count non-pad tokens, so the wrong one would shift every position."""
    pad = tokenizer.padding or {}
    token = pad.get("pad_token") or next(
        (t for t in ("[PAD]", "<pad>") if tokenizer.token_to_id(t) is not None), "[PAD]"
    )
    return token, pad.get("pad_id", tokenizer.token_to_id(token) or 0)


class TextEncoder:
    def __init__(self, path: Path, max_length: int):
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise BundleError(f"cannot read tokenizer {path} ({exc}); re-export the bundle") from None
        self.max_length = max_length
        self.tokenizer.enable_truncation(max_length=max_length)
        token, pad_id = pad_token(self.tokenizer)
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=token)  # to the longest in batch

    def encode(self, texts: list[str], input_names: list[str]) -> Encoded:
        mapped = [TextMap(t) for t in texts]  # NFC, ASCII digits
        encodings = self.tokenizer.encode_batch([m.normalised for m in mapped])
        arrays = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return Encoded(
            arrays={name: arrays[name] for name in input_names},
            lengths=[sum(e.attention_mask) for e in encodings],
            truncated=[bool(e.overflowing) for e in encodings],
            encodings=encodings,
            texts=mapped,
        )
