"""The README cannot drift from the code: its commands, flags and MQTT example are checked here, and so are the
configuration table (docs/configuration.md) and the sample result (docs/topics.md) it moved out to.

tests/test_docs.py parses every `edge-app` command shown in docs/*.md and the README with the real parser."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

from edge_app.config import Config
from helpers.mqtt import Serve, mosquitto  # noqa: F401  (mosquitto is a fixture)

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
TOPICS = (ROOT / "docs/topics.md").read_text(encoding="utf-8")
EDGE_APP = [sys.executable, "-m", "edge_app.cli"]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


def code_blocks(text: str = README) -> list[str]:
    return FENCE.findall(text)


def code_segments() -> list[str]:
    """Every command-like piece of the README: each logical line of a fenced block, and each `inline` span."""
    segments = []
    for block in code_blocks():
        segments += block.replace("\\\n", " ").splitlines()
    prose = FENCE.sub("", README)
    segments += re.findall(r"`([^`\n]+)`", prose)
    return segments


@cache
def help_text(*command: str) -> str:
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def subcommands() -> set[str]:
    text = help_text(*EDGE_APP)
    listed = text.split("positional arguments:", 1)[1].split("options:", 1)[0]
    return set(re.findall(r"^    ([a-z][a-z-]*)\s", listed, re.M))


def invocations() -> list[tuple[str, list[str]]]:
    """(subcommand, flags) for each `edge-app SUB ...` and `./run demo ...` in the README's code."""
    found = []
    for segment in code_segments():
        command = re.split(r"\s(?:#|\||;|&&)\s", " " + segment)[0]  # up to a comment or the next command
        for match in re.finditer(r"(?:edge-app|\./run)[ \t]+([a-z][a-z-]*)(.*)", command):
            sub, rest = match.groups()
            if match.group(0).startswith("./run"):
                if sub != "demo":  # `./run test` passes its arguments to pytest
                    continue
            flags = [tok.split("=", 1)[0] for tok in rest.split() if tok.startswith("--")]
            found.append((sub, flags))
    return found


def test_first_code_block_is_the_two_commands():
    lines = [line.strip() for line in code_blocks()[0].splitlines() if line.strip()]
    assert lines == ["./run demo", "./run test"]


def test_readme_is_short_and_names_no_issues():
    assert len(README.splitlines()) <= 150, "the README is a front door: move detail into docs/"
    issue = re.search(r"(?i)\bissues?\s*#?\d+|(?<![\w&/])#\d+\b", README)
    assert not issue, f"issue numbers belong in commits, not the README: {issue.group(0)}"


def test_readme_links_point_at_files_that_exist():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


def test_ci_runs_exactly_the_readme_test_command():
    lines = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[-1] == "exec ./run test"
    assert (ROOT / ".ci/run").stat().st_mode & 0o111 and (ROOT / "run").stat().st_mode & 0o111


