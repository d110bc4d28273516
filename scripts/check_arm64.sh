#!/usr/bin/env bash
# edgecolor on arm64 (Raspberry Pi 4/5, Jetson-class boards), checked under emulation on an x86-64 Linux box.
#
# Makes an arm64 Debian 12 root with debootstrap, runs it through qemu-user (binfmt_misc), installs
# edgecolor from this clone with pip (PyPI's arm64 wheels of opencv-python-headless and openvino, pinned to
# the versions this machine runs where they exist), then runs there: `edgecolor info`, `edgecolor demo`
# for both backends, a short `edgecolor bench` (what precision really runs; emulated speed means nothing),
# the fast tests, and the bundled samples through every backend/precision, compared with x86-64 here.
# Needs root (debootstrap, chroot, binfmt) and Debian's package mirror and PyPI. Slow (an hour or more
# on 2 cores): run it in the background, e.g.  nohup nice -n 15 bash scripts/check_arm64.sh > arm64.log 2>&1 &
#
# Environment: ARM64_ROOT (the arm64 root, reused by a second run; default /var/tmp/edgecolor-arm64),
# ARM64_OUT (results; default docs/arm64), PYTHON (x86-64 Python with edgecolor's dependencies; default
# python3), ARM64_TESTS (pytest paths run inside; default the core fast tests), DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOTFS=${ARM64_ROOT:-/var/tmp/edgecolor-arm64}
OUT=${ARM64_OUT:-$REPO/docs/arm64}
PYTHON=${PYTHON:-python3}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TESTS=${ARM64_TESTS:-tests/test_contract.py tests/test_pipeline.py tests/test_backends.py tests/test_colorizer.py \
tests/cli/test_cli_info.py tests/cli/test_cli_colorize.py}
step() { echo; echo "== $(date -u +%H:%M:%S) $*"; }

[ "$(id -u)" = 0 ] || { echo "check_arm64: needs root (debootstrap, chroot, binfmt_misc)" >&2; exit 2; }
mkdir -p "$OUT"

step "host packages: debootstrap, qemu-user-static, binfmt-support"
if ! command -v debootstrap >/dev/null || ! command -v qemu-aarch64-static >/dev/null \
    || ! command -v update-binfmts >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends debootstrap qemu-user-static binfmt-support
fi

step "binfmt_misc: arm64 binaries run through qemu-aarch64-static"
# Inside a container binfmt_misc may not be mounted; the 'F' flag (fix binary) that Debian's qemu-user-static
# registers means the interpreter need not be copied into the arm64 root.
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 || true
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  echo "check_arm64: cannot register qemu-aarch64 with binfmt_misc here (an unprivileged container?)" >&2
  exit 2
fi
cat /proc/sys/fs/binfmt_misc/qemu-aarch64

if [ ! -e "$ROOTFS/.edgecolor-base-done" ]; then
  step "debootstrap: Debian 12 (bookworm) arm64 into $ROOTFS"
  rm -rf "$ROOTFS"
  # --foreign + an explicit second stage under qemu: the same steps whether or not debootstrap would detect
  # that it can run arm64 binaries itself.
  debootstrap --arch=arm64 --variant=minbase --foreign \
    --include=python3,python3-venv,python3-pip,ca-certificates,libgomp1 bookworm "$ROOTFS" "$MIRROR"
  chroot "$ROOTFS" /debootstrap/debootstrap --second-stage
  touch "$ROOTFS/.edgecolor-base-done"
fi

mounted=()
cleanup() { for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
for fs in proc sys dev; do  # OpenVINO (hwloc) reads the CPU topology from /sys: without it, a segfault
  mountpoint -q "$ROOTFS/$fs" || { mount --bind "/$fs" "$ROOTFS/$fs"; mounted+=("$ROOTFS/$fs"); }
done
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
# This machine's CA bundle (it may carry a proxy's certificate that PyPI's TLS goes through).
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/host-ca.crt"
in_arm() { chroot "$ROOTFS" /usr/bin/env -i HOME=/root PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  PIP_CERT=/etc/ssl/certs/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 EDGECOLOR_CACHE_DIR= LC_ALL=C.UTF-8 \
  bash -c "$1"; }

step "arm64 root: $(in_arm 'uname -m; . /etc/os-release; echo $PRETTY_NAME; python3 --version' | tr '\n' ' ')"

step "copy this clone (tracked and new files, not .venv) to /src"
rm -rf "$ROOTFS/src" && mkdir -p "$ROOTFS/src"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$ROOTFS/src"

step "pip install edgecolor from the clone (arm64 wheels from PyPI)"
pins=$("$PYTHON" -c '
import importlib.metadata as m
for name in ("numpy", "opencv-python-headless", "openvino"):
    try:
        print(f"{name}=={m.version(name)}", end=" ")
    except m.PackageNotFoundError:
        pass' || true)
echo "x86-64 versions to match: ${pins:-none found}"
in_arm "[ -x /opt/venv/bin/python ] || python3 -m venv /opt/venv"
# The test extras are listed by name: the dev extra would also pull ruff, twine and hatchling, unused here.
if ! in_arm "pip install -q /src pytest onnx pillow $pins"; then
  echo "pinned versions are not all on PyPI for arm64: installing the newest instead"
  in_arm "pip install -q /src pytest onnx pillow"
fi
in_arm "pip list 2>/dev/null | grep -iE '^(edgecolor|numpy|opencv|openvino |onnx |pytest) '"

step "edgecolor info"
in_arm "cd /tmp && edgecolor info" | tee "$OUT/info-arm64.txt"

step "edgecolor demo (OpenVINO, then cv2.dnn)"
in_arm "cd /tmp && rm -rf demo-* && edgecolor demo -o demo-openvino -b openvino && edgecolor demo -o demo-opencv -b opencv \
  && ls -l demo-openvino demo-opencv"

step "edgecolor bench, 3 frames (emulated: only the 'runs in' column means anything)"
in_arm "cd /tmp && edgecolor bench --frames 3 --warmup 1" | tee "$OUT/bench-arm64.txt"

step "outputs on the bundled samples: arm64 (emulated), then x86-64 (here)"
in_arm "cd /src && rm -rf /tmp/outputs && python scripts/arm64_outputs.py write /tmp/outputs"
rm -rf "$OUT/x86" && PYTHONPATH=$REPO "$PYTHON" scripts/arm64_outputs.py write "$OUT/x86"
rm -rf "$OUT/arm64-outputs" && cp -r "$ROOTFS/tmp/outputs" "$OUT/arm64-outputs"
PYTHONPATH=$REPO "$PYTHON" scripts/arm64_outputs.py compare "$OUT/x86" "$OUT/arm64-outputs" | tee "$OUT/compare.md"
rm -rf "$OUT/x86" "$OUT/arm64-outputs"  # the table is the record; the images are recomputed by a rerun

step "fast tests (pytest -m 'not slow') on arm64: $TESTS"
# The fixtures build tiny ONNX models with the onnx package; tests needing ffmpeg or a browser skip themselves.
status=0
in_arm "cd /src && python -m pytest -q -m 'not slow' -p no:cacheprovider $TESTS" 2>&1 | tee "$OUT/pytest-arm64.txt" \
  || status=$?
step "done (pytest exit $status); results in $OUT"
exit "$status"
