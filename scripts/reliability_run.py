"""The measurements behind docs/reliability.md (a script, not a pytest module; ~5 min + soak).

    PYTHONPATH=$PWD python scripts/reliability_run.py BUNDLE streams          # 2,000 QoS 1 messages x 3 faults
    PYTHONPATH=$PWD python scripts/reliability_run.py BUNDLE soak --minutes 10 # RSS at 100 msg/s, 10 % garbage
    PYTHONPATH=$PWD python scripts/reliability_run.py BUNDLE fsync             # outbox commit cost

Prints one JSON object per scenario.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' helpers package
from helpers.mqtt import Collector, Mosquitto, Serve, result_ids  # noqa: E402

N = 2000


def stream(bundle: Path, fault: str, at: int = 800, outage_s: float = 60.0) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"rel-{fault}-"))
    broker = Mosquitto(tmp / "broker")
    broker.folder.mkdir()
    broker.start()
    state = tmp / "state"
    serves = [Serve(bundle, broker.url, state, "rel").start()]
    results = Collector(broker.url, ["edge-app/rel/result", "edge-app/rel/status"], "rel-results", persistent=True)
    producer = Collector(broker.url, [], "rel-producer", persistent=True)
    assert results.wait_status("edge-app/rel", "online"), serves[0].output()
    started = time.monotonic()
    for i in range(N):
        if i == at:
            if fault == "broker-restart":
                broker.stop(signal.SIGTERM)
                time.sleep(1.0)
                broker.start()
            elif fault == "broker-down-60s":
                broker.stop(signal.SIGTERM)
                time.sleep(outage_s)
                broker.start()
            elif fault == "service-sigkill":
                serves[-1].stop(signal.SIGKILL)
                serves.append(Serve(bundle, broker.url, state, "rel").start())
        while producer.publish(
            "edge-app/rel/classify", json.dumps({"id": i, "text": f"turn on the ac in room {i}"})
        ).rc not in (0, 4):
            time.sleep(0.05)
        time.sleep(0.004)  # ~200 msg/s offered
    complete = results.wait_for(lambda: set(result_ids(results, "edge-app/rel/result")) >= set(range(N)), 300)
    time.sleep(3)  # late duplicates
    ids = result_ids(results, "edge-app/rel/result")
    counts = Counter(ids)
    # A duplicate with the same bytes (same ts) is one result sent twice; with other bytes the input
    # itself arrived twice (a QoS 1 redelivery or a producer's resend) and was classified again.
    by_id: dict = {}
    for payload in results.payloads("edge-app/rel/result"):
        by_id.setdefault(json.loads(payload)["id"], []).append(payload)
    resent = sum(len(p) - len(set(p)) for p in by_id.values())
    out = {
        "scenario": fault,
        "sent": N,
        "answered": len(set(ids) & set(range(N))),
        "lost": len(set(range(N)) - set(ids)),
        "duplicates": sum(c - 1 for c in counts.values()),
        "duplicate_ids": sorted(i for i, c in counts.items() if c > 1)[:20],
        "complete": complete,
        "duplicates_same_result_resent": resent,
        "seconds": round(time.monotonic() - started, 1),
        "replay_lines": sum(s.output().count("replaying") for s in serves),
    }
    results.close()
    producer.close()
    for s in serves:
        s.stop(signal.SIGKILL)
    broker.stop()
    return out


def garbage(rng: random.Random) -> bytes:
    return rng.choice(
        [
            b"\xff\xfe" + rng.randbytes(20),
            b"[" * 1500,
            b'{"id":"\\ud800","text":"x"}',
            b'{"text": 1}',
            b'{"items": []}',
            b"x" * 70_000,
            b'{"text": "unterminated',
        ]
    )


def soak(bundle: Path, minutes: float, rate: float = 100.0) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="rel-soak-"))
    broker = Mosquitto(tmp / "broker")
    broker.folder.mkdir()
    broker.start()
    serve = Serve(bundle, broker.url, tmp / "state", "soak").start()
    bus = Collector(broker.url, ["edge-app/soak/result", "edge-app/soak/error", "edge-app/soak/status"])
    assert bus.wait_status("edge-app/soak", "online"), serve.output()
    proc = psutil.Process(serve.proc.pid)
    rng = random.Random(1)
    samples, sent, bad = [], 0, 0
    start = time.monotonic()
    end = start + minutes * 60
    next_sample = start
    while time.monotonic() < end:
        if rng.random() < 0.1:
            bus.publish("edge-app/soak/classify", garbage(rng))
            bad += 1
        else:
            bus.publish("edge-app/soak/classify", json.dumps({"id": sent, "text": "set the timer for ten minutes"}))
        sent += 1
        if time.monotonic() >= next_sample:
            samples.append((round(time.monotonic() - start), round(proc.memory_info().rss / 2**20, 1)))
            next_sample += 10
        delay = start + sent / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    bus.wait_for(
        lambda: len(bus.payloads("edge-app/soak/result")) + len(bus.payloads("edge-app/soak/error")) >= sent, 120
    )
    warm = [r for t, r in samples if t >= 60] or [r for _, r in samples]
    out = {
        "scenario": f"soak {minutes:g} min at {rate:g} msg/s, 10 % garbage",
        "sent": sent,
        "garbage": bad,
        "results": len(bus.payloads("edge-app/soak/result")),
        "errors": len(bus.payloads("edge-app/soak/error")),
        "rss_mib_after_warmup_min": min(warm),
        "rss_mib_after_warmup_max": max(warm),
        "rss_samples": samples,
        "alive": serve.proc.poll() is None,
    }
    bus.close()
    serve.stop()
    broker.stop()
    return out


def fsync_cost() -> dict:
    """Commit latency of the outbox's SQLite settings: why synchronous=FULL per micro-batch is affordable."""
    import sqlite3

    out = {}
    for sync in ("NORMAL", "FULL"):
        db = sqlite3.connect(str(Path(tempfile.mkdtemp()) / "o.sqlite3"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={sync}")
        db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT, payload BLOB)")
        for batch in (1, 16):
            times = []
            for _ in range(2000 // batch):
                t0 = time.perf_counter()
                db.execute("BEGIN IMMEDIATE")
                for _ in range(batch):
                    db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", ("a/b", b"x" * 300))
                db.execute("COMMIT")
                times.append(time.perf_counter() - t0)
            times.sort()
            out[f"{sync} batch {batch}"] = {
                "commit_median_ms": round(times[len(times) // 2] * 1e3, 3),
                "commit_p99_ms": round(times[int(len(times) * 0.99)] * 1e3, 3),
                "per_message_ms": round(sum(times) / 2000 * 1e3, 3),
            }
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("bundle", type=Path)
    p.add_argument("what", choices=["streams", "soak", "fsync"])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--only", help="one stream scenario")
    args = p.parse_args()
    if args.what == "fsync":
        print(json.dumps(fsync_cost()), flush=True)
        return
    if args.what == "soak":
        print(json.dumps(soak(args.bundle, args.minutes)), flush=True)
        return
    for fault in [args.only] if args.only else ["broker-restart", "service-sigkill", "broker-down-60s"]:
        print(json.dumps(stream(args.bundle, fault)), flush=True)


if __name__ == "__main__":
    main()
