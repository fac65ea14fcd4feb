"""A user's expanded sentences made ready to train on: duplicates across intents found and left out,
and held-out splits per intent that keep whole templates apart where the intent has enough of them."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from edge_app.errors import ExportError

from .data import Example

MIN_EXAMPLES = 5  # sentences an intent needs after expansion: some to train on, one to hold out


@dataclass(frozen=True)
class Split:
    """Indices into the examples: trained on, and held out (`by_template`: intents split by template)."""

    train: list[int]
    held: list[int]
    by_template: list[str]


def key(text: str) -> str:
    """What two sentences share when a model cannot tell them apart: case and spacing aside."""
    return " ".join(text.casefold().split())


def shared_sentences(examples: list[Example], others: list[Example] = ()) -> dict[tuple[str, str], list[str]]:
    """Sentences that appear under two labels, by label pair (sorted): within `examples`, and
    between `examples` and `others` (e.g. the default data)."""
    labels: dict[str, set[str]] = defaultdict(set)
    for e in [*examples, *others]:
        labels[key(e.text)].add(e.label)
    own = {key(e.text) for e in examples}
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for text, found in labels.items():
        if text in own and len(found) > 1:
            ordered = sorted(found)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    pairs[(a, b)].append(text)
    return dict(pairs)


def check_counts(examples: list[Example]) -> None:
    """Refuse an intent with too few sentences to train on and hold one out."""
    counts: dict[str, int] = defaultdict(int)
    for e in examples:
        counts[e.label] += 1
    few = sorted(label for label, n in counts.items() if n < MIN_EXAMPLES)
    if few:
        raise ExportError(
            f"intents {', '.join(few)} have fewer than {MIN_EXAMPLES} distinct sentences after "
            "expansion; write more sentences (or alternatives and lists) for them"
        )


def split(examples: list[Example], groups: list[str], share: float, seed: int) -> Split:
    """Hold out about `share` of each label's examples: whole templates (groups) when that comes
    close, else single sentences; each label keeps most of its examples to train on."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_label[e.label].append(i)
    train, held, by_template = [], [], []
    for label in sorted(by_label):
        indices = by_label[label]
        chosen = _held_groups(indices, groups, share, rng)
        if chosen:
            by_template.append(label)
        else:
            chosen = set(rng.sample(indices, max(1, round(share * len(indices)))))
        held += sorted(chosen)
        train += [i for i in indices if i not in chosen]
    return Split(sorted(train), sorted(held), by_template)


def _held_groups(indices: list[int], groups: list[str], share: float, rng: random.Random) -> set[int]:
    """Whole templates adding up to `share` of the label's examples (at most twice that), or none."""
    members: dict[str, list[int]] = defaultdict(list)
    for i in indices:
        members[groups[i]].append(i)
    if len(members) < 3:
        return set()
    target = max(1, round(share * len(indices)))
    names = sorted(members)
    rng.shuffle(names)
    chosen: list[int] = []
    for name in names:
        if len(chosen) >= target:
            break
        if len(chosen) + len(members[name]) <= 2 * target:
            chosen += members[name]
    return set(chosen) if len(chosen) >= max(1, target // 2) else set()


OVERLAP = 0.6  # word overlap (Jaccard) with one of the user's sentences that makes a refusal example theirs


def covered(candidates: list[Example], own: list[Example], overlap: float = OVERLAP) -> list[bool]:
    """Per candidate: whether its words overlap one of `own`'s sentences by at least `overlap`
    (shared words over all words of the two), so the user's intents now claim it."""
    own_words = [frozenset(key(e.text).split()) for e in own]
    index: dict[str, list[int]] = defaultdict(list)
    for i, words in enumerate(own_words):
        for word in words:
            index[word].append(i)
    out = []
    for candidate in candidates:
        words = set(key(candidate.text).split())
        near = {i for word in words for i in index.get(word, ())}
        out.append(any(len(words & own_words[i]) >= overlap * len(words | own_words[i]) for i in near))
    return out
