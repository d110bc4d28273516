"""The wheel and sdist: bundled models and samples are package data, the console script is there, an
installed copy runs `edgecolor demo` from any folder without this checkout, the wheel is pure Python (one
file for x86-64 and arm64), both carry the licence and pass `twine check`."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from cli_support import REPO, write_image
from conftest import bundled_model, photo

pytest.importorskip("hatchling")
pytestmark = pytest.mark.slow  # builds wheels and installs them

_RUN_INSTALLED = """
import sys
sys.path.insert(0, sys.argv.pop(1))
from edgecolor.cli import main
from edgecolor.sheets import samples_dir
from edgecolor.models import models_dir
print("SAMPLES", samples_dir())
print("MODELS", models_dir())
main(sys.argv[1:])
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-q", "-w", out,
         str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (whl,) = out.glob("edgecolor-*.whl")
    return whl


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    proc = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", out],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tgz,) = out.glob("edgecolor-*.tar.gz")
    return tgz


def test_wheel_is_pure_python_and_licensed(wheel):
    """One wheel serves every platform: no compiled code, tag py3-none-any."""
    assert wheel.name.endswith("-py3-none-any.whl")
    whl = zipfile.ZipFile(wheel)
    names = whl.namelist()
    info = whl.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
    assert "Root-Is-Purelib: true" in info and "Tag: py3-none-any" in info.splitlines()
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib", ".dll"))]
    meta = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta.splitlines()
    licence = whl.read(next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))).decode()
    assert licence == (REPO / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence


def test_sdist_has_licence_and_model_card(sdist):
    names = tarfile.open(sdist).getnames()
    root = sdist.name.removesuffix(".tar.gz")
    for path in ("LICENSE", "PKG-INFO", "pyproject.toml", "models/README.md", "edgecolor/pipeline.py",
                 "examples/cpp/CMakeLists.txt"):
        assert f"{root}/{path}" in names, path


def test_twine_check_passes(wheel, sdist):
    """What PyPI would accept: metadata and the README rendered as the long description."""
    pytest.importorskip("twine")
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", wheel, sdist], capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    samples = sorted(p.name for p in (REPO / "samples").glob("*.jpg"))
    bundled = [n.rsplit("/", 1)[1] for n in names if n.startswith("edgecolor/_samples/") and n.endswith(".jpg")]
    assert sorted(bundled) == samples
    shipped = sorted(p.relative_to(REPO / "models").as_posix() for p in (REPO / "models").rglob("*") if p.is_file())
    assert sorted(n.removeprefix("edgecolor/_models/") for n in names if n.startswith("edgecolor/_models/")) == shipped
    assert "edgecolor/cli/colorize.py" in names and "edgecolor/__main__.py" in names
    assert "edgecolor/gst/python/edgecolor_gst.py" in names  # GStreamer's plugin loader looks for it there
    assert not [n for n in names if n.startswith(("tests/", "tools/", "scripts/"))]
    dist = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "edgecolor = edgecolor.cli:main" in zipfile.ZipFile(wheel).read(dist).decode()
    meta = zipfile.ZipFile(wheel).read(dist.replace("entry_points.txt", "METADATA")).decode()
    runtime = [line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert sorted(line.split()[1].split(">")[0].split("=")[0] for line in runtime) == [
        "numpy", "opencv-python-headless", "openvino", "rich", "typer",
    ]
    assert "Requires-Dist: torch==2.13.0; extra == 'train'" in meta


def test_installed_wheel_runs_demo_from_any_folder(wheel, models_tree, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", target, wheel],
        check=True, capture_output=True, timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["EDGECOLOR_MODELS_DIR"] = str(models_tree)  # the tiny models; the bundled one is tested below
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_INSTALLED, target, "demo", "-o", "out"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SAMPLES {target / 'edgecolor' / '_samples'}" in proc.stdout
    assert (elsewhere / "out" / "before_after.jpg").is_file()
    assert len(list((elsewhere / "out").glob("*.jpg"))) == 6

    assert bundled_model() is not None, "the bundled model is missing from models/"
    del env["EDGECOLOR_MODELS_DIR"]
    write_image(elsewhere / "old.jpg", photo())
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_INSTALLED, target, "colorize", "old.jpg"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"MODELS {target / 'edgecolor' / '_models'}" in proc.stdout
    assert (elsewhere / "colorized" / "old.jpg").is_file()
