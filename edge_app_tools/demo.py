"""`edge-app demo`: the whole path on one machine, seen from the MQTT side.

It builds the default bundle when it is not cached, starts the embedded broker (unless
`--broker` names a real one) and `edge-app serve` as child processes, sends sample appliance
commands the way any MQTT client would, prints what comes back, and stops everything it
started. It talks to the service only over MQTT, so what it shows is what a user's own
client would see.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import wcwidth

from edge_app.errors import BrokerError, BundleError, EdgeAppError, ExportError

from .harness import EDGE_APP, STOP_TIMEOUT_S, ServeProcess, free_port, serve_argv

if TYPE_CHECKING:
    from edge_app.mqtt.topics import Topics

DEVICE_ID = "demo"
DEFAULT_TIMEOUT_S = 60.0
LOG_TAIL_LINES = 15

PLAIN_SAMPLES = [
    "turn on the kitchen lights",
    "is the dryer done yet",
    "preheat the oven to 200 degrees",
    "거실 불 켜줘",
    "에어컨 온도 이십이 도로 맞춰 줘",
    "TV 볼륨 좀 줄여",
]
JSON_SAMPLES = [
    {"id": "cmd-1", "text": "switch off the air conditioning", "room": "bedroom"},
    {"id": "cmd-2", "text": "start the vacuum in the hallway", "room": "hallway"},
    {"id": "cmd-3", "text": "set a timer for ten minutes", "room": "kitchen"},
]
BATCH_SAMPLE = {
    "items": [
        {"id": "batch-1", "text": "turn the tv volume down"},
        {"id": "batch-2", "text": "send the robot vacuum back to its dock"},
        {"id": "batch-3", "text": "what is the weather on mars"},
    ]
}
MALFORMED_SAMPLE = b'{"text": '  # truncated JSON: the service must answer on <prefix>/error


def default_bundle_dir() -> Path:
    """Where the default bundle is cached: `<cache root>/<key>/default` (export/build_cache.py).

    The cache is the one `./run test` uses, keyed by the build's recipe, data and package versions:
    `.cache/default-bundle/` in a checkout, `~/.cache/edge-app/default-bundle/` for an installed
    package, EDGE_APP_BUNDLE_CACHE when set. `--bundle` overrides it.
    """
    from export.build_cache import CachedBuild, build_key, cache_root  # when needed: the runtime never imports export

    return CachedBuild(cache_root() / build_key()).int8


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--broker",
        default=None,
        metavar="URL",
        help="mqtt://[user@]host[:port] of a running broker (default: start the embedded one)",
    )
    p.add_argument(
        "--bundle",
        type=Path,
        default=None,
        metavar="DIR",
        help="bundle folder (default: the default build cached in .cache/default-bundle/<key>/default, "
        "shared with `./run test`; built on first use)",
    )
    p.add_argument(
        "--interactive",
        action="store_true",
        help="after start-up, read commands from stdin (one a line) and show each result",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"seconds to wait for each step: broker, service, every result (default {DEFAULT_TIMEOUT_S:g})",
    )


def run_demo(args: argparse.Namespace) -> int:
    bundle_dir = _ensure_bundle(args.bundle)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # a SIGTERM still stops what we started
    try:
        with tempfile.TemporaryDirectory(prefix="edge-app-demo-") as tmp, contextlib.ExitStack() as stack:
            return _run(args, bundle_dir, Path(tmp), stack)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


# --- the bundle -------------------------------------------------------------------------------


def _ensure_bundle(requested: Path | None) -> Path:
    """The bundle to serve: the one asked for, or the cached default build (shared with the tests),
    built first when its key has none."""
    if requested is not None:
        if not (requested / "manifest.json").is_file():
            raise BundleError(
                f"{requested} is not a bundle (no manifest.json); build one with "
                f"`edge-app build-default --out {requested}` or drop --bundle to use the default"
            )
        return requested
    from export.build_cache import cached_build

    cached = cached_build()
    if cached is not None:
        return cached.int8
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("optimum") is None:
        raise ExportError(
            f"the default bundle is not built yet ({_display(default_bundle_dir())}) and building it "
            "needs the export extra; run `./run demo` from the repository (it installs it), or "
            "`pip install -e '.[export]'`, or pass --bundle DIR with a bundle built elsewhere"
        )
    rc = subprocess.call([sys.executable, "-m", "export.build_cache"])  # says where, and shows its progress
    cached = cached_build()
    if rc != 0 or cached is None:
        raise ExportError(f"building the default bundle failed (exit {rc}); the lines above say why")
    return cached.int8


# --- child processes --------------------------------------------------------------------------


def _spawn(argv: list[str], log: Path, stdout: int | None = None) -> ServeProcess:
    """A child in its own session: Ctrl-C reaches only the demo, which then stops the children in order."""
    return ServeProcess(argv, log, new_session=True).start(stdout)


def _stop(proc: ServeProcess, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """SIGTERM (the graceful stop both children implement), SIGKILL only if that is ignored."""
    return proc.stop(signal.SIGTERM, timeout)


def _log_tail(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in lines[-LOG_TAIL_LINES:])


def _start_embedded_broker(tmp: Path, timeout: float, stack: contextlib.ExitStack) -> tuple[str, ServeProcess]:
    """`edge-app broker` on a free loopback port; returns its URL and process once it accepts connections."""
    port = free_port()
    log = tmp / "broker.log"
    broker = _spawn([*EDGE_APP, "broker", "--port", str(port)], log, stdout=subprocess.PIPE)
    stack.callback(_stop, broker)
    proc = broker.proc
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                line = proc.stdout.readline().decode(errors="replace")
                if line.startswith("listening on "):
                    return line.split()[-1], broker
                if not line:  # end of output: the broker exited
                    break
            if proc.poll() is not None:
                break
    exited = proc.poll() is not None
    _stop(broker)
    tail = _log_tail(log)
    if tail:
        print(tail, file=sys.stderr)
    what = f"exited with code {proc.returncode}" if exited else f"did not start within {timeout:g} s"
    raise BrokerError(f"the embedded broker {what}; see the lines above, or pass --broker URL to use a running broker")


# --- the MQTT side ------------------------------------------------------------------------------


@dataclass
class Message:
    topic: str
    payload: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.payload)
        except ValueError:
            return None


@dataclass
class Inbox:
    """Messages from paho's network thread, taken by the main thread in any order it asks for."""

    messages: list[Message] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def put(self, message: Message) -> None:
        with self.cond:
            self.messages.append(message)
            self.cond.notify_all()

    def take(
        self, match: Callable[[Message], bool], timeout: float, alive: Callable[[], bool] = lambda: True
    ) -> Message | None:
        """Remove and return the first message that matches; None after `timeout` or once `alive()` is false."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, message in enumerate(self.messages):
                    if match(message):
                        return self.messages.pop(i)
                left = deadline - time.monotonic()
                if left <= 0 or not alive():
                    return None
                self.cond.wait(min(left, 0.2))

    def discard(self, match: Callable[[Message], bool] = lambda m: True) -> None:
        with self.cond:
            self.messages = [m for m in self.messages if not match(m)]


def _demo_config(url: str):
    """The config `serve` will run with, so the demo's client and topics match it exactly.

    Credentials and TLS files come from the same layers `serve` reads (environment,
    EDGE_APP_CONFIG); the topics are pinned here and passed to `serve` as flags, which win over both.
    """
    from edge_app.config import load_config

    prefix = f"edge-app/{DEVICE_ID}"
    return load_config(
        overrides={
            "device_id": DEVICE_ID,
            "mqtt": {
                "broker": url,
                "prefix": prefix,
                "inputs": [f"{prefix}/classify"],
                "result_topic": f"{prefix}/result",
            },
        }
    )


def _connect(url: str, cfg, inbox: Inbox, timeout: float):
    """The demo's own MQTT 3.1.1 client: 3.1.1 works with every broker, the embedded one included."""
    import paho.mqtt.client as mqtt

    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise BrokerError(f"--broker {url!r} is not an MQTT URL; use mqtt://host[:port] or mqtts://host[:port]")
    cfg = cfg.mqtt
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"edge-app-demo-{os.getpid()}", protocol=mqtt.MQTTv311
    )
    username = parts.username or cfg.username
    if username:
        client.username_pw_set(username, parts.password or cfg.password or None)
    if parts.scheme == "mqtts":
        client.tls_set(ca_certs=cfg.ca_file or None, certfile=cfg.cert_file or None, keyfile=cfg.key_file or None)
        client.tls_insecure_set(cfg.tls_insecure)
    connected = threading.Event()
    client.on_connect = lambda c, u, flags, reason, props: connected.set() if not reason.is_failure else None
    client.on_message = lambda c, u, m: inbox.put(Message(m.topic, bytes(m.payload)))
    port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    try:
        client.connect(parts.hostname, port, keepalive=30)
    except OSError as exc:
        raise BrokerError(
            f"cannot reach the broker at {parts.hostname}:{port} ({exc.strerror or exc}); "
            "is it running? drop --broker to use the embedded one"
        ) from None
    client.loop_start()
    if not connected.wait(timeout):
        client.loop_stop()
        raise BrokerError(
            f"the broker at {parts.hostname}:{port} did not accept the demo's connection "
            "within the timeout; check the credentials and its logs"
        )
    return client


