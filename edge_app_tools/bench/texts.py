"""The inputs every engine sees: built once in the parent and handed to each worker as-is.

Same texts for every engine is the first rule of a fair comparison, so nothing here is
random and workers never build their own inputs.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_app.bundle import Bundle
from edge_app.errors import ConfigError
from edge_app.padding import padded_tokens, split_by_length

SHORT_COMMAND = "please turn on the air conditioner in the bedroom"
LONG_TOKENS = 128
# Plausible appliance-log prose, repeated word by word until it fills exactly LONG_TOKENS.
LONG_SOURCE = (
    "the washing machine in the basement finished its cotton cycle at forty degrees a few minutes ago, "
    "and the dryer upstairs is still running its delicate programme with about twenty minutes left; "
    "meanwhile the living room lights were dimmed to thirty percent, the thermostat in the hallway "
    "reports twenty one degrees, the fridge door was left open for almost two minutes this morning, "
    "and the robot vacuum returned to its dock after cleaning the kitchen, the dining room and the "
    "corridor, so please check whether the oven should be preheated for dinner at seven and whether "
    "the television volume can be lowered a little before the children go to bed tonight. "
)


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def _tokenizer(bundle: Bundle):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bundle.tokenizer_path))
    tok.no_truncation()
    tok.no_padding()
    return tok


def token_count(tokenizer, text: str) -> int:
    return len(tokenizer.encode(text).ids)


def long_text(tokenizer, target: int = LONG_TOKENS) -> str:
    """Words from LONG_SOURCE (repeated) until the encoding, special tokens included, is
    exactly `target` tokens; a word that would overshoot is skipped for a shorter one."""
    words = (LONG_SOURCE * 8).split()
    kept: list[str] = []
    for word in words:
        count = token_count(tokenizer, " ".join(kept + [word]))
        if count <= target:
            kept.append(word)
        if count == target:
            break
    return " ".join(kept)


def read_examples(path: Path) -> list[Example]:
    """text,label rows from CSV (with header) or JSONL; a bundle's eval_samples.jsonl qualifies."""
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                rows: list[Any] = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        examples = [Example(str(row["text"]), str(row["label"])) for row in rows]
    except FileNotFoundError:
        raise ConfigError(f"eval file {path} does not exist; pass a CSV or JSONL file with text and label") from None
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"eval file {path} needs 'text' and 'label' on every row ({exc!r}); fix the file") from None
    if not examples:
        raise ConfigError(f"eval file {path} has no examples")
    return examples


def default_test_split() -> Path | None:
    """The shipped intent test split, found without importing the export package."""
    spec = importlib.util.find_spec("export")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "intents" / "test.jsonl"
    return path if path.is_file() else None


def eval_sets(bundle: Bundle, eval_file: Path | None) -> dict[str, dict[str, Any]]:
    """Named labelled sets: the bundle's own samples, and the --eval file or, for a bundle whose
    labels it covers, the shipped test split. Sets with labels the bundle lacks are refused."""
    sets: dict[str, dict[str, Any]] = {}
    samples = bundle.path / "eval_samples.jsonl"
    if samples.is_file():
        sets["bundle"] = {"path": str(samples), "examples": read_examples(samples)}
    path = eval_file or default_test_split()
    if path is not None:
        examples = read_examples(path)
        unknown = sorted({e.label for e in examples} - set(bundle.labels))
        if unknown and eval_file is not None:
            raise ConfigError(
                f"eval file {path} has labels the bundle does not know ({', '.join(unknown[:5])}); "
                f"the bundle's labels are: {', '.join(bundle.labels)}"
            )
        if not unknown:
            sets["test"] = {"path": str(path), "examples": examples}
    return sets


def batch_texts(sets: dict[str, dict[str, Any]], count: int) -> list[str]:
    """`count` texts for the throughput runs: the largest labelled set, cycled in file order."""
    pool = max((s["examples"] for s in sets.values()), key=len, default=[])
    texts = [e.text for e in pool] or [SHORT_COMMAND]
    return [texts[i % len(texts)] for i in range(count)]


def mean_padded_tokens(tokenizer, texts: list[str], batch_size: int, split: bool = True) -> float:
    """Token positions the model computes per text for batches of `batch_size`: as edge-app's
    Classifier runs them (`split`: the calls edge_app.padding plans), or as one call per batch
    padded to its longest text (Optimum's pipeline, PyTorch)."""
    lengths = [min(token_count(tokenizer, t), LONG_TOKENS) for t in texts]
    total = 0
    for start in range(0, len(lengths), batch_size):
        chunk = lengths[start : start + batch_size]
        total += padded_tokens(chunk, split_by_length(chunk)) if split else max(chunk) * len(chunk)
    return total / max(1, len(lengths))


def build_inputs(bundle: Bundle, eval_file: Path | None, batch_count: int) -> dict[str, Any]:
    """Everything a worker needs to feed its engine, as JSON-able data."""
    tokenizer = _tokenizer(bundle)
    sets = eval_sets(bundle, eval_file)
    long = long_text(tokenizer, min(LONG_TOKENS, bundle.max_length))
    batch = batch_texts(sets, batch_count)
    return {
        "short": SHORT_COMMAND,
        "short_tokens": token_count(tokenizer, SHORT_COMMAND),
        "long": long,
        "long_tokens": token_count(tokenizer, long),
        "batch": batch,
        "batch_mean_tokens": sum(token_count(tokenizer, t) for t in batch) / max(1, len(batch)),
        "batch_padded_tokens": {str(b): mean_padded_tokens(tokenizer, batch, b) for b in (8, 32)},
        "batch_padded_tokens_one_call": {str(b): mean_padded_tokens(tokenizer, batch, b, split=False) for b in (8, 32)},
        "eval_sets": {
            name: {
                "path": s["path"],
                "texts": [e.text for e in s["examples"]],
                "labels": [e.label for e in s["examples"]],
            }
            for name, s in sets.items()
        },
    }
