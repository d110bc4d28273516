"""`edgecolor colorize --ray local`: a local Ray with two workers gives the same files as a local run, keeps
the batch's lines, summary and exit code, reports photos/s per worker, and resumes (existing outputs skipped)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # starts a Ray instance (seconds) in subprocesses

REPO = Path(__file__).resolve().parents[1]


def colorize(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EDGECOLOR_MODELS_DIR", None)  # the bundled model
    return subprocess.run([sys.executable, "-m", "edgecolor", "colorize", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_ray_run_matches_local_and_resumes(tmp_path):
    photos = tmp_path / "in"
    photos.mkdir()
    for sample in sorted((REPO / "samples").glob("*.jpg"))[:4]:
        shutil.copy(sample, photos / sample.name)
    (photos / "broken.jpg").write_bytes(b"not a photo")

    local = colorize(photos, "-o", "local", cwd=tmp_path)
    assert local.returncode == 1, local.stderr
    ray = colorize(photos, "-o", "ray", "--ray", "local", "--workers", "2", cwd=tmp_path)
    assert ray.returncode == 1, ray.stderr

    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert len(names) == 4 and names == sorted(p.name for p in (tmp_path / "ray").iterdir())  # no temporaries
    for name in names:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name

    errors = [line for line in ray.stderr.splitlines() if line.startswith("edgecolor: error:")]
    assert errors == [f"edgecolor: error: {photos / 'broken.jpg'}: not an image file (unrecognised content)"]
    assert "Traceback" not in ray.stderr
    summary = ray.stdout.splitlines()[-1]
    assert summary.startswith("done 4, skipped 0, failed 1 in "), ray.stdout
    workers = [line for line in ray.stdout.splitlines() if line.startswith("worker ")]
    assert len(workers) == 2, ray.stdout  # both actors got work: 4 photos, 2 in flight each
    assert sum(int(line.split(": ")[1].split()[0]) for line in workers) == 4
    assert all(float(line.split(", ")[-1].split()[0]) > 0 for line in workers)

    again = colorize(photos, "-o", "ray", "--ray", "local", "--workers", "2", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stdout.splitlines()[-1].startswith("done 0, skipped 4, failed 1 in ")
    for name in names:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_ray_bad_model_is_one_line_exit_2(tmp_path):
    photos = tmp_path / "in"
    photos.mkdir()
    shutil.copy(REPO / "samples" / "detroit_1915.jpg", photos)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    proc = colorize(photos, "-o", "out", "--ray", "local", "--workers", "1", "--model", bad, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edgecolor: error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_workers_needs_ray(tmp_path):
    proc = colorize(REPO / "samples" / "detroit_1915.jpg", "-o", "out", "--workers", "2", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == "edgecolor: error: --workers needs --ray"
    assert not (tmp_path / "out").exists()