def _subscribe(client, topic: str, timeout: float) -> None:
    done = threading.Event()
    client.on_subscribe = lambda *a: done.set()
    client.subscribe(topic, qos=1)
    done.wait(timeout)


# --- the run ----------------------------------------------------------------------------------


def _run(args: argparse.Namespace, bundle_dir: Path, tmp: Path, stack: contextlib.ExitStack) -> int:
    from edge_app.bundle import Bundle
    from edge_app.mqtt.topics import Topics

    bundle = Bundle.load(bundle_dir, verify=False)
    _say(f"bundle   {_display(bundle_dir)} ({bundle.name}, {len(bundle.labels)} labels)")
    broker = None
    if args.broker:
        url, broker_note = args.broker, "given with --broker"
    else:
        url, broker = _start_embedded_broker(tmp, args.timeout, stack)
        broker_note = "embedded amqtt, started by the demo"
    _say(f"broker   {url} ({broker_note})")

    cfg = _demo_config(url)
    topics = Topics.from_config(cfg)
    inbox = Inbox()
    client = _connect(url, cfg, inbox, args.timeout)
    stack.callback(client.loop_stop)
    stack.callback(client.disconnect)
    _subscribe(client, f"{topics.prefix}/#", args.timeout)
    time.sleep(0.3)  # retained messages from an earlier run arrive now; they say nothing about this service
    inbox.discard()

    service = _start_service(bundle_dir, url, topics, tmp)
    stack.callback(_stop, service)
    online = inbox.take(
        lambda m: m.topic == topics.status and m.payload == b"online", args.timeout, alive=lambda: service.alive
    )
    if online is None:
        _stop(service)
        print(_log_tail(tmp / "serve.log"), file=sys.stderr)
        raise EdgeAppError(
            f"the service did not report online on {topics.status} within {args.timeout:g} s "
            f"(exit {service.returncode}); its last log lines are above"
        )
    _say(f"service  edge-app serve --device-id {DEVICE_ID}: online on {topics.status}")

    if args.interactive:
        failed = _interactive(client, inbox, topics, args.timeout)
    else:
        failed = _samples(client, inbox, topics, args.timeout)
    failed += _shutdown(service, inbox, topics)
    client.disconnect()
    client.loop_stop()
    if broker is not None:
        rc = _stop(broker)
        _say(f"Stopped the embedded broker (exit {rc}).")
        failed += rc != 0
    return 1 if failed else 0


