"""The core behind the int8 peak line, identified from sample /proc/cpuinfo texts."""

from __future__ import annotations

from edge_app_tools.bench.cores import core_identity, identify_core
from edge_app_tools.bench.hardware import cpuinfo_fields
from edge_app_tools.bench.peak import int8_peak

AVX512 = "fpu sse2 avx2 fma avx512f avx512bw avx512_vnni"


def x86(vendor: str, family: int, model: int, flags: str = AVX512) -> str:
    return (
        f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
        f"model name\t: some cpu\ncpu MHz\t\t: 2000.000\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
        f"vendor_id\t: {vendor}\ncpu family\t: 99\nmodel\t\t: 99\n"
    )


def arm(part: str, features: str) -> str:
    return (
        f"processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
        f"CPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: {part}\nCPU revision\t: 1\n\n"
        f"processor\t: 1\nCPU part\t: 0xfff\n\nModel\t\t: Some board\n"
    )


def test_zen4_and_zen5_differ_by_two_despite_the_same_flags():
    zen4, zen5 = (
        identify_core(cpuinfo_fields(x86("AuthenticAMD", 25, 17))),
        identify_core(cpuinfo_fields(x86("AuthenticAMD", 26, 2))),
    )
    assert zen4 and zen4.name == "AMD Zen 4" and zen4.macs_per_cycle == 64
    assert zen5 and "Zen 5" in zen5.name and zen5.macs_per_cycle == 128
    mobile = identify_core(cpuinfo_fields(x86("AuthenticAMD", 26, 0x24)))
    assert mobile and "mobile" in mobile.name and mobile.macs_per_cycle == 64


def test_zen3_has_no_vnni_figure():
    core = identify_core(cpuinfo_fields(x86("AuthenticAMD", 25, 0x21, "avx2 fma")))
    assert core and core.name == "AMD Zen 3" and "AVX2" in core.why


def test_arm_parts_name_the_dot_product():
    a72 = identify_core(cpuinfo_fields(arm("0xd08", "fp asimd evtstrm crc32 cpuid")))
    a76 = identify_core(cpuinfo_fields(arm("0xd0b", "fp asimd asimdhp asimddp")))
    a53 = identify_core(cpuinfo_fields(arm("0xd03", "fp asimd")))
    assert a72 and a72.name == "Arm Cortex-A72" and "no dot product" in a72.why and a72.macs_per_cycle == 16
    assert a76 and a76.name == "Arm Cortex-A76" and "SDOT/UDOT" in a76.why and a76.macs_per_cycle == 32
    assert a53 and a53.name == "Arm Cortex-A53" and a53.macs_per_cycle < a72.macs_per_cycle


def test_unsure_cores_are_unknown_not_guessed():
    for text in (
        x86("AuthenticAMD", 27, 1),
        x86("AuthenticAMD", 25, 0x90),
        x86("GenuineIntel", 6, 0x01),
        arm("0xd07", "fp asimd"),
        "processor\t: 0\n",
    ):
        fields = cpuinfo_fields(text)
        assert identify_core(fields) is None
        assert core_identity(fields).startswith("unknown (")
    assert "cpu family 27" in core_identity(cpuinfo_fields(x86("AuthenticAMD", 27, 1)))


def hardware(core_macs, flags):
    return {
        "clock_mhz": 1000.0,
        "cores_physical": 2,
        "flags": flags,
        "cpu_vendor": "AuthenticAMD",
        "cpu_core": "AMD Zen 5 (full-width AVX-512)" if core_macs else "unknown (cpu family 27)",
        "cpu_core_macs_per_cycle": core_macs,
        "cpu_core_assumption": "Zen 5: 128" if core_macs else None,
    }


def test_peak_uses_the_core_and_says_when_it_fell_back_to_flags():
    known = int8_peak(hardware(128, ["avx512_vnni"]), 10_000_000, 10.0, 1000.0)
    assert known["peak_ops_per_s"] == 2 * 1000e6 * 2 * 128 and known["core"].startswith("AMD Zen 5")
    unknown = int8_peak(hardware(None, ["avx2"]), 10_000_000, 10.0, 1000.0)
    assert unknown["core"].startswith("unknown") and "upper bound" in unknown["assumption"]
    assert unknown["int8_macs_per_cycle_per_core"] == 64