def test_run_help_and_unknown_command():
    done = subprocess.run([str(ROOT / "run"), "help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "demo" in done.stdout and "test" in done.stdout
    done = subprocess.run([str(ROOT / "run"), "dmeo"], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "unknown command 'dmeo'" in done.stderr


def test_every_edge_app_subcommand_in_the_readme_exists():
    used = {sub for sub, _ in invocations()}
    assert {"serve", "export", "broker", "demo", "bench"} <= used, used  # the parser below finds them at all
    assert used - subcommands() == set(), f"README names subcommands edge-app does not have: {used - subcommands()}"


def test_every_flag_after_an_edge_app_command_exists():
    checked = 0
    for sub, flags in invocations():
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text(*EDGE_APP, sub)))
        for flag in flags:
            assert flag in options, f"README uses `edge-app {sub} {flag}`, which `edge-app {sub} --help` lacks"
            checked += 1
    assert checked >= 10, checked


def test_flags_of_the_deploy_scripts_exist():
    for script in ("deploy/install.sh", "deploy/push.sh"):
        uses = [seg.split(script, 1)[1] for seg in code_segments() if script in seg]
        assert uses, f"README does not show {script}"
        options = help_text(str(ROOT / script))
        for rest in uses:
            for flag in (tok for tok in rest.split() if tok.startswith("--")):
                assert flag in options, f"README uses `{script} {flag}`, which its --help lacks"


def _config_fields() -> dict[str, object]:
    out = {}
    for f in dataclasses.fields(Config):
        value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(value):
            out.update({f"{f.name}.{g.name}": getattr(value, g.name) for g in dataclasses.fields(value)})
        else:
            out[f.name] = value
    return out


def _reference_rows() -> dict[str, list[str]]:
    section = CONFIGURATION.split("## Keys", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = cells
    return rows


def test_configuration_reference_matches_the_config_object():
    fields, rows = _config_fields(), _reference_rows()
    assert set(rows) == set(fields), f"missing: {set(fields) - set(rows)}, unknown: {set(rows) - set(fields)}"
    serve_options = help_text(*EDGE_APP, "serve")
    for key, (_, default, flag, _) in rows.items():
        value = fields[key]
        literal = re.fullmatch(r"`([^`<]*)`", default)
        if literal and value not in ("", [], {}):
            text = literal.group(1)
            if isinstance(value, bool):
                assert text == str(value).lower(), key
            elif isinstance(value, (int, float)):
                assert float(text) == value, key
            else:
                assert text == value, key
        for option in re.findall(r"--[a-z-]+", flag):
            assert option in serve_options, f"{key}: `edge-app serve` has no {option}"


def test_mqtt_example_works_against_serve(default_bundle: Path, mosquitto, tmp_path: Path):  # noqa: F811
    """Run the README's mosquitto_sub/mosquitto_pub lines, as written plus the test broker's port; docs/topics.md
    shows the same lines and a sample result with the keys a real one has."""
    block = next(b for b in code_blocks() if "mosquitto_sub" in b)
    commands = [shlex.split(line) for line in block.splitlines() if line.strip()]
    sub_cmd, pub_cmds = commands[0], commands[1:]
    assert sub_cmd[0] == "mosquitto_sub" and all(c[0] == "mosquitto_pub" for c in pub_cmds)
    port = ["-p", str(mosquitto.port)]
    service = Serve(default_bundle, mosquitto.url, tmp_path / "state", "demo").start()
    sub = subprocess.Popen([*sub_cmd, *port, "-W", "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert _wait_line(sub, "edge-app/demo/status online"), service.output()
        for cmd in pub_cmds:
            subprocess.run([*cmd, *port, "-q", "1"], check=True, timeout=30)
        results = [json.loads(_wait_line(sub, "edge-app/demo/result ").split(" ", 1)[1]) for _ in pub_cmds]
    finally:
        assert service.stop() == 0
        sub.terminate()
        sub.wait(10)
    # One result per message; the service may answer messages of one batch in any order.
    plain = next(r for r in results if r["id"] != "kitchen-1")
    keyed = next(r for r in results if r["id"] == "kitchen-1")
    assert plain["label"] == "lights_on" and plain["source_topic"] == "edge-app/demo/classify"
    assert keyed["label"] == "oven_preheat" and keyed["room"] == "kitchen"
    documented = json.loads(next(b for b in code_blocks(TOPICS) if b.startswith('{"room": "kitchen"')))
    assert documented.keys() == keyed.keys(), "docs/topics.md's sample result has other keys than a real one"
    assert block in code_blocks(TOPICS), "docs/topics.md and the README show different mosquitto lines"


def _wait_line(proc: subprocess.Popen, start: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return ""
        if line.startswith(start):
            return line
    return ""


def test_every_flag_in_the_readme_belongs_to_one_of_our_commands():
    """Flags named in prose (`--quantize arm64`) too: each must exist in some edge-app subcommand or script."""
    known = set()
    for sub in subcommands():
        known |= set(re.findall(r"--[a-z][a-z0-9-]*", help_text(*EDGE_APP, sub)))
    for script in ("deploy/install.sh", "deploy/push.sh", "run"):  # ./run test --no-integration
        known |= set(re.findall(r"--[a-z][a-z0-9-]*", help_text(str(ROOT / script))))
    used = {flag for seg in code_segments() for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", seg)}
    assert used - known == set()
