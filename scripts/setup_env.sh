#!/usr/bin/env bash
# Developer environment: .venv with edgecolor installed editable plus every extra (dev, convert, train, ray,
# video, plot). Idempotent: a second run only checks and returns within seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
bash scripts/link_system_gi.sh  # GStreamer's Python bindings from the system, when installed (issue 22)
# shellcheck disable=SC1091
. .venv/bin/activate

stamp=.venv/.edgecolor-setup-done
# Up to date = stamp newer than pyproject.toml, the editable install points at this checkout (checked from /
# so the current folder does not shadow it), and the extras import.
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] \
  && (cd / && python -c "import sys, edgecolor; sys.exit(not edgecolor.__file__.startswith('$ROOT/'))") 2>/dev/null \
  && python -c "import torch, onnx, onnxsim, nncf, openvino, cv2, pytest, typer, rich, ray" 2>/dev/null \
  && command -v edgecolor >/dev/null && command -v ruff >/dev/null; then
  echo "setup_env: .venv is up to date"
  exit 0
fi

# torch pinned to the CPU build (2.13.0); anything looser makes pip fetch a multi-GB CUDA build.
# shellcheck disable=SC1091
. scripts/pip_retry.sh
pip_install -e ".[dev,convert,train,video,plot,ray]" "torch==2.13.0"
touch "$stamp"
echo "setup_env: done ($(python -c 'import edgecolor; print("edgecolor", edgecolor.__version__)'))"
