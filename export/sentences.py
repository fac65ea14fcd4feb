"""Home Assistant `custom_sentences` files -> labelled examples with slot spans, through hassil.

A file holds one language: `language`, `intents: NAME: data: - sentences: [...]`, `lists` (values,
`in`/`out` pairs, `range`) and `expansion_rules`. hassil parses the templates and expands their
alternatives, optional words and rules with list references left in place
(`hassil.sample.sample_expression(..., expand_lists=False)`); each `{list}` is then filled with one of
the list's values, which becomes a slot span named after the list (`{area}` is our `room`).
`[value](slot)` annotations (export/annotations.py) are one-value lists. A template whose list
products exceed `cap` sentences is sampled with a fixed seed instead of enumerated.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_app.errors import ExportError

from .annotations import Annotations
from .data import Example, SlotSpan

CAP = 40  # sentences per template at most
SKELETONS = 2000  # template expansions (list references left in) read per template at most
DRAWS = 20  # random draws per wanted sentence before a sampled template gives up on new ones
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
SLOT_ALIASES = {"area": "room"}  # Home Assistant's area is the default model's room
# An `area` list a file uses without defining it (Home Assistant fills it from its areas).
BUILTIN_AREAS = {
    "en": ("kitchen", "living room", "bedroom", "bathroom", "hallway", "office", "garage", "garden"),
    "ko": ("주방", "거실", "침실", "욕실", "복도", "서재", "차고", "정원"),
}
VALUE_SLOTS = ("temperature", "duration", "volume")  # export/evaluate.py compares their values
NAMED_TYPES = {
    "temperature": "temperature",
    "duration": "duration",
    "percentage": "percentage",
    "brightness": "percentage",
    "number": "number",
    "volume": "volume",
}


@dataclass
class Expanded:
    """The examples of sentence files, the template each came from, and what each slot holds."""

    examples: list[Example] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # "file:intent:data:sentence" per example
    slot_types: dict[str, str] = field(default_factory=dict)  # slot -> number|percentage|temperature|...|text
    notes: list[str] = field(default_factory=list)  # what was skipped, for the user

    def extend(self, other: Expanded) -> None:
        self.examples += other.examples
        self.groups += other.groups
        self.slot_types.update(other.slot_types)
        self.notes += other.notes


def read_file(path: Path) -> dict[str, Any]:
    """The YAML of one sentence file, checked for `language` and `intents`."""
    import yaml  # a hassil dependency

    if not path.is_file():
        raise ExportError(f"sentence file {path} does not exist; pass Home Assistant custom_sentences YAML files")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ExportError(
            f"sentence file {path} is not valid YAML ({str(exc).splitlines()[0]}); fix the file"
        ) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("language"), str)
        or not isinstance(data.get("intents"), dict)
    ):
        raise ExportError(
            f"sentence file {path} needs `language: xx` and an `intents:` mapping "
            "(the shape of Home Assistant's custom_sentences)"
        )
    return data


def expand_files(paths: list[Path], cap: int = CAP, seed: int = 13) -> Expanded:
    """Every example of every file, in file order."""
    out = Expanded()
    for path in paths:
        out.extend(expand(read_file(Path(path)), str(path), cap, seed))
    return out


def expand(data: dict[str, Any], source: str = "<sentences>", cap: int = CAP, seed: int = 13) -> Expanded:
    """The examples of one parsed sentence file (`source` names it in messages and groups)."""
    from hassil.intents import Intents

    annotations = Annotations()
    intents = Intents.from_dict(_rewritten(data, annotations))
    language = data["language"]
    lists = {**_builtin_lists(language), **intents.slot_lists, **annotations.slot_lists()}
    values = _ListValues(lists, intents.expansion_rules, language, source)
    out = Expanded()
    for name, intent in intents.intents.items():
        for d, data_block in enumerate(intent.data):
            rules = {**intents.expansion_rules, **data_block.expansion_rules}
            values.rules = rules
            for s, sentence in enumerate(_parsed(data_block, f"{source}: intent {name}")):
                rng = random.Random(f"{seed}/{source}/{name}/{d}/{s}")
                for text, spans in _expand_template(sentence, lists, rules, language, values, cap, rng, annotations):
                    out.examples.append(Example(text, name, spans, language))
                    out.groups.append(f"{source}:{name}:{d}:{s}")
    out.slot_types = values.types
    out.notes = values.notes
    return out


def _rewritten(data: dict[str, Any], annotations: Annotations) -> dict[str, Any]:
    """`data` with the annotations of every sentence and rule rewritten into list references."""
    intents = {}
    for name, intent in data["intents"].items():
        blocks = []
        for block in (intent or {}).get("data", []):
            block = dict(block)
            block["sentences"] = [annotations.rewrite(str(t)) for t in block.get("sentences", [])]
            if block.get("expansion_rules"):
                block["expansion_rules"] = {k: annotations.rewrite(str(v)) for k, v in block["expansion_rules"].items()}
            blocks.append(block)
        intents[name] = {**(intent or {}), "data": blocks}
    rules = {k: annotations.rewrite(str(v)) for k, v in (data.get("expansion_rules") or {}).items()}
    return {**data, "intents": intents, "expansion_rules": rules}


def _parsed(block: Any, where: str) -> list[Any]:
    """hassil's parsed templates of one data block; a template it cannot parse is named."""
    from hassil.parse_expression import parse_sentence

    try:
        return block.sentences
    except Exception:  # noqa: BLE001 - hassil raises several kinds (assertions included)
        for text in block.sentence_texts:
            try:
                parse_sentence(text, keep_text=True)
            except Exception as exc:  # noqa: BLE001
                raise ExportError(
                    f"{where}: hassil cannot parse the template {text!r} ({exc or type(exc).__name__}); "
                    "check its (a|b), [optional] and {list} brackets"
                ) from None
        raise


