"""How far batch-32 int8 throughput is from what the CPU could do at best.

peak int8 ops/s = physical cores x clock x int8 ops per cycle per core, where the last factor
comes from the best int8 dot-product instruction the CPU advertises and how many of them a
core issues per cycle. The per-cycle figures are stated assumptions (vendor optimisation
manuals, uops.info), not measurements, and the report prints them next to the result.
"""

from __future__ import annotations

from typing import Any

# Used only when bench/cores.py does not know the core: the best flag, an upper bound.
# (flag, vendor or "" for any) -> (int8 multiply-accumulates per cycle per core, why)
MACS_PER_CYCLE: list[tuple[str, str, int, str]] = [
    ("amx_int8", "", 1024, "AMX TMUL: 1024 int8 MAC/cycle (Sapphire Rapids); onnxruntime CPU rarely uses it"),
    ("avx512_vnni", "", 128, "AVX512-VNNI: 2 ports x 512-bit VPDPBUSD = 128 int8 MAC/cycle"),
    ("avx_vnni", "", 64, "AVX-VNNI: 2 ports x 256-bit VPDPBUSD = 64 int8 MAC/cycle"),
    ("avx512bw", "", 128, "AVX512BW: 2 ports x 512-bit VPMADDUBSW = 128 int8 MAC/cycle (upper bound)"),
    ("avx2", "", 64, "AVX2: 2 ports x 256-bit VPMADDUBSW = 64 int8 MAC/cycle (upper bound)"),
    ("i8mm", "", 64, "Armv8.6 I8MM: 2 pipes x SMMLA (32 MAC) = 64 int8 MAC/cycle"),
    ("asimddp", "", 32, "Armv8.2 dot product: 2 pipes x 128-bit SDOT (16 MAC) = 32 int8 MAC/cycle"),
    ("asimd", "", 16, "NEON without dot product: 2 pipes x 8 widening MAC = 16 int8 MAC/cycle"),
]
FALLBACK = (16, "unknown SIMD: assumed 16 int8 MAC/cycle")


def int8_macs_per_cycle(flags: list[str], vendor: str) -> tuple[int, str]:
    """The best int8 instruction this CPU advertises, as (MAC/cycle/core, assumption text)."""
    present = set(flags)
    for flag, only_vendor, macs, why in MACS_PER_CYCLE:
        if flag in present and (not only_vendor or only_vendor == vendor):
            return macs, why
    return FALLBACK


def core_macs_per_cycle(hardware: dict[str, Any]) -> tuple[int, str]:
    """The identified core's figure; for an unknown core the flags' best case, said as such."""
    if hardware.get("cpu_core_macs_per_cycle"):
        return int(hardware["cpu_core_macs_per_cycle"]), str(hardware.get("cpu_core_assumption"))
    macs, why = int8_macs_per_cycle(hardware.get("flags", []), hardware.get("cpu_vendor", ""))
    return macs, f"core unknown, so from the flags alone (an upper bound, may be 2x off): {why}"


def int8_peak(
    hardware: dict[str, Any], int8_weights: int, mean_padded_tokens: float, texts_per_s: float | None
) -> dict[str, Any]:
    """ops/text = 2 x int8 matmul weights x padded tokens (attention products, a few per cent
    at 128 tokens, are left out); peak = cores x clock x 2 x MAC/cycle."""
    macs, assumption = core_macs_per_cycle(hardware)
    mhz = hardware.get("clock_mhz")
    cores = int(hardware.get("cores_physical") or 1)
    out: dict[str, Any] = {
        "int8_matmul_weights": int8_weights,
        "mean_padded_tokens": round(mean_padded_tokens, 2),
        "ops_per_text": 2 * int8_weights * mean_padded_tokens,
        "int8_macs_per_cycle_per_core": macs,
        "assumption": assumption,
        "core": hardware.get("cpu_core") or "unknown",
        "cores": cores,
        "clock_mhz": mhz,
        "peak_ops_per_s": None,
        "achieved_ops_per_s": None,
        "percent_of_peak": None,
        "peak_texts_per_s": None,
    }
    if not mhz or not int8_weights or not mean_padded_tokens:
        return out
    peak = cores * mhz * 1e6 * 2 * macs
    out["peak_ops_per_s"] = peak
    out["peak_texts_per_s"] = peak / out["ops_per_text"]
    if texts_per_s:
        out["achieved_ops_per_s"] = texts_per_s * out["ops_per_text"]
        out["percent_of_peak"] = 100.0 * out["achieved_ops_per_s"] / peak
    return out
