"""The bundle commands: classify, verify, keygen, sign, and the export side's export, build-default and train.

Export commands import `export/` only when run, and name the extra to install when it is
missing, so a board with the runtime alone still has a working `edge-app`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from .errors import ExportError
from .session import DEVICE_CHOICES

DEFAULT_BUNDLE_HELP = "bundle folder (holds manifest.json)"
GPU_HELP = "also write an fp16 model, used with --device cuda|tensorrt (int8 stays for CPUs)"


def add_classify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("texts", nargs="*", help="texts to classify; none: read one text per line from stdin")
    p.add_argument("--bundle", required=True, help=DEFAULT_BUNDLE_HELP)
    p.add_argument("--top-k", type=int, default=3, help="how many label/score pairs to show (default 3)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: physical cores)")
    p.add_argument("--no-verify", action="store_true", help="skip the sha256 check of the bundle (faster start)")
    p.add_argument(
        "--spin", action="store_true", help="onnxruntime threads keep busy-waiting between calls: costs CPU when idle"
    )
    p.add_argument(
        "--min-score",
        type=float,
        default=None,
        help="reject (label out_of_scope) under this score; default: the bundle's threshold, 0: never",
    )
    p.add_argument("--state-dir", default=None, help="apply the labels taught in this state dir (edge-app teach)")


def run_classify(args: argparse.Namespace) -> int:
    from .classifier import Classifier

    # One session: a one-shot command gains nothing from a second (one-thread) session but its memory.
    clf = Classifier.load(
        args.bundle,
        device=args.device,
        threads=args.threads,
        verify=not args.no_verify,
        spin=args.spin,
        min_score=args.min_score,
        latency_session=False,
    )
    if args.state_dir:
        from .teach import Teacher

        Teacher(args.state_dir, lambda: clf).apply(clf)
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
    p.add_argument(
        "--trusted-keys",
        metavar="FILE|DIR",
        help="public key file, or folder of *.pub files: the signature must be by one of them",
    )


def run_verify(args: argparse.Namespace) -> int:
    from .bundle import Bundle

    bundle = Bundle.load(args.bundle, verify=True)
    summary = f"ok: {bundle.path} ({bundle.name}, {len(bundle.manifest['files'])} files, sha256 {bundle.sha256[:16]})"
    if args.trusted_keys:
        from .signing import load_trusted_keys

        signature = bundle.verify_signature(load_trusted_keys(args.trusted_keys))  # raises unless valid and trusted
        print(summary)
        print(f"signature: valid, key {signature.key_id} (trusted in {args.trusted_keys}), version {signature.version}")
        return 0
    print(summary)
    found = bundle.read_signature()
    if found is None:
        print("signature: none (unsigned bundle; a board with trust.keys refuses it)")
    else:
        print(f"signature: by key {found[0]}, version {bundle.version}; not checked: pass --trusted-keys FILE|DIR")
    return 0


def add_keygen_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="folder for signing.key (mode 0600) and signing.pub")


def run_keygen(args: argparse.Namespace) -> int:
    from .signing import generate

    private, public, kid = generate(args.out)
    print(f"key {kid}: private {private} (mode 0600, keep it on the workstation), public {public}")
    print(f"next: edge-app sign BUNDLE --key {private}; on the board: sudo deploy/install.sh --trusted-key {public}")
    return 0


def add_sign_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help=DEFAULT_BUNDLE_HELP)
    p.add_argument("--key", required=True, help="private key from `edge-app keygen` (signing.key)")
    p.add_argument(
        "--version",
        type=int,
        default=None,
        dest="bundle_version",
        help="bundle version to sign (default: the UTC time as YYYYMMDDHHMMSS, above any earlier one)",
    )


def run_sign(args: argparse.Namespace) -> int:
    from .bundle import sign_bundle
    from .signing import load_signing_key

    key = load_signing_key(args.key)
    bundle = sign_bundle(args.bundle, key, args.bundle_version)
    print(f"signed: {bundle.path} version {bundle.version} by key {key.key_id} (manifest sha256 {bundle.sha256[:16]})")
    return 0


def _signing_key(path: Path | None):
    """The export commands' --sign-key, read before the long export so a wrong path fails at once."""
    if path is None:
        return None
    from .signing import load_signing_key

    return load_signing_key(path)