def _start_service(bundle_dir: Path, url: str, topics: Topics, tmp: Path) -> ServeProcess:
    argv = serve_argv(
        bundle_dir,
        url,
        DEVICE_ID,
        tmp / "state",
        "--prefix",
        topics.prefix,
        "--input",
        topics.inputs[0],
        "--result-topic",
        topics.result,
        "--metrics-interval",
        "1",
    )
    return _spawn(argv, tmp / "serve.log")


def _is_result(topics: Topics, match: Callable[[dict], bool]) -> Callable[[Message], bool]:
    def check(message: Message) -> bool:
        data = message.json()
        return message.topic == topics.result and isinstance(data, dict) and match(data)

    return check


def _samples(client, inbox: Inbox, topics: Topics, timeout: float) -> int:
    """Send every kind of input once and print what comes back; returns how many went unanswered."""
    total = len(PLAIN_SAMPLES) + len(JSON_SAMPLES) + len(BATCH_SAMPLE["items"])
    _say(
        f"\nSending to {topics.inputs[0]}: {len(PLAIN_SAMPLES)} plain-text commands, {len(JSON_SAMPLES)} JSON "
        f"commands with ids, a batch of {len(BATCH_SAMPLE['items'])} and one malformed message.\n"
    )
    rows: list[dict[str, Any]] = []
    missing: list[str] = []

    # Plain text carries no id of ours, so each waits for its result before the next goes out; QoS 1 may
    # deliver a result twice, so an id already shown is not taken again.
    seen: set[str] = set()
    for text in PLAIN_SAMPLES:
        client.publish(topics.inputs[0], text.encode(), qos=1)
        got = inbox.take(_is_result(topics, lambda d: "items" not in d and str(d.get("id")) not in seen), timeout)
        if got:
            seen.add(str(got.json().get("id")))
        _collect(rows, missing, topics.result, got.json() if got else None, text)

    for sample in JSON_SAMPLES:  # sent together: the service may batch them into one model call
        client.publish(topics.inputs[0], json.dumps(sample).encode(), qos=1)
    for sample in JSON_SAMPLES:
        got = inbox.take(_is_result(topics, lambda d, i=sample["id"]: d.get("id") == i), timeout)
        _collect(rows, missing, topics.result, got.json() if got else None, sample["text"], sample)

    client.publish(topics.inputs[0], json.dumps(BATCH_SAMPLE).encode(), qos=1)
    got = inbox.take(_is_result(topics, lambda d: isinstance(d.get("items"), list)), timeout)
    items = {str(item.get("id")): item for item in (got.json()["items"] if got else [])}
    for sample in BATCH_SAMPLE["items"]:
        result = items.get(sample["id"])
        if result is not None and got is not None:
            result = {"latency_ms": got.json().get("latency_ms"), **result}
        _collect(
            rows,
            missing,
            topics.result,
            result,
            sample["text"],
            sample,
            note=f"one message for the batch of {len(BATCH_SAMPLE['items'])}",
        )

    client.publish(topics.inputs[0], MALFORMED_SAMPLE, qos=1)
    error = inbox.take(lambda m: m.topic == topics.error, timeout)
    print(_table(rows), flush=True)

    inbox.discard(lambda m: m.topic == topics.metrics)  # show one sent after the results, which counts them
    metrics = inbox.take(lambda m: m.topic == topics.metrics, timeout)
    print(f"\nmetrics ({topics.metrics}):", flush=True)
    print(_indent(_pretty(metrics.payload) if metrics else "none arrived within the timeout"), flush=True)
    print(f"\nerror for the malformed message {MALFORMED_SAMPLE.decode()!r} ({topics.error}):", flush=True)
    print(_indent(_pretty(error.payload) if error else "none arrived within the timeout"), flush=True)

    print(flush=True)
    if missing:
        print(f"FAILED: no result within {timeout:g} s for: {', '.join(missing)}", file=sys.stderr, flush=True)
    if error is None:
        print("FAILED: the malformed message got no error message", file=sys.stderr, flush=True)
    if not missing and error is not None:
        _say(f"All {total} commands classified; the malformed message was rejected on {topics.error}.")
    return len(missing) + (error is None) + (metrics is None)


