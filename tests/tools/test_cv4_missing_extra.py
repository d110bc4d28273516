"""tools.cv4 run as a command without the convert extra (no onnx): one line naming the extra, exit 2.

Separate from test_cv4.py, which needs onnx for everything else and is skipped without it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a subprocess
def test_without_onnx_one_line_exit_2(tmp_path):
    code = ("import runpy, sys\n"
            "sys.modules['onnx'] = None\n"  # what `import onnx` does where the extra is not installed
            "sys.argv = ['cv4', sys.argv[1], sys.argv[2]]\n"
            "runpy.run_module('tools.cv4', run_name='__main__', alter_sys=True)\n")
    model = REPO / "models" / "edgecolor-lite0" / "edgecolor-lite0-fp32.onnx"
    proc = subprocess.run([sys.executable, "-c", code, str(model), str(tmp_path / "out.onnx")], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == 'tools.cv4: error: needs the onnx package: pip install ".[convert]"\n'
    assert proc.stdout == "" and not list(tmp_path.iterdir())
