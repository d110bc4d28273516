"""Imports of the video modules only go down the layers (issue 11): video/live -> stream -> sources ->
ffmpeg -> errors; options (ColorizerOptions) stays in the floor. Function-level (lazy) imports count too:
they close a circle just the same."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "edgecolor"
# module -> edgecolor modules it must never import (anything above it)
ABOVE = {
    "ffmpeg": {"sources", "stream", "video", "live", "mjpeg", "atomic", "cli"},
    "atomic": {"sources", "stream", "video", "live", "mjpeg", "ffmpeg", "cli"},
    "sources": {"stream", "video", "live", "mjpeg", "cli"},
    "stream": {"video", "live", "mjpeg", "cli"},
    # the stabilizer is a part below the stream loop: numpy, cv2 and the floor (options) only
    "stabilizer": {"stream", "sources", "video", "video_batch", "live", "mjpeg", "rtsp", "gst", "colorizer", "batch",
                   "backends", "models", "ffmpeg", "cli"},
    "video": {"live", "mjpeg", "cli"},
    "mjpeg": {"stream", "video", "live", "sources", "cli"},
    "cvlog": {"sources", "stream", "video", "live", "mjpeg", "ffmpeg", "atomic", "backends", "cli"},
    # the model-file reader is below the catalogue and the backends, which both read from it
    "options": {"models", "backends", "colorizer", "pipeline", "files", "batch", "video", "video_batch", "live",
                "stream", "stabilizer", "sources", "cli"},
    "video_batch": {"live", "cli"},
    # GStreamer: the bindings' loader is in the floor, RTSP out a part beside mjpeg (issue 22)
    "gstlib": {"sources", "stream", "video", "live", "mjpeg", "rtsp", "gst", "colorizer", "cli"},
    "rtsp": {"stream", "video", "live", "mjpeg", "gst", "cli"},
    "modelfile": {"models", "backends", "colorizer", "pipeline", "batch", "cli"},
}


def edgecolor_imports(path: Path) -> set[str]:
    """First component below ``edgecolor`` of every import in the file, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "edgecolor"
                                     else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "edgecolor" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_video_modules_import_only_downwards():
    for module, forbidden in ABOVE.items():
        wrong = edgecolor_imports(PACKAGE / f"{module}.py") & forbidden
        assert not wrong, f"edgecolor/{module}.py imports {sorted(wrong)} from a layer above it"


def test_the_stabilizer_reads_only_the_floor():
    """Issue 24: the stabilizer left stream.py; it needs the strength check (options) and nothing of the loop.
    (pipeline only for the type of ``low_res_luma``'s argument.)"""
    assert edgecolor_imports(PACKAGE / "stabilizer.py") <= {"options", "pipeline"}
    assert "stabilizer" in edgecolor_imports(PACKAGE / "stream.py")


def test_options_is_in_the_floor():
    """ColorizerOptions is checked before anything loads: it may read only the floor's choices and limits."""
    assert edgecolor_imports(PACKAGE / "options.py") <= {"errors", "limits", "contract"}
