"""Over-the-air model updates against a real `edge-app serve` on a real mosquitto.

Every bundle here is the real default bundle, copied and signed (or mis-signed, or altered)
with keys made in the test. The attempts an attacker on the bus could make are refused while
a stream of QoS 1 messages keeps being classified, none lost; a signed update over https
switches, a second command meanwhile is answered busy, a retained command never runs, and
rollback returns to the bundle kept from the switch.
"""

from __future__ import annotations

import io
import json
import shutil
import signal
import tarfile
import threading
import time
from pathlib import Path

import pytest

from edge_app.bundle import MANIFEST, Bundle, sign_bundle
from edge_app.signing import generate, load_signing_key
from helpers.bundle_server import BundleServer, make_tls
from helpers.mqtt import Collector, Serve, mosquitto, result_ids  # noqa: F401  (mosquitto: fixture)

pytestmark = pytest.mark.slow
P = "edge-app/ota"
V1 = 1000  # the running bundle's version; updates are signed above it, downgrades below


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate(tmp_path / "keys")
    return tmp_path / "keys"


def signed_copy(source: Path, dest: Path, key_dir: Path, version: int) -> Path:
    shutil.copytree(source, dest)
    sign_bundle(dest, load_signing_key(key_dir / "signing.key"), version)
    return dest


