#!/usr/bin/env bash
# GStreamer's Python bindings for .venv (issue 22: the `edgecolor` element, `live --rtsp`): the system's
# python3-gi + python3-gst-1.0, not PyGObject from PyPI. The GStreamer plugin loader runs the system's
# bindings anyway, and only python3-gst-1.0's overrides map a buffer's memory writable into Python (PyPI's
# PyGObject 3.50, the last that builds on Debian 12's gobject-introspection 1.74, hands out copies).
# .venv sees only the gi package (a .pth to a folder holding one symlink), and only when its Python has the
# system Python's version (compiled modules). Without python3-gi this does nothing: those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."
system_gi=/usr/lib/python3/dist-packages/gi
[ -d "$system_gi" ] && [ -x /usr/bin/python3 ] || exit 0
version='import sys; print(*sys.version_info[:2])'
if [ "$(.venv/bin/python -c "$version")" != "$(/usr/bin/python3 -c "$version")" ]; then
  echo "link_system_gi: .venv's Python is not the system's $(/usr/bin/python3 -V): no GStreamer bindings" >&2
  exit 0
fi
mkdir -p .venv/system-gi
ln -sfn "$system_gi" .venv/system-gi/gi
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
echo "$PWD/.venv/system-gi" > "$site/edgecolor-system-gi.pth"
