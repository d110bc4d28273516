"""Helpers for the CLI tests: run the real CLI in-process (CliRunner) or as `python -m edgecolor`.

Not a conftest.py on purpose: a second conftest module would shadow tests/conftest.py for the
`from conftest import ...` lines of the other test files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

from edgecolor.cli import app

REPO = Path(__file__).resolve().parents[2]
ERROR = "edgecolor: error: "

# `python -c` code: the CLI on an interpreter where `import openvino` fails, as on a machine without it
WITHOUT_OPENVINO = """
import sys
sys.modules["openvino"] = None
from edgecolor.cli import main
main(sys.argv[1:])
"""


def invoke(*args: object):
    """The CLI in-process; exceptions that escape the app are left in result.exception."""
    return CliRunner().invoke(app, [str(a) for a in args])

# The children write UTF-8 (Python's C-locale coercion); text=True would decode with this process's locale
# codec, which a native library's setlocale() call can turn into ASCII mid-run (seen after the stream tests).
UTF8 = "utf-8"


def run_cli(*args: object, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180):
    """`python -m edgecolor ...` in a new process, importing this checkout (installed or not)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), full_env.get("PYTHONPATH")) if p)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "edgecolor", *map(str, args)],
        cwd=cwd, env=full_env, capture_output=True, encoding=UTF8, timeout=timeout,
    )


def run_python(code: str, *args: object, cwd: Path, timeout: float = 180):
    """`python -c code args...` with this checkout importable, for runs that need a changed interpreter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True, encoding=UTF8,
        timeout=timeout,
    )


def errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(ERROR)]


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


def write_image(path: Path, image: np.ndarray) -> Path:
    """cv2.imencode + write, so non-ASCII paths work."""
    ok, data = cv2.imencode(path.suffix, image)
    assert ok
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())
    return path


def read(path: Path) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


def mean_chroma(image: np.ndarray) -> float:
    top = 65535.0 if image.dtype == np.uint16 else 255.0
    bgr = np.ascontiguousarray(image[..., :3]).astype(np.float32) / top
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def leftovers(folder: Path) -> list[Path]:
    """Temporary files an interrupted or failed write would leave behind."""
    return [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"] if folder.exists() else []