def _collect(
    rows: list[dict[str, Any]],
    missing: list[str],
    topic: str,
    result: dict | None,
    text: str,
    sample: dict | None = None,
    note: str = "",
) -> None:
    if result is None:
        missing.append(repr(sample["id"] if sample else text))
        return
    echoed = {k: result[k] for k in (sample or {}) if k not in ("id", "text") and k in result}
    notes = [note] if note else []
    if echoed:
        notes.append("echoed: " + json.dumps(echoed))
    rows.append(
        {
            "topic": topic,
            "id": result.get("id"),
            "text": text,
            "label": result.get("label"),
            "score": result.get("score"),
            "latency_ms": result.get("latency_ms"),
            "slots": result.get("slots"),
            "notes": notes,
        }
    )


def _interactive(client, inbox: Inbox, topics: Topics, timeout: float) -> int:
    """One command a line: plain text, or a JSON object sent as it is; each result shown as it comes back."""
    if sys.stdin.isatty():
        _say(
            "\nType an appliance command and press Enter (JSON objects are sent as they are); Ctrl-D or Ctrl-C to stop."
        )
    failed = 0
    try:
        for line in _lines(sys.stdin):
            inbox.discard()
            client.publish(topics.inputs[0], line.encode(), qos=1)
            got = inbox.take(lambda m: m.topic in (topics.result, topics.error), timeout)
            if got is None:
                failed += 1
                print(f"  no result within {timeout:g} s", flush=True)
            elif got.topic == topics.error:
                print(f"  {got.topic}  {_pretty(got.payload, compact=True)}", flush=True)
            else:
                print(f"  {_result_line(got.topic, got.json(), _text_of(line))}", flush=True)
    except KeyboardInterrupt:
        print(flush=True)
    return failed


