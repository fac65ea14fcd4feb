"""`edge-app`: argument parsing and wiring, no logic of its own.

Each subcommand lives in the module that owns its concept, which exposes
`add_<name>_arguments(parser)` and `run_<name>(args) -> int`. Only the chosen subcommand's module is
imported, so `edge-app classify` pays only for what it uses; `serve` (numpy, paho) and `demo` (paho)
import their runtime at the top, the others keep heavy imports inside their functions. Errors a
user can act on (EdgeAppError) become one line on stderr and the error's exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys

from . import __version__
from .errors import EdgeAppError

# numpy's OpenBLAS (post-processing: the out-of-scope detector's matrix product) would start a thread per core
# that busy-waits after each product, fighting onnxruntime's threads for the same cores and burning CPU after
# each call (docs/benchmarks.md). Set before anything imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# subcommand -> (module, one-line help)
COMMANDS = {
    "classify": ("edge_app.commands", "classify texts with a bundle and print JSON lines"),
    "verify": ("edge_app.commands", "check a bundle's files against its manifest, and its signature"),
    "keygen": ("edge_app.commands", "make an Ed25519 key pair for signing bundles"),
    "sign": ("edge_app.commands", "sign a bundle's manifest with a private key (and give it a new version)"),
    "export": ("edge_app.commands", "export a Hugging Face classifier to a quantized bundle (export extra)"),
    "build-default": ("edge_app.commands", "build the default appliance-intent bundle offline (export extra)"),
    "train": ("edge_app.commands", "train a bundle on your own sentence files (custom_sentences YAML; export extra)"),
    "teach": ("edge_app.teach", "teach a device new labels from a few examples, without retraining"),
    "serve": ("edge_app.mqtt.service", "classify MQTT messages and publish the results"),
    "broker": ("edge_app.broker", "run a small local MQTT broker on loopback (broker extra)"),
    "demo": ("edge_app_tools.demo", "build the default bundle, start a broker and the service, show results (tools)"),
    "bench": ("edge_app_tools.bench", "benchmark a bundle: latency, throughput, memory, accuracy, MQTT (tools)"),
}
TOOLS_PACKAGE = "edge_app_tools"  # the workstation tools: a separate distribution a board does not install


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's module is imported (a faster start)."""
    parser = argparse.ArgumentParser(prog="edge-app", description="Offline text classification on small boards.")
    parser.add_argument("--version", action="version", version=f"edge-app {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if only is not None and name != only:
            continue
        if _tools_missing(module_name):
            continue  # listed in --help; running it says what to install (main)
        module = importlib.import_module(module_name)
        attr = name.replace("-", "_")
        getattr(module, f"add_{attr}_arguments")(command)
        command.set_defaults(_run=getattr(module, f"run_{attr}"))
    return parser


def _tools_missing(module_name: str) -> bool:
    """A tool command (bench, demo) on a machine without edge-app-tools, such as a board."""
    if module_name.split(".")[0] != TOOLS_PACKAGE:
        return False
    try:
        return importlib.util.find_spec(TOOLS_PACKAGE) is None
    except ModuleNotFoundError:
        return True


def _tools_missing_error(name: str) -> EdgeAppError:
    return EdgeAppError(
        f"`edge-app {name}` is a workstation tool that the board runtime leaves out ({TOOLS_PACKAGE} is not "
        "installed); in a checkout of edge-app: pip install -e './tools[bench]' (./run does it)"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen in COMMANDS and _tools_missing(COMMANDS[chosen][0]):
        error = _tools_missing_error(chosen)
        print(f"edge-app {chosen}: {error}", file=sys.stderr)
        return error.exit_code
    args = build_parser(chosen if chosen in COMMANDS else "").parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING  # serve raises it from its config
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args._run(args) or 0)
    except EdgeAppError as exc:
        print(f"edge-app {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `edge-app classify ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit flush
        return 141


if __name__ == "__main__":
    sys.exit(main())
