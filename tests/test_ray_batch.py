"""`edgecolor colorize --ray local`: a local Ray with two workers gives the same files as a local run, keeps
the batch's lines, summary and exit code, reports photos/s per worker, and resumes (existing outputs skipped)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
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


def _workers_of(pid: int) -> list[int]:
    """PIDs of the Ray actors (`ray::_Worker...`) started under process ``pid`` (Linux /proc)."""
    parents, names = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                names[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue

    def under(p: int) -> bool:
        while p > 1:
            p = parents.get(p, 0)
            if p == pid:
                return True
        return False

    return [p for p, name in names.items() if name.startswith("ray::_Worker") and under(p)]


def _start_ray_batch(tmp_path: Path, seed: int) -> tuple[subprocess.Popen, Path]:
    """`colorize --ray local --workers 2` of 60 noise photos (480x640), started in a child; and its out folder."""
    import cv2
    import numpy as np

    photos = tmp_path / "in"
    photos.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(60):
        cv2.imwrite(str(photos / f"{i:02d}.png"), (rng.random((480, 640)) * 255).astype(np.uint8))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EDGECOLOR_MODELS_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "edgecolor", "colorize", str(photos), "-o", str(out), "--ray",
                             "local", "--workers", "2"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds Ray's workers in /proc (Linux)")
@pytest.mark.parametrize("kill", ["one", "all"])
def test_a_lost_worker_does_not_end_the_batch(tmp_path, kill):
    """kill -9 of one worker: its photos are done by the other (exit 0); of every worker: the rest are failed,
    one line each, with the summary and exit 1. Ray's report of the dead worker never reaches stdout."""
    proc, out = _start_ray_batch(tmp_path, seed=0)
    deadline = time.monotonic() + 300
    workers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _workers_of(proc.pid)
        if len(workers) == 2 and out.exists() and len([p for p in out.iterdir() if p.name[0] != "."]) >= 5:
            break
        time.sleep(0.05)
    if proc.poll() is not None or len(workers) != 2:
        proc.kill()
        pytest.fail(f"ended before a worker could be killed: {proc.communicate()}")
    for pid in workers[:1] if kill == "one" else workers:
        os.kill(pid, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert "Traceback" not in stdout + stderr
    assert "raylet" not in stdout and "worker died" not in stdout.lower()  # Ray's chatter: stderr only
    summary = stdout.splitlines()[-1]
    written = sorted(p.name for p in out.iterdir())
    assert all(name[0] != "." for name in written)  # nothing half-written
    if kill == "one":
        assert proc.returncode == 0, stdout + stderr
        assert summary.startswith("done 60, skipped 0, failed 0 in "), stdout
        assert len(written) == 60
    else:
        assert proc.returncode == 1, stdout + stderr
        failed = [line for line in stderr.splitlines() if line.startswith("edgecolor: error:")]
        assert summary.startswith(f"done {len(written)}, skipped 0, failed {60 - len(written)} in "), stdout
        assert len(failed) == 60 - len(written) > 0
        assert all("no Ray worker left" in line or "Ray worker was lost" in line for line in failed), failed


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigterm_on_ray_prints_what_was_written(tmp_path):
    """SIGTERM (a stopped service) mid-batch on Ray: Ray's own SIGTERM handler does not end the run at once;
    the photos being made are finished and counted, the summary says so, exit 130, nothing half-written."""
    proc, out = _start_ray_batch(tmp_path, seed=1)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len([p for p in out.iterdir() if p.name[0] != "."]) >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr
    written = sorted(p.name for p in out.iterdir())
    assert all(name[0] != "." for name in written)
    assert stdout.splitlines()[-1].startswith(f"interrupted: done {len(written)}, skipped 0, failed 0 in "), stdout
    assert 5 <= len(written) < 60
