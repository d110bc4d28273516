"""GStreamer's Python plugin loader imports this file from ``$GST_PLUGIN_PATH/python/``: it registers
the `edgecolor` element (edgecolor/gst/element.py).

The loader runs the system's Python (Debian: libpython3.11), whose sys.path does not hold the
virtual environment or user site where edgecolor and its dependencies (numpy, OpenCV, OpenVINO)
are installed. So the site that holds this very file, and the active virtual environment
($VIRTUAL_ENV) when it is for the same Python version, go first on sys.path (ahead of the
system's own packages, so a Debian numpy does not shadow the environment's). A failure is one
line on stderr, and the element is then simply not registered.
"""

import os
import site
import sys
from pathlib import Path


def _reach_edgecolor() -> None:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(__file__).resolve().parents[3]]  # the folder holding the edgecolor package
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        candidates.append(Path(venv) / "lib" / version / "site-packages")
    before = list(sys.path)
    for folder in candidates:
        if folder.is_dir() and str(folder) not in before:
            site.addsitedir(str(folder))  # also runs its .pth files (editable installs)
    added = [p for p in sys.path if p not in before]
    sys.path[:] = added + before


_reach_edgecolor()
try:
    from edgecolor.gst.element import EdgecolorFilter
except Exception as e:  # noqa: BLE001 - anything here must not become a traceback in every pipeline
    print(f"edgecolor: warning: the GStreamer element is not available: {type(e).__name__}: {e} "
          f"(this is Python {sys.version.split()[0]}; activate the virtual environment edgecolor is installed in, "
          "made from the same Python)", file=sys.stderr)
else:
    from gi.repository import Gst

    __gstelementfactory__ = ("edgecolor", Gst.Rank.NONE, EdgecolorFilter)
