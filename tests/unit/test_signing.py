"""Signed bundles: keys, signing, verification, and the CLI around them (small fake bundles, real crypto)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_app.bundle import MANIFEST, SIGNATURE_FILE, Bundle, next_version, sign_bundle, write_manifest
from edge_app.config import load_config
from edge_app.errors import BundleError, ConfigError
from edge_app.signing import check_trusted, generate, load_signing_key, load_trusted_keys

EDGE_APP = [sys.executable, "-m", "edge_app.cli"]


def make_bundle(folder: Path, model: bytes = b"not really onnx") -> Path:
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(model)
    (folder / "tokenizer.json").write_text("{}")
    write_manifest(
        folder, {"name": "t", "labels": ["a", "b"], "max_length": 16, "problem_type": "single_label_classification"}
    )
    return folder


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate(tmp_path / "keys")
    return tmp_path / "keys"


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path):
    private, public, kid = generate(tmp_path / "k")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert len(kid) == 16 and load_signing_key(private).key_id == kid
    assert list(load_trusted_keys(public).keys) == [kid]
    with pytest.raises(ConfigError, match="never overwrites"):
        generate(tmp_path / "k")
    assert load_signing_key(private).key_id == kid  # untouched


def test_signed_bundle_verifies_against_its_key_only(tmp_path, keys):
    bundle = sign_bundle(make_bundle(tmp_path / "b"), load_signing_key(keys / "signing.key"), version=7)
    assert bundle.version == 7 and json.loads((bundle.path / MANIFEST).read_text())["version"] == 7
    info = bundle.verify_signature(load_trusted_keys(keys))
    assert (info.key_id, info.version) == (load_signing_key(keys / "signing.key").key_id, 7)
    Bundle.load(bundle.path, verify=True)  # signing kept the files' entries right
    generate(tmp_path / "other")
    with pytest.raises(BundleError, match="not among the trusted keys"):
        bundle.verify_signature(load_trusted_keys(tmp_path / "other"))


def test_a_folder_of_keys_trusts_each_of_them(tmp_path, keys):
    """Key rotation: old and new key side by side in the board's folder."""
    generate(tmp_path / "new")
    rotation = tmp_path / "trusted"
    rotation.mkdir()
    (rotation / "old.pub").write_bytes((keys / "signing.pub").read_bytes())
    (rotation / "new.pub").write_bytes((tmp_path / "new/signing.pub").read_bytes())
    (rotation / "README").write_text("not a key, ignored")
    trusted = load_trusted_keys(rotation)
    for folder, key in (("a", keys), ("b", tmp_path / "new")):
        signed = sign_bundle(make_bundle(tmp_path / folder), load_signing_key(key / "signing.key"))
        signed.verify_signature(trusted)


def test_unsigned_bundle_is_refused(tmp_path, keys):
    bundle = Bundle.load(make_bundle(tmp_path / "b"))
    with pytest.raises(BundleError, match="not signed"):
        bundle.verify_signature(load_trusted_keys(keys))


def test_manifest_changed_after_signing_is_refused(tmp_path, keys):
    folder = sign_bundle(make_bundle(tmp_path / "b"), load_signing_key(keys / "signing.key")).path
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["version"] += 1000  # the attacker's favourite: make an old bundle look new
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    with pytest.raises(BundleError, match="does not match the manifest"):
        Bundle.load(folder).verify_signature(load_trusted_keys(keys))


def test_model_changed_after_signing_is_refused(tmp_path, keys):
    folder = sign_bundle(make_bundle(tmp_path / "b"), load_signing_key(keys / "signing.key")).path
    (folder / "model.onnx").write_bytes(b"not really onnx, swapped")
    with pytest.raises(BundleError, match="model.onnx"):
        Bundle.load(folder, verify=True)


def test_signature_of_another_bundle_is_refused(tmp_path, keys):
    key = load_signing_key(keys / "signing.key")
    a = sign_bundle(make_bundle(tmp_path / "a"), key)
    b = sign_bundle(make_bundle(tmp_path / "b", model=b"another model"), key)
    (b.path / SIGNATURE_FILE).write_bytes((a.path / SIGNATURE_FILE).read_bytes())
    with pytest.raises(BundleError, match="does not match"):
        Bundle.load(b.path).verify_signature(load_trusted_keys(keys))


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "{}",
        '{"format": 1, "algorithm": "rsa", "key_id": "x", "signature": ""}',
        '{"format": 1, "algorithm": "ed25519", "key_id": "x", "signature": "%%%"}',
    ],
)
def test_garbled_signature_file_is_refused_with_a_message(tmp_path, keys, content):
    folder = sign_bundle(make_bundle(tmp_path / "b"), load_signing_key(keys / "signing.key")).path
    (folder / SIGNATURE_FILE).write_text(content)
    with pytest.raises(BundleError, match="re-sign"):
        Bundle.load(folder).verify_signature(load_trusted_keys(keys))


