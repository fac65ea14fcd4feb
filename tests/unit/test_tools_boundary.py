"""The board runtime (`edge_app/`) and the workstation tools (`edge_app_tools/`: bench, demo, harness).

A board installs the root distribution only (deploy/install.sh, the container images), so nothing in
`edge_app` may import the tools, the root wheel must not carry them, and `edge-app bench|demo` where
they are missing must answer with one line naming the fix instead of a traceback.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import setuptools
import tomllib

import edge_app
from edge_app import cli

ROOT = Path(__file__).resolve().parents[2]
TOOLS = "edge_app_tools"


def _imported_names(path: Path) -> set[str]:
    """Every absolute module name a file imports, at any depth (lazy imports in functions count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_runtime_module_imports_the_tools() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imported_names(path) if n.split(".")[0] == TOOLS)
        for path in (ROOT / "edge_app").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_runtime_module_loads_no_tool_module() -> None:
    """The same at run time, in a fresh interpreter: every edge_app module that imports without an extra."""
    code = (
        "import importlib, pkgutil, sys, edge_app\n"
        "for m in pkgutil.walk_packages(edge_app.__path__, 'edge_app.'):\n"
        "    try:\n        importlib.import_module(m.name)\n    except ImportError:\n        pass\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] == {TOOLS!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_board_wheel_packages_leave_the_tools_out() -> None:
    """The root pyproject's package list (what `pip install .` on a board gets) has no tool package,
    and tools/pyproject.toml ships every tool package there is."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    board = setuptools.find_packages(str(ROOT), include=config["include"])
    assert "edge_app" in board and "edge_app.mqtt" in board
    assert [p for p in board if p.split(".")[0] == TOOLS] == []
    tools = tomllib.loads((ROOT / "tools" / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert sorted(tools["packages"]) == sorted(setuptools.find_packages(str(ROOT), include=[TOOLS, f"{TOOLS}.*"]))
    for package, folder in tools["package-dir"].items():
        assert (ROOT / "tools" / folder / "__init__.py").is_file(), package


class _Absent:
    """A meta-path finder that makes the tools missing, the way a board's venv has them."""

    @staticmethod
    def find_spec(name: str, path=None, target=None):
        if name.split(".")[0] == TOOLS:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@pytest.mark.parametrize("command", [["bench", "--bundle", "x", "--mqtt", "mqtt://h:1"], ["demo", "--interactive"]])
def test_a_tool_command_without_the_tools_names_the_fix(command: list[str], monkeypatch, capsys) -> None:
    for name in [n for n in sys.modules if n.split(".")[0] == TOOLS]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_Absent, *sys.meta_path])
    assert cli.main(command) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert f"edge-app {command[0]}" in err and "pip install -e './tools[bench]'" in err, err


def test_the_tool_commands_are_there_when_the_tools_are() -> None:
    importlib.import_module(f"{TOOLS}.bench")
    parser = cli.build_parser("bench")
    assert parser.parse_args(["bench", "--bundle", "b", "--quick"]).quick is True
    assert not any(
        m.name.split(".")[-1] in ("bench", "harness", "demo") for m in pkgutil.iter_modules(edge_app.__path__)
    )
