"""The Wyoming intent service against real Wyoming clients, with a stand-in asker (no model): answers,
errors, many clients at once, slow and vanished clients, a model that never answers."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest
from wyoming.asr import Transcript
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.intent import Recognize

from edge_app.assist.intents import IntentMap
from edge_app.assist.wyoming_service import AssistService, Described
from edge_app.errors import ConfigError


def lights_on(text: str, msg_id: str, deliver) -> None:
    """Answers every text as lights_on in the kitchen, from another thread, as the pipeline does."""
    result = {
        "id": msg_id,
        "text": text,
        "label": "lights_on",
        "score": 0.97,
        "rejected": False,
        "slots": {"room": {"value": "kitchen", "text": "kitchen"}},
    }
    threading.Timer(0.01, deliver, [result]).start()


def service(ask=lights_on, timeout: float = 5.0) -> AssistService:
    return AssistService("tcp://127.0.0.1:0", ask, IntentMap(), lambda: Described("test-bundle", "7"), timeout).start()


async def ask_once(port: int, event) -> tuple[str, dict]:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(event.event())
        answer = await asyncio.wait_for(client.read_event(), 10)
    return answer.type, answer.data


@pytest.fixture
def running():
    svc = service()
    yield svc
    svc.stop()


def test_describe_names_the_bundle_and_both_languages(running):
    kind, data = asyncio.run(ask_once(running.port, Describe()))
    assert kind == "info"
    (program,) = data["intent"]
    assert program["installed"] and program["models"][0]["name"] == "test-bundle"
    assert program["models"][0]["languages"] == ["en", "ko"]


@pytest.mark.parametrize(
    "event",
    [
        Transcript("turn on the kitchen lights", context={"conversation_id": "c1"}),
        Recognize("turn on the kitchen lights", context={"conversation_id": "c1"}),
    ],
)
def test_a_transcript_gets_an_intent_with_area_and_domain_and_its_context_back(running, event):
    kind, data = asyncio.run(ask_once(running.port, event))
    assert kind == "intent" and data["name"] == "HassTurnOn"
    assert {e["name"]: e["value"] for e in data["entities"]} == {"domain": "light", "area": "kitchen"}
    assert data["context"] == {"conversation_id": "c1"} and data["text"] == "Done."


def test_korean_is_answered_in_korean_without_a_language_field(running):
    kind, data = asyncio.run(ask_once(running.port, Transcript("주방 불 켜줘")))
    assert kind == "intent" and data["text"] == "알겠습니다."


def raw_exchange(port: int, raw: bytes) -> list[dict]:
    """Send raw bytes, read every JSON header line the service answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pass
    return [json.loads(line) for line in data.splitlines() if line.startswith(b'{"type"')]


@pytest.mark.parametrize(
    "raw, code",
    [
        (b"this is not json\n", "malformed_event"),
        (b'{"data": {"text": "no type"}}\n', "malformed_event"),
        (b'{"type": "transcript", "data": {"text": ""}}\n', "missing_text"),
        (b'{"type": "transcript", "data": {"text": 5}}\n', "missing_text"),
        (b'{"type": "audio-chunk", "data": {"rate": 16000}}\n', "unsupported_event"),
    ],
)
def test_every_malformed_or_unknown_event_is_answered_with_an_error(running, raw, code):
    answers = raw_exchange(running.port, raw)
    assert [a["type"] for a in answers] == ["error"], answers
    data_length = answers[0].get("data_length")
    assert data_length, answers  # the error's text and code travel as data


def test_many_clients_at_once_are_all_answered(running):
    async def many(n: int) -> list[str]:
        return [
            kind
            for kind, _ in await asyncio.gather(
                *(ask_once(running.port, Transcript(f"turn on the kitchen lights {i}")) for i in range(n))
            )
        ]

    assert asyncio.run(many(64)) == ["intent"] * 64


def test_a_client_that_leaves_mid_request_does_not_disturb_the_next(running):
    with socket.create_connection(("127.0.0.1", running.port)) as sock:
        sock.sendall(b'{"type": "transcript", "data_length": 40}\n{"text": "turn')  # cut short
    kind, _ = asyncio.run(ask_once(running.port, Transcript("turn on the kitchen lights")))
    assert kind == "intent"


def test_a_model_that_never_answers_gets_not_recognized_within_the_timeout():
    svc = service(ask=lambda text, msg_id, deliver: None, timeout=0.5)
    try:
        started = time.monotonic()
        kind, data = asyncio.run(ask_once(svc.port, Transcript("turn on the kitchen lights")))
        assert kind == "not-recognized" and "try again" in data["text"]
        assert time.monotonic() - started < 5
    finally:
        svc.stop()


def test_a_refused_text_and_a_stopping_pipeline_are_answered_not_recognized():
    def stopping(text, msg_id, deliver):
        raise RuntimeError("batcher is stopped")

    for ask in (stopping, lambda text, msg_id, deliver: deliver(ValueError("text too long"))):
        svc = service(ask=ask)
        try:
            kind, _ = asyncio.run(ask_once(svc.port, Transcript("turn on the kitchen lights")))
            assert kind == "not-recognized"
        finally:
            svc.stop()


def test_a_port_in_use_is_one_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve Wyoming on tcp://127.0.0.1:{port}"):
            AssistService(f"tcp://127.0.0.1:{port}", lights_on, IntentMap(), lambda: Described("b", "1")).start()