def _builtin_lists(language: str) -> dict[str, Any]:
    from hassil.intents import TextSlotList

    areas = BUILTIN_AREAS.get(language.split("-")[0])
    return {"area": TextSlotList.from_strings(areas, name="area")} if areas else {}


class _ListValues:
    """(text, value) pairs of each list, read once; the slot type of each list used; notes on skips."""

    def __init__(self, lists: dict[str, Any], rules: dict[str, Any], language: str, source: str):
        self.lists, self.rules, self.language, self.source = lists, rules, language, source
        self.types: dict[str, str] = {}
        self.notes: list[str] = []
        self._cache: dict[str, list[tuple[str, Any]] | None] = {}

    def get(self, name: str) -> list[tuple[str, Any]] | None:
        """The list's values; None for a wildcard list (no values to train on)."""
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> list[tuple[str, Any]] | None:
        from hassil.intents import RangeSlotList, TextSlotList

        found = self.lists.get(name)
        if found is None:
            raise ExportError(
                f"{self.source}: a sentence uses {{{name}}} but the file has no list `{name}`; "
                f"add it under `lists:` with its values"
            )
        if isinstance(found, TextSlotList):
            return [pair for value in found.values for pair in self._texts(value)]
        if isinstance(found, RangeSlotList):
            return _range_values(found, self.language)
        self.notes.append(f"{self.source}: sentences with the wildcard list {{{name}}} skipped (no values to train on)")
        return None

    def _texts(self, value: Any) -> list[tuple[str, Any]]:
        from hassil.sample import sample_expression

        out = value.value_out if value.value_out is not None else None
        texts = sample_expression(value.text_in, self.lists, self.rules, self.language)
        return [(" ".join(t.split()), out) for t in texts if t.strip()]

    def slot_type(self, name: str, slot: str) -> str:
        """number/percentage/temperature for a range list, a type known by the slot's name, else text."""
        from hassil.intents import RangeSlotList

        found = self.lists.get(name)
        if isinstance(found, RangeSlotList):
            kind = found.type.value
            return NAMED_TYPES.get(slot, kind) if kind == "number" else kind
        return NAMED_TYPES.get(slot, "text")


def _range_values(found: Any, language: str) -> list[tuple[str, Any]]:
    """A range list's numbers as digits and, where hassil's number words know the language, words."""
    numbers = list(found.get_numbers())
    out = [(str(n), n) for n in numbers] if found.digits else []
    if found.words:
        try:
            from hassil.numbers import get_rbnf_engine

            engine = get_rbnf_engine(found.words_language or language)
            out += [(w, n) for n in numbers for w in sorted(set(engine.format_number(n).text_by_ruleset.values()))]
        except Exception:  # noqa: BLE001 - no number words for this language: digits only
            pass
    return out


def _expand_template(
    sentence: Any,
    lists: dict[str, Any],
    rules: dict[str, Any],
    language: str,
    values: _ListValues,
    cap: int,
    rng: random.Random,
    annotations: Annotations,
) -> list[tuple[str, tuple[SlotSpan, ...]]]:
    """At most `cap` distinct (text, spans) of one template: all of them, or a seeded sample."""
    from hassil.sample import sample_expression

    texts = sample_expression(sentence.expression, lists, rules, language, expand_lists=False)
    shapes = []
    for skeleton in dict.fromkeys(itertools.islice(texts, SKELETONS)):
        pieces = PLACEHOLDER.split(" ".join(skeleton.split()))
        names = pieces[1::2]
        options = [values.get(n) for n in names]
        if all(o for o in options):
            shapes.append((pieces, [annotations.slot_of(n) or SLOT_ALIASES.get(n, n) for n in names], options))
            for n, slot in zip(names, shapes[-1][1]):
                values.types.setdefault(slot, values.slot_type(n, slot))
    counts = [math.prod(len(o) for o in options) for _, _, options in shapes]
    if sum(counts) <= cap:
        combos = [(k, c) for k, (_, _, options) in enumerate(shapes) for c in itertools.product(*options)]
    else:
        combos = _sampled(shapes, counts, cap, rng)
    found = dict.fromkeys(_render(shapes[k][0], shapes[k][1], choice) for k, choice in combos)
    return list(found)


def _sampled(shapes: list, counts: list[int], cap: int, rng: random.Random) -> list[tuple[int, tuple]]:
    """Up to `cap` distinct random combinations, each shape drawn as often as it has combinations."""
    chosen: dict[tuple[int, tuple], None] = {}
    for _ in range(cap * DRAWS):
        if len(chosen) >= cap:
            break
        (k,) = rng.choices(range(len(shapes)), weights=counts)
        chosen[(k, tuple(rng.choice(o) for o in shapes[k][2]))] = None
    return list(chosen)


def _render(pieces: list[str], slots: list[str], choice: tuple) -> tuple[str, tuple[SlotSpan, ...]]:
    """The sentence of one combination, single-spaced and trimmed, with a span per filled list."""
    text, spans = "", []
    for k, literal in enumerate(pieces):
        if k % 2 == 0:
            text = _join(text, literal)
            continue
        value_text, value = choice[k // 2]
        start = len(text)
        text += value_text
        # The runtime reads these slots' values itself; a list's `out` value is not its shape.
        spans.append(SlotSpan(slots[k // 2], start, len(text), None if slots[k // 2] in VALUE_SLOTS else value))
    text = text.rstrip()
    return text, tuple(spans)


def _join(text: str, more: str) -> str:
    """`text` + `more` with runs of spaces at the seam made one, and none at the very start."""
    if not text:
        return more.lstrip()
    if text.endswith(" ") and more.startswith(" "):
        return text + more.lstrip()
    return text + more
