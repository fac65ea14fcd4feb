"""What the numbers were measured on: CPU, cores, clock, int8 instructions, board, runtime.

A benchmark without its machine is not comparable to anything, so this goes into the
table's header and the JSON. Reads /proc and /sys only (no psutil on a board).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from edge_app.session import physical_cores

from .cores import core_identity, identify_core

CPUINFO = Path("/proc/cpuinfo")
BOARD_MODEL = Path("/proc/device-tree/model")
MAX_FREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")


def cpuinfo_fields(text: str) -> dict[str, str]:
    """The first value of each `key : value` line (the first CPU's block, plus arm's trailer)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return fields


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def cpu_model(fields: dict[str, str]) -> str:
    """x86 says `model name`; arm64 boards often only say `Hardware`/`Model` or nothing."""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        if fields.get(key):
            return fields[key]
    return platform.processor() or platform.machine()


def clock_mhz(fields: dict[str, str]) -> float | None:
    """Highest clock the kernel reports: cpufreq's max where present, else cpuinfo's `cpu MHz`."""
    max_khz = _read(MAX_FREQ).strip()
    if max_khz.isdigit():
        return int(max_khz) / 1000.0
    try:
        return float(fields["cpu MHz"])
    except (KeyError, ValueError):
        return None


def board_model() -> str | None:
    """Raspberry Pi / Jetson name their board in the device tree; PCs have none."""
    text = _read(BOARD_MODEL).replace("\x00", "").strip()
    return text or None


def describe_hardware() -> dict[str, Any]:
    """Everything the header shows about the machine, as plain JSON-able values."""
    fields = cpuinfo_fields(_read(CPUINFO))
    flags = (fields.get("flags") or fields.get("Features") or "").split()
    core = identify_core(fields)
    return {
        "cpu_model": cpu_model(fields),
        "cpu_vendor": fields.get("vendor_id") or fields.get("CPU implementer") or "",
        "cpu_family": fields.get("cpu family", ""),
        "cpu_model_number": fields.get("model", ""),
        "cpu_part": fields.get("CPU part", ""),
        # the core decides the int8 peak; "unknown ..." rather than a guess (bench/cores.py)
        "cpu_core": core_identity(fields),
        "cpu_core_macs_per_cycle": core.macs_per_cycle if core else None,
        "cpu_core_assumption": core.why if core else None,
        "cores_physical": physical_cores(),
        "cores_logical": os.cpu_count() or 1,
        "clock_mhz": clock_mhz(fields),
        "flags": sorted(f for f in flags if f in INTERESTING_FLAGS),
        "board_model": board_model(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


# The instruction-set flags that decide int8 speed; the full flag list is noise in a report.
INTERESTING_FLAGS = {
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
    "sve2",
    "bf16",
}


def runtime_versions() -> dict[str, Any]:
    """onnxruntime's version and providers; imported here, not at module top (CLI start time)."""
    import onnxruntime as ort

    return {"onnxruntime": ort.__version__, "providers_available": ort.get_available_providers()}
