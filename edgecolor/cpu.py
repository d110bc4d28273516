"""What CPU this is: model name and SIMD features, read once here for `edgecolor info` and the bench."""

from __future__ import annotations

import platform
from pathlib import Path


def read_cpuinfo(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """The CPU model line ("" when none) and every flag in /proc/cpuinfo; empty when it cannot be read."""
    model, flags = "", set()
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "hardware", "cpu model") and value.strip():
                model = value.strip()
            elif key in ("flags", "features"):
                flags.update(value.split())
    except OSError:
        pass
    return model, flags


# /proc/cpuinfo flags that matter to OpenVINO/oneDNN and OpenCV kernels, in the names people know.
_X86_FEATURES = {
    "sse4_2": "SSE4.2",
    "avx": "AVX",
    "avx2": "AVX2",
    "fma": "FMA",
    "f16c": "F16C",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "amx_int8": "AMX-INT8",
    "amx_bf16": "AMX-BF16",
}
_ARM_FEATURES = {"asimd": "NEON", "asimddp": "dot product", "asimdhp": "FP16 arithmetic", "sve": "SVE", "i8mm": "I8MM"}


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo"), arch: str | None = None) -> dict[str, object]:
    """CPU model and SIMD features from /proc/cpuinfo (Linux); empty features elsewhere.

    Only the features of this process's architecture are named: under qemu-user emulation (an arm64
    Python on an x86-64 host, scripts/check_arm64.sh) /proc/cpuinfo is the host's, and AVX-512 is not
    something an arm64 build can use."""
    arch = arch or platform.machine()
    model, flags = read_cpuinfo(cpuinfo)
    model = model or platform.processor() or arch
    arm = arch.lower().startswith(("arm", "aarch"))
    names = _ARM_FEATURES if arm else _X86_FEATURES
    return {"model": model, "arch": arch, "features": [names[f] for f in names if f in flags]}
