"""The `edgecolor` GStreamer element's home: where its plugin file lives.

The element (element.py) is a Python element: GStreamer's Python plugin loader (Debian:
gstreamer1.0-python3-plugin-loader) imports ``python/edgecolor_gst.py`` from every folder in
``GST_PLUGIN_PATH``, so ``plugin_path()`` is the folder to put there. Nothing here imports gi.
"""

from __future__ import annotations

from pathlib import Path

ELEMENT = "edgecolor"


def plugin_path() -> Path:
    """The folder to add to GST_PLUGIN_PATH: it holds python/edgecolor_gst.py, the plugin file."""
    return Path(__file__).resolve().parent
