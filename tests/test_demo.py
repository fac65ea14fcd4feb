"""`edge-app demo`, run for real: embedded broker, `edge-app serve`, the default bundle, MQTT."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from mqtt_helpers import Mosquitto, free_port

from edge_app_tools import demo

EDGE_APP = [sys.executable, "-m", "edge_app.cli"]
RUN_TIMEOUT_S = 300


class Ran:
    """A finished demo run: its output, exit code, and every process it started along the way."""

    def __init__(self, returncode: int, stdout: str, stderr: str, children: set[psutil.Process]):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.children = children

    def leftovers(self) -> list[str]:
        return [" ".join(p.cmdline()) for p in self.children if _alive(p)]


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def run_demo(*args: str, stdin: str | None = None) -> Ran:
    """Run `edge-app demo ARGS`, noting its child processes while it runs (they live in their own sessions)."""
    proc = subprocess.Popen([*EDGE_APP, "demo", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    children: set[psutil.Process] = set()
    me = psutil.Process(proc.pid)

    def watch() -> None:
        while proc.poll() is None:
            try:
                children.update(me.children(recursive=True))
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate(stdin, timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    watcher.join(5)
    return Ran(proc.returncode, out, err, children)


def _row(stdout: str, text: str) -> str:
    rows = [line for line in stdout.splitlines() if f"  {text}  " in line]
    assert len(rows) == 1, f"expected one result row for {text!r}:\n{stdout}"
    return rows[0]


def _labels(bundle: Path) -> set[str]:
    return set(json.loads((bundle / "manifest.json").read_text())["labels"])


def _assert_result(row: str, labels: set[str]) -> None:
    """A table row ends in label, score, latency_ms (then notes in parentheses)."""
    cells = row.split("  (")[0].split()
    label, score, latency = cells[-3], float(cells[-2]), float(cells[-1])
    assert label in labels, row
    assert 0.0 < score <= 1.0 and latency >= 0.0, row


def _broker_port(stdout: str) -> int:
    match = re.search(r"broker\s+mqtt://127\.0\.0\.1:(\d+)", stdout)
    assert match, stdout
    return int(match.group(1))


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_demo_shows_a_result_for_every_sample_and_stops_everything(default_bundle: Path):
    ran = run_demo("--bundle", str(default_bundle), "--timeout", "60")
    out = ran.stdout
    assert ran.returncode == 0, out + ran.stderr
    labels = _labels(default_bundle)

    for text in demo.PLAIN_SAMPLES:
        _assert_result(_row(out, text), labels)
    for sample in [*demo.JSON_SAMPLES, *demo.BATCH_SAMPLE["items"]]:
        row = _row(out, sample["text"])
        assert row.split()[1] == sample["id"], row
        _assert_result(row, labels)
    for sample in demo.JSON_SAMPLES:  # extra keys come back with the result
        assert f'(echoed: {{"room": "{sample["room"]}"}})' in _row(out, sample["text"])
    for sample in demo.BATCH_SAMPLE["items"]:
        assert "(one message for the batch of 3)" in _row(out, sample["text"])

    metrics = out.split("metrics (edge-app/demo/metrics):\n", 1)[1].split("\n\n", 1)[0]
    assert json.loads(metrics), metrics  # a real metrics message, printed as JSON
    error = out.split("(edge-app/demo/error):\n", 1)[1].split("\n\n", 1)[0]
    assert "malformed JSON" in json.loads(error)["error"], error

    assert "Stopped the service (exit 0, status offline)" in out
    assert "Stopped the embedded broker (exit 0)" in out
    assert ran.children, "the demo started no processes?"
    assert ran.leftovers() == []
    assert _refused(_broker_port(out))


def test_demo_interactive_answers_each_line(default_bundle: Path):
    lines = ["turn off the bedroom lights", '{"id": "typed-1", "text": "start the washing machine"}']
    ran = run_demo("--bundle", str(default_bundle), "--interactive", stdin="\n".join(lines) + "\n")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    results = [line for line in ran.stdout.splitlines() if line.startswith("  edge-app/demo/result")]
    assert len(results) == 2, ran.stdout
    assert results[0].endswith("'turn off the bedroom lights'") and "  lights_off  " in results[0]
    assert "id=typed-1" in results[1] and results[1].endswith("'start the washing machine'")
    assert ran.leftovers() == []


def test_demo_against_a_real_broker(default_bundle: Path, tmp_path: Path):
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.folder.mkdir()
    broker.start()
    try:
        ran = run_demo("--bundle", str(default_bundle), "--broker", broker.url)
    finally:
        broker.stop()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"broker   {broker.url} (given with --broker)" in ran.stdout
    for sample in demo.JSON_SAMPLES:
        _row(ran.stdout, sample["text"])
    assert ran.leftovers() == []


@pytest.mark.parametrize("args, code, words", [
    (["--bundle", "/nonexistent/bundle"], 3, "no manifest.json"),
    (["--broker", f"mqtt://127.0.0.1:{free_port()}"], 6, "cannot reach the broker"),
])
def test_demo_errors_are_one_line(default_bundle: Path, args: list[str], code: int, words: str):
    if "--bundle" not in args:
        args = [*args, "--bundle", str(default_bundle)]
    ran = run_demo(*args)
    assert ran.returncode == code, ran.stdout + ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1 and words in ran.stderr, ran.stderr
    assert ran.leftovers() == []
