"""The batch planner (edge_app/padding.py): every text in exactly one model call, and the
cheapest such split, checked against brute force on small batches."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_app.padding import CALL_COST_TOKENS, padded_tokens, split_by_length

lengths_lists = st.lists(st.integers(min_value=1, max_value=128), max_size=40)


def _cost(lengths: list[int], groups: list[list[int]], call_cost: float) -> float:
    return call_cost * len(groups) + padded_tokens(lengths, groups)


def _cheapest_by_brute_force(lengths: list[int], call_cost: float) -> float:
    """Every way to cut the length-sorted texts into consecutive groups."""
    ordered = sorted(lengths)
    n = len(ordered)
    best = float("inf")
    for k in range(n):
        for cuts in combinations(range(1, n), k):
            edges = [0, *cuts, n]
            best = min(best, sum(call_cost + (b - a) * ordered[b - 1] for a, b in zip(edges, edges[1:])))
    return best


@given(lengths_lists, st.sampled_from([0.5, 4, CALL_COST_TOKENS, 64]))
def test_every_text_is_in_exactly_one_call_sorted_by_length(lengths: list[int], call_cost: float) -> None:
    groups = split_by_length(lengths, call_cost)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert all(g for g in groups)
    flat = [lengths[i] for g in groups for i in g]
    assert flat == sorted(flat)
    # Never worse than one call, nor than one call per text.
    assert _cost(lengths, groups, call_cost) <= _cost(
        lengths, [list(range(len(lengths)))] if lengths else [], call_cost
    )
    assert _cost(lengths, groups, call_cost) <= _cost(lengths, [[i] for i in range(len(lengths))], call_cost)


@settings(max_examples=60)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=9), st.sampled_from([1, 8, 16, 50]))
def test_the_split_is_the_cheapest_there_is(lengths: list[int], call_cost: float) -> None:
    cost = _cost(lengths, split_by_length(lengths, call_cost), call_cost)
    assert cost == _cheapest_by_brute_force(lengths, call_cost)


def test_texts_of_one_length_stay_one_call_and_an_outlier_gets_its_own() -> None:
    assert split_by_length([12] * 32) == [list(range(32))]
    lengths = [10] * 31 + [128]
    groups = split_by_length(lengths)
    assert groups == [list(range(31)), [31]]
    assert padded_tokens(lengths, groups) == 31 * 10 + 128 < 32 * 128
    assert split_by_length([]) == []
