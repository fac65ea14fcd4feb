"""Teaching a device by example: `edge-app teach` and the `<prefix>/cmd/teach` MQTT command.

Both change `<state_dir>/taught.json` (edge_app/teaching.py); a running `serve` applies a change
made over MQTT at once and one made by the CLI within a second (`TaughtWatcher`). Teaching changes
what the device does, so with `trust.keys` set an MQTT command must carry a valid signature by a
trusted key, as over-the-air bundles must: `edge-app teach --print-command --sign-key KEY` makes one.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .classifier import Classifier
from .errors import BundleError, ConfigError, EdgeAppError
from .model import Model
from .signing import load_signing_key
from .teaching import TaughtStore, build

log = logging.getLogger(__name__)
KINDS = ("teach", "forget", "list")


def canonical(command: dict[str, Any]) -> bytes:
    """The signed bytes of a command: its JSON without `signature`, keys sorted, no spaces."""
    body = {k: v for k, v in command.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_command(command: dict[str, Any], key) -> dict[str, Any]:
    """`command` with a `signature` by `key` (edge_app.signing.SigningKey)."""
    value = base64.b64encode(key.sign(canonical(command))).decode("ascii")
    return {**command, "signature": {"key": key.key_id, "value": value}}


def verify_command(command: dict[str, Any], trusted) -> None:
    """Raise ConfigError unless a trusted key signed `command` (trusted None: signatures not required)."""
    if trusted is None:
        return
    sig = command.get("signature")
    if not isinstance(sig, dict) or not isinstance(sig.get("key"), str) or not isinstance(sig.get("value"), str):
        raise ConfigError(
            "this device accepts only signed teach commands (trust.keys is set); make one with "
            "`edge-app teach --print-command --sign-key keys/signing.key ...`"
        )
    try:
        trusted.verify(sig["key"], base64.b64decode(sig["value"], validate=True), canonical(command))
    except (BundleError, ValueError) as exc:
        raise ConfigError(f"teach command refused: {exc}") from None


def parse_command(payload: bytes) -> dict[str, Any]:
    """A teach command: {"teach": {"label", "examples"}} | {"forget": label} | {"list": true}, with an
    optional "id" echoed in the answer and a "signature"."""
    try:
        command = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"a teach command is one JSON object ({exc})") from None
    if not isinstance(command, dict) or sum(k in command for k in KINDS) != 1:
        raise ConfigError(
            'a teach command holds exactly one of "teach": {"label": ..., "examples": [...]}, '
            '"forget": LABEL or "list": true'
        )
    return command


class Teacher:
    """Applies teach commands to the stored examples and to the model in use."""

    def __init__(self, state_dir: str | Path, current: Callable[[], Model | None]):
        """`current`: the model in use, or None (the CLI without --bundle: only the examples are stored)."""
        self.store = TaughtStore(state_dir)
        self.current = current
        self.applied = self.store.stamp()  # the file as last applied (or as found): the watcher's reference

    def apply(self, classifier: Model) -> None:
        """Give `classifier` the stored taught labels (vectors computed with its own bundle)."""
        self.applied = self.store.stamp()  # before reading: a write after it is applied again, not missed
        labels = self.store.load()
        if not labels and set(classifier.all_labels) == set(classifier.labels):
            return  # nothing taught, before or now: the bundle's own examples (Classifier) are in place already
        embed = classifier.teach_embeddings if classifier.teaching is not None else None
        classifier.taught = build(embed, classifier.teaching, labels)
        if classifier.taught is not None and labels:
            log.info(
                "taught labels in effect for %s (%s): %s",
                classifier.bundle.name,
                classifier.bundle.sha256[:12],
                ", ".join(f"{n} ({len(entry['examples'])} examples)" for n, entry in sorted(labels.items())),
            )

    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        """Carry out one parsed, verified command; the answer's fields (raises EdgeAppError on refusal)."""
        classifier = self.current()
        if "list" in command:
            labels = self.store.load()
        elif "forget" in command:
            labels = self.store.forget(command["forget"])
        else:
            body = command["teach"]
            if not isinstance(body, dict):
                raise ConfigError('"teach" must be an object: {"label": NAME, "examples": [TEXT, ...]}')
            if classifier is not None and classifier.teaching is None:
                raise BundleError(
                    f"bundle {classifier.bundle.name} cannot be taught (no teach_embedding output); "
                    "serve a bundle exported by this edge-app version"
                )
            labels = self.store.teach(
                body.get("label"), body.get("examples"), classifier.labels if classifier is not None else []
            )
        if "list" not in command and classifier is not None:
            self.apply(classifier)
        return {
            "taught": {
                name: {"examples": len(e["examples"]), "taught_at": e["taught_at"]}
                for name, e in sorted(labels.items())
            }
        }


