"""Over-the-air model updates through `<prefix>/cmd/model`, which anyone on the bus may try.

A command names a bundle (a path inside the bundles folder, or an https URL of an archive):

    {"id": "up-7", "location": "https://host/model.tar.gz", "sha256": "<optional manifest sha256>",
     "allow_downgrade": false}
    {"id": "back-1", "action": "rollback"}

The updater fetches it within limits (edge_app.fetch), verifies every file and the signature
against the board's trusted keys (`trust.keys`, required), refuses a version lower than the
running one unless the command allows a downgrade, loads it beside the running model, checks
it on its own eval samples, and only then switches. Anything short of that leaves the running
model answering. It keeps the bundle it switched from for `rollback` and deletes older ones.
One update at a time; a command that arrives meanwhile is answered `busy`; a retained command
(replayed by the broker on every subscribe) is answered `ignored` and never run. Every
command gets one answer on `<prefix>/cmd/result`.

The service lends the updater a ModelHost; this module imports nothing from the service.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bundle import MANIFEST, SIGNATURE_FILE, Bundle, SignatureInfo
from ..config import Config
from ..errors import ConfigError, EdgeAppError
from ..fetch import FetchLimits, fetch
from ..model import Model
from ..signing import KEYGEN_HINT, TrustedKeys, load_trusted_keys
from .payloads import now_iso

log = logging.getLogger(__name__)
ACTIVE_BUNDLE_FILE = "active-bundle"  # in the state dir: the OTA bundle to start with next time
PREVIOUS_BUNDLE_FILE = "previous-bundle"  # in the state dir: what `rollback` switches to
INCOMING_PREFIX = ".incoming-"  # staging folders in the bundles dir; leftovers are deleted
INSTALLED_PREFIX = "ota-"  # bundles this updater installed (and may delete); nothing else is touched
MIN_SELF_TEST_AGREEMENT = 0.95  # int8 kernels differ slightly between CPUs; a wrong model scores far lower
DEFAULT_SIZE_FACTOR = 5  # ota.max_bytes = 0: this many times the running bundle (int8 -> fp32 is ~4x)
MAX_COMMAND_BYTES = 16384
SHA256 = re.compile(r"[0-9a-f]{64}")
USAGE = (
    'send {"location": PATH_IN_BUNDLES_DIR_OR_HTTPS_URL, "sha256": OPTIONAL_MANIFEST_SHA256, '
    '"allow_downgrade": false, "id": ANY} or {"action": "rollback"}'
)


class UpdateRefused(EdgeAppError):
    """The command or the bundle failed a check; the running model stays."""


@dataclass
class ModelHost:
    """What the service lends the updater; ota.py imports nothing from the service."""

    load: Callable[[str], Model]  # build (and verify per config) a classifier from a bundle folder
    current: Callable[[], Model]  # the classifier serving now
    swap: Callable[[Model], None]  # switch between two batches (atomic for the pipeline)
    reply: Callable[[dict], None]  # publish a JSON object on <prefix>/cmd/result (durably)


@dataclass(frozen=True)
class Command:
    id: Any
    action: str  # "update" | "rollback"
    location: str = ""
    sha256: str = ""
    allow_downgrade: bool = False


def bundles_dir(cfg: Config) -> Path:
    return Path(cfg.ota.bundles_dir or Path(cfg.state_dir) / "bundles")


def active_bundle(cfg: Config) -> str | None:
    """The bundle an earlier OTA update switched to, if any, so a restart keeps it."""
    marker = Path(cfg.state_dir) / ACTIVE_BUNDLE_FILE
    if cfg.ota.enabled and marker.is_file():
        path = marker.read_text(encoding="utf-8").strip()
        if Path(path, MANIFEST).is_file():
            return path
    return None


def parse_command(payload: bytes) -> Command:
    """The command in `payload`, or UpdateRefused saying what a command looks like."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise UpdateRefused(f"command is {len(payload)} bytes, more than {MAX_COMMAND_BYTES}; {USAGE}")
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise UpdateRefused(f"command is not JSON; {USAGE}") from None
    if not isinstance(data, dict):
        raise UpdateRefused(f"command is not a JSON object; {USAGE}")
    cmd_id, action = data.get("id"), data.get("action", "update")
    if action == "rollback":
        return Command(cmd_id, "rollback")
    location, sha256, downgrade = data.get("location"), data.get("sha256", ""), data.get("allow_downgrade", False)
    if action != "update" or not isinstance(location, str) or not location:
        raise UpdateRefused(f"command needs a location, or action rollback; {USAGE}")
    if not isinstance(sha256, str) or (sha256 and not SHA256.fullmatch(sha256.lower())):
        raise UpdateRefused(f"sha256 must be the 64 hex digits of the bundle's manifest.json; {USAGE}")
    if not isinstance(downgrade, bool):
        raise UpdateRefused(f"allow_downgrade must be true or false; {USAGE}")
    return Command(cmd_id, "update", location, sha256.lower(), downgrade)


