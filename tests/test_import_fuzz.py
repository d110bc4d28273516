"""Fuzzing each importer (.pth in both layouts, .caffemodel, ONNX) with hypothesis, bounded in time.

Random and mutated files (and, for .pth, mutated pickles zipped with valid checksums and random
tensor geometries) go through ``import_model`` in a child process (tests/fuzz_import_child.py)
under a 2 GB address-space limit: it must not crash (a signal), must not run out of its memory,
and every file must import or fail with one one-line error. The examples are few, so each run
takes seconds; the file it fails on is printed by hypothesis.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxsim")
pytest.importorskip("hypothesis")

HERE = Path(__file__).resolve().parent
EXAMPLES = {"pth": 150, "caffe": 150, "onnx": 30}
PEAK_MB = 1500  # the child's peak RSS (the limit on its address space is 2 GB)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_importer_survives_random_and_mutated_files(tmp_path, kind):
    env = dict(os.environ, EDGECOLOR_MODELS=str(tmp_path / "user"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH")) if p)
    res = subprocess.run([sys.executable, str(HERE / "fuzz_import_child.py"), kind, str(EXAMPLES[kind]), str(tmp_path)],
                         capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert res.returncode == 0, (res.returncode, res.stdout[-3000:], res.stderr[-6000:])
    m = re.search(r"fuzz \w+: (\d+) files, peak RSS (\d+) MB", res.stdout)
    assert m, res.stdout
    files, peak = int(m[1]), int(m[2])
    assert files >= EXAMPLES[kind] // 2  # hypothesis ran them (it may stop early on repeats)
    assert peak < PEAK_MB, res.stdout
