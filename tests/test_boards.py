"""The board checks of ./run test (issue 15), in the parts that need no emulation: what a
user sees when they call them wrongly, and that ./run wires them in. The emulated run itself
is `./run test-arm64` (minutes; root), the Python 3.10 run `./run test-py310`."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
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
    assert "stage_py310 || rc=1" in text and "stage_arm64 || rc=1" in text
    help_text = run("bash", REPO / "run", "help").stdout
    assert "test-py310" in help_text and "test-arm64" in help_text
