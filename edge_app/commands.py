"""The bundle commands: classify, verify, and the export side's export and build-default.

Export commands import `export/` only when run, and name the extra to install when it is
missing, so a board with the runtime alone still has a working `edge-app`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import ExportError

DEFAULT_BUNDLE_HELP = "bundle folder (holds manifest.json)"
GPU_HELP = "also write an fp16 model, used with --device cuda|tensorrt (int8 stays for CPUs)"


def add_classify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("texts", nargs="*", help="texts to classify; none: read one text per line from stdin")
    p.add_argument("--bundle", required=True, help=DEFAULT_BUNDLE_HELP)
    p.add_argument("--top-k", type=int, default=3, help="how many label/score pairs to show (default 3)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "tensorrt"])
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: physical cores)")
    p.add_argument("--no-verify", action="store_true", help="skip the sha256 check of the bundle (faster start)")
    p.add_argument("--spin", action="store_true", help="onnxruntime threads busy-wait between runs: faster, costs CPU")


def run_classify(args: argparse.Namespace) -> int:
    from .classifier import Classifier

    clf = Classifier.load(args.bundle, device=args.device, threads=args.threads, verify=not args.no_verify,
                          spin=args.spin)
    texts = args.texts or (line.rstrip("\n") for line in sys.stdin)
    failed = 0
    for text in texts:
        try:
            (pred,) = clf.classify([text], top_k=args.top_k)
            row = {"text": text, **pred.to_dict()}
        except ValueError as exc:
            failed += 1
            row = {"text": text, "error": str(exc).replace("text 0 ", "text ")}
        print(json.dumps(row, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def add_verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help=DEFAULT_BUNDLE_HELP)


def run_verify(args: argparse.Namespace) -> int:
    from .bundle import Bundle

    bundle = Bundle.load(args.bundle, verify=True)
    print(f"ok: {bundle.path} ({bundle.name}, {len(bundle.manifest['files'])} files, sha256 {bundle.sha256[:16]})")
    return 0


def _require_export_extra():
    try:
        import export.pipeline  # noqa: F401  (also pulls optimum, transformers lazily at use)
        import optimum.onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ExportError(
            f"the export side is not installed ({exc.name} is missing); run `pip install -e .[export]` "
            "on a workstation (a board needs only the runtime)"
        ) from None


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="local checkpoint folder or Hugging Face model id")
    p.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    p.add_argument("--optimize", default="O1", choices=["O1", "O2", "O3", "none"])
    p.add_argument("--quantize", default="arm64", choices=["arm64", "avx2", "avx512", "avx512_vnni", "none"])
    p.add_argument("--eval", type=Path, default=None, help="CSV or JSONL of text,label to validate on")
    p.add_argument("--min-agreement", type=float, default=0.98, help="fp32/int8 argmax agreement needed")
    p.add_argument("--force", action="store_true", help="write the bundle even under --min-agreement")
    p.add_argument("--max-length", type=int, default=128, help="longest input in tokens (default 128)")
    p.add_argument("--fp32-out", type=Path, default=None, help="also write the fp32 bundle here (for bench --compare)")
    p.add_argument("--name", default=None, help="model name recorded in the manifest")
    p.add_argument("--gpu", action="store_true", help=GPU_HELP)


def run_export(args: argparse.Namespace) -> int:
    _require_export_extra()
    from export.pipeline import ExportOptions, export_model

    bundle = export_model(ExportOptions(
        model=args.model, out=args.out, optimize=args.optimize, quantize=args.quantize, eval_file=args.eval,
        min_agreement=args.min_agreement, force=args.force, max_length=args.max_length,
        fp32_out=args.fp32_out, name=args.name, gpu=args.gpu,
    ))
    _print_summary(bundle)
    return 0


def add_build_default_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    p.add_argument("--fp32-out", type=Path, default=None, help="also write the fp32 bundle here")
    p.add_argument("--checkpoint-out", type=Path, default=None,
                   help="keep the fine-tuned PyTorch checkpoint here (for bench --baseline torch --torch-model)")
    p.add_argument("--quantize", default="arm64", choices=["arm64", "avx2", "avx512", "avx512_vnni"])
    p.add_argument("--gpu", action="store_true", help=GPU_HELP)


def run_build_default(args: argparse.Namespace) -> int:
    _require_export_extra()
    from export.default_model import build_default

    _print_summary(build_default(args.out, fp32_out=args.fp32_out, quantize=args.quantize,
                                 checkpoint_out=args.checkpoint_out, gpu=args.gpu))
    return 0


def _print_summary(bundle) -> None:
    ev = bundle.manifest.get("eval", {})
    figures = ", ".join(f"{k} {ev[k]}" for k in ("accuracy_fp32", "accuracy_int8", "agreement", "agreement_fp16") if ev.get(k) is not None)
    print(f"bundle written: {bundle.path} ({bundle.name}; {figures}; sha256 {bundle.sha256[:16]})")
