"""scripts/arm64_outputs.py, what scripts/check_arm64.sh relies on to compare arm64 with x86-64: it writes each
backend/precision's outputs with the precision that really ran, and its comparison sees differences."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "arm64_outputs.py"


def script(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env=env)


def test_write_then_compare(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    a, b = tmp_path / "a", tmp_path / "b"
    proc = script("write", a, "--variants", "opencv:fp32,openvino:fp32", env=env)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads((a / "facts.json").read_text())
    # What ran, read back from the runtime: f32 asked for, f32 reported (never the plugin's bf16/f16 default).
    assert facts["variants"]["openvino:fp32"]["runtime_precision"] == "f32"
    assert facts["variants"]["opencv:fp32"]["runtime_precision"] == "f32"
    samples = sorted(p.stem for p in (REPO / "samples").glob("*.jpg"))
    assert sorted(p.name.removesuffix(".png") for p in (a / "openvino-fp32").glob("*.png")) == samples

    shutil.copytree(a, b)
    proc = script("compare", a, b, env=env)
    assert proc.returncode == 0, proc.stderr
    rows = [r for r in proc.stdout.splitlines() if r.startswith("| opencv") or r.startswith("| openvino")]
    assert len(rows) == 2 * len(samples)
    assert all(r.split("|")[4].strip() == "0" for r in rows)

    png = b / "opencv-fp32" / f"{samples[0]}.png"  # one changed pixel must show
    img = cv2.imread(str(png))
    img[0, 0] = 255 - img[0, 0]
    cv2.imwrite(str(png), img)
    (b / "openvino-fp32" / f"{samples[1]}.png").unlink()
    ab = np.load(b / "opencv-fp32" / f"{samples[0]}.ab.npy")
    np.save(b / "opencv-fp32" / f"{samples[0]}.ab.npy", ab + np.float32(0.5))
    proc = script("compare", a, b, env=env)
    assert proc.returncode == 1
    changed = next(r for r in proc.stdout.splitlines() if f"| opencv:fp32 | {samples[0]} |" in r).split("|")
    assert int(changed[4]) > 0 and abs(float(changed[6]) - 0.5) < 1e-3
    assert f"| openvino:fp32 | {samples[1]} | f32/f32 | missing" in proc.stdout
