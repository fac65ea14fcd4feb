"""Comments and docstrings in `edge_app/` state contracts and reasons, not measurements or history.

A timing (a number next to a time unit) or a measured ratio ("3x slower") may justify a constant
only on a line that also points at the docs that hold the measurement (`docs/....md`); measurement
narration ("measured", "dev machine", "fifth pass") and history ("as before", "no longer", "the old
way") are never allowed.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "edge_app"

# A number (or range) right before a time unit: "15 ms", "~1.8-5 ms", "40 us", "3 s", "2 seconds".
TIMING = re.compile(
    r"(?<![\w.])\d(?:[\d.,]*\d)?(?:\s?[-–]\s?\d(?:[\d.,]*\d)?)?\s?"
    r"(?:ns|us|µs|ms|s|sec|secs|seconds?|milliseconds?|microseconds?|minutes?)\b",
    re.IGNORECASE,
)
# A measured ratio: "~3x slower", "12 % faster", "7 % more".
RATIO = re.compile(
    r"(?<![\w.])\d(?:[\d.,]*\d)?\s?(?:x|×|%)\s+(?:faster|slower|as much|more|less|fewer)\b", re.IGNORECASE
)
DOCS_POINTER = re.compile(r"\bdocs/[\w./-]+\.md\b")
# Narration of a measurement or of the code's history.
NARRATION = re.compile(
    r"\bmeasured\b|\bdev(?:elopment)? machine\b|\bon my machine\b"
    r"|\b(?:first|second|third|fourth|fifth|sixth|seventh|\d+(?:st|nd|rd|th))\s+pass\b"
    r"|\bas before\b|\bthe old (?:way|signature|code|path|form|behaviou?r)\b|\bno longer\b"
    r"|(?<!\bis )(?<!\bare )(?<!\bbe )\bused to\b|\bpreviously\b|\bformerly\b|\banymore\b"
    r"|\bnow\s+(?:uses?|does|takes?|goes|runs?|returns?|reads?|writes?|lives?|happens?|instead)\b",
    re.IGNORECASE,
)


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers covered by module, class and function docstrings."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def prose_lines(source: str) -> list[tuple[int, str]]:
    """(line number, text) of every comment and docstring line in `source`."""
    code_lines = source.splitlines()
    out = [(n, code_lines[n - 1]) for n in sorted(_docstring_lines(ast.parse(source)))]
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out.append((tok.start[0], tok.string))
    return sorted(out)


def offences(source: str) -> list[tuple[int, str]]:
    """(line number, matched text) of each timing or ratio without a docs pointer, and each narration."""
    found: list[tuple[int, str]] = []
    for number, text in prose_lines(source):
        words = [m.group(0) for m in NARRATION.finditer(text)]
        if not DOCS_POINTER.search(text):
            words += [m.group(0) for pattern in (TIMING, RATIO) for m in pattern.finditer(text)]
        found += [(number, word) for word in words]
    return found


def test_the_patterns_catch_measurements_and_history() -> None:
    source = '''"""Saves ~40 us a text."""
X = 1  # took ~15 ms for one text on the dev machine
Y = 2  # measured 1.8-5 ms instead of 0.5 ms per batch; numpy scalars are ~3x slower


def f():
    """One session, the old way (as before); this no longer waits, and it used to sleep.

    Measured on 2 cores (docs/benchmarks.md, fifth pass)."""
    return "20 ms"  # a string in code is not prose
Z = 3  # a gap of 0.4-1.5 s (docs/benchmarks.md)
W = 4  # one linear pass; the key is used to sign what sha256s cover; volume 0..100 % (30 s minimum)
'''
    found = offences(source)
    words = {word.lower() for _, word in found}
    assert {
        "40 us",
        "15 ms",
        "dev machine",
        "measured",
        "1.8-5 ms",
        "0.5 ms",
        "3x slower",
        "the old way",
        "as before",
        "no longer",
        "used to",
        "fifth pass",
    } <= words
    assert "20 ms" not in words and "0.4-1.5 s" not in words  # code, and a timing that points at the docs
    assert [word for number, word in found if number == 12] == ["30 s"]  # only the timing on the last line


def test_runtime_comments_state_contracts() -> None:
    bad = [
        f"{path.relative_to(RUNTIME.parent)}:{number}: {word!r}"
        for path in sorted(RUNTIME.rglob("*.py"))
        for number, word in offences(path.read_text(encoding="utf-8"))
    ]
    assert not bad, (
        "measurement or history in a comment or docstring (state the contract; a timing "
        "that justifies a constant goes on a line that points at docs/*.md):\n" + "\n".join(bad)
    )
