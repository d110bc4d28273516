#!/usr/bin/env bash
# The test job (what CI runs through .ci/run): system packages the video/live tests need, the dev
# environment, lint, then the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
# The C++ example's test (examples/cpp): a compiler, cmake and the system OpenCV (Debian 12: 4.6).
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
dpkg -s libopencv-dev >/dev/null 2>&1 || missing+=(libopencv-dev)
# The GStreamer element and `live --rtsp` (tests/test_gst.py, test_rtsp.py): gst-launch-1.0, x264enc (ugly),
# mp4mux/rtph264pay (good), H.264 decoding (libav), the Python plugin loader and the system's bindings.
for pkg in gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly \
  gstreamer1.0-libav gstreamer1.0-python3-plugin-loader python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 \
  gir1.2-gst-plugins-base-1.0 gir1.2-gst-rtsp-server-1.0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o Acquire::Retries=5 update -q
    apt-get -o Acquire::Retries=5 install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "test.sh: not root, so not installing ${missing[*]}; tests that need them will be skipped" >&2
  fi
fi

bash scripts/setup_env.sh
# shellcheck disable=SC1091
. .venv/bin/activate
ruff check .
python -m pytest -q "$@"
