"""`edgecolor gstreamer`: where the `edgecolor` GStreamer element's plugin is, and how to use it."""

from __future__ import annotations

import typer

from edgecolor.cli.app import app


@app.command()
def gstreamer(
    plugin_path: bool = typer.Option(False, "--plugin-path", help="Print only the folder to put in GST_PLUGIN_PATH."),
) -> None:
    """The `edgecolor` GStreamer element: the folder for GST_PLUGIN_PATH and a pipeline to start from."""
    import os
    import sys

    from edgecolor.gst import plugin_path as folder
    from edgecolor.gstlib import INSTALL_HINT

    if plugin_path:
        print(folder())
        return
    print(f"export GST_PLUGIN_PATH={folder()}${{GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}}")
    if sys.prefix != sys.base_prefix and not os.environ.get("VIRTUAL_ENV"):
        print(f"export VIRTUAL_ENV={sys.prefix}  # so GStreamer's Python finds edgecolor's packages")
    print("gst-inspect-1.0 edgecolor")
    print("gst-launch-1.0 v4l2src ! videoconvert ! edgecolor ! videoconvert ! autovideosink")
    print(f"# needs (Debian 12 / Raspberry Pi OS bookworm): {INSTALL_HINT}", file=sys.stderr)