class TeachRoute:
    """`<prefix>/cmd/teach`: each command is carried out on a thread and answered on `<prefix>/cmd/result`."""

    def __init__(self, teacher: Teacher, reply: Callable[[dict], None], trusted, on_change: Callable[[], None]):
        self.teacher, self.reply, self.trusted, self.on_change = teacher, reply, trusted, on_change
        self._lock = threading.Lock()  # one change at a time

    def handle(self, payload: bytes, retained: bool = False) -> None:
        """On the bus thread: returns at once, never raises. Retained commands are answered, not obeyed
        (the broker would replay them on every reconnect)."""
        if retained:
            self._answer(
                {
                    "id": None,
                    "ok": False,
                    "command": "teach",
                    "reason": "retained commands are ignored; publish the command without the retain flag",
                }
            )
            return
        threading.Thread(target=self._run, args=(payload,), name="teach", daemon=True).start()

    def _run(self, payload: bytes) -> None:
        cmd_id = None
        try:
            command = parse_command(payload)
            cmd_id = command.get("id")
            verify_command(command, self.trusted)
            with self._lock:
                answer = self.teacher.run(command)
            kind = next(k for k in KINDS if k in command)
            self._answer({"id": cmd_id, "ok": True, "command": kind, **answer})
            if kind != "list":
                self.on_change()
        except EdgeAppError as exc:
            log.warning("teach command refused: %s", exc)
            self._answer({"id": cmd_id, "ok": False, "command": "teach", "reason": str(exc)})
        except Exception as exc:  # a boundary: report and carry on serving
            log.exception("teach command failed")
            self._answer({"id": cmd_id, "ok": False, "command": "teach", "reason": f"unexpected error: {exc}"})

    def _answer(self, reply: dict[str, Any]) -> None:
        try:
            self.reply(reply)
        except Exception:
            log.exception("cannot answer a teach command: %s", reply)


class TaughtWatcher:
    """Re-applies the stored labels when `taught.json` changes under a running service (the CLI); a change
    its teacher applied itself (an MQTT command) is not applied twice."""

    def __init__(self, teacher: Teacher, stop: threading.Event, on_change: Callable[[], None], interval: float = 0.5):
        self.teacher, self.stop, self.on_change, self.interval = teacher, stop, on_change, interval

    def start(self) -> TaughtWatcher:
        threading.Thread(target=self._loop, name="taught-watcher", daemon=True).start()
        return self

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            if self.teacher.store.stamp() == self.teacher.applied:
                continue
            try:
                self.teacher.apply(self.teacher.current())
                self.on_change()
            except Exception:
                log.exception("cannot apply the changed %s; keeping the labels in effect", self.teacher.store.path)


# ---- CLI ------------------------------------------------------------------------------------
def add_teach_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("examples", nargs="*", help="example texts for --label")
    p.add_argument("--bundle", help="the bundle the device serves (checks it can be taught, shows the result)")
    p.add_argument("--state-dir", default="./.edge-app-state", help="the device's state dir (as `serve` uses)")
    p.add_argument("--label", help="the label to teach, e.g. blinds_close")
    p.add_argument("--file", type=Path, help="YAML or JSON: {label: [example, ...], ...} to teach several")
    p.add_argument("--forget", metavar="LABEL", help="forget a taught label")
    p.add_argument("--list", action="store_true", help="list the taught labels")
    p.add_argument(
        "--print-command",
        action="store_true",
        help="print the <prefix>/cmd/teach MQTT payload instead of changing the state dir",
    )
    p.add_argument("--sign-key", type=Path, help="sign the printed command with this private key (keygen)")


def _requests(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The commands the arguments ask for, in order."""
    if args.list:
        return [{"list": True}]
    if args.forget:
        return [{"forget": args.forget}]
    if args.file:
        return [{"teach": {"label": label, "examples": examples}} for label, examples in _read_file(args.file).items()]
    if args.label:
        return [{"teach": {"label": args.label, "examples": list(args.examples)}}]
    raise ConfigError("say what to do: --label NAME EXAMPLE..., --file FILE, --forget NAME or --list")


def _read_file(path: Path) -> dict[str, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror}); check the path") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # lazy: only --file with YAML needs it

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ConfigError(f"{path} must map each label to a list of example texts")
    return data


def run_teach(args: argparse.Namespace) -> int:
    commands = _requests(args)
    if args.print_command:
        key = load_signing_key(args.sign_key) if args.sign_key else None
        for command in commands:
            print(json.dumps(sign_command(command, key) if key else command, ensure_ascii=False))
        return 0
    classifier = Classifier.load(args.bundle, latency_session=False) if args.bundle else None
    teacher = Teacher(args.state_dir, lambda: classifier)
    for command in commands:
        print(json.dumps(teacher.run(command), ensure_ascii=False))
    if classifier is not None and "teach" in commands[-1]:
        label = commands[-1]["teach"]["label"]
        for text in commands[-1]["teach"]["examples"]:
            (pred,) = classifier.classify([text], top_k=1)
            print(
                json.dumps(
                    {"text": text, "label": pred.label, "taught": pred.taught, "score": round(pred.score, 3)},
                    ensure_ascii=False,
                ),
                file=sys.stderr,
            )
        log.info("taught %s; a running `serve` with --state-dir %s applies it within a second", label, args.state_dir)
    return 0