def _text_of(line: str) -> str:
    """What to show for a typed line: the text inside a JSON command, else the line itself."""
    try:
        data = json.loads(line)
    except ValueError:
        return line
    return str(data.get("text", "")) if isinstance(data, dict) else line


def _lines(stream) -> Iterator[str]:
    for raw in stream:
        line = raw.strip()
        if line:
            yield line


def _result_line(topic: str, data: Any, text: str) -> str:
    if not isinstance(data, dict):
        return f"{topic}  {data!r}"
    if isinstance(data.get("items"), list):
        return "\n  ".join(_result_line(topic, item, "") + "  (batch item)" for item in data["items"])
    parts = [
        topic,
        f"id={_cell('id', data.get('id'))}",
        _cell("label", data.get("label")),
        f"score={_cell('score', data.get('score'))}",
        f"{_cell('latency_ms', data.get('latency_ms'))} ms",
    ]
    if data.get("slots"):
        parts.append(_cell("slots", data["slots"]))
    return "  ".join(parts + [repr(text)] if text else parts)


def _shutdown(service: ServeProcess, inbox: Inbox, topics: Topics) -> int:
    """Stop the service the way systemd does and check it said goodbye: exit 0 and a retained 'offline'."""
    rc = _stop(service)
    offline = inbox.take(lambda m: m.topic == topics.status and m.payload == b"offline", 5.0)
    state = "offline" if offline else "no 'offline' seen"
    _say(f"Stopped the service (exit {rc}, status {state}).")
    if rc != 0:
        print(f"FAILED: the service exited with {rc} on SIGTERM, expected 0", file=sys.stderr, flush=True)
    if not offline:
        print(
            f"FAILED: the service did not publish 'offline' on {topics.status} when it stopped",
            file=sys.stderr,
            flush=True,
        )
    return int(rc != 0) + int(not offline)


# --- output -----------------------------------------------------------------------------------

COLUMNS = ("topic", "id", "text", "label", "score", "latency_ms", "slots")
RIGHT_ALIGNED = frozenset({"score", "latency_ms"})
CELL_WIDTH = {"slots": 36}  # display columns a cell may take before it is cut with "…"
DEFAULT_CELL_WIDTH = 40