def model_info(classifier: Model) -> dict[str, Any]:
    bundle = classifier.bundle
    return {"name": bundle.name, "sha256": bundle.sha256, "version": bundle.version}


def self_test(classifier: Model) -> dict[str, Any]:
    """Run the bundle on its own eval samples and compare with what the workstation predicted."""
    samples = [s for s in classifier.bundle.eval_samples() if "expected" in s]
    if not samples:
        raise UpdateRefused("bundle has no eval samples with expected labels to self-test; re-export it")
    preds = classifier.classify([s["text"] for s in samples], top_k=1)
    agree = sum(p.label == s["expected"] for p, s in zip(preds, samples)) / len(samples)
    if agree < MIN_SELF_TEST_AGREEMENT:
        raise UpdateRefused(f"self-test failed: {agree:.1%} of {len(samples)} samples match the exported model")
    return {"samples": len(samples), "agreement": round(agree, 4)}


def check_staged(folder: Path, keys: TrustedKeys) -> tuple[Bundle, SignatureInfo]:
    """Verify a fetched bundle: every file, nothing unlisted, and a trusted signature."""
    bundle = Bundle.load(folder, verify=True)
    listed = set(bundle.manifest["files"]) | {MANIFEST, SIGNATURE_FILE}
    extra = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in listed
    )
    if extra:
        raise UpdateRefused(f"bundle holds {extra[0]}, which its manifest does not list; re-export it")
    return bundle, bundle.verify_signature(keys)


def check_version(new: int, current: int | None, allow_downgrade: bool) -> None:
    """Versions only grow: refuse one not above the running bundle's unless the command allows a downgrade."""
    if current is not None and new <= current and not allow_downgrade:
        raise UpdateRefused(
            f"bundle version {new} is not newer than the running version {current}; "
            'send "allow_downgrade": true to install an older signed bundle on purpose'
        )