def write_config(path: Path, keys: Path, bundles: Path, **ota) -> Path:
    lines = ["[ota]", "enabled = true", f'bundles_dir = "{bundles}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in ota.items()]
    lines += ["[trust]", f'keys = "{keys}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def archive(folder: Path, out: Path, *extra: tuple[tarfile.TarInfo, bytes | None], mode: str = "w:gz") -> Path:
    with tarfile.open(out, mode) as tar:
        tar.add(folder, arcname="bundle")
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def command(bus: Collector, body: dict, timeout: float = 180) -> dict:
    bus.publish(f"{P}/cmd/model", json.dumps(body))
    return wait_reply(bus, body["id"], timeout)


def wait_reply(bus: Collector, cmd_id: str, timeout: float = 180) -> dict:
    assert bus.wait_for(lambda: any(r.get("id") == cmd_id for r in bus.json(f"{P}/cmd/result")), timeout), cmd_id
    return next(r for r in bus.json(f"{P}/cmd/result") if r.get("id") == cmd_id)


def leftovers(bundles: Path) -> list[str]:
    return sorted(p.name for p in bundles.iterdir() if p.name.startswith(".incoming-")) if bundles.exists() else []


class Stream:
    """QoS 1 classify messages every 5 ms from a thread until stopped (and at least `minimum` of them)."""

    def __init__(self, bus: Collector, minimum: int = 500):
        self.bus, self.minimum, self.sent = bus, minimum, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set() or self.sent < self.minimum:
            self.bus.publish(f"{P}/classify", json.dumps({"id": self.sent, "text": "is the dishwasher done"}))
            self.sent += 1
            time.sleep(0.005)

    def finish(self) -> int:
        self.stop.set()
        self.thread.join()
        return self.sent


@pytest.fixture
def board(default_bundle, keys, mosquitto, tmp_path):
    """A running serve with OTA on and trusted keys; yields (serve, bus, bundles dir, running v1 bundle)."""
    started = []

    def start(**ota):
        v1 = signed_copy(default_bundle, tmp_path / "v1", keys, V1)
        bundles = tmp_path / "bundles"
        config = write_config(tmp_path / "config.toml", keys, bundles, **ota)
        serve = Serve(v1, mosquitto.url, tmp_path / "state", "ota", "--config", str(config)).start()
        bus = Collector(mosquitto.url, [f"{P}/#"])
        started.append((serve, bus))
        assert bus.wait_status(P, "online", 120), serve.output()
        return serve, bus, bundles, Bundle.load(v1, verify=False)

    yield start
    for serve, bus in started:
        bus.close()
        serve.stop(signal.SIGKILL)


def test_every_refusal_keeps_the_model_answering(board, default_bundle, keys, tmp_path):
    """Unsigned, foreign key, altered manifest, altered model, downgrade, outside paths, a flood, a trickle,
    archives with `..` and a link: each refused with its reason while 500+ QoS 1 messages are classified, 0 lost."""
    limit = 2 * Bundle.load(default_bundle, verify=False).size
    serve, bus, bundles, v1 = board(allow_http=True, max_bytes=limit, fetch_timeout=4)
    generate(tmp_path / "stranger")
    shutil.copytree(default_bundle, bundles / "unsigned")  # the "unsigned" location below
    foreign = signed_copy(default_bundle, bundles / "foreign", tmp_path / "stranger", V1 + 1)
    edited = signed_copy(default_bundle, bundles / "edited", keys, V1 + 1)
    manifest = json.loads((edited / MANIFEST).read_text())
    manifest["name"] = "not what was signed"
    (edited / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    swapped = signed_copy(default_bundle, bundles / "swapped", keys, V1 + 1)
    model = bytearray((swapped / "model.onnx").read_bytes())
    model[len(model) // 2] ^= 0xFF
    (swapped / "model.onnx").write_bytes(bytes(model))
    older = signed_copy(default_bundle, tmp_path / "older", keys, V1 - 1)
    archive(older, bundles / "older.tar.gz")
    good = signed_copy(default_bundle, tmp_path / "good", keys, V1 + 1)
    dotdot = tarfile.TarInfo("../../escaped")
    dotdot.size = 3
    archive(good, bundles / "dotdot.tar.gz", (dotdot, b"pwn"))
    link = tarfile.TarInfo("bundle/extra.onnx")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive(good, bundles / "link.tar.gz", (link, None))
    server = BundleServer(tmp_path)

    attempts = [
        ({"location": "unsigned"}, "not signed"),
        ({"location": str(foreign)}, "not among the trusted keys"),
        ({"location": "edited"}, "does not match the manifest"),
        ({"location": "swapped"}, "model.onnx"),
        ({"location": "older.tar.gz"}, "not newer than the running version"),
        ({"location": "/"}, "outside the bundles folder"),
        ({"location": str(good)}, "outside the bundles folder"),
        ({"location": "../good"}, "outside the bundles folder"),
        ({"location": f"{server.url}/flood"}, f"more than the limit of {limit} bytes"),
        ({"location": f"{server.url}/trickle"}, "deadline"),
        ({"location": "dotdot.tar.gz"}, "outside the bundle folder"),
        ({"location": "link.tar.gz"}, "is a link"),
        ({"location": "ftp://127.0.0.1/b.tar.gz"}, "not supported"),
        ({"location": "unsigned", "sha256": "xyz"}, "64 hex digits"),
    ]
    stream = Stream(bus)
    try:
        for i, (body, reason) in enumerate(attempts):
            started = time.monotonic()
            reply = command(bus, {"id": f"bad{i}", **body})
            assert reply["ok"] is False and reply["status"] == "refused", reply
            assert reason in reply["reason"], (reason, reply)
            assert reply["model"]["sha256"] == v1.sha256
            assert leftovers(bundles) == [], "a refused update left its staging folder behind"
            if "trickle" in body["location"]:
                assert 3.5 < time.monotonic() - started < 15, "the trickle was not cut at ota.fetch_timeout (4 s)"
        bus.publish(f"{P}/cmd/model", b"not json")
        assert bus.wait_for(
            lambda: any(r["id"] is None and "not JSON" in r["reason"] for r in bus.json(f"{P}/cmd/result")), 30
        )
        during = stream.sent  # published while the attempts ran
    finally:
        sent = stream.finish()
        server.close()
    assert during >= 500, f"only {during} messages were published during the attempts"
    assert bus.wait_for(lambda: set(result_ids(bus, f"{P}/result")) >= set(range(sent)), 180), serve.output()[-3000:]
    assert {r["model"]["sha256"] for r in bus.json(f"{P}/result")} == {v1.sha256}
    assert not (tmp_path / "escaped").exists() and not (bundles / "escaped").exists()
    assert not [p for p in bundles.rglob("download")], "the flood's partial download was kept"
    assert not [p for p in bundles.iterdir() if p.name.startswith("ota-")]
    print(f"\n{sent} QoS 1 messages classified ({during} published during {len(attempts) + 1} refused updates), 0 lost")


def test_https_update_busy_retained_restart_and_rollback(
    board, default_bundle, default_bundle_fp32, keys, mosquitto, tmp_path
):
    """int8 -> fp32 (about 4 x the size: within the default ota.max_bytes) over https, and back."""
    tls = make_tls(tmp_path / "tls")
    serve, bus, bundles, v1 = board(ca_file=str(tls[0]))
    served = tmp_path / "served"
    served.mkdir()
    v2 = Bundle.load(signed_copy(default_bundle_fp32, tmp_path / "v2", keys, V1 + 1), verify=False)
    archive(v2.path, served / "v2.tar.gz", mode="w")  # uncompressed, whatever its name says: quicker to make
    secure, plain = BundleServer(served, tls=(tls[1], tls[2])), BundleServer(served)
    try:
        refused = command(bus, {"id": "http", "location": f"{plain.url}/files/v2.tar.gz"})
        assert refused["status"] == "refused" and "plain http" in refused["reason"]
        weaker = command(bus, {"id": "redir", "location": f"{secure.url}/redirect?to={plain.url}/files/v2.tar.gz"})
        assert weaker["status"] == "refused" and "weaker scheme" in weaker["reason"]

        update = {"location": f"{secure.url}/files/v2.tar.gz", "sha256": v2.sha256}
        bus.publish(f"{P}/cmd/model", json.dumps({"id": "up", **update}))
        bus.publish(f"{P}/cmd/model", json.dumps({"id": "up-again", **update}))
        first, second = wait_reply(bus, "up"), wait_reply(bus, "up-again")
        assert first["ok"] is True and first["status"] == "switched", first
        assert second["ok"] is False and second["status"] == "busy", second
        assert first["model"]["sha256"] == v2.sha256 and first["previous"]["sha256"] == v1.sha256
        assert first["model"]["version"] == V1 + 1 and first["self_test"]["agreement"] >= 0.95
        bus.publish(f"{P}/classify", json.dumps({"id": "after-up", "text": "lights on"}))
        assert bus.wait_for(lambda: "after-up" in result_ids(bus, f"{P}/result"), 30)
        assert bus.json(f"{P}/result")[-1]["model"]["sha256"] == v2.sha256
        assert leftovers(bundles) == []

        # A retained command is ignored when it arrives, and again when the broker replays it on reconnect.
        bus.client.publish(f"{P}/cmd/model", json.dumps({"id": "sticky", "action": "rollback"}), qos=1, retain=True)
        assert wait_reply(bus, "sticky")["status"] == "ignored"
        mosquitto.stop()
        mosquitto.start()
        assert bus.wait_for(
            lambda: [r["status"] for r in bus.json(f"{P}/cmd/result") if r["id"] == "sticky"] == ["ignored", "ignored"],
            90,
        ), serve.output()[-2000:]
        bus.client.publish(f"{P}/cmd/model", b"", qos=1, retain=True)  # clear it

        # The switch survives a restart, and so does the bundle kept for rollback.
        assert bus.wait_status(P, "online", 60)
        onlines = bus.payloads(f"{P}/status").count(b"online")
        serve.stop(signal.SIGTERM)
        serve.start()
        assert bus.wait_for(
            lambda: (
                bus.payloads(f"{P}/status").count(b"online") > onlines and bus.payloads(f"{P}/status")[-1] == b"online"
            ),
            120,
        ), serve.output()[-2000:]
        bus.publish(f"{P}/classify", json.dumps({"id": "after-restart", "text": "lights on"}))
        assert bus.wait_for(lambda: "after-restart" in result_ids(bus, f"{P}/result"), 30)
        assert bus.json(f"{P}/result")[-1]["model"]["sha256"] == v2.sha256
        same = command(bus, {"id": "same", "location": f"{secure.url}/files/v2.tar.gz"})
        assert same["ok"] is True and same["status"] == "unchanged", same

        back = command(bus, {"id": "back", "action": "rollback"})
        assert back["ok"] is True and back["status"] == "rolled_back", back
        assert back["model"]["sha256"] == v1.sha256 and back["previous"]["sha256"] == v2.sha256
        bus.publish(f"{P}/classify", json.dumps({"id": "after-back", "text": "lights on"}))
        assert bus.wait_for(lambda: "after-back" in result_ids(bus, f"{P}/result"), 30)
        assert bus.json(f"{P}/result")[-1]["model"]["sha256"] == v1.sha256

        # A newer bundle: the one kept for rollback is now v1, so v2's folder and any staging leftovers go.
        (bundles / ".incoming-leftover").mkdir()
        v3 = Bundle.load(signed_copy(default_bundle, tmp_path / "v3", keys, V1 + 2), verify=False)
        archive(v3.path, served / "v3.tar.gz")
        up3 = command(bus, {"id": "up3", "location": f"{secure.url}/files/v3.tar.gz"})
        assert up3["status"] == "switched" and up3["previous"]["sha256"] == v1.sha256, up3
        assert [p.name for p in bundles.iterdir()] == [f"ota-{V1 + 2}-{v3.sha256[:12]}"]

        # Going down needs "allow_downgrade" (and a signature, as always).
        down = command(bus, {"id": "down", "location": f"{secure.url}/files/v2.tar.gz"})
        assert down["status"] == "refused" and "not newer" in down["reason"], down
        down = command(bus, {"id": "down-ok", "location": f"{secure.url}/files/v2.tar.gz", "allow_downgrade": True})
        assert down["status"] == "switched" and down["model"]["sha256"] == v2.sha256, down

        # Rolling back checks the kept bundle (v3) again: altered on disk, it is refused.
        model = bundles / f"ota-{V1 + 2}-{v3.sha256[:12]}" / "model.onnx"
        model.write_bytes(model.read_bytes()[:-1] + b"\0")
        again = command(bus, {"id": "back-again", "action": "rollback"})
        assert again["status"] == "refused" and "model.onnx" in again["reason"], again
        assert again["model"]["sha256"] == v2.sha256
    finally:
        secure.close()
        plain.close()


def test_serve_refuses_unsigned_or_foreign_bundles_and_ota_without_keys(default_bundle, keys, mosquitto, tmp_path):
    def serve(bundle: Path) -> tuple[int, str]:
        run = Serve(bundle, mosquitto.url, tmp_path / "state", "trust", env={"EDGE_APP_TRUST_KEYS": str(keys)}).start()
        rc = run.stop(signal.SIGCONT, timeout=120)  # SIGCONT changes nothing: this waits for it to exit by itself
        return rc, run.output()

    rc, out = serve(default_bundle)
    assert rc == 3 and "is not signed" in out and "edge-app sign" in out, out
    generate(tmp_path / "stranger")
    foreign = signed_copy(default_bundle, tmp_path / "foreign", tmp_path / "stranger", 5)
    rc, out = serve(foreign)
    assert rc == 3 and "not among the trusted keys" in out, out
    no_keys = Serve(default_bundle, mosquitto.url, tmp_path / "state", "trust", "--ota").start()
    assert no_keys.stop(signal.SIGCONT, timeout=60) == 2
    assert "ota.enabled needs trust.keys" in no_keys.output() and "edge-app keygen --out keys" in no_keys.output()


def test_updates_are_refused_unless_enabled(default_bundle, keys, mosquitto, tmp_path):
    v2 = signed_copy(default_bundle, tmp_path / "v2", keys, V1 + 1)
    serve = Serve(default_bundle, mosquitto.url, tmp_path / "state", "ota").start()
    bus = Collector(mosquitto.url, [f"{P}/#"])
    try:
        assert bus.wait_status(P, "online", 120)
        bus.publish(f"{P}/cmd/model", json.dumps({"location": str(v2)}))
        bus.publish(f"{P}/classify", "lights on")
        assert bus.wait_for(lambda: bus.payloads(f"{P}/result"), 30)
        time.sleep(1)
        assert not bus.payloads(f"{P}/cmd/result")
        assert bus.json(f"{P}/result")[-1]["model"]["sha256"] == Bundle.load(default_bundle, verify=False).sha256
    finally:
        bus.close()
        serve.stop()
