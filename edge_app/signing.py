"""Ed25519 keys for signed bundles: making them, reading them, and the one verify call.

The workstation holds a private key and signs bundles with it (`edge-app keygen`, `edge-app
sign`); a board holds only public keys (`trust.keys`, a file or a folder of `*.pub` files)
and accepts a bundle only when one of them verifies its signature. The crypto is the
`cryptography` package's; nothing here does more than load, call and name things. What is
signed, and where the signature lives in a bundle, is the bundle format's business
(`edge_app.bundle`); `check_trusted` joins the two for the service.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .bundle import Bundle, SignatureInfo
from .errors import BundleError, ConfigError

PRIVATE_KEY_FILE = "signing.key"
PUBLIC_KEY_FILE = "signing.pub"
PUBLIC_KEY_SUFFIX = ".pub"
KEYGEN_HINT = (
    "make a key pair on the workstation with `edge-app keygen --out keys`, sign bundles with "
    "`edge-app sign BUNDLE --key keys/signing.key`, install keys/signing.pub on the board "
    "(`sudo deploy/install.sh --trusted-key keys/signing.pub`) and set trust.keys to it"
)


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a key: the first 16 hex digits of the sha256 of its 32 raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    """A private key read from a file, ready to sign."""

    private_key: Ed25519PrivateKey
    path: Path

    @property
    def key_id(self) -> str:
        return key_id(self.private_key.public_key())

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


@dataclass
class TrustedKeys:
    """The public keys a board accepts, by key id; `source` names where they came from, for messages."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    source: str = ""

    def verify(self, kid: str, signature: bytes, data: bytes) -> None:
        """Raise BundleError unless the key `kid` is trusted here and `signature` is its signature of `data`."""
        public_key = self.keys.get(kid)
        if public_key is None:
            raise BundleError(
                f"signed by key {kid}, which is not among the trusted keys in {self.source} "
                f"(trusted: {', '.join(sorted(self.keys)) or 'none'}); sign it with a trusted key or install its "
                "public key on the board"
            )
        try:
            public_key.verify(signature, data)
        except InvalidSignature:
            raise BundleError(
                f"the signature by key {kid} does not match the manifest: the manifest was changed after "
                "signing, or the signature was forged; re-sign the bundle on the workstation"
            ) from None


def generate(out: str | os.PathLike[str]) -> tuple[Path, Path, str]:
    """Write a new key pair into the folder `out` (private key mode 0600); never overwrites a key."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise ConfigError(f"{path} already exists; keygen never overwrites a key: pick another --out folder")
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Created with mode 0600 in one step: the private key is never readable by others, not even briefly.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path, key_id(private_key.public_key())


def load_signing_key(path: str | os.PathLike[str]) -> SigningKey:
    """Read an Ed25519 private key (PEM PKCS8 as keygen writes it, or an OpenSSH ed25519 key)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the signing key {path} ({exc.strerror}); {KEYGEN_HINT}") from None
    try:
        if data.startswith(b"-----BEGIN OPENSSH PRIVATE KEY"):
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"{path} is not an unencrypted Ed25519 private key ({exc}); make one with `edge-app keygen --out DIR`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 key; make one with `edge-app keygen`")
    return SigningKey(key, path)


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Read an Ed25519 public key: PEM as keygen writes it, or one `ssh-ed25519 ...` line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the public key {path} ({exc.strerror}); check trust.keys") from None
    try:
        if data.lstrip().startswith(b"ssh-ed25519"):
            key = serialization.load_ssh_public_key(data.strip())
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"{path} is not an Ed25519 public key ({exc}); copy signing.pub from `edge-app keygen`"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 public key; use `edge-app keygen`")
    return key


def load_trusted_keys(path: str | os.PathLike[str]) -> TrustedKeys:
    """The keys in `path`: one public key file, or every `*.pub` file in a folder (several during a rotation)."""
    where = Path(path)
    if where.is_dir():
        files = sorted(p for p in where.iterdir() if p.suffix == PUBLIC_KEY_SUFFIX and p.is_file())
    elif where.is_file():
        files = [where]
    else:
        raise ConfigError(f"trusted keys {where} do not exist; {KEYGEN_HINT}")
    if not files:
        raise ConfigError(f"no *{PUBLIC_KEY_SUFFIX} files in {where}; {KEYGEN_HINT}")
    trusted = TrustedKeys(source=str(where))
    for file in files:
        public_key = load_public_key(file)
        trusted.keys[key_id(public_key)] = public_key
    return trusted


def check_trusted(cfg, folder: str | os.PathLike[str]) -> SignatureInfo | None:
    """With `trust.keys` set, raise BundleError unless the bundle in `folder` is intact and signed by a trusted key.

    Called before a bundle is served (start, reload, over-the-air update), ahead of onnxruntime
    ever parsing its model. Every file is hashed here whatever `verify_bundle` says: --no-verify
    may skip a slow check, never the trust check. Returns None when trust.keys is unset.
    """
    if not cfg.trust.keys:
        return None
    keys = load_trusted_keys(cfg.trust.keys)
    return Bundle.load(folder, verify=True).verify_signature(keys)
