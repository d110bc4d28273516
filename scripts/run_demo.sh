#!/usr/bin/env bash
# The main job, on a fresh machine: install edgecolor from this checkout as a user would (pip install .,
# no dev extras) and colorize the bundled sample photos into ./colorized (plus colorized/before_after.jpg).
# Extra arguments go to `edgecolor demo`, e.g. --force or --backend opencv.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
# shellcheck disable=SC1091
. scripts/pip_retry.sh
pip_install --quiet .
# A regular install replaces a developer's editable one; scripts/setup_env.sh notices and restores it.
rm -f .venv/.edgecolor-setup-done
edgecolor demo -o colorized "$@"
