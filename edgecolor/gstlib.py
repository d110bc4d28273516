"""GStreamer's Python bindings (gi), loaded the one way that works beside OpenVINO, or a BackendError that
names the Debian packages. The system's bindings (python3-gi, python3-gst-1.0): the GStreamer plugin loader
runs them anyway, and only their GStreamer overrides map a buffer's memory writable into Python. Used by
the element (gst/) and RTSP out (rtsp.py); gi is imported only when asked for.
"""

from __future__ import annotations

from types import ModuleType

from edgecolor.errors import BackendError

# What a Debian 12 / Raspberry Pi OS bookworm machine needs for the element and for `live --rtsp`.
APT_PACKAGES = ("gstreamer1.0-tools", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good",
                "gstreamer1.0-plugins-ugly", "gstreamer1.0-libav", "python3-gi", "python3-gst-1.0",
                "gir1.2-gstreamer-1.0", "gir1.2-gst-plugins-base-1.0", "gir1.2-gst-rtsp-server-1.0",
                "gstreamer1.0-python3-plugin-loader")
INSTALL_HINT = "sudo apt install " + " ".join(APT_PACKAGES)


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
