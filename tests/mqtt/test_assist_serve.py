"""`edge-app serve --wyoming` with the real model: without a broker, advertised over zeroconf, beside MQTT
(every recognised command still published), and through model swaps (SIGHUP) while transcripts arrive."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from edge_app_tools.bench.assist_load import ask, run_round
from helpers.mqtt import Collector, Mosquitto, Serve, free_port, wait_port

pytestmark = pytest.mark.slow


def serve_assist(bundle: Path, tmp_path: Path, device: str, broker_url: str, *extra: str) -> tuple[Serve, int]:
    port = free_port()
    serve = Serve(
        bundle, broker_url, tmp_path / f"state-{device}", device, "--wyoming", f"tcp://127.0.0.1:{port}", *extra
    ).start()
    wait_port(port, 60)
    return serve, port


async def browse(name: str, timeout: float = 10.0) -> AsyncServiceInfo | None:
    """The `_wyoming._tcp` service called `name` as an mDNS browser on this host sees it, or None."""
    zc = AsyncZeroconf(ip_version=IPVersion.V4Only)
    seen = asyncio.Event()
    browser = AsyncServiceBrowser(
        zc.zeroconf, "_wyoming._tcp.local.", handlers=[lambda zeroconf, service_type, name, state_change: seen.set()]
    )
    try:
        await asyncio.wait_for(seen.wait(), timeout)
        info = AsyncServiceInfo("_wyoming._tcp.local.", f"{name}._wyoming._tcp.local.")
        return info if await info.async_request(zc.zeroconf, 3000) else None
    except asyncio.TimeoutError:
        return None
    finally:
        await browser.async_cancel()
        await zc.async_close()


def test_a_board_without_a_broker_answers_assist_and_is_advertised(default_bundle, tmp_path):
    serve, port = serve_assist(default_bundle, tmp_path, "nobroker", "mqtt://127.0.0.1:1", "--no-mqtt")
    try:
        kind, data, _ = asyncio.run(ask("127.0.0.1", port, "turn off the bedroom lights"))
        assert kind == "intent" and data["name"] == "HassTurnOff", data
        assert {"name": "area", "value": "bedroom"} in data["entities"]
        kind, data, _ = asyncio.run(ask("127.0.0.1", port, "오늘 날씨 어때"))
        assert kind == "not-recognized" and data["text"].startswith("죄송해요"), data
        info = asyncio.run(browse("edge-app-nobroker"))
        assert info is not None and info.port == port, serve.output()
        assert serve.alive
    finally:
        assert serve.stop() == 0, serve.output()


def test_every_transcript_is_answered_and_published_through_model_swaps(default_bundle, tmp_path):
    broker = Mosquitto(tmp_path).start()
    serve, port = serve_assist(default_bundle, tmp_path, "swapping", broker.url, "--no-zeroconf")
    bus = Collector(broker.url, ["edge-app/swapping/#"])
    texts = [f"turn on the kitchen lights {i}" if i % 2 else f"주방 불 꺼줘 {i}" for i in range(120)]

    async def load_with_swaps():
        rounds = asyncio.ensure_future(run_round("127.0.0.1", port, texts, 16))
        for _ in range(3):
            await asyncio.sleep(0.3)
            serve.proc.send_signal(signal.SIGHUP)  # reload the bundle: a swap between two batches
        return await rounds

    try:
        assert bus.wait_status("edge-app/swapping", "online"), serve.output()
        result = asyncio.run(load_with_swaps())
        assert (result.answered, result.lost) == (120, 0), result
        assert bus.wait_for(lambda: len(bus.json("edge-app/swapping/result")) >= 120, 60)
        published = bus.json("edge-app/swapping/result")
        assert {r["text"] for r in published} == set(texts)
        assert all(r["source"] == "assist" and r["source_topic"] == "edge-app/swapping/assist" for r in published)
        assert serve.output().count("model switched") >= 1, serve.output()
    finally:
        bus.close()
        serve.stop()
        broker.stop()