class ModelUpdater:
    """Runs update and rollback commands, one at a time, on its own thread."""

    def __init__(self, cfg: Config, host: ModelHost) -> None:
        if not cfg.trust.keys:
            raise ConfigError(f"over-the-air updates need trust.keys; {KEYGEN_HINT}")
        self.cfg, self.host = cfg, host
        self.root = bundles_dir(cfg)
        self.state = Path(cfg.state_dir)
        self._busy = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove(p for p in self.root.iterdir() if p.name.startswith(INCOMING_PREFIX))  # a crash's leftovers

    # ---- the entry point (bus thread) ------------------------------------------------------
    def handle(self, payload: bytes, retained: bool) -> None:
        """Called on the bus thread for each <prefix>/cmd/model message: returns at once, never raises."""
        acquired = False
        try:
            if retained:
                log.warning("ignored a retained model command: commands must be published without the retain flag")
                self._answer(
                    _peek_id(payload),
                    "ignored",
                    "retained commands are ignored (the broker replays them "
                    "on every reconnect); publish the command without the retain flag",
                )
                return
            command = parse_command(payload)
            if not self._busy.acquire(blocking=False):
                self._answer(
                    command.id, "busy", "another model update is running; send this command again when it has answered"
                )
                return
            acquired = True
            threading.Thread(target=self._run, args=(command,), name="ota", daemon=True).start()
        except UpdateRefused as exc:
            self._answer(_peek_id(payload), "refused", str(exc))
        except Exception as exc:  # a boundary: report and carry on serving
            log.exception("model command failed")
            if acquired:  # the lock is ours and no thread will release it
                self._busy.release()
            self._answer(_peek_id(payload), "error", f"unexpected error: {exc}")

    def _run(self, command: Command) -> None:
        """Carry out one command, then answer it: the busy lock is free before the answer leaves, so a
        client that sends its next command on the answer never meets "busy"."""
        try:
            log.info("model %s requested%s", command.action, f": {command.location}" if command.location else "")
            result = self.rollback() if command.action == "rollback" else self.update(command)
            answer: tuple[str, str | None, dict | None] = (result.pop("status"), None, result)
        except EdgeAppError as exc:  # UpdateRefused, BundleError, FetchRefused, ConfigError: all name the cause
            answer = ("refused", str(exc), None)
        except Exception as exc:  # never let an update take the service down
            log.exception("model update failed")
            answer = ("error", f"unexpected error: {exc}", None)
        finally:
            self._busy.release()
        self._answer(command.id, *answer)

    def _answer(self, cmd_id: Any, status: str, reason: str | None, extra: dict | None = None) -> None:
        """Publish the one answer a command gets; a failure to answer is logged, never raised."""
        try:
            self._publish_answer(cmd_id, status, reason, extra)
        except Exception:
            log.exception("cannot answer model command %r (%s: %s)", cmd_id, status, reason)

    def _publish_answer(self, cmd_id: Any, status: str, reason: str | None, extra: dict | None) -> None:
        ok = status in ("switched", "rolled_back", "unchanged")
        if status in ("refused", "error"):
            log.error("model command %s: %s; keeping %s", status, reason, self._current_name())
        elif status == "busy":
            log.warning("model command answered busy: an update is running")
        reply: dict[str, Any] = {"id": cmd_id, "ok": ok, "status": status}
        if reason:
            reply["reason"] = reason
        reply.update(extra or {})
        reply.setdefault("model", model_info(self.host.current()))
        reply["ts"] = now_iso()
        self.host.reply(reply)

    def _current_name(self) -> str:
        try:
            return str(self.host.current().bundle.name)
        except Exception:  # only for a log line
            return "the running model"

    # ---- update and rollback (own thread, under the lock) ----------------------------------
    def update(self, command: Command) -> dict[str, Any]:
        """Fetch, verify, load, self-test and switch; raises EdgeAppError and the old model keeps running."""
        keys = load_trusted_keys(self.cfg.trust.keys)  # read each time: a key added or removed counts at once
        current = self.host.current().bundle
        limits = FetchLimits(
            max_bytes=self.cfg.ota.max_bytes or DEFAULT_SIZE_FACTOR * current.size,
            deadline=time.monotonic() + self.cfg.ota.fetch_timeout,
            allow_http=self.cfg.ota.allow_http,
            ca_file=self.cfg.ota.ca_file,
        )
        staging = Path(tempfile.mkdtemp(prefix=INCOMING_PREFIX, dir=self.root))
        try:
            fetch(command.location, staging / "bundle", self.root, limits)
            bundle, signature = check_staged(staging / "bundle", keys)
            if command.sha256 and bundle.sha256 != command.sha256:
                raise UpdateRefused(f"manifest sha256 is {bundle.sha256}, the command named {command.sha256}")
            if bundle.sha256 == current.sha256:
                return {"status": "unchanged", "path": str(current.path)}
            check_version(signature.version, current.version, command.allow_downgrade)
            final = self.root / f"{INSTALLED_PREFIX}{signature.version}-{bundle.sha256[:12]}"
            self._remove([final])
            (staging / "bundle").rename(final)
        finally:
            self._remove([staging])
        try:
            report = self._switch(final)
        except BaseException:
            if final != self._marker(PREVIOUS_BUNDLE_FILE):
                self._remove([final])
            raise
        return {"status": "switched", **report, "signed_by": signature.key_id}

    def rollback(self) -> dict[str, Any]:
        """Switch back to the bundle kept from the last switch, checking its files and signature again."""
        previous = self._marker(PREVIOUS_BUNDLE_FILE)
        if previous is None or not (previous / MANIFEST).is_file():
            raise UpdateRefused("there is no previous bundle to roll back to (none was kept, or it was removed)")
        keys = load_trusted_keys(self.cfg.trust.keys)
        _, signature = check_staged(previous, keys)
        return {"status": "rolled_back", **self._switch(previous), "signed_by": signature.key_id}

    def _switch(self, path: Path) -> dict[str, Any]:
        classifier = self.host.load(str(path))  # verifies again, per config, before onnxruntime reads the model
        report = self_test(classifier)
        old = self.host.current()
        self.host.swap(classifier)
        self._write_marker(PREVIOUS_BUNDLE_FILE, old.bundle.path)
        self._write_marker(ACTIVE_BUNDLE_FILE, path)
        self._cleanup(keep={Path(path).resolve(), Path(old.bundle.path).resolve()})
        return {"model": model_info(classifier), "previous": model_info(old), "self_test": report, "path": str(path)}

    # ---- state on disk ---------------------------------------------------------------------
    def _marker(self, name: str) -> Path | None:
        marker = self.state / name
        return Path(marker.read_text(encoding="utf-8").strip()) if marker.is_file() else None

    def _write_marker(self, name: str, path: Path) -> None:
        tmp = self.state / f".{name}.tmp"
        tmp.write_text(str(path), encoding="utf-8")
        os.replace(tmp, self.state / name)  # a crash leaves the old marker or the new one, never half

    def _cleanup(self, keep: set[Path]) -> None:
        """Delete bundles this updater installed, except the running and the previous one, and staging leftovers."""
        self._remove(
            p
            for p in self.root.iterdir()
            if p.name.startswith(INCOMING_PREFIX) or (p.name.startswith(INSTALLED_PREFIX) and p.resolve() not in keep)
        )

    @staticmethod
    def _remove(paths) -> None:
        for path in paths:
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.exists():
                shutil.rmtree(path, ignore_errors=True)
                log.info("removed %s", path)


def _peek_id(payload: bytes) -> Any:
    """The command's id for an answer, when the payload is JSON enough to have one."""
    try:
        data = json.loads(payload)
        return data.get("id") if isinstance(data, dict) else None
    except (ValueError, UnicodeDecodeError):
        return None