def test_versions_only_grow(tmp_path, keys):
    key = load_signing_key(keys / "signing.key")
    first = sign_bundle(make_bundle(tmp_path / "b"), key, version=next_version() + 10)
    again = sign_bundle(first.path, key)  # re-signing: the version moves on even within the same second
    assert again.version == first.version + 1
    assert next_version(5) >= 20260101000000
    with pytest.raises(BundleError, match="positive integer"):
        sign_bundle(first.path, key, version=0)


def test_signing_refuses_a_bundle_whose_files_no_longer_match(tmp_path, keys):
    folder = make_bundle(tmp_path / "b")
    (folder / "model.onnx").write_bytes(b"changed after export")
    with pytest.raises(BundleError, match="model.onnx"):
        sign_bundle(folder, load_signing_key(keys / "signing.key"))
    assert not (folder / SIGNATURE_FILE).exists()


def test_openssh_ed25519_keys_work_too(tmp_path):
    private = Ed25519PrivateKey.generate()
    (tmp_path / "id_ed25519").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
    )
    (tmp_path / "id_ed25519.pub").write_bytes(
        private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        + b" me@workstation\n"
    )
    signed = sign_bundle(make_bundle(tmp_path / "b"), load_signing_key(tmp_path / "id_ed25519"))
    signed.verify_signature(load_trusted_keys(tmp_path / "id_ed25519.pub"))


def test_wrong_key_files_name_the_file(tmp_path):
    (tmp_path / "junk.pub").write_text("hello")
    with pytest.raises(ConfigError, match="junk.pub"):
        load_trusted_keys(tmp_path / "junk.pub")
    with pytest.raises(ConfigError, match="keygen"):
        load_trusted_keys(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no \\*.pub files"):
        load_trusted_keys(tmp_path / "empty")
    with pytest.raises(ConfigError, match="signing key"):
        load_signing_key(tmp_path / "nope.key")


def test_check_trusted_follows_the_config(tmp_path, keys):
    folder = make_bundle(tmp_path / "b")
    assert check_trusted(load_config(environ={}), folder) is None  # no trust.keys: nothing to check
    cfg = load_config(environ={"EDGE_APP_TRUST_KEYS": str(keys)})
    with pytest.raises(BundleError, match="not signed"):
        check_trusted(cfg, folder)
    sign_bundle(folder, load_signing_key(keys / "signing.key"))
    assert check_trusted(cfg, folder).key_id == load_signing_key(keys / "signing.key").key_id


def test_ota_without_trusted_keys_is_a_config_error_that_says_how_to_make_one():
    with pytest.raises(ConfigError, match="edge-app keygen --out keys"):
        load_config(environ={"EDGE_APP_OTA_ENABLED": "true"})
    load_config(environ={"EDGE_APP_OTA_ENABLED": "true", "EDGE_APP_TRUST_KEYS": "/etc/edge-app/trusted-keys"})


def run(*args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([*EDGE_APP, *map(str, args)], capture_output=True, text=True, timeout=60, env=env)


def test_cli_keygen_sign_verify(tmp_path):
    folder = make_bundle(tmp_path / "b")
    made = run("keygen", "--out", tmp_path / "keys")
    assert made.returncode == 0 and "signing.key" in made.stdout, made.stderr
    assert run("keygen", "--out", tmp_path / "keys").returncode != 0

    unsigned = run("verify", folder)
    assert unsigned.returncode == 0 and "signature: none" in unsigned.stdout
    refused = run("verify", folder, "--trusted-keys", tmp_path / "keys")
    assert refused.returncode == 3 and "not signed" in refused.stderr and "ok:" not in refused.stdout

    signed = run("sign", folder, "--key", tmp_path / "keys/signing.key", "--version", "42")
    assert signed.returncode == 0 and "version 42" in signed.stdout, signed.stderr
    checked = run("verify", folder, "--trusted-keys", tmp_path / "keys/signing.pub")
    kid = load_signing_key(tmp_path / "keys/signing.key").key_id
    assert (
        checked.returncode == 0 and f"signature: valid, key {kid}" in checked.stdout and "version 42" in checked.stdout
    )
    unchecked = run("verify", folder)
    assert f"by key {kid}, version 42; not checked" in unchecked.stdout

    (folder / "model.onnx").write_bytes(b"swapped")
    tampered = run("verify", folder, "--trusted-keys", tmp_path / "keys")
    assert tampered.returncode == 3 and "model.onnx" in tampered.stderr


def test_export_with_a_missing_sign_key_fails_before_exporting(tmp_path):
    done = run(
        "export",
        "--model",
        tmp_path / "no-checkpoint",
        "--out",
        tmp_path / "out",
        "--sign-key",
        tmp_path / "missing.key",
    )
    assert done.returncode == 2 and "cannot read the signing key" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()
