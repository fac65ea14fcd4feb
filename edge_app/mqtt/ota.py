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
import urllib.request
from pathlib import Path
from typing import Any

from ..bundle import MANIFEST, Bundle
from ..errors import BundleError, EdgeAppError

log = logging.getLogger(__name__)
ACTIVE_BUNDLE_FILE = "active-bundle"  # in the state dir: the OTA bundle to start with next time
MIN_SELF_TEST_AGREEMENT = 0.95  # int8 kernels differ slightly between CPUs; a wrong model scores far lower
FETCH_TIMEOUT_S = 60


class UpdateRefused(Exception):
    pass


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


def install(service, location: str, sha256: str) -> dict[str, Any]:
    """Fetch, verify, load, self-test and switch. Raises UpdateRefused; the old model keeps running."""
    from .service import load_classifier

    cfg = service.cfg
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
        classifier = load_classifier(cfg, str(final), verify=False)  # verified above, before the rename
        report = self_test(classifier)
    except (BundleError, EdgeAppError) as exc:
        raise UpdateRefused(str(exc)) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    previous = service.model_info
    service.swap_model(classifier)
    (Path(cfg.state_dir) / ACTIVE_BUNDLE_FILE).write_text(str(final), encoding="utf-8")
    return {"model": service.model_info, "previous": previous, "self_test": report, "path": str(final)}


def handle_model_command(service, payload: bytes) -> None:
    """Entry point from the service (own thread): parse, install, answer on cmd/result."""
    from .outbox import OutMessage
    from .payloads import encode, now_iso

    request_id = None
    try:
        try:
            command = json.loads(payload)
            request_id = command.get("id")
            location, sha256 = str(command["location"]), str(command["sha256"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UpdateRefused('command must be JSON {"location": PATH_OR_URL, "sha256": MANIFEST_SHA256}') from None
        log.info("model update requested: %s", location)
        reply: dict[str, Any] = {"ok": True, **install(service, location, sha256)}
    except UpdateRefused as exc:
        log.error("model update refused, keeping %s: %s", service.model_info["name"], exc)
        reply = {"ok": False, "reason": str(exc), "model": service.model_info}
    except Exception as exc:  # never let an update take the service down
        log.exception("model update failed")
        reply = {"ok": False, "reason": f"unexpected error: {exc}", "model": service.model_info}
    reply.update({"id": request_id, "ts": now_iso()})
    service.publisher.send([OutMessage(service.topics.cmd_result, encode(reply), 1)])
