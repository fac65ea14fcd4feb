"""The model command parser and the version rule (pure logic; the real updates run in test_ota.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_app.mqtt.ota import MAX_COMMAND_BYTES, Command, UpdateRefused, check_version, parse_command

SHA = "ab" * 32


def test_update_and_rollback_commands():
    assert parse_command(json.dumps({"id": 7, "location": "https://h/b.tar.gz"}).encode()) == Command(
        7, "update", "https://h/b.tar.gz"
    )
    full = {"id": "x", "location": "b", "sha256": SHA.upper(), "allow_downgrade": True}
    assert parse_command(json.dumps(full).encode()) == Command("x", "update", "b", SHA, True)
    assert parse_command(b'{"action": "rollback", "id": "r"}') == Command("r", "rollback")


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"id": 1}', "needs a location"),
        (b'{"location": ""}', "needs a location"),
        (b'{"location": 5}', "needs a location"),
        (b'{"action": "format-disk", "location": "b"}', "needs a location"),
        (b'{"location": "b", "sha256": "abc"}', "64 hex digits"),
        (b'{"location": "b", "allow_downgrade": "yes"}', "true or false"),
        (b'{"location": "' + b"a" * MAX_COMMAND_BYTES + b'"}', "bytes, more than"),
    ],
)
def test_bad_commands_say_what_a_command_looks_like(payload, reason):
    with pytest.raises(UpdateRefused, match=reason) as refused:
        parse_command(payload)
    assert "rollback" in str(refused.value)  # every refusal shows the two command shapes


@given(
    st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["id", "location", "sha256", "allow_downgrade", "action", "x"]), inner, max_size=5
                )
            ),
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_payload_is_a_command_or_a_refusal(payload):
    try:
        command = parse_command(payload)
    except UpdateRefused:
        return
    assert command.action in ("update", "rollback")
    assert command.action == "rollback" or (isinstance(command.location, str) and command.location)


def test_versions_only_go_up_unless_a_downgrade_is_asked_for():
    check_version(5, 4, False)
    check_version(5, None, False)  # the running bundle was never signed
    for new in (4, 3):
        with pytest.raises(UpdateRefused, match="allow_downgrade"):
            check_version(new, 4, False)
        check_version(new, 4, True)
