"""The bundle format: the one contract between the workstation and the board.

A bundle is a folder holding `model.onnx`, `tokenizer.json`, `manifest.json` and optional
extras (`eval_samples.jsonl`; `detector.npz` with the class statistics of a distance detector,
which the manifest's optional `calibration` object names — see edge_app/calibration.py;
`model.fp16.onnx` in a GPU bundle, named per device in the manifest's `device_models`, since int8
suits a CPU and fp16 a GPU). A joint intent + slot bundle's manifest also has `slot_tags`, the
BIO tag of each column of the model's `slot_logits` output (edge_app/slots/decode.py); a plain
sequence classifier's has none. The manifest lists every other file with its sha256 and
size, so a board can prove it runs exactly what the workstation validated. `export/` writes
bundles with `write_manifest` and the runtime reads them with `Bundle.load`: one definition.

A signed bundle also has `manifest.sig`: a detached Ed25519 signature over the exact bytes of
`manifest.json`, which carries the bundle's `version` (an integer that only grows). Since the
manifest pins every file by sha256, one signature covers the whole bundle. Proving integrity
(sha256) says the files are what the manifest lists; proving origin (the signature, checked
against keys the board trusts) says the manifest came from the workstation. The keys and the
crypto live in `edge_app.signing`; what is signed and where it is stored is defined here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import BundleError
from .session import DEVICES

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_FILE = "model.onnx"
FP16_MODEL_FILE = "model.fp16.onnx"
TOKENIZER_FILE = "tokenizer.json"
EVAL_SAMPLES_FILE = "eval_samples.jsonl"
SIGNATURE_FILE = "manifest.sig"
SIGNATURE_FORMAT = 1
SIGNATURE_ALGORITHM = "ed25519"
# Prepended to the manifest before signing, so a signature made for a bundle means nothing anywhere else.
SIGNED_CONTEXT = b"edge-app bundle manifest v1\n"
REQUIRED_KEYS = ("format_version", "name", "labels", "max_length", "problem_type", "files")
PROBLEM_TYPES = ("single_label_classification", "multi_label_classification")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file in the bundle but the manifest itself, by relative path."""
    entries = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel not in (MANIFEST, SIGNATURE_FILE):
            entries[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return entries


def write_manifest(folder: str | os.PathLike[str], fields: dict[str, Any]) -> Path:
    """Write manifest.json for the files now in `folder`; returns its path.

    Written to a temporary name and renamed so a reader never sees half a manifest.
    """
    folder = Path(folder)
    manifest = {"format_version": FORMAT_VERSION, **fields, "files": file_entries(folder)}
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise ValueError(f"manifest fields missing: {missing}")
    return _replace_file(folder / MANIFEST, _manifest_bytes(manifest))


def _manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _replace_file(path: Path, data: bytes) -> Path:
    """Write to a temporary name and rename, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


class Signer(Protocol):
    """What signs a manifest: `edge_app.signing.SigningKey`."""

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class Verifier(Protocol):
    """What checks a signature: `edge_app.signing.TrustedKeys` (raises BundleError when it does not hold)."""

    def verify(self, kid: str, signature: bytes, data: bytes) -> None: ...


@dataclass(frozen=True)
class SignatureInfo:
    """Who signed a bundle and which version they gave it (verified or merely read: see the caller)."""

    key_id: str
    version: int


def next_version(current: int | None = None) -> int:
    """A version above `current` that also grows with time: the UTC time as YYYYMMDDHHMMSS."""
    stamp = int(time.strftime("%Y%m%d%H%M%S", time.gmtime()))
    return max(stamp, (current or 0) + 1)


def sign_bundle(folder: str | os.PathLike[str], signer: Signer, version: int | None = None) -> Bundle:
    """Give the bundle in `folder` a version, sign its manifest, write manifest.sig; returns the signed bundle.

    The files are verified first: a signature vouches for what the manifest lists, so it must
    not be put on a bundle whose files do not match it.
    """
    bundle = Bundle.load(folder, verify=True)
    if version is None:
        version = next_version(bundle.version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BundleError(f"version must be a positive integer, not {version!r}")
    manifest = {**bundle.manifest, "version": version}
    raw = _manifest_bytes(manifest)
    signature = {
        "format": SIGNATURE_FORMAT,
        "algorithm": SIGNATURE_ALGORITHM,
        "key_id": signer.key_id,
        "signature": base64.b64encode(signer.sign(SIGNED_CONTEXT + raw)).decode("ascii"),
    }
    _replace_file(bundle.path / MANIFEST, raw)
    _replace_file(bundle.path / SIGNATURE_FILE, (json.dumps(signature, indent=2) + "\n").encode("utf-8"))
    return Bundle.load(bundle.path, verify=False)


@dataclass(frozen=True)
class Bundle:
    """A bundle on disk whose manifest was read (and, unless asked not to, verified)."""

    path: Path
    manifest: dict[str, Any]
    sha256: str  # of manifest.json, which pins every other file: the bundle's identity

    @classmethod
    def load(cls, path: str | os.PathLike[str], verify: bool = True) -> Bundle:
        folder = Path(path)
        if not folder.is_dir():
            raise BundleError(
                f"bundle folder {folder} does not exist; build one with `edge-app build-default --out {folder}` "
                "or `edge-app export`"
            )
        manifest_path = folder / MANIFEST
        try:
            raw = manifest_path.read_bytes()
            manifest = json.loads(raw)
        except FileNotFoundError:
            raise BundleError(f"bundle {folder} has no {MANIFEST}; it is not a bundle, re-export it") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(f"{manifest_path} is not valid JSON ({exc}); re-export or re-copy the bundle") from None
        _check_manifest(manifest, manifest_path)
        bundle = cls(folder.resolve(), manifest, hashlib.sha256(raw).hexdigest())
        if verify:
            bundle.verify()
        return bundle

    def verify(self) -> None:
        """Raise BundleError naming the first file that is missing, resized or altered."""
        for rel, entry in self.manifest["files"].items():
            path = self.path / rel
            if not path.is_file():
                raise BundleError(f"bundle {self.path}: file {rel} is missing; re-copy the bundle")
            if path.stat().st_size != entry["size"] or sha256_file(path) != entry["sha256"]:
                raise BundleError(
                    f"bundle {self.path}: file {rel} does not match its sha256 in {MANIFEST} "
                    "(altered or truncated); re-copy the bundle"
                )
        for required in (MODEL_FILE, TOKENIZER_FILE):
            if required not in self.manifest["files"]:
                raise BundleError(f"bundle {self.path}: manifest lists no {required}; re-export the bundle")

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> int | None:
        """The signer's version of this bundle (grows with every signing); None for an unsigned export."""
        return self.manifest.get("version")

    @property
    def size(self) -> int:
        """Bytes of all the files the manifest lists."""
        return sum(entry["size"] for entry in self.manifest["files"].values())

    def read_signature(self) -> tuple[str, bytes] | None:
        """(key id, signature) from manifest.sig as written, unverified; None for an unsigned bundle."""
        path = self.path / SIGNATURE_FILE
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BundleError(f"{path} is not valid JSON; re-sign the bundle with `edge-app sign`") from None
        try:
            if data["format"] != SIGNATURE_FORMAT or data["algorithm"] != SIGNATURE_ALGORITHM:
                raise ValueError(f"format {data['format']!r}, algorithm {data['algorithm']!r}")
            kid, signature = str(data["key_id"]), base64.b64decode(data["signature"], validate=True)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise BundleError(
                f"{path} is not an edge-app {SIGNATURE_ALGORITHM} signature (format {SIGNATURE_FORMAT}) ({exc}); "
                "re-sign the bundle with `edge-app sign`"
            ) from None
        return kid, signature

    def verify_signature(self, keys: Verifier) -> SignatureInfo:
        """Raise BundleError unless manifest.sig is a trusted key's signature of this very manifest.

        The manifest is read again and must be the one this Bundle was loaded from (same sha256),
        so what was verified is what the caller holds.
        """
        raw = (self.path / MANIFEST).read_bytes()
        if hashlib.sha256(raw).hexdigest() != self.sha256:
            raise BundleError(f"bundle {self.path}: {MANIFEST} changed while it was being checked; try again")
        found = self.read_signature()
        if found is None:
            raise BundleError(
                f"bundle {self.path} is not signed (no {SIGNATURE_FILE}) and this board only accepts signed "
                "bundles; sign it on the workstation: `edge-app sign BUNDLE --key KEY`"
            )
        kid, signature = found
        keys.verify(kid, signature, SIGNED_CONTEXT + raw)
        if self.version is None:
            raise BundleError(f"bundle {self.path} is signed but has no version; re-sign it with `edge-app sign`")
        return SignatureInfo(kid, self.version)

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    @property
    def max_length(self) -> int:
        return int(self.manifest["max_length"])

    @property
    def multi_label(self) -> bool:
        return self.manifest["problem_type"] == "multi_label_classification"

    @property
    def slot_tags(self) -> list[str] | None:
        """The token tags of a joint intent + slot model; None for a plain sequence classifier."""
        tags = self.manifest.get("slot_tags")
        return list(tags) if tags is not None else None

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def device_models(self) -> dict[str, Path]:
        """The model file for each device the manifest names (GPU bundles); the others use model.onnx
        (edge_app.session.pick_model chooses)."""
        return {device: self.path / rel for device, rel in self.manifest.get("device_models", {}).items()}

    @property
    def tokenizer_path(self) -> Path:
        return self.path / TOKENIZER_FILE

    def eval_samples(self) -> list[dict[str, Any]]:
        """The bundle's own labelled samples (text, label, expected) for self-tests; [] if none."""
        path = self.path / EVAL_SAMPLES_FILE
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _check_manifest(manifest: Any, where: Path) -> None:
    if not isinstance(manifest, dict):
        raise BundleError(f"{where} is not a JSON object; re-export the bundle")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{where} has format version {version!r}, this edge-app reads version {FORMAT_VERSION}; "
            "re-export the bundle with a matching edge-app"
        )
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise BundleError(f"{where} lacks {', '.join(missing)}; re-export the bundle")
    if manifest["problem_type"] not in PROBLEM_TYPES:
        raise BundleError(f"{where}: unknown problem_type {manifest['problem_type']!r}; re-export the bundle")
    # A hand-edited or half-written manifest must end in this one line, not a traceback later.
    labels, max_length, files = manifest["labels"], manifest["max_length"], manifest["files"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise BundleError(f"{where}: labels must be a non-empty list of strings; re-export the bundle")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise BundleError(f"{where}: max_length must be a positive integer; re-export the bundle")
    if not isinstance(files, dict) or not all(_is_file_entry(e) for e in files.values()):
        raise BundleError(f"{where}: files must map each file to its sha256 and size; re-export the bundle")
    outside = [rel for rel in files if Path(rel).is_absolute() or ".." in Path(rel).parts]
    if outside:
        raise BundleError(f"{where} lists {outside[0]}, outside the bundle folder; re-export the bundle")
    version = manifest.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise BundleError(f"{where}: version must be a positive integer, not {version!r}; re-sign the bundle")
    _check_device_models(manifest.get("device_models", {}), files, where)
    _check_slot_tags(manifest.get("slot_tags"), where)


def _check_slot_tags(tags: Any, where: Path) -> None:
    """Optional `slot_tags` (joint bundles): "O" first, then B-/I- tags of named slots, no repeats."""
    if tags is None:
        return
    bad = (
        not isinstance(tags, list)
        or len(tags) < 2
        or tags[0] != "O"
        or len(set(map(str, tags))) != len(tags)
        or not all(isinstance(t, str) and t[:2] in ("B-", "I-") and len(t) > 2 for t in tags[1:])
    )
    if bad:
        raise BundleError(
            f'{where}: slot_tags must be a list of BIO tags ("O", then "B-slot"/"I-slot"), '
            f"not {tags!r}; re-export the bundle"
        )


def _check_device_models(device_models: Any, files: dict[str, Any], where: Path) -> None:
    """Optional `device_models` {device: file}: known devices, files the manifest pins."""
    if not isinstance(device_models, dict):
        raise BundleError(f"{where}: device_models must map a device to a model file; re-export the bundle")
    for device, rel in device_models.items():
        if device not in DEVICES:
            raise BundleError(f"{where}: device_models names unknown device {device!r} (known: {', '.join(DEVICES)})")
        if not isinstance(rel, str) or rel not in files:
            raise BundleError(f"{where}: device_models[{device!r}] = {rel!r} is not a file of the bundle; re-export it")


def _is_file_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("size"), int)
        and not isinstance(entry.get("size"), bool)
    )
