"""The Wyoming intent service: Assist sends a transcript and gets an intent, or not-recognized.

It runs its own asyncio loop on a thread beside the MQTT service. Each transcript is asked of the
classify pipeline, so it shares the model and the micro-batches, and its result is published on
MQTT like any other. Every transcript is answered within `assist.timeout`, whatever happens to the
model meanwhile; a malformed or unknown event gets a Wyoming `error`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event, async_read_event
from wyoming.info import Attribution, Describe, Info, IntentModel, IntentProgram
from wyoming.intent import Entity, Intent, NotRecognized, Recognize
from wyoming.server import AsyncEventHandler, AsyncServer

from ..errors import ConfigError
from .advertise import Advertiser
from .intents import LANGUAGES, IntentMap, detect_language, reply

log = logging.getLogger(__name__)

# What a transcript gets: the result object (the dict published on MQTT), or the Exception that refused it.
Outcome = Mapping[str, Any] | Exception
# ask(text, id, deliver): classify `text` and call `deliver` once, from any thread, with its Outcome.
Asker = Callable[[str, str, Callable[[Outcome], None]], None]
ATTRIBUTION = Attribution(name="edge-app", url="https://github.com/edge-app/edge-app")


@dataclass
class Described:
    """What `describe` reports: the bundle being served."""

    name: str
    version: str


class AssistService:
    """Serves Wyoming on `uri` (tcp://HOST:PORT or unix://PATH) until stopped."""

    def __init__(
        self,
        uri: str,
        ask: Asker,
        intents: IntentMap,
        model: Callable[[], Described],
        timeout: float = 10.0,
        advertise: Advertiser | None = None,
    ):
        self.uri = uri
        self.ask = ask
        self.intents = intents
        self.model = model
        self.timeout = timeout
        self.advertise = advertise
        self.port: int | None = None  # the bound TCP port, once started (useful with port 0)
        self._loop = asyncio.new_event_loop()
        self._server: AsyncServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="wyoming", daemon=True)

    def start(self) -> AssistService:
        """Listen, then serve on a thread; a port that cannot be bound is a ConfigError at once."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        try:
            future.result(timeout=30)
        except OSError as exc:
            self.stop()
            raise ConfigError(
                f"cannot serve Wyoming on {self.uri} ({exc.strerror or exc}); pick a free port "
                "with --wyoming tcp://0.0.0.0:PORT"
            ) from None
        log.info(
            "Assist: Wyoming intent service on %s",
            self.uri if self.port is None else f"{urlparse(self.uri).hostname}:{self.port}",
        )
        if self.advertise is not None and self.port is not None:
            asyncio.run_coroutine_threadsafe(self.advertise.register(self.port), self._loop)
        return self

    async def _start(self) -> None:
        self._server = AsyncServer.from_uri(self.uri)
        await self._server.start(lambda reader, writer: AssistHandler(self, reader, writer))
        sockets = getattr(getattr(self._server, "_server", None), "sockets", None) or []
        ports = [s.getsockname()[1] for s in sockets if isinstance(s.getsockname(), tuple)]
        self.port = ports[0] if ports else None

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop listening, close every connection, end the thread."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _stop(self) -> None:
        if self.advertise is not None:
            await self.advertise.close()
        if self._server is not None:
            await self._server.stop()

    # ---- one transcript ---------------------------------------------------------------------
    def info(self) -> Info:
        model = self.model()
        program = IntentProgram(
            name="edge-app",
            description="edge-app: offline English and Korean home commands",
            attribution=ATTRIBUTION,
            installed=True,
            version=model.version,
            models=[
                IntentModel(
                    name=model.name,
                    description=f"edge-app bundle {model.name}",
                    attribution=ATTRIBUTION,
                    installed=True,
                    languages=list(LANGUAGES),
                    version=model.version,
                )
            ],
        )
        return Info(intent=[program])

    async def understand(self, text: str, language: str | None, context: dict | None) -> Event:
        """The answer to one transcript: an intent, or not-recognized with a reason to speak."""
        lang = detect_language(text, language)
        msg_id = str((context or {}).get("conversation_id") or uuid.uuid4().hex[:12])
        loop = asyncio.get_running_loop()
        answered: asyncio.Future = loop.create_future()

        def deliver(answer: Outcome) -> None:  # on the pipeline's worker thread
            loop.call_soon_threadsafe(_settle, answered, answer)

        try:
            self.ask(text, msg_id, deliver)
            result = await asyncio.wait_for(answered, self.timeout)
        except Exception as exc:  # a timeout, or the pipeline is stopping
            log.warning("Assist: no answer for %r within %.1f s (%r)", text[:80], self.timeout, exc)
            return NotRecognized(text=reply(lang, "busy"), context=context).event()
        if isinstance(result, Exception):
            log.info("Assist: transcript refused: %s", result)
            return NotRecognized(text=reply(lang, "not_understood"), context=context).event()
        answer = self.intents.answer(result, lang)
        log.debug(
            "Assist: %r -> %s %s (%s %.3f)",
            text[:80],
            answer.intent,
            answer.slots,
            result.get("label"),
            result.get("score", 0.0),
        )
        if answer.intent is None:
            return NotRecognized(text=answer.text, context=context).event()
        entities = [Entity(name, value) for name, value in answer.slots.items()]
        return Intent(name=answer.intent, entities=entities, text=answer.text, context=context).event()


def _settle(future: asyncio.Future, answer: Outcome) -> None:
    if not future.done():  # the client may have gone, or the wait timed out
        future.set_result(answer)


class AssistHandler(AsyncEventHandler):
    """One client connection: describe and transcript (or recognize) are answered, anything else gets an error."""

    def __init__(self, service: AssistService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        super().__init__(reader, writer)
        self.service = service

    async def run(self) -> None:
        """Read events until the client leaves; an unreadable event is answered with an error, then closed."""
        try:
            while True:
                event = await async_read_event(self.reader)
                if event is None:
                    if not self.reader.at_eof():
                        await self._error(
                            "an event that is not Wyoming JSON (one JSON line, then its data)", "malformed_event"
                        )
                    break
                if not await self.handle_event(event):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            log.debug("Assist: a client left mid-request")
        except Exception as exc:  # a bad header (no type, wrong types): answer, then close
            log.info("Assist: unreadable event from a client: %r", exc)
            await self._error(f"unreadable event ({type(exc).__name__})", "malformed_event")
        finally:
            self.writer.close()

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.service.info().event())
            return True
        if Transcript.is_type(event.type) or Recognize.is_type(event.type):
            data = event.data if isinstance(event.data, dict) else {}
            text, context = data.get("text"), data.get("context")
            if not isinstance(text, str) or not text.strip():
                await self._error(f"a {event.type} event needs a non-empty 'text'", "missing_text")
                return True
            language = data.get("language") if isinstance(data.get("language"), str) else None
            context = context if isinstance(context, dict) else None
            await self.write_event(await self.service.understand(text, language, context))
            return True
        await self._error(
            f"edge-app answers describe, transcript and recognize, not {event.type!r}", "unsupported_event"
        )
        return True

    async def _error(self, text: str, code: str) -> None:
        try:
            await self.write_event(Error(text=text, code=code).event())
        except (ConnectionError, RuntimeError):
            pass