def _sign_outputs(key, *folders: Path | None) -> None:
    from .bundle import sign_bundle

    for folder in folders:
        if key is not None and folder is not None:
            signed = sign_bundle(folder, key)
            print(f"signed: {signed.path} version {signed.version} by key {key.key_id}")


def _require_export_extra():
    try:
        # Lazy: the export side, absent on a board. It imports optimum and transformers only at
        # use, so their presence is checked by finding them, not by paying for the import here.
        import export.pipeline  # noqa: F401

        if importlib.util.find_spec("optimum.onnxruntime") is None:
            raise ImportError("optimum.onnxruntime", name="optimum.onnxruntime")
    except ImportError as exc:
        raise ExportError(
            f"the export side is not installed ({exc.name} is missing); run `pip install -e .[export]` "
            "on a workstation (a board needs only the runtime)"
        ) from None


SCALES = ["static", "dynamic"]
SCALES_HELP = (
    "int8 activation scales: static (default; calibrated on the training texts, so a text gets the same "
    "answer alone or in any batch) or dynamic (computed per call from the whole batch)"
)


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="local checkpoint folder or Hugging Face model id")
    p.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    p.add_argument("--optimize", default="O1", choices=["O1", "O2", "O3", "none"])
    p.add_argument("--quantize", default="arm64", choices=["arm64", "avx2", "avx512", "avx512_vnni", "none"])
    p.add_argument("--scales", default="static", choices=SCALES, help=SCALES_HELP)
    p.add_argument("--eval", type=Path, default=None, help="CSV or JSONL of text,label to validate on")
    p.add_argument("--min-agreement", type=float, default=0.98, help="fp32/int8 argmax agreement needed")
    p.add_argument("--force", action="store_true", help="write the bundle even under --min-agreement")
    p.add_argument("--max-length", type=int, default=128, help="longest input in tokens (default 128)")
    p.add_argument("--fp32-out", type=Path, default=None, help="also write the fp32 bundle here (for bench --compare)")
    p.add_argument("--name", default=None, help="model name recorded in the manifest")
    p.add_argument("--sign-key", type=Path, default=None, help="sign the bundle(s) with this private key (keygen)")
    p.add_argument(
        "--validation",
        type=Path,
        default=None,
        help="CSV/JSONL of text,label (with out_of_scope examples) to fit calibration and threshold on",
    )
    p.add_argument(
        "--train",
        type=Path,
        default=None,
        help="the training CSV/JSONL: class statistics for the distance detector (with --validation)",
    )
    p.add_argument("--gpu", action="store_true", help=GPU_HELP)
    p.add_argument(
        "--minimal-pairs",
        type=Path,
        default=None,
        help="JSONL of sentence pairs that differ only in polarity (export/data/minimal_pairs.jsonl is "
        "the default model's): refuse a model that answers any side with the opposite action",
    )


def run_export(args: argparse.Namespace) -> int:
    _require_export_extra()
    from export.pipeline import ExportOptions, export_model

    key = _signing_key(args.sign_key)
    bundle = export_model(
        ExportOptions(
            model=args.model,
            out=args.out,
            optimize=args.optimize,
            quantize=args.quantize,
            scales=args.scales,
            eval_file=args.eval,
            min_agreement=args.min_agreement,
            force=args.force,
            max_length=args.max_length,
            fp32_out=args.fp32_out,
            name=args.name,
            calibration_file=args.validation,
            train_file=args.train,
            gpu=args.gpu,
            minimal_pairs=args.minimal_pairs,
        )
    )
    _print_summary(bundle)
    _sign_outputs(key, args.out, args.fp32_out)
    return 0


