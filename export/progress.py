"""Step-by-step progress for long workstation jobs: which step, how far, how long it took."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Steps:
    def __init__(self, total: int, quiet: bool = False):
        self.total = total
        self.done = 0
        self.quiet = quiet

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.done += 1
        self._print(f"[{self.done}/{self.total}] {title} ...")
        start = time.perf_counter()
        yield
        self._print(f"[{self.done}/{self.total}] {title}: done in {time.perf_counter() - start:.1f}s")

    def skip(self, title: str) -> None:
        self.done += 1
        self._print(f"[{self.done}/{self.total}] {title}")

    def info(self, text: str) -> None:
        self._print(f"      {text}")

    def _print(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)
