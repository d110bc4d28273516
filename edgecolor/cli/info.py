"""`edgecolor info`: what this machine offers edgecolor, for bug reports and for choosing a backend."""

from __future__ import annotations

import json
import os
import platform

import typer

from edgecolor.cli.app import app
from edgecolor.cpu import cpu_info


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
