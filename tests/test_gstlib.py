"""GStreamer's bindings loaded through edgecolor.gstlib: initialised, and a missing namespace is a BackendError
that names the Debian packages (not an ImportError or ValueError from gi)."""

from __future__ import annotations

import pytest

from edgecolor.errors import BackendError

gi = pytest.importorskip("gi", reason="GStreamer's Python bindings are missing (python3-gi; scripts/link_system_gi.sh)")


def test_load_gi_gives_initialised_gstreamer():
    from edgecolor.gstlib import load_gi

    try:
        modules = load_gi("GstVideo")
    except BackendError as e:
        pytest.skip(str(e))
    Gst = modules["Gst"]
    assert Gst.is_initialized() and modules["GstVideo"].VideoInfo is not None
    assert {"Gst", "GstVideo", "GLib", "GObject"} <= set(modules)


def test_a_missing_namespace_names_the_packages():
    from edgecolor.gstlib import load_gi

    with pytest.raises(BackendError, match=r"GstNoSuchThing 1\.0 introspection data is missing: sudo apt install .*"
                                           r"gir1\.2-gst-rtsp-server-1\.0"):
        load_gi("GstNoSuchThing")
