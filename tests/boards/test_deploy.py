"""deploy/: install.sh, the systemd unit, push.sh, the mosquitto config, the Docker files.

The scripts run for real, under a temporary --root; external tools (systemd-analyze,
mosquitto, openssl, shellcheck) are used when installed, and a test that needs a missing
one skips and says which. Needs only pytest and the standard library. The PyPI check of
arm64 wheels downloads ~20 MB and runs only with EDGE_APP_TEST_PYPI=1.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTALL = DEPLOY / "install.sh"
PUSH = DEPLOY / "push.sh"
UNIT = DEPLOY / "edge-app.service"
MOSQUITTO_CONF = DEPLOY / "mosquitto" / "mosquitto.conf"
ACL = DEPLOY / "mosquitto" / "edge-app.acl"
MAKE_CERTS = DEPLOY / "mosquitto" / "make-certs.sh"
SCRIPTS = sorted(DEPLOY.rglob("*.sh"))

EXPECTED_CONFIG = {
    "bundle": "/var/lib/edge-app/bundles/current",
    "device": "auto",
    "threads": 0,
    "device_id": "",
    "state_dir": "/var/lib/edge-app/state",
    "log_level": "info",
    "mqtt": {
        "broker": "mqtt://localhost:1883",
        "username": "",
        "password_file": "",
        "prefix": "",
        "inputs": [],
        "qos": 1,
        "ca_file": "",
        "ha_discovery": False,
        "shared_group": "",
        "metrics_interval": 30,
    },
    "batching": {"max_batch": 32, "max_wait_ms": 0},
    "outbox": {"max_messages": 100000},
    "ota": {"enabled": False},
    "trust": {"keys": ""},
}


def sh(*args: object, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 60):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, input=input, timeout=timeout)


def install(root: Path, *extra: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = sh("bash", INSTALL, "--root", root, "--no-systemctl", "--no-pip", *extra)
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, mode, mtime and content (or link target)."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            data: object = os.readlink(path)
        elif path.is_file():
            data = path.read_bytes()
        else:
            data = None
        out[str(path.relative_to(root))] = (st.st_mode, st.st_mtime_ns, data)
    return out


# ------------------------------------------------------------------------------ install.sh


def test_install_writes_config_unit_and_dirs(tmp_path):
    result = install(tmp_path)
    config = tmp_path / "etc/edge-app/config.toml"
    assert tomllib.loads(config.read_text()) == EXPECTED_CONFIG
    assert config.read_text().startswith("# edge-app configuration. Every key can also be set")
    assert (tmp_path / "etc/systemd/system/edge-app.service").read_bytes() == UNIT.read_bytes()
    assert (tmp_path / "var/lib/edge-app/state").is_dir()
    assert (tmp_path / "var/lib/edge-app/bundles").is_dir()
    assert not (tmp_path / "var/lib/edge-app/bundles/current").exists()
    assert not (tmp_path / "opt/edge-app").exists()  # --no-pip
    assert oct(config.stat().st_mode & 0o777) == "0o640"  # it may hold the MQTT password
    out = result.stdout
    assert "push.sh" in out  # the hint for the missing bundle
    assert "(--no-systemctl) useradd --system" in out
    assert "(--no-systemctl) systemctl enable edge-app" in out
    assert "Jetson" not in out


def test_installed_config_is_accepted_by_the_runtime(tmp_path):
    config_mod = pytest.importorskip("edge_app.config", reason="edge_app.config not importable")
    install(tmp_path)
    cfg = config_mod.load_config(tmp_path / "etc/edge-app/config.toml", environ={})
    assert cfg.bundle == "/var/lib/edge-app/bundles/current"
    assert cfg.state_dir == "/var/lib/edge-app/state"
    assert cfg.mqtt.qos == 1 and cfg.ota.enabled is False


def test_install_twice_changes_nothing(tmp_path):
    install(tmp_path)
    before = snapshot(tmp_path)
    time.sleep(0.01)  # a rewrite would show in the mtimes
    second = install(tmp_path)
    assert snapshot(tmp_path) == before
    items = [line.split()[0] for line in second.stdout.splitlines() if line.startswith("  ") and line.split()]
    assert "unchanged" in items
    assert not {"created", "updated", "installed"} & set(items), second.stdout
    assert "unchanged  " + str(tmp_path / "etc/edge-app/config.toml") in second.stdout
    assert "unchanged  " + str(tmp_path / "etc/systemd/system/edge-app.service") in second.stdout
    assert "daemon-reload" not in second.stdout  # the unit did not change


def test_user_config_survives_and_unit_is_restored(tmp_path):
    install(tmp_path)
    config = tmp_path / "etc/edge-app/config.toml"
    edited = config.read_text().replace("mqtt://localhost:1883", "mqtts://broker.lan:8883")
    config.write_text(edited)
    unit = tmp_path / "etc/systemd/system/edge-app.service"
    unit.write_text(unit.read_text().replace("MemoryMax=768M", "MemoryMax=1G"))

    result = install(tmp_path)
    assert config.read_text() == edited
    assert unit.read_bytes() == UNIT.read_bytes()
    assert "updated    " + str(unit) in result.stdout
    assert "daemon-reload" in result.stdout


def test_uninstall_keeps_state_unless_purge(tmp_path):
    install(tmp_path)
    (tmp_path / "opt/edge-app/venv/bin").mkdir(parents=True)  # what pip would have made
    bundles = tmp_path / "var/lib/edge-app/bundles"
    (bundles / "abc-1").mkdir()
    (bundles / "current").symlink_to("abc-1")

    result = sh("bash", INSTALL, "--root", tmp_path, "--no-systemctl", "--uninstall")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "etc/systemd/system/edge-app.service").exists()
    assert not (tmp_path / "opt/edge-app").exists()
    assert not (tmp_path / "etc/edge-app").exists()
    assert (bundles / "current").resolve() == (bundles / "abc-1").resolve()
    assert (tmp_path / "var/lib/edge-app/state").is_dir()
    assert "--purge" in result.stdout

    result = sh("bash", INSTALL, "--root", tmp_path, "--no-systemctl", "--uninstall", "--purge")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "var/lib/edge-app").exists()
    assert "userdel edge-app" in result.stdout


@pytest.mark.parametrize(
    "marker, content, expect",
    [
        ("etc/nv_tegra_release", "# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic\n", "L4T 36.4"),
        ("proc/device-tree/model", "NVIDIA Jetson Orin Nano Developer Kit\0", "Jetson detected"),
    ],
)
def test_jetson_hint(tmp_path, marker, content, expect):
    (tmp_path / marker).parent.mkdir(parents=True)
    (tmp_path / marker).write_text(content)
    out = install(tmp_path).stdout
    assert "Jetson detected" in out and expect in out
    assert "pip uninstall -y onnxruntime" in out
    assert "pip install onnxruntime-gpu" in out
    assert 'device = "cuda"' in out and '"tensorrt"' in out
    assert "usermod -aG video edge-app" in out


def make_key(folder: Path) -> Path:
    signing = pytest.importorskip("edge_app.signing", reason="edge_app.signing not importable")
    return signing.generate(folder)[1]


def test_install_trusted_key_sets_trust_keys(tmp_path):
    config_mod = pytest.importorskip("edge_app.config", reason="edge_app.config not importable")
    public = make_key(tmp_path / "keys")
    result = install(tmp_path / "root", "--trusted-key", public)
    keys_dir = tmp_path / "root/etc/edge-app/trusted-keys"
    (installed,) = keys_dir.iterdir()
    assert installed.read_bytes() == public.read_bytes() and oct(installed.stat().st_mode & 0o777) == "0o644"
    config = tmp_path / "root/etc/edge-app/config.toml"
    assert tomllib.loads(config.read_text())["trust"] == {"keys": "/etc/edge-app/trusted-keys"}
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    assert "updated" in result.stdout

    before = snapshot(tmp_path / "root")
    time.sleep(0.01)
    again = install(tmp_path / "root", "--trusted-key", public)  # idempotent
    assert snapshot(tmp_path / "root") == before, again.stdout

    second = make_key(tmp_path / "rotation")  # rotation: a second key beside the first
    install(tmp_path / "root", "--trusted-key", second)
    assert len(list(keys_dir.iterdir())) == 2
    signing = pytest.importorskip("edge_app.signing")
    assert len(signing.load_trusted_keys(keys_dir).keys) == 2
    cfg = config_mod.load_config(config, environ={})
    assert cfg.trust.keys == "/etc/edge-app/trusted-keys"


@pytest.mark.parametrize("existing", ["", "\n[trust]\n", '\n[trust]\nkeys = "/my/keys"\n'])
def test_install_trusted_key_into_an_existing_config(tmp_path, existing):
    public = make_key(tmp_path / "keys")
    install(tmp_path)
    config = tmp_path / "etc/edge-app/config.toml"
    text = config.read_text().split("\n[trust]", 1)[0] + existing  # a config from before [trust], or the user's
    config.write_text(text)
    config.chmod(0o644)
    result = install(tmp_path, "--trusted-key", public)
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    keys = tomllib.loads(config.read_text())["trust"]["keys"]
    if "/my/keys" in existing:
        assert keys == "/my/keys" and "kept" in result.stdout  # the operator's own value wins
    else:
        assert keys == "/etc/edge-app/trusted-keys"
    assert config.read_text().startswith(text.rstrip("\n"))  # nothing else changed


def test_install_refuses_a_private_key(tmp_path):
    make_key(tmp_path / "keys")
    result = install(tmp_path / "root", "--trusted-key", tmp_path / "keys/signing.key", ok=False)
    assert result.returncode != 0 and "private key" in result.stderr
    assert not (tmp_path / "root/etc").exists()  # checked before anything was written


def test_install_rejects_bad_usage(tmp_path):
    assert sh("bash", INSTALL, "--help").returncode == 0
    assert sh("bash", INSTALL, "--root", tmp_path, "--no-pip").returncode != 0  # --root needs --no-systemctl
    assert install(tmp_path, "--bogus", ok=False).returncode != 0
    assert install(tmp_path, "--purge", ok=False).returncode != 0  # only with --uninstall
    assert not (tmp_path / "etc").exists()


# ------------------------------------------------------------------------------ the unit


def test_unit_settings():
    unit = configparser.ConfigParser(strict=True, interpolation=None)
    unit.optionxform = str  # keys are case-sensitive
    unit.read_string(UNIT.read_text())
    svc = unit["Service"]
    assert svc["Type"] == "simple"
    assert svc["User"] == "edge-app"
    assert svc["ExecStart"] == "/opt/edge-app/venv/bin/edge-app serve --config /etc/edge-app/config.toml"
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"
    expected = {
        "Restart": "on-failure",
        "RestartSec": "5",
        "TimeoutStopSec": "60",
        "KillSignal": "SIGTERM",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/edge-app",
        "StateDirectory": "edge-app",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectControlGroups": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "MemoryMax": "768M",
        "StandardOutput": "journal",
        "StandardError": "journal",
        "Environment": "PYTHONUNBUFFERED=1",
    }
    assert {k: svc.get(k) for k in expected} == expected
    assert unit["Unit"]["After"] == "network-online.target mosquitto.service"
    assert unit["Unit"]["Wants"] == "network-online.target"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_unit_passes_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    # verify insists that ExecStart exists; the venv is not installed here, so point the
    # copy at a binary that does and keep everything else.
    text = UNIT.read_text()
    assert "ExecStart=/opt/edge-app/venv/bin/edge-app " in text
    copy = tmp_path / "edge-app.service"
    copy.write_text(text.replace("ExecStart=/opt/edge-app/venv/bin/edge-app ", f"ExecStart={shutil.which('true')} "))
    result = sh("systemd-analyze", "verify", copy)
    assert result.returncode == 0, result.stderr
    assert "edge-app.service" not in result.stderr, result.stderr


# ------------------------------------------------------------------------------ mosquitto


def conf_values(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            values.setdefault(key, []).append(value.strip())
    return values


def test_mosquitto_conf_settings():
    conf = conf_values(MOSQUITTO_CONF.read_text())
    assert conf["max_queued_messages"] == ["0"]
    assert 0 < int(conf["max_queued_bytes"][0]) <= 256 * 1024 * 1024
    assert conf["persistence"] == ["true"]
    assert conf["allow_anonymous"] == ["false"]
    assert conf["autosave_interval"] == ["60"]
    assert conf["persistent_client_expiration"] == ["7d"]
    assert conf["listener"] == ["8883", "1883 127.0.0.1"]
    assert conf["password_file"] == ["/etc/mosquitto/passwd"]
    assert conf["acl_file"] == ["/etc/mosquitto/edge-app.acl"]
    for key in ("cafile", "certfile", "keyfile"):
        assert conf[key][0].startswith("/etc/mosquitto/certs/")
    # Debian's main mosquitto.conf sets it; a second one stops mosquitto (tested below).
    assert "persistence_location" not in conf
    assert "2,448" in MOSQUITTO_CONF.read_text()  # the reason stays next to the setting


def test_acl_grants_devices_only_their_topics():
    acl = [line.split() for line in ACL.read_text().splitlines() if line.strip() and not line.startswith("#")]
    patterns = {(a[1], a[2]) for a in acl if a[0] == "pattern"}
    assert patterns == {
        ("read", "edge-app/%u/classify"),
        ("read", "edge-app/%u/cmd/#"),
        ("write", "edge-app/%u/result"),
        ("write", "edge-app/%u/error"),
        ("write", "edge-app/%u/status"),
        ("write", "edge-app/%u/metrics"),
        ("write", "edge-app/%u/cmd/result"),
        ("write", "edge-app/%u/reply/#"),
        ("readwrite", "edge-app/%u/instances/#"),
        ("write", "homeassistant/+/edge_app_%u/#"),
    }
    assert ["user", "admin"] in acl and ["topic", "readwrite", "edge-app/#"] in acl


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def me() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def wait_port(port: int, proc: subprocess.Popen, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mosquitto exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"mosquitto did not listen on {port}")


def test_make_certs_keeps_the_ca(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    first = sh("bash", MAKE_CERTS, "--out", tmp_path, "localhost", "127.0.0.1")
    assert first.returncode == 0, first.stderr
    ca = (tmp_path / "ca.crt").read_bytes()
    second = sh("bash", MAKE_CERTS, "--out", tmp_path, "board.local")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "ca.crt").read_bytes() == ca
    assert "keeping the CA" in second.stdout
    assert oct((tmp_path / "server.key").stat().st_mode & 0o777) == "0o640"
    assert oct((tmp_path / "ca.key").stat().st_mode & 0o777) == "0o600"
    text = sh("openssl", "x509", "-in", tmp_path / "server.crt", "-noout", "-text").stdout
    assert "DNS:board.local" in text and "CA:FALSE" in text


def test_mosquitto_runs_with_the_config(tmp_path):
    """The real broker with our conf.d file under the compose main conf, TLS included.

    Checks: it starts; anonymous clients are refused; TLS works with make-certs.sh's CA;
    a device cannot publish to its cmd/ topics or read another device's; and a
    persistent QoS 1 client that was offline gets all 1,500 messages (default: 1,000).
    """
    tools = ["mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd", "openssl"]
    missing = [t for t in tools if not shutil.which(t) and not Path("/usr/sbin", t).exists()]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt-get install mosquitto mosquitto-clients openssl)")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    tls_port, plain_port = free_ports(2)
    certs, data, confd = tmp_path / "certs", tmp_path / "data", tmp_path / "conf.d"
    for d in (data, confd):
        d.mkdir()
    made = sh("bash", MAKE_CERTS, "--out", certs, "localhost", "127.0.0.1")
    assert made.returncode == 0, made.stderr
    passwd = tmp_path / "passwd"
    passwd.touch(mode=0o600)
    for user, password in [("admin", "pa"), ("dev1", "p1")]:
        assert sh("mosquitto_passwd", "-b", passwd, user, password).returncode == 0
    shutil.copy(ACL, tmp_path / "edge-app.acl")

    # Our file, with the board's ports and paths swapped for the test's.
    text = MOSQUITTO_CONF.read_text()
    text = text.replace("listener 8883\n", f"listener {tls_port} 127.0.0.1\n")
    text = text.replace("listener 1883 127.0.0.1\n", f"listener {plain_port} 127.0.0.1\n")
    text = text.replace("/etc/mosquitto/certs/", f"{certs}/")
    text = text.replace("/etc/mosquitto/passwd", str(passwd))
    text = text.replace("/etc/mosquitto/edge-app.acl", str(tmp_path / "edge-app.acl"))
    (confd / "edge-app.conf").write_text(text)
    # The compose main conf (the same role as Debian's /etc/mosquitto/mosquitto.conf).
    main = (DEPLOY / "docker" / "mosquitto.conf").read_text()
    main = main.replace("/mosquitto/data/", f"{data}/").replace("/mosquitto/config/conf.d", str(confd))
    main += f"\nuser {me()}\n"  # as root, do not drop to the mosquitto user
    (tmp_path / "mosquitto.conf").write_text(main)

    proc = subprocess.Popen(
        [mosquitto, "-c", str(tmp_path / "mosquitto.conf")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_port(plain_port, proc)
        wait_port(tls_port, proc)
        plain = ["-h", "127.0.0.1", "-p", str(plain_port), "-q", "1"]
        admin = [*plain, "-u", "admin", "-P", "pa"]
        dev1 = [*plain, "-u", "dev1", "-P", "p1"]

        anon = sh("mosquitto_pub", *plain, "-t", "edge-app/dev1/result", "-m", "x", timeout=10)
        assert anon.returncode != 0 and "not authori" in anon.stderr.lower()

        tls = ["-h", "localhost", "-p", str(tls_port), "--cafile", certs / "ca.crt", "-q", "1"]
        tls += ["-u", "admin", "-P", "pa"]
        assert sh("mosquitto_pub", *tls, "-t", "edge-app/dev1/classify", "-m", "over tls", timeout=10).returncode == 0

        # A persistent admin session, then offline while the device publishes.
        watch = [*admin, "-c", "-i", "test-watch", "-t", "edge-app/#"]
        assert sh("mosquitto_sub", *watch, "-E", timeout=10).returncode == 0
        assert sh("mosquitto_pub", *dev1, "-t", "edge-app/dev1/cmd/model", "-m", "DENIED", timeout=10).returncode == 0
        assert sh("mosquitto_pub", *dev1, "-t", "edge-app/dev2/result", "-m", "DENIED", timeout=10).returncode == 0
        lines = "".join(f"{i}\n" for i in range(1500))
        sent = sh("mosquitto_pub", *dev1, "-t", "edge-app/dev1/result", "-l", input=lines, timeout=30)
        assert sent.returncode == 0, sent.stderr
        got = sh("mosquitto_sub", *watch, "-v", "-C", "1500", "-W", "10", timeout=30)
        assert got.returncode == 0, got.stderr
        assert got.stdout.splitlines() == [f"edge-app/dev1/result {i}" for i in range(1500)]

        # mosquitto accepts the subscription to another device's topic but delivers nothing on it.
        session = [*dev1, "-c", "-i", "test-dev1", "-t", "edge-app/dev2/classify", "-t", "edge-app/dev1/cmd/model"]
        assert sh("mosquitto_sub", *session, "-E", timeout=10).returncode == 0
        assert sh("mosquitto_pub", *admin, "-t", "edge-app/dev2/classify", "-m", "OTHER", timeout=10).returncode == 0
        assert sh("mosquitto_pub", *admin, "-t", "edge-app/dev1/cmd/model", "-m", "MODEL", timeout=10).returncode == 0
        got = sh("mosquitto_sub", *session, "-v", "-C", "1", "-W", "10", timeout=30)
        assert got.stdout == "edge-app/dev1/cmd/model MODEL\n", got.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------------ push.sh


def make_bundle(folder: Path, name: str = "test") -> Path:
    """A small bundle whose manifest the package itself writes."""
    bundle = pytest.importorskip("edge_app.bundle", reason="edge_app.bundle not importable")
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"not really onnx")
    (folder / "tokenizer.json").write_text("{}")
    fields = {"name": name, "labels": ["a", "b"], "max_length": 16, "problem_type": "single_label_classification"}
    bundle.write_manifest(folder, fields)
    return folder


def test_push_dry_run_prints_the_steps(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text('{"name": "fake"}\n')
    sha = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    result = sh("bash", PUSH, "pi@board", bundle, "--dry-run", "--ssh-opts", "-o Port=2222")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(rf"/var/lib/edge-app/bundles/{sha[:12]}-\d{{8}}T\d{{6}}Z", out)
    assert "+ ssh -o Port=2222 pi@board" in out
    assert "scp -r" in out or "rsync -a" in out
    assert '"$edge_app" verify "$final"' in out and "/opt/edge-app/venv/bin/edge-app" in out
    assert 'ln -sfn "$(basename "$final")" "$bundles/.current.tmp"' in out
    assert 'mv -T "$bundles/.current.tmp" "$bundles/current"' in out
    assert "systemctl reload edge-app" in out
    assert not (tmp_path / ".edge-app-push").exists()

    no_manifest = tmp_path / "empty"
    no_manifest.mkdir()
    assert sh("bash", PUSH, "pi@board", no_manifest, "--dry-run").returncode != 0


SSH_SHIM = """#!/bin/sh
# test transport: run "the board's" command locally, in $FAKE_REMOTE_HOME
while [ $# -gt 0 ]; do
    case "$1" in -i|-o|-p|-F|-l|-J) shift 2 ;; -*) shift ;; *) break ;; esac
