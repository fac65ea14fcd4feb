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
import wcwidth

from edge_app_tools import demo
from helpers.mqtt import Mosquitto, free_port

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
    proc = subprocess.Popen(
        [*EDGE_APP, "demo", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
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


def _cells(line: str) -> list[tuple[str, int, int]]:
    """A table line's cells with the display columns each spans (start, end): cells are two or more
    spaces apart and hold single spaces at most; notes in parentheses follow the last one."""
    line = line.split("  (")[0]
    return [
        (m.group(), wcwidth.wcswidth(line[: m.start()]), wcwidth.wcswidth(line[: m.end()]))
        for m in re.finditer(r"\S+(?: \S+)*", line)
    ]


def _assert_aligned(table: list[str]) -> None:
    """Every row of a printed table fills each column the dashes under the header mark out: left-aligned
    cells start where the dashes start, right-aligned ones end where they end, measured on screen."""
    header, dashes, *rows = table
    assert [name for name, _, _ in _cells(header)] == list(demo.COLUMNS), header
    columns = [(start, end) for _, start, end in _cells(dashes)]
    for line in [header, *rows]:
        cells = _cells(line)
        assert len(cells) == len(columns), line
        for name, (_text, start, end), (col_start, col_end) in zip(demo.COLUMNS, cells, columns):
            assert col_start <= start and end <= col_end, (name, line)
            assert (end == col_end) if name in demo.RIGHT_ALIGNED else (start == col_start), (name, line)


def _table_lines(stdout: str) -> list[str]:
    """The results table in a run's output: the header line up to the blank line after the rows."""
    lines = stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("topic "))
    return lines[first : lines.index("", first)]


def _assert_result(row: str, labels: set[str]) -> None:
    """A table row: topic, id, text, label, score, latency_ms, slots (then notes in parentheses)."""
    cells = dict(zip(demo.COLUMNS, (text for text, _, _ in _cells(row))))
    assert cells["label"] in labels, row
    assert 0.0 < float(cells["score"]) <= 1.0 and float(cells["latency_ms"]) >= 0.0, row
    assert cells["slots"] == "-" or re.fullmatch(r'[a-z]+=("[^"]+"|\S+)( [a-z]+=("[^"]+"|\S+))*', cells["slots"]), row


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
    assert "  room=kitchen" in _row(out, "turn on the kitchen lights")  # the default bundle reads slots
    _assert_aligned(_table_lines(out))

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


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--bundle", "/nonexistent/bundle"], 3, "no manifest.json"),
        (["--broker", f"mqtt://127.0.0.1:{free_port()}"], 6, "cannot reach the broker"),
    ],
)
def test_demo_errors_are_one_line(default_bundle: Path, args: list[str], code: int, words: str):
    if "--bundle" not in args:
        args = [*args, "--bundle", str(default_bundle)]
    ran = run_demo(*args)
    assert ran.returncode == code, ran.stdout + ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1 and words in ran.stderr, ran.stderr
    assert ran.leftovers() == []


# --- the results table, without a service -------------------------------------------------------

KOREAN = "거실 에어컨 온도 이십이 도로 맞춰 줘"


def _result_row(text: str, label: str, slots: dict, notes: list[str] | None = None) -> dict:
    return {
        "topic": "edge-app/demo/result",
        "id": f"id-{len(text)}",
        "text": text,
        "label": label,
        "score": 0.98765,
        "latency_ms": 12.34,
        "slots": slots,
        "notes": notes or [],
    }


def test_table_lines_up_korean_text_and_slots_by_display_width():
    assert wcwidth.wcswidth(KOREAN) > len(KOREAN)  # wide characters: counting them as one column misaligns
    rows = [
        _result_row("turn on the kitchen lights", "lights_on", {"room": {"text": "kitchen", "value": "kitchen"}}),
        _result_row(
            KOREAN,
            "ac_set_temperature",
            {"room": {"text": "거실", "value": "거실"}, "temperature": {"text": "이십이 도", "value": 22, "unit": "C"}},
            notes=['echoed: {"room": "거실"}'],
        ),
        _result_row("is the dryer done yet", "dryer_status", {}),
        _result_row("TV 볼륨 좀 줄여", "tv_volume", {"volume": {"text": "좀 줄여", "value": "down"}}),
    ]
    table = demo._table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    _assert_aligned(table)
    assert _row("\n".join(table), KOREAN).endswith('  room=거실 temperature=22C  (echoed: {"room": "거실"})')
    assert _row("\n".join(table), "is the dryer done yet").endswith("  -")


@pytest.mark.parametrize(
    "slots, shown",
    [
        (
            {
                "room": {"text": "kitchen", "value": "kitchen"},
                "temperature": {"text": "22 degrees", "value": 22.0, "unit": "C"},
            },
            "room=kitchen temperature=22C",
        ),
        ({"duration": {"text": "ten minutes", "value": 600, "unit": "s"}}, "duration=600s"),
        ({"volume": {"text": "down by 10", "value": "down", "step": 10}}, "volume=down(10)"),
        ({"room": {"text": "living room", "value": "living room"}}, 'room="living room"'),
        ({"duration": {"text": "a while"}}, 'duration="a while"'),  # no value read: the span as sent
        ({}, "-"),
        (None, "-"),
    ],
)
def test_slots_cell(slots: dict | None, shown: str):
    assert demo._cell("slots", slots) == shown


def test_long_cells_are_cut_to_their_display_width():
    text = demo._cell("text", KOREAN * 3)
    assert text.endswith("…") and text.startswith(KOREAN[:10])
    assert demo.DEFAULT_CELL_WIDTH - 1 <= wcwidth.wcswidth(text) <= demo.DEFAULT_CELL_WIDTH

    pairs = [f"device={word}" for word in ("천장등", "스탠드", "무드등", "거실등", "식탁등", "침실등")]
    slots = {f"device{i}": {"text": word, "value": word} for i, word in enumerate(pairs)}
    cell = demo._cell("slots", slots)
    limit = demo.CELL_WIDTH["slots"]
    assert cell.endswith(" …") and wcwidth.wcswidth(cell) <= limit
    kept = cell.removesuffix(" …").split(" ")
    assert 0 < len(kept) < len(slots)
    assert kept == [f"{name}={value['value']}" for name, value in list(slots.items())[: len(kept)]]  # whole pairs only

    one = demo._cell("slots", {"room": {"text": "거실" * 40, "value": "거실" * 40}})
    assert one.startswith("room=거실") and one.endswith("…") and wcwidth.wcswidth(one) <= limit


def test_cells_stay_on_one_line():
    assert demo._cell("text", "turn on\nthe\tlights\x1b[2J") == "turn on the lights [2J"
    assert demo._cell("slots", {"room": {"text": "a\nb", "value": "a\nb"}}) == 'room="a b"'
