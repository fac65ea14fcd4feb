"""The board checks of ./run test (issue 15), in the parts that need no emulation: what a
user sees when they call them wrongly, and that ./run wires them in. The emulated run itself
is `./run test-arm64` (minutes; root), the Python 3.10 run `./run test-py310`."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "deploy" / "check_arm64_board.sh"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)


def test_check_refuses_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    proc = run("bash", CHECK, "--bundle", tmp_path, "--host-edge-app", "/bin/true")
    assert proc.returncode == 1
    assert "is not a bundle folder" in proc.stderr and str(tmp_path) in proc.stderr


def test_check_needs_the_host_edge_app(default_bundle: Path) -> None:
    proc = run("bash", CHECK, "--bundle", default_bundle, "--host-edge-app", "/nonexistent/edge-app")
    assert proc.returncode == 1 and "--host-edge-app" in proc.stderr


def test_check_rejects_unknown_options() -> None:
    proc = run("bash", CHECK, "--frobnicate")
    assert proc.returncode != 0 and "unknown option: --frobnicate" in proc.stderr


def test_run_wires_the_board_stages_into_test() -> None:
    text = (REPO / "run").read_text(encoding="utf-8")
    assert "stage_py310 || rc=1" in text
    assert 'stage_arm64 >"$TEST_RUN/arm64.log" 2>&1 &' in text and 'wait "$arm64_pid" || arm64_rc=1' in text
    help_text = run("bash", REPO / "run", "help").stdout
    assert "test-py310" in help_text and "test-arm64" in help_text


def _compare(tmp_path: Path, moves: dict[int, float]) -> subprocess.CompletedProcess[str]:
    """The check's own compare() on 200 synthetic results, board scores moved by `moves`."""
    host = [{"text": f"t{i}", "label": "a", "score": 0.5, "scores": [{"label": "a", "score": 0.5}]} for i in range(200)]
    board = [
        {**h, "score": 0.5 + moves.get(i, 0.0), "scores": [{"label": "a", "score": 0.5 + moves.get(i, 0.0)}]}
        for i, h in enumerate(host)
    ]
    for name, rows in (("host", host), ("board", board)):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(map(json.dumps, rows)), encoding="utf-8")
    body = re.search(r"^compare\(\) \{.*?^\}", CHECK.read_text(encoding="utf-8"), re.S | re.M).group(0)
    script = f"TOLERANCE=0.001; MIN_CLOSE=0.99; MAX_DIFF=0.01\n{body}\ncompare {tmp_path}/host.jsonl {tmp_path}/board.jsonl none"
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)


def test_board_scores_may_move_a_little_on_few_texts_never_far(tmp_path: Path) -> None:
    """Arm's float kernels can put a value on the other side of an int8 rounding step: a few
    texts by a few 1e-3 pass; a move over --max-diff on any text, or many small ones, fail."""
    assert _compare(tmp_path, {0: 0.0035}).returncode == 0
    far = _compare(tmp_path, {1: 0.02})
    assert far.returncode == 1 and "(over --max-diff) 't1'" in far.stdout
    assert _compare(tmp_path, {i: 0.002 for i in range(3)}).returncode == 1  # 98.5 % within 1e-3
