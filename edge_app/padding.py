"""Split one batch of texts into the model calls that cost least: few calls, little padding.

Why: a model call pads every row to its longest text, and each padded position costs as much as
a real token. 32 smart-home commands average ~10 tokens but their longest is ~16, so one call
spends a third of its work on padding. Texts sorted by length and cut into a few calls pad far
less; each extra call costs a fixed overhead (a session run, thread hand-off, output arrays).
The cut points that minimise (calls x overhead + padded tokens) are found exactly, by dynamic
programming over the sorted lengths (n <= a batch, so n^2 steps are nothing).

On the bench's 32-text batches this cuts the padded tokens by about 30 % and raises texts/s by
10-14 % (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence

# What one more model call costs, in padded token positions: a call's fixed overhead over one
# position's cost; 16 and 32 do equally well, 8 and 64 a little worse (docs/benchmarks.md).
CALL_COST_TOKENS = 16


def split_by_length(lengths: Sequence[int], call_cost: float = CALL_COST_TOKENS) -> list[list[int]]:
    """Indices into `lengths`, grouped into calls: each group sorted by length (shortest first),
    the groups in order of length, every index exactly once. Minimises
    sum over groups of (call_cost + rows x longest row)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    sorted_lengths = [lengths[i] for i in order]
    n = len(order)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest cost of the j shortest texts
    cut = [0] * (n + 1)  # cut[j]: where the last group of that cheapest split starts
    for j in range(1, n + 1):
        longest = sorted_lengths[j - 1]
        for i in range(j):
            cost = best[i] + call_cost + (j - i) * longest
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups: list[list[int]] = []
    j = n
    while j > 0:
        groups.append(order[cut[j] : j])
        j = cut[j]
    return groups[::-1]


def padded_tokens(lengths: Sequence[int], groups: list[list[int]]) -> int:
    """Token positions the model computes for `groups`: each padded to its longest."""
    return sum(len(g) * max(lengths[i] for i in g) for g in groups if g)
