"""STUB until the slots-data branch is merged: its edge_app/slots/values.py replaces this file.

`read_value(slot, text)` turns a slot's span text into its result object: always {"text": text},
plus "value" (and "unit"/"step", per edge_app/slots/schema.py) when the text can be read. This
stub reads nothing, so results carry the span text only.
"""

from __future__ import annotations

from typing import Any


def read_value(slot: str, text: str) -> dict[str, Any]:
    """The result object of one slot span; never raises."""
    return {"text": text}
