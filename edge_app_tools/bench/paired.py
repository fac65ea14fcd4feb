"""Batch 1 (and batch 32), every engine loaded at once and called in turns: blocks of a few calls
each, engine after engine, so all of them meet the same host.

Why: a virtual machine's host can change its speed within seconds (docs/benchmarks.md measured
two levels, 1.7x apart, on an idle 2-core VM). The per-engine runs are half a minute apart, so
their batch-1 medians can compare two hosts instead of two engines. Here the blocks of one cycle
lie within about a second of each other; the ratio of two engines is taken cycle by cycle and the
median of those ratios reported.

Each block starts after a pause and a few untimed calls: an engine whose threads spin after a call
(Optimum's and PyTorch's defaults spin for tens of ms) would otherwise take CPU from the engine
after it, and the untimed calls bring back the caches the pause and the other engines evicted.

The workers are `edge_app_tools.bench.worker --paired SPEC FD`: they load their engine, then
answer each "CALLS WARMUP [BATCH]" line on stdin with the milliseconds of CALLS timed calls (of
BATCH texts each, the same texts for every engine; without BATCH, the short command), one JSON
line on the file descriptor FD (stdout stays for whatever a library prints; the parent sends it to
stderr like the progress). A worker that fails ends the step with a RuntimeError naming it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from .stats import median, percentile

PAUSE_S = 0.15  # before each block: longer than any engine's spinning after its last call
WARMUP_CALLS = 5  # untimed calls at the start of each block


class PairedWorker:
    """One engine's worker process, loaded and waiting for blocks."""

    def __init__(self, spec: dict[str, Any]):
        self.name = spec["engine"]
        read_fd, write_fd = os.pipe()
        command = [sys.executable, "-m", "edge_app_tools.bench.worker", "--paired", json.dumps(spec), str(write_fd)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=sys.stderr, text=True, pass_fds=(write_fd,)
        )
        os.close(write_fd)
        self.replies: IO[str] = os.fdopen(read_fd, encoding="utf-8")

    def _reply(self) -> Any:
        line = self.replies.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker exited with code {self.process.wait()}; see the output above")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {reply['error']}")
        return reply

    def wait_ready(self) -> None:
        self._reply()

    def block(self, calls: int, warmup: int = WARMUP_CALLS, batch: int = 1) -> list[float]:
        """Milliseconds of `calls` back-to-back calls of `batch` texts, after `warmup` untimed ones."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{calls} {warmup}" + (f" {batch}\n" if batch > 1 else "\n"))
        self.process.stdin.flush()
        return self._reply()["ms"]

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()  # end of input: the worker exits
            except BrokenPipeError:
                pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.replies.close()


def paired_ratios(blocks: dict[str, list[float]], reference: str) -> dict[str, float]:
    """Per engine, the median over cycles of (its block's figure / the reference's in the same
    cycle; a time: block p50 at batch 1, block total for a batch): above 1, the reference was faster."""
    ref = blocks[reference]
    return {
        name: median([mine / theirs for mine, theirs in zip(values, ref) if theirs > 0])
        for name, values in blocks.items()
        if name != reference
    }


def measure(
    specs: list[dict[str, Any]],
    cycles: int,
    calls: int,
    progress: Callable[[str], None],
    batch: int = 1,
    warmup: int = WARMUP_CALLS,
) -> dict[str, Any]:
    """Every engine loaded at once; `cycles` rounds of one `calls`-call block per engine, the
    order rotating each cycle so no engine always follows the same one. `batch` > 1: each call
    classifies that many texts (the specs carry them as inputs["batch"])."""
    workers = [PairedWorker(spec) for spec in specs]
    try:
        for worker in workers:
            worker.wait_ready()
        names = [w.name for w in workers]
        progress(f"batch {batch} in turns: {', '.join(names)} loaded; {cycles} cycles of {calls} calls each")
        samples: dict[str, list[float]] = {name: [] for name in names}
        blocks: dict[str, list[float]] = {name: [] for name in names}
        start = time.perf_counter()
        for cycle in range(cycles):
            for worker in workers[cycle % len(workers) :] + workers[: cycle % len(workers)]:
                time.sleep(PAUSE_S)
                ms = worker.block(calls, warmup, batch)
                samples[worker.name] += ms
                # batch 1: the block's typical call; a batch: the block's whole time, since its
                # calls hold different texts (the same ones, in the same order, for every engine)
                blocks[worker.name].append(median(ms) if batch == 1 else sum(ms))
        progress(f"batch {batch} in turns: {time.perf_counter() - start:.1f} s")
    finally:
        for worker in workers:
            worker.close()
    reference = names[0]
    return {
        "cycles": cycles,
        "calls_per_block": calls,
        "batch": batch,
        "reference": reference,
        "engines": {name: _engine_figures(samples[name], blocks[name], batch) for name in names},
        "ratio_to_reference": paired_ratios(blocks, reference),
    }


def _engine_figures(samples: list[float], blocks: list[float], batch: int) -> dict[str, Any]:
    """Batch 1: the p50 of every call and each block's p50. A batch: also texts/s over all blocks,
    and each block's total milliseconds."""
    if batch == 1:
        return {"p50_ms": percentile(samples, 50), "block_p50_ms": blocks}
    return {
        "p50_ms": percentile(samples, 50),
        "block_ms": blocks,
        "texts_per_s": 1000.0 * batch * len(samples) / sum(samples) if sum(samples) > 0 else None,
    }
