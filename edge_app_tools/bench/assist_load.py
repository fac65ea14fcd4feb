"""The Assist round trip: a Wyoming transcript sent to `edge-app serve --wyoming`, its intent answered.

`python -m edge_app_tools.bench.assist_load --wyoming tcp://HOST:PORT` sends the same commands
one at a time (p50/p95 of the round trip, as Home Assistant's agent sends them: one connection per
transcript), then from N clients at once, and counts any transcript that got no answer as lost.
It prints a table and writes JSON. The tests drive a service through `ask`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from wyoming.asr import Transcript
from wyoming.client import AsyncTcpClient

from .stats import percentile

COMMANDS = [
    "turn on the kitchen lights",
    "switch off the bedroom lamp",
    "set the living room to 22 degrees",
    "start the vacuum in the hallway",
    "send the robot vacuum home",
    "set a timer for ten minutes",
    "turn the volume down a bit",
    "what's the weather tomorrow",
    "don't turn on the lights",
    "거실 불 켜줘",
    "안방 에어컨 꺼줘",
    "타이머 5분 맞춰줘",
    "세탁기 표준 코스로 돌려줘",
    "오늘 뉴스 알려줘",
]


async def ask(host: str, port: int, text: str, timeout: float = 30.0) -> tuple[str, dict, float]:
    """One transcript on its own connection: (event type, its data, seconds); ("lost", {}, s) when unanswered."""
    started = time.perf_counter()
    try:
        async with AsyncTcpClient(host, port) as client:
            await client.write_event(Transcript(text, context={"conversation_id": f"bench-{started}"}).event())
            event = await asyncio.wait_for(client.read_event(), timeout)
    except (OSError, asyncio.TimeoutError):
        event = None
    seconds = time.perf_counter() - started
    return (event.type, event.data, seconds) if event is not None else ("lost", {}, seconds)


@dataclass
class Round:
    clients: int
    commands: int
    answered: int
    lost: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    wall_s: float


async def run_round(host: str, port: int, texts: list[str], clients: int) -> Round:
    """`texts` sent by `clients` concurrent senders, each one transcript at a time."""
    queue = list(reversed(texts))
    seconds: list[float] = []
    lost = 0

    async def sender() -> None:
        nonlocal lost
        while queue:
            kind, _data, took = await ask(host, port, queue.pop())
            seconds.append(took)
            lost += kind == "lost"

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(clients)))
    ms = [s * 1000 for s in seconds]
    return Round(
        clients,
        len(texts),
        len(texts) - lost,
        lost,
        round(percentile(ms, 50), 1),
        round(percentile(ms, 95), 1),
        round(max(ms), 1),
        round(time.perf_counter() - started, 2),
    )


async def measure(host: str, port: int, commands: int, clients: list[int]) -> list[Round]:
    texts = [COMMANDS[i % len(COMMANDS)] for i in range(commands)]
    await run_round(host, port, texts[:10], 1)  # warm-up: first calls, first connections
    return [await run_round(host, port, texts, n) for n in clients]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wyoming", required=True, help="tcp://HOST:PORT of `edge-app serve --wyoming`")
    p.add_argument("--commands", type=int, default=100, help="transcripts per round (default 100)")
    p.add_argument("--clients", default="1,8,32,64", help="concurrent clients per round, comma-separated")
    p.add_argument("--json", type=Path, default=None, help="write the rounds here")
    args = p.parse_args(argv)
    address = urlparse(args.wyoming)
    rounds = asyncio.run(
        measure(
            address.hostname or "127.0.0.1",
            address.port or 10700,
            args.commands,
            [int(n) for n in args.clients.split(",")],
        )
    )
    print(
        f"{'clients':>7} {'commands':>8} {'answered':>8} {'lost':>4} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'max ms':>7} {'wall s':>6}"
    )
    for r in rounds:
        print(
            f"{r.clients:>7} {r.commands:>8} {r.answered:>8} {r.lost:>4} {r.p50_ms:>7} {r.p95_ms:>7} "
            f"{r.max_ms:>7} {r.wall_s:>6}"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rounds], indent=2))
    return 1 if any(r.lost for r in rounds) else 0


if __name__ == "__main__":
    raise SystemExit(main())
