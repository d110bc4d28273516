"""GStreamer's bindings loaded through edgecolor.gstlib: initialised, and a missing namespace is a BackendError
that names the Debian packages (not an ImportError or ValueError from gi)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from video_fixtures import cli_env

from edgecolor.errors import BackendError


def _gi() -> None:
    pytest.importorskip("gi", reason="GStreamer's Python bindings are missing (python3-gi; scripts/link_system_gi.sh)")


def test_load_gi_gives_initialised_gstreamer():
    from edgecolor.gstlib import load_gi

    _gi()
    try:
        modules = load_gi("GstVideo")
    except BackendError as e:
        pytest.skip(str(e))
    Gst = modules["Gst"]
    assert Gst.is_initialized() and modules["GstVideo"].VideoInfo is not None
    assert {"Gst", "GstVideo", "GLib", "GObject"} <= set(modules)


def test_a_missing_namespace_names_the_packages():
    from edgecolor.gstlib import load_gi

    _gi()
    try:
        load_gi()  # GStreamer itself first: without it, the message names Gst (the case above skips too)
    except BackendError as e:
        pytest.skip(str(e))
    with pytest.raises(BackendError, match=r"GstNoSuchThing 1\.0 introspection data is missing: sudo apt install .*"
                                           r"gir1\.2-gst-rtsp-server-1\.0"):
        load_gi("GstNoSuchThing")


@pytest.mark.slow
def test_live_rtsp_without_the_bindings_is_one_line():
    """No gi at all (a venv without system site packages): `live --rtsp` says what to install, exit 2."""
    code = ("import sys; sys.modules['gi'] = None\n"  # what `import gi` does where it is not installed
            "from edgecolor.cli import main\n"
            "main(['live', '--source', 'http://127.0.0.1:9/never-opened', '--rtsp', '0'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("edgecolor: error:")]
    assert lines == [lines[0]] and "gi) are not importable here: sudo apt install" in lines[0]
    assert "--system-site-packages" in lines[0] and "Traceback" not in r.stderr