done
shift  # user@host
cd "$FAKE_REMOTE_HOME" && exec sh -c "$*"
"""
COPY_SHIM = """#!/bin/sh
# test transport for scp -r SRC HOST:DEST and rsync -a SRC/ HOST:DEST/: a local copy
src=; last=
for arg; do src=$last; last=$arg; done
dest="$FAKE_REMOTE_HOME/${last#*:}"
mkdir -p "$dest" && cp -R "${src%/}/." "$dest/"
"""
EDGE_APP_SHIM = """#!/bin/sh
# the real edge-app CLI of this checkout (verify on "the board", sign on "the workstation")
exec "{python}" -m edge_app.cli "$@"
"""


def push_env(tmp_path: Path) -> dict[str, str]:
    """ssh/scp/rsync shims that make "the board" a few local folders; the real edge-app CLI on both ends."""
    bin_dir, home = tmp_path / "bin", tmp_path / "home"
    for d in (bin_dir, home):
        d.mkdir()
    for name, text in [
        ("ssh", SSH_SHIM),
        ("scp", COPY_SHIM),
        ("rsync", COPY_SHIM),
        ("edge-app", EDGE_APP_SHIM.replace("{python}", sys.executable)),
    ]:
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_REMOTE_HOME": str(home),
        "PUSH_REMOTE_BUNDLES": str(tmp_path / "board-bundles"),
        "PUSH_REMOTE_EDGE_APP": str(bin_dir / "edge-app"),
        "PUSH_EDGE_APP": str(bin_dir / "edge-app"),
        "PUSH_REMOTE_TRUSTED_KEYS": str(tmp_path / "board-keys"),  # absent: the board trusts no keys
        "PUSH_SERVICE_USER": me(),
        "PYTHONPATH": str(REPO),
    }


def test_push_switches_current_and_refuses_a_broken_bundle(tmp_path):
    env = push_env(tmp_path)
    home, bundles = tmp_path / "home", tmp_path / "board-bundles"

    good = make_bundle(tmp_path / "good")
    result = sh("bash", PUSH, "me@board", good, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    sha = hashlib.sha256((good / "manifest.json").read_bytes()).hexdigest()
    target = os.readlink(bundles / "current")
    assert target.startswith(sha[:12] + "-") and "/" not in target  # relative, inside bundles/
    assert (bundles / "current" / "model.onnx").read_bytes() == b"not really onnx"
    assert sorted(p.name for p in bundles.iterdir()) == sorted(["current", target])
    assert not any(home.rglob("*"))  # the staging copy is gone

    bad = make_bundle(tmp_path / "bad", name="bad")
    (bad / "model.onnx").write_bytes(b"tampered after the manifest was written")
    result = sh("bash", PUSH, "me@board", bad, env=env)
    assert result.returncode != 0
    assert "verify failed" in result.stderr
    assert os.readlink(bundles / "current") == target  # untouched
    assert sorted(p.name for p in bundles.iterdir()) == sorted(["current", target])  # copy removed
    assert not any(home.rglob("*"))


def test_push_to_a_board_with_trusted_keys_needs_a_signed_bundle(tmp_path):
    env = push_env(tmp_path)
    bundles = tmp_path / "board-bundles"
    public = make_key(tmp_path / "keys")
    (tmp_path / "board-keys").mkdir()
    (tmp_path / "board-keys" / "key-1.pub").write_bytes(public.read_bytes())

    bundle = make_bundle(tmp_path / "bundle")
    refused = sh("bash", PUSH, "me@board", bundle, env=env)
    assert refused.returncode != 0
    assert "not signed" in refused.stderr and "--sign-key" in refused.stderr
    assert not bundles.exists() or not any(bundles.iterdir())

    make_key(tmp_path / "other")
    foreign = sh("bash", PUSH, "me@board", bundle, "--sign-key", tmp_path / "other/signing.key", env=env)
    assert foreign.returncode != 0 and "not among the trusted keys" in foreign.stderr

    pushed = sh("bash", PUSH, "me@board", bundle, "--sign-key", tmp_path / "keys/signing.key", env=env)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert "signature: valid" in pushed.stdout and "must be signed" in pushed.stdout
    assert (bundles / "current" / "manifest.sig").is_file()


# ------------------------------------------------------------------------------ docker


def test_docker_files():
    arm64 = (DEPLOY / "docker" / "Dockerfile.arm64").read_text()
    assert "FROM --platform=linux/arm64 python:3.11-slim-bookworm" in arm64
    assert "pip install --no-cache-dir ." in arm64
    assert not [line for line in arm64.splitlines() if "torch" in line and not line.startswith("#")]
    assert re.search(r"^USER edge-app$", arm64, re.M)
    assert 'VOLUME ["/bundle", "/state"]' in arm64
    assert "EDGE_APP_BUNDLE=/bundle" in arm64 and "EDGE_APP_STATE_DIR=/state" in arm64
    assert 'ENTRYPOINT ["edge-app"]' in arm64 and 'CMD ["serve"]' in arm64
    jetson = (DEPLOY / "docker" / "Dockerfile.jetson").read_text()
    assert "nvcr.io/nvidia/l4t-jetpack" in jetson and "ARG ORT_WHEEL_URL" in jetson
    compose = (DEPLOY / "docker" / "compose.yaml").read_text()
    # every file compose mounts from the repository exists
    for rel in re.findall(r"^\s*- (\.\.?/[^:]+):", compose, re.M):
        assert (DEPLOY / "docker" / rel).resolve().is_file(), rel
    assert ":/bundle:ro" in compose
    try:
        import yaml  # not a dependency; parse when it happens to be there
    except ImportError:
        return
    services = yaml.safe_load(compose)["services"]
    assert set(services) == {"mosquitto", "edge-app"}
    assert services["edge-app"]["build"]["dockerfile"] == "deploy/docker/Dockerfile.arm64"


# ------------------------------------------------------------------------------ the scripts


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_script_parses_and_has_help(script):
    assert sh("bash", "-n", script).returncode == 0
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()
    assert os.access(script, os.X_OK), f"{script} is not executable"
    result = sh("bash", script, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_shellcheck():
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    result = sh("shellcheck", *SCRIPTS)
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("EDGE_APP_TEST_PYPI") != "1", reason="downloads ~20 MB from PyPI; set EDGE_APP_TEST_PYPI=1"
)
def test_arm64_wheels_exist_on_pypi(tmp_path):
    result = sh("bash", DEPLOY / "check_arm64_wheels.sh", "--keep", tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    names = [p.name for p in tmp_path.glob("*.whl")]
    for pkg in ("onnxruntime", "tokenizers", "numpy", "paho_mqtt", "cryptography"):
        assert any(n.lower().startswith(pkg + "-") for n in names), (pkg, names)
    assert all(n.endswith("-none-any.whl") or "aarch64" in n for n in names)
