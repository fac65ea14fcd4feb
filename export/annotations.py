"""`[value](slot)` annotations (Snips/Rasa style) in sentence templates, turned into hassil lists.

hassil reads `[words]` as optional words, so an annotation is rewritten before hassil parses the
template: `[7:30](alarm_time)` becomes a reference to a one-value list, `{_ann0}`, whose only value
is the literal "7:30" and whose slot is `alarm_time`. The expansion then treats it like any list
reference. An annotation is `[` text `]` immediately followed by `(` a slot name `)`; the text holds
no brackets, parentheses, braces, angle brackets or `|` (those stay hassil's template syntax).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ANNOTATION = re.compile(r"\[([^\[\](){}<>|]+)\]\(([A-Za-z_][A-Za-z0-9_]*)\)")
PREFIX = "_ann"


@dataclass
class Annotations:
    """The one-value lists made for the annotations of one file: list name -> (value, slot)."""

    lists: dict[str, tuple[str, str]] = field(default_factory=dict)

    def rewrite(self, template: str) -> str:
        """`template` with each `[value](slot)` replaced by a reference to a new one-value list."""
        return ANNOTATION.sub(self._replace, template)

    def _replace(self, match: re.Match[str]) -> str:
        name = f"{PREFIX}{len(self.lists)}"
        self.lists[name] = (match.group(1).strip(), match.group(2))
        return "{" + name + "}"

    def slot_lists(self) -> dict[str, Any]:
        """hassil lists, one per annotation, whose one value is the annotated text as written."""
        from hassil.expression import TextChunk
        from hassil.intents import TextSlotList, TextSlotValue

        return {
            name: TextSlotList(name=name, values=[TextSlotValue(text_in=TextChunk(value), value_out=value)])
            for name, (value, _) in self.lists.items()
        }

    def slot_of(self, list_name: str) -> str | None:
        """The slot an annotation list stands for; None for a list the file itself defines."""
        found = self.lists.get(list_name)
        return found[1] if found else None