def _table(rows: list[dict[str, Any]]) -> str:
    """The results as aligned columns, measured in display width so wide (Korean) characters line up."""
    cells = [[_cell(col, row.get(col)) for col in COLUMNS] for row in rows]
    widths = [max([_width(col)] + [_width(r[i]) for r in cells]) for i, col in enumerate(COLUMNS)]
    lines = [_line(list(COLUMNS), widths), _line(["-" * w for w in widths], widths)]
    for row, values in zip(rows, cells):
        notes = "  (" + "; ".join(row["notes"]) + ")" if row.get("notes") else ""
        lines.append(_line(values, widths) + notes)
    return "\n".join(lines)


def _line(values: list[str], widths: list[int]) -> str:
    """One table line: each cell padded to its column's display width, numbers to the right."""
    padded = (
        wcwidth.rjust(v, w) if c in RIGHT_ALIGNED else wcwidth.ljust(v, w) for v, w, c in zip(values, widths, COLUMNS)
    )
    return "  ".join(padded).rstrip()


def _cell(column: str, value: Any) -> str:
    """What a column shows for a value: one line, at most its CELL_WIDTH display columns; "-" for none."""
    if value is None or (column == "slots" and not value):
        return "-"
    if column == "score" and isinstance(value, (int, float)):
        return f"{value:.3f}"
    if column == "latency_ms" and isinstance(value, (int, float)):
        return f"{value:.1f}"
    limit = CELL_WIDTH.get(column, DEFAULT_CELL_WIDTH)
    if column == "slots":
        return _slots_text(value, limit)
    return _clip(_one_line(str(value)), limit)


def _slots_text(slots: Any, limit: int) -> str:
    """A result's slots as `name=value` pairs (`room=kitchen temperature=22C`), in the result's order;
    past `limit` display columns whole pairs are left off for a " …", so no value is shown cut."""
    if not isinstance(slots, dict):
        return _clip(_one_line(str(slots)), limit)
    pairs = [_one_line(f"{name}={_slot_value(slot)}") for name, slot in slots.items()]
    if _width(" ".join(pairs)) <= limit:
        return " ".join(pairs)
    kept = 0
    while kept < len(pairs) and _width(" ".join(pairs[: kept + 1]) + " …") <= limit:
        kept += 1
    return " ".join(pairs[:kept]) + " …" if kept else _clip(pairs[0], limit)


def _slot_value(slot: Any) -> str:
    """One slot's value with its unit and step (`22C`, `600s`, `down(10)`); the span's text when no value
    was read. Quoted when it holds spaces, so the pairs stay apart."""
    if not isinstance(slot, dict):
        return _quoted(str(slot))
    if "value" not in slot:
        return _quoted(str(slot.get("text", "?")))
    shown = _number(slot["value"]) + str(slot.get("unit", ""))
    if "step" in slot:
        shown += f"({_number(slot['step'])})"
    return _quoted(shown)


def _number(value: Any) -> str:
    """Whole numbers without a decimal point (22, not 22.0); anything else as str() shows it."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _quoted(text: str) -> str:
    """The text in double quotes when it is empty or holds whitespace, else as it is."""
    return f'"{text}"' if not text or any(c.isspace() for c in text) else text


def _one_line(text: str) -> str:
    """Control characters (newlines, tabs, escapes) become spaces: a cell never moves the cursor."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def _width(text: str) -> int:
    """Terminal columns the text takes: 2 for each wide (CJK) character, 0 for combining marks."""
    return wcwidth.width(text)


def _clip(text: str, limit: int) -> str:
    """The text cut to at most `limit` display columns, ending in "…" when anything was cut."""
    if _width(text) <= limit:
        return text
    return wcwidth.clip(text, 0, limit - 1).rstrip() + "…"


def _pretty(payload: bytes, compact: bool = False) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")
    return json.dumps(data, ensure_ascii=False, separators=(", ", ": ")) if compact else json.dumps(data, indent=2)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _say(text: str) -> None:
    print(text, flush=True)
