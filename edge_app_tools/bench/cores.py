"""Which CPU core the bench runs on, from /proc/cpuinfo's identifiers, and its int8 rate.

The instruction-set flags alone cannot give a peak: Zen 4 and Zen 5 both advertise
avx512_vnni, but Zen 4 runs a 512-bit VPDPBUSD as two 256-bit halves and Zen 5 (desktop and
server) has full-width datapaths, a factor of 2. So the core is named from x86 family/model or
Arm's implementer/part number where we are sure, and is "unknown" otherwise; the peak line
then says it fell back to the flags, an upper bound. Figures are stated assumptions (vendor
optimisation guides, uops.info), not measurements.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Core:
    """A named core and its int8 multiply-accumulates per cycle, with where that comes from."""

    name: str
    macs_per_cycle: int
    why: str


UNKNOWN = "unknown"

ZEN3 = Core("AMD Zen 3", 64, "Zen 3: AVX2 only, 2 x 256-bit VPMADDUBSW = 64 int8 MAC/cycle (upper bound)")
ZEN4 = Core("AMD Zen 4", 64, "Zen 4: 512-bit VPDPBUSD runs as two 256-bit halves, 2 pipes = 64 int8 MAC/cycle")
ZEN5 = Core(
    "AMD Zen 5 (full-width AVX-512)",
    128,
    "Zen 5 desktop/server: full 512-bit datapaths, 2 x 512-bit VPDPBUSD = 128 int8 MAC/cycle",
)
ZEN5_MOBILE = Core(
    "AMD Zen 5 mobile (256-bit datapaths)",
    64,
    "Zen 5 mobile: 512-bit VPDPBUSD double-pumped on 256-bit datapaths = 64 int8 MAC/cycle",
)

# (family, first model, last model) -> core; ranges from the Linux kernel's AMD model tables.
AMD_MODELS: list[tuple[int, int, int, Core]] = [
    (25, 0x00, 0x0F, ZEN3),  # Milan
    (25, 0x20, 0x2F, ZEN3),  # Vermeer
    (25, 0x40, 0x5F, ZEN3),  # Rembrandt, Cezanne
    (25, 0x10, 0x1F, ZEN4),  # Genoa
    (25, 0x60, 0x7F, ZEN4),  # Raphael, Phoenix
    (25, 0xA0, 0xAF, ZEN4),  # Bergamo, Siena
    (26, 0x00, 0x1F, ZEN5),  # Turin, Turin dense
    (26, 0x40, 0x4F, ZEN5),  # Granite Ridge
    (26, 0x20, 0x2F, ZEN5_MOBILE),  # Strix Point
    (26, 0x60, 0x6F, ZEN5_MOBILE),  # Krackan Point
]

# Intel family 6 models we are sure of; anything else is unknown.
INTEL_MODELS: dict[int, Core] = {
    0x8F: Core(
        "Intel Sapphire Rapids", 128, "Sapphire Rapids: 2 x 512-bit VPDPBUSD = 128 int8 MAC/cycle (AMX not used)"
    ),
    0xCF: Core("Intel Emerald Rapids", 128, "Emerald Rapids: 2 x 512-bit VPDPBUSD = 128 int8 MAC/cycle (AMX not used)"),
    0x6A: Core("Intel Ice Lake-SP", 128, "Ice Lake-SP: 2 x 512-bit VPDPBUSD = 128 int8 MAC/cycle"),
}

# Arm implementer 0x41, by CPU part number.
ARM_PARTS: dict[int, Core] = {
    0xD03: Core("Arm Cortex-A53", 8, "Cortex-A53: no dot product, 64-bit NEON datapath = 8 int8 MAC/cycle"),
    0xD08: Core(
        "Arm Cortex-A72",
        16,
        "Cortex-A72: no dot product (SDOT/UDOT absent), 2 x 128-bit widening MAC = 16 int8 MAC/cycle",
    ),
    0xD0B: Core("Arm Cortex-A76", 32, "Cortex-A76: 2 x 128-bit SDOT/UDOT (dot product) = 32 int8 MAC/cycle"),
    0xD0C: Core("Arm Neoverse N1", 32, "Neoverse N1: 2 x 128-bit SDOT/UDOT = 32 int8 MAC/cycle"),
    0xD42: Core("Arm Cortex-A78AE", 32, "Cortex-A78AE (Jetson Orin): 2 x 128-bit SDOT/UDOT = 32 int8 MAC/cycle"),
}


def _int(text: str) -> int | None:
    """cpuinfo numbers: decimal on x86 (`model : 17`), hex on Arm (`CPU part : 0xd0b`)."""
    try:
        return int(text.strip(), 0)
    except (ValueError, AttributeError):
        return None


def identify_core(fields: dict[str, str]) -> Core | None:
    """The core named by cpuinfo's identifiers, or None when we are not sure which it is."""
    vendor = fields.get("vendor_id", "")
    family, model = _int(fields.get("cpu family", "")), _int(fields.get("model", ""))
    if vendor == "AuthenticAMD" and family is not None and model is not None:
        return next((core for fam, lo, hi, core in AMD_MODELS if fam == family and lo <= model <= hi), None)
    if vendor == "GenuineIntel" and family == 6 and model is not None:
        return INTEL_MODELS.get(model)
    if _int(fields.get("CPU implementer", "")) == 0x41:
        part = _int(fields.get("CPU part", ""))
        return ARM_PARTS.get(part) if part is not None else None
    return None


def core_identity(fields: dict[str, str]) -> str:
    """What the report prints: the core's name, or "unknown" with the identifiers it saw."""
    core = identify_core(fields)
    if core:
        return core.name
    ids = [
        f"{k} {fields[k]}" for k in ("vendor_id", "cpu family", "model", "CPU implementer", "CPU part") if fields.get(k)
    ]
    return f"{UNKNOWN} ({', '.join(ids) or 'no identifiers in /proc/cpuinfo'})"