def add_build_default_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    p.add_argument("--fp32-out", type=Path, default=None, help="also write the fp32 bundle here")
    p.add_argument(
        "--checkpoint-out",
        type=Path,
        default=None,
        help="keep the fine-tuned PyTorch checkpoint here (for bench --baseline torch --torch-model)",
    )
    p.add_argument("--quantize", default="arm64", choices=["arm64", "avx2", "avx512", "avx512_vnni"])
    p.add_argument("--scales", default="static", choices=SCALES, help=SCALES_HELP)
    p.add_argument("--sign-key", type=Path, default=None, help="sign the bundle(s) with this private key (keygen)")
    p.add_argument("--gpu", action="store_true", help=GPU_HELP)
    # The names are checked by export.default_model (the export extra), which says which exist.
    p.add_argument(
        "--encoder",
        default=None,
        help="encoder to fine-tune: e5-small-l6 (the default: multilingual, English + Korean) "
        "or minilm-jamo (all-MiniLM-L6-v2, English, Korean as jamo)",
    )


def run_build_default(args: argparse.Namespace) -> int:
    _require_export_extra()
    from export.default_model import ENCODER, build_default

    key = _signing_key(args.sign_key)
    _print_summary(
        build_default(
            args.out,
            fp32_out=args.fp32_out,
            quantize=args.quantize,
            scales=args.scales,
            checkpoint_out=args.checkpoint_out,
            gpu=args.gpu,
            encoder=args.encoder or ENCODER,
        )
    )
    _sign_outputs(key, args.out, args.fp32_out)
    return 0


def _print_summary(bundle) -> None:
    ev = bundle.manifest.get("eval", {})
    keys = (
        "accuracy_fp32",
        "accuracy_int8",
        "agreement",
        "in_scope_accuracy",
        "out_of_scope_recall",
        "ece",
        "agreement_fp16",
    )
    figures = ", ".join(f"{k} {ev[k]}" for k in keys if ev.get(k) is not None)
    print(f"bundle written: {bundle.path} ({bundle.name}; {figures}; sha256 {bundle.sha256[:16]})")


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sentences",
        nargs="+",
        type=Path,
        help="sentence files in the shape of Home Assistant's custom_sentences (one language each)",
    )
    p.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    p.add_argument(
        "--base",
        default="default",
        choices=["default", "none"],
        help="default: add the intents to the default model's; none: only these (and out_of_scope)",
    )
    p.add_argument("--fp32-out", type=Path, default=None, help="also write the fp32 bundle here")
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="--base default: start from this default checkpoint folder (default: the cached build's)",
    )
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: 4 from default, 15 from none)")
    p.add_argument(
        "--max-per-template",
        type=int,
        default=None,
        help="sentences drawn per template at most (default 40; {list} products are sampled)",
    )
    p.add_argument("--quantize", default="arm64", choices=["arm64", "avx2", "avx512", "avx512_vnni"])
    p.add_argument("--force", action="store_true", help="write the bundle even when the export's gates refuse it")
    p.add_argument("--name", default=None, help="model name recorded in the manifest")
    p.add_argument("--sign-key", type=Path, default=None, help="sign the bundle(s) with this private key (keygen)")


def run_train(args: argparse.Namespace) -> int:
    _require_export_extra()
    if importlib.util.find_spec("hassil") is None:
        raise ExportError("`edge-app train` needs the PyPI package hassil; run `pip install -e .[export]`")
    from export.sentences import CAP
    from export.train import TrainOptions, train_sentences

    key = _signing_key(args.sign_key)
    bundle, report = train_sentences(
        TrainOptions(
            files=args.sentences,
            out=args.out,
            base=args.base,
            fp32_out=args.fp32_out,
            checkpoint=args.checkpoint,
            epochs=args.epochs,
            cap=args.max_per_template or CAP,
            quantize=args.quantize,
            force=args.force,
            name=args.name,
        )
    )
    _print_summary(bundle)
    print(
        f"held out: {report['examples']} sentences, accuracy {report['accuracy']}, {len(report['warnings'])} warnings"
    )
    _sign_outputs(key, args.out, args.fp32_out)
    return 0
