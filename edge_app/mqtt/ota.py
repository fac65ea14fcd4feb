"""Over-the-air model updates through `<prefix>/cmd/model`.

A command names a bundle (a folder or archive on the board, or an http(s) URL of a .tar.gz)
and the sha256 of its manifest. The service fetches it, verifies every file, loads it beside
the running model, checks it against its own eval samples, and only then switches. Anything
short of that leaves the running model in place. The outcome goes to `<prefix>/cmd/result`.
"""

from __future__ import annotations

import json
import logging
import shutil
import tarfile
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..bundle import MANIFEST, Bundle
from ..config import Config
from ..errors import BundleError, EdgeAppError
from .payloads import now_iso

log = logging.getLogger(__name__)
ACTIVE_BUNDLE_FILE = "active-bundle"  # in the state dir: the OTA bundle to start with next time
MIN_SELF_TEST_AGREEMENT = 0.95  # int8 kernels differ slightly between CPUs; a wrong model scores far lower
FETCH_TIMEOUT_S = 60


class UpdateRefused(Exception):
    pass


@dataclass
class ModelHost:
    """What the service lends the updater; ota.py imports nothing from the service."""

    load: Callable[[str], Any]  # build (and verify per config) a classifier from a bundle folder
    current: Callable[[], Any]  # the classifier serving now
    swap: Callable[[Any], None]  # switch between two batches (atomic for the pipeline)
    reply: Callable[[dict], None]  # publish a JSON object on <prefix>/cmd/result (durably)


def model_info(classifier: Any) -> dict[str, str]:
    return {"name": classifier.bundle.name, "sha256": classifier.bundle.sha256}


class ModelUpdater:
    """The `<prefix>/cmd/model` handler: one update at a time, each on its own thread."""

    def __init__(self, cfg: Config, host: ModelHost) -> None:
        self.cfg = cfg
        self.host = host
        self._busy = threading.Lock()

    def handle(self, payload: bytes, retained: bool) -> None:
        """Called on the bus (network) thread: returns at once, never raises."""
        try:
            if retained:
                self._refuse(payload, "retained model commands are ignored; publish the command without retain")
            elif not self._busy.acquire(blocking=False):
                self._refuse(payload, "another model update is running; send this one when it has answered")
            else:
                threading.Thread(target=self._run, args=(payload,), name="ota", daemon=True).start()
        except Exception:  # the contract: never raise into the bus
            log.exception("could not start a model update")

    def _refuse(self, payload: bytes, reason: str) -> None:
        self.host.reply({"ok": False, "reason": reason, "id": _request_id(payload),
                         "model": model_info(self.host.current()), "ts": now_iso()})

    def _run(self, payload: bytes) -> None:
        try:
            handle_model_command(self.cfg, self.host, payload)
        finally:
            self._busy.release()


def _request_id(payload: bytes) -> Any:
    try:
        command = json.loads(payload)
        return command.get("id") if isinstance(command, dict) and isinstance(command.get("id"), (str, int)) else None
    except (ValueError, RecursionError):
        return None


def bundles_dir(cfg) -> Path:
    return Path(cfg.ota.bundles_dir or Path(cfg.state_dir) / "bundles")


def active_bundle(cfg) -> str | None:
    """The bundle an earlier OTA update switched to, if any, so a restart keeps it."""
    marker = Path(cfg.state_dir) / ACTIVE_BUNDLE_FILE
    if cfg.ota.enabled and marker.is_file():
        path = marker.read_text(encoding="utf-8").strip()
        if Path(path, MANIFEST).is_file():
            return path
    return None


def _fetch(location: str, dest: Path) -> None:
    """Place the bundle named by `location` into the empty folder `dest`."""
    if location.startswith(("http://", "https://")):
        with tempfile.NamedTemporaryFile(suffix=".tar.gz") as tmp:
            try:
                with urllib.request.urlopen(location, timeout=FETCH_TIMEOUT_S) as resp:
                    shutil.copyfileobj(resp, tmp)
            except OSError as exc:
                raise UpdateRefused(f"cannot download {location} ({exc})") from None
            tmp.flush()
            _extract(Path(tmp.name), dest)
        return
    source = Path(location)
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True)
    elif source.is_file():
        _extract(source, dest)
    else:
        raise UpdateRefused(f"bundle location {location} does not exist on this board")


def _extract(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")  # refuses absolute paths, links out, devices
    except (tarfile.TarError, OSError) as exc:
        raise UpdateRefused(f"cannot unpack {archive.name} as a tar archive ({exc})") from None
    inner = [p for p in dest.iterdir()]
    if not (dest / MANIFEST).exists() and len(inner) == 1 and inner[0].is_dir():
        for child in inner[0].iterdir():  # an archive of the bundle folder itself
            child.rename(dest / child.name)
        inner[0].rmdir()


def self_test(classifier) -> dict[str, Any]:
    """Run the bundle on its own eval samples and compare with what the workstation predicted."""
    samples = [s for s in classifier.bundle.eval_samples() if "expected" in s]
    if not samples:
        raise UpdateRefused("bundle has no eval samples with expected labels to self-test; re-export it")
    preds = classifier.classify([s["text"] for s in samples], top_k=1)
    agree = sum(p.label == s["expected"] for p, s in zip(preds, samples)) / len(samples)
    if agree < MIN_SELF_TEST_AGREEMENT:
        raise UpdateRefused(f"self-test failed: {agree:.1%} of {len(samples)} samples match the exported model")
    return {"samples": len(samples), "agreement": round(agree, 4)}


def install(cfg: Config, host: ModelHost, location: str, sha256: str) -> dict[str, Any]:
    """Fetch, verify, load, self-test and switch. Raises UpdateRefused; the old model keeps running."""
    root = bundles_dir(cfg)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
    try:
        _fetch(location, staging)
        bundle = Bundle.load(staging, verify=True)
        if bundle.sha256 != sha256.lower():
            raise UpdateRefused(f"manifest sha256 is {bundle.sha256}, the command named {sha256}")
        final = root / sha256.lower()[:16]
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
        classifier = host.load(str(final))
        report = self_test(classifier)
    except (BundleError, EdgeAppError) as exc:
        raise UpdateRefused(str(exc)) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    previous = model_info(host.current())
    host.swap(classifier)
    (Path(cfg.state_dir) / ACTIVE_BUNDLE_FILE).write_text(str(final), encoding="utf-8")
    return {"model": model_info(classifier), "previous": previous, "self_test": report, "path": str(final)}


def handle_model_command(cfg: Config, host: ModelHost, payload: bytes) -> None:
    """The update itself (own thread): parse, install, answer on cmd/result."""
    request_id = None
    try:
        try:
            command = json.loads(payload)
            request_id = command.get("id")
            location, sha256 = str(command["location"]), str(command["sha256"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UpdateRefused('command must be JSON {"location": PATH_OR_URL, "sha256": MANIFEST_SHA256}') from None
        log.info("model update requested: %s", location)
        reply: dict[str, Any] = {"ok": True, **install(cfg, host, location, sha256)}
    except UpdateRefused as exc:
        log.error("model update refused, keeping %s: %s", model_info(host.current())["name"], exc)
        reply = {"ok": False, "reason": str(exc), "model": model_info(host.current())}
    except Exception as exc:  # never let an update take the service down
        log.exception("model update failed")
        reply = {"ok": False, "reason": f"unexpected error: {exc}", "model": model_info(host.current())}
    reply.update({"id": request_id, "ts": now_iso()})
    host.reply(reply)
