"""`edgecolor colorize` under hostile input: FIFOs, bombs, killed runs, Ctrl-C, bad option values (issue 10)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from cli_support import ERROR, REPO, assert_no_traceback, errors, invoke, run_cli, write_image
from conftest import default_sigint, photo

from edgecolor import atomic

SUMMARY = re.compile(
    r"^(interrupted: )?done (\d+), skipped (\d+), failed (\d+) in [\d.]+ s "
    r"\([\d.]+ images/s, model loading excluded\)$", re.M
)
posix_only = pytest.mark.skipif(os.name == "nt", reason="FIFOs, devices and signals are POSIX")


@pytest.mark.slow
@posix_only
def test_fifos_and_devices_are_refused_directly_through_folders_and_globs(models_dir, tmp_path):
    folder = tmp_path / "in"
    good = write_image(folder / "good.jpg", photo())
    os.mkfifo(folder / "f.jpg")
    (folder / "z.jpg").symlink_to("/dev/zero")
    out = tmp_path / "out"
    for args in ([folder], [folder, "--recursive"], [f"{folder}/*.jpg"], [folder / "f.jpg", folder / "z.jpg", good]):
        proc = run_cli("colorize", *args, "-o", out, "--force", cwd=tmp_path, timeout=90)
        assert proc.returncode == 1, (args, proc.stderr)
        assert_no_traceback(proc.stdout, proc.stderr)
        assert sorted(errors(proc.stderr)) == [
            f"{ERROR}{folder / 'f.jpg'}: not a regular file (a FIFO); refused without opening it",
            f"{ERROR}{folder / 'z.jpg'}: not a regular file (a device); refused without opening it",
        ], (args, proc.stderr)
        assert "done 1, skipped 0, failed 2" in proc.stdout


def test_max_pixels_refuses_before_decoding_and_is_an_option(models_dir, tmp_path):
    src = write_image(tmp_path / "a.png", photo(120, 160))
    result = invoke("colorize", src, "--max-pixels", 19199)
    assert result.exit_code == 1
    assert errors(result.stderr) == [
        f"{ERROR}{src}: image too large: 160x120 = 0 megapixels, above the limit of 0 (raise it with --max-pixels)"
    ]
    assert invoke("colorize", src, "--max-pixels", 19200).exit_code == 0


@pytest.mark.parametrize(
    "args, text",
    [
        (["--size", "99999999999999999999"], "Invalid value for '--size'"),
        (["--size", "4096"], "Invalid value for '--size'"),
        (["--precision", "fp8"], "'fp8' is not one of"),
        (["--max-pixels", "0"], "Invalid value for '--max-pixels'"),
        (["--no-such-option"], "No such option: --no-such-option"),
    ],
)
def test_bad_option_values_are_one_line_and_exit_2(models_dir, tmp_path, args, text):
    src = write_image(tmp_path / "a.jpg", photo())
    proc = run_cli("colorize", src, *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR) and text in lines[0], proc.stderr
    assert lines[0].endswith("(see 'edgecolor colorize --help')")
    assert not (tmp_path / "colorized").exists()


def test_damaged_file_warnings_are_one_line(models_dir, tmp_path):
    """libjpeg's own message would otherwise reach the terminal as a bare line of its own."""
    import cv2
    import numpy as np

    noise = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    data = bytearray(cv2.imencode(".jpg", noise)[1].tobytes())
    data[len(data) // 2:len(data) // 2 + 20] = b"\x00" * 20
    src = tmp_path / "damaged.jpg"
    src.write_bytes(bytes(data))
    proc = run_cli("colorize", src, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"edgecolor: warning: {src}: damaged JPEG data (Corrupt JPEG"), lines


@posix_only
def test_stale_temporaries_of_killed_runs_are_removed_and_reported(models_dir, tmp_path):
    src = write_image(tmp_path / "a.jpg", photo())
    out = tmp_path / "out"
    out.mkdir()
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    stale = atomic.temp_path(out / "b.jpg")
    stale = stale.with_name(stale.name.replace(f"-{os.getpid()}-", f"-{gone}-"))
    live = atomic.temp_path(out / "c.jpg")  # this test process is alive: its temporary is kept
    for path in (stale, live, out / ".user-notes.tmp"):
        path.write_bytes(b"partial")
    result = invoke("colorize", src, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"edgecolor: note: removed {stale}: a temporary file left by an interrupted earlier run" in result.stderr
    assert not stale.exists() and live.exists() and (out / ".user-notes.tmp").exists()


@pytest.mark.slow
@posix_only
@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_ctrl_c_prints_the_summary_and_exits_130(models_dir, tmp_path, stop):
    """SIGINT (or SIGTERM from systemd / docker stop, SIGHUP from a closed terminal) once the first output
    exists: what was done is summarised, nothing half-written stays."""
    folder = tmp_path / "in"
    for i in range(60):
        write_image(folder / f"{i:02d}.png", photo(600, 800, seed=i))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "edgecolor", "colorize", folder, "-o", out], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while not (out.exists() and any(p.name[0] != "." for p in out.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(getattr(signal, stop))
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert_no_traceback(stdout, stderr)
    m = SUMMARY.search(stdout)
    assert m and m[1] == "interrupted: ", stdout
    done = int(m[2])
    assert 1 <= done < 60 and sorted(p.name for p in out.iterdir()) == [f"{i:02d}.png" for i in range(done)]
