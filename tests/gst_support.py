"""What the GStreamer tests (test_gst.py, test_rtsp.py) need from the system, said as one skip reason."""

from __future__ import annotations

import shutil
import subprocess


def missing(tools: tuple[str, ...], tools_from: str, typelibs: tuple[str, ...], bindings_hint: str,
            elements: tuple[tuple[str, str], ...], python_loader: bool = False) -> str:
    """The first thing missing, with the Debian package that brings it; "" when everything is there.

    ``tools_from``: the packages of ``tools``; ``typelibs``: gi versions to require ("Gst", ...);
    ``elements``: (element, package) pairs checked with gst-inspect-1.0; ``python_loader``: the gst-python
    plugin loader too (for the Python element)."""
    for tool in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed ({tools_from})"
    try:
        import gi

        for typelib in typelibs:
            gi.require_version(typelib, "1.0")
    except (ImportError, ValueError) as e:
        return f"{bindings_hint}: {e}"
    if python_loader and subprocess.run(["gst-inspect-1.0", "python"], capture_output=True).returncode != 0:
        return "GStreamer's Python plugin loader is missing (gstreamer1.0-python3-plugin-loader)"
    for element, package in elements:
        if subprocess.run(["gst-inspect-1.0", element], capture_output=True).returncode != 0:
            return f"GStreamer element {element} is missing ({package})"
    return ""
