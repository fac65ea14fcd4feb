"""Who adopts a dead member's session: pure logic (edge_app/mqtt/rescue.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge_app.mqtt.rescue import rescuer_for

ids = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=8)


def test_the_lowest_living_member_adopts():
    assert rescuer_for("b", {"a", "c"}, "a")
    assert not rescuer_for("b", {"a", "c"}, "c")
    assert rescuer_for("a", {"c"}, "c")  # the dead one never counts, even when lowest
    assert rescuer_for("a", set(), "z")  # alone: it is me


@given(dead=ids, online=st.sets(ids, max_size=6))
def test_exactly_one_living_member_adopts_when_all_agree(dead, online):
    living = online - {dead}
    if living:
        assert sum(rescuer_for(dead, online, me) for me in living) == 1
