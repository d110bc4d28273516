"""`edgecolor info`: what this machine offers edgecolor, for bug reports and for choosing a backend."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import typer

from edgecolor.cli.app import app

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
    model, flags = platform.processor() or arch, set()
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
    arm = arch.lower().startswith(("arm", "aarch"))
    names = _ARM_FEATURES if arm else _X86_FEATURES
    return {"model": model, "arch": arch, "features": [names[f] for f in names if f in flags]}


def _version(module: str) -> str:
    try:
        mod = __import__(module)
    except ImportError:
        return "not installed"
    if module == "openvino":
        try:
            return mod.get_version()
        except AttributeError:
            pass
    return getattr(mod, "__version__", "?")


def openvino_devices() -> dict[str, dict[str, str]]:
    """Each OpenVINO device with its full name and optimization capabilities (FP32, INT8, ...)."""
    try:
        import openvino as ov
    except ImportError:
        return {}
    core = ov.Core()
    devices = {}
    for name in core.available_devices:
        entry = {}
        for prop in ("FULL_DEVICE_NAME", "OPTIMIZATION_CAPABILITIES"):
            try:
                value = core.get_property(name, prop)
                entry[prop.lower()] = " ".join(value) if isinstance(value, list | tuple) else str(value)
            except Exception:  # a plugin that lacks a property: leave it out
                pass
        if name.split(".")[0] in ("CPU", "GPU"):  # NPU: compiling even a probe is slow there
            from edgecolor.backends.openvino import precisions_that_run

            runs = precisions_that_run(name)
            if runs:
                entry["precision_runs_as"] = ", ".join(f"{k} as {v}" for k, v in runs.items())
        devices[name] = entry
    return devices


def backends_available() -> dict[str, str]:
    """Backend name -> "available" or how to install it, from the backend registry."""
    from edgecolor.backends.base import BACKENDS, get_backend

    out = {name: "available" if cls.available() else f"not installed: {cls.install}" for name, cls in BACKENDS.items()}
    try:
        out["auto"] = f"uses {get_backend('auto').name}"
    except Exception as e:  # noqa: BLE001 - no backend at all: say so instead of failing
        out["auto"] = str(e)
    return out


def threads_info() -> dict[str, object]:
    import cv2

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu_count": os.cpu_count(), "usable_cpus": usable, "opencv_threads": cv2.getNumThreads()}


def collect() -> dict[str, object]:
    from edgecolor import __version__

    return {
        "versions": {
            "edgecolor": __version__,
            "python": platform.python_version(),
            "numpy": _version("numpy"),
            "opencv": _version("cv2"),
            "openvino": _version("openvino"),
        },
        "backends": backends_available(),
        "openvino_devices": openvino_devices(),
        "cpu": cpu_info(),
        "threads": threads_info(),
        "platform": platform.platform(),
    }


@app.command()
def info(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text.")) -> None:
    """Versions, available backends, OpenVINO devices, CPU features and threads."""
    data = collect()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    v, cpu, th = data["versions"], data["cpu"], data["threads"]
    lines = [(f"{k}", str(val)) for k, val in v.items()]
    lines.append(("backends", ", ".join(f"{k} ({val})" for k, val in data["backends"].items()) or "none"))
    for name, dev in data["openvino_devices"].items() or [("-", {})]:
        caps = dev.get("optimization_capabilities", "")
        lines.append((f"openvino device {name}", f"{dev.get('full_device_name', '')} [{caps}]".strip()))
        if dev.get("precision_runs_as"):
            lines.append((f"  {name} computes", dev["precision_runs_as"]))
    lines.append(("cpu", f"{cpu['model']} ({cpu['arch']})"))
    lines.append(("cpu features", ", ".join(cpu["features"]) or "-"))
    lines.append(("threads", f"{th['cpu_count']} CPUs, {th['usable_cpus']} usable, OpenCV uses {th['opencv_threads']}"))
    lines.append(("platform", str(data["platform"])))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {value}")
