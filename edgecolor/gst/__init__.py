"""GStreamer glue: where the `edgecolor` element's plugin file lives, and GStreamer's Python bindings.

The element (element.py) is a Python element: GStreamer's Python plugin loader (Debian:
gstreamer1.0-python3-plugin-loader) imports ``python/edgecolor_gst.py`` from every folder in
``GST_PLUGIN_PATH``, so ``plugin_path()`` is the folder to put there. The bindings are the system's
(Debian: python3-gi, gir1.2-gstreamer-1.0, python3-gst-1.0), because the loader itself runs them
and only their GStreamer overrides map a buffer's memory writable into Python. Nothing here is
imported by ``import edgecolor``; gi is imported only when asked for.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from edgecolor.errors import BackendError

ELEMENT = "edgecolor"
# What a Debian 12 / Raspberry Pi OS bookworm machine needs for the element and for `live --rtsp`.
APT_PACKAGES = ("gstreamer1.0-tools", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good",
                "gstreamer1.0-plugins-ugly", "gstreamer1.0-libav", "python3-gi", "python3-gst-1.0",
                "gir1.2-gstreamer-1.0", "gir1.2-gst-plugins-base-1.0", "gir1.2-gst-rtsp-server-1.0",
                "gstreamer1.0-python3-plugin-loader")
INSTALL_HINT = "sudo apt install " + " ".join(APT_PACKAGES)


def plugin_path() -> Path:
    """The folder to add to GST_PLUGIN_PATH: it holds python/edgecolor_gst.py, the plugin file."""
    return Path(__file__).resolve().parent


def _unwinder_first() -> None:
    """Put GCC's unwinder (libgcc_s) in the process's global symbols before GStreamer loads.

    gi opens libgstreamer with RTLD_GLOBAL, and Debian's links libunwind, which also defines
    _Unwind_Resume: a C++ library that throws its first exception after that (OpenVINO loading a model
    while `live --rtsp` serves) would bind to libunwind's and abort. Found first, libgcc_s's wins."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libgcc_s.so.1", mode=ctypes.RTLD_GLOBAL)
        except OSError:  # not a glibc system: nothing to do
            pass


def load_gi(*namespaces: str) -> dict[str, ModuleType]:
    """GStreamer's introspected modules by name (Gst first, initialised), or a BackendError naming the packages.

    ``load_gi("GstBase", "GstVideo")`` -> {"Gst": ..., "GstBase": ..., "GstVideo": ..., "GLib": ..., "GObject": ...}
    """
    _unwinder_first()
    try:
        import gi
    except ImportError:
        raise BackendError("GStreamer's Python bindings (gi) are not importable here: " + INSTALL_HINT +
                           ", and create the virtual environment with --system-site-packages") from None
    modules = {}
    for name in ("Gst", *namespaces):
        try:
            gi.require_version(name, "1.0")
            modules[name] = getattr(__import__("gi.repository", fromlist=[name]), name)
        except (ValueError, ImportError, AttributeError):
            raise BackendError(f"GStreamer's {name} 1.0 introspection data is missing: {INSTALL_HINT}") from None
    from gi.repository import GLib, GObject

    modules["GLib"], modules["GObject"] = GLib, GObject
    modules["Gst"].init(None)
    return modules
