"""`edgecolor colorize` under hostile input: FIFOs, bombs, killed runs, Ctrl-C, bad option values (issue 10)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
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


# -- issue 21: names, model files and model contracts ---------------------------------------------


@pytest.mark.slow
@posix_only
def test_names_that_are_not_utf8_or_hold_controls_run_and_print_as_one_line(models_dir, tmp_path):
    """A name that is not UTF-8 crashed OpenCV (SIGSEGV: no later file, no summary); a newline or an escape
    sequence in a name split or recoloured the one-line error. Every file is colorized or reported, on one line."""
    folder = tmp_path / "in"
    write_image(folder / "b.png", photo())
    named = {b"\xff grey.png": "\\xff grey.png", b"c\nd.png": "c\\nd.png"}
    try:
        for name in named:
            with open(os.path.join(os.fsencode(folder), name), "wb") as f:
                f.write((folder / "b.png").read_bytes())
        os.mkfifo(os.path.join(os.fsencode(folder), b"e\x1b[31m.png"))
    except OSError as e:
        pytest.skip(f"this file system refuses such names ({e.strerror})")
    out = tmp_path / "out"
    proc = run_cli("colorize", folder, "-o", out, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr  # the FIFO failed, the rest was done
    assert_no_traceback(proc.stdout, proc.stderr)
    assert proc.stderr.splitlines() == [
        f"{ERROR}{folder}/e\\x1b[31m.png: not a regular file (a FIFO); refused without opening it"]
    assert "done 3, skipped 0, failed 1" in proc.stdout
    assert sorted(os.listdir(os.fsencode(out))) == sorted([b"b.png", *named])
    proc = run_cli("colorize", folder, "-o", out, cwd=tmp_path, timeout=120)
    skipped = sorted(line for line in proc.stderr.splitlines() if line.startswith("edgecolor: skipped"))
    assert skipped == sorted(f"edgecolor: skipped {out}/{shown}: exists (use --force to overwrite)"
                             for shown in ["b.png", *named.values()])
    one = run_cli("colorize", os.fsdecode(os.path.join(os.fsencode(folder), b"\xff grey.png")), "-o", tmp_path / "one",
                  cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8:strict"}, timeout=120)
    assert one.returncode == 0 and one.stdout.splitlines()[0] == f"wrote {tmp_path}/one/\\xff grey.png", one.stderr


def test_python_warnings_reach_the_terminal_as_one_line(models_dir, tmp_path):
    """`eval` on a damaged JPEG printed Python's own two lines (file:line: ImageWarning, then the source line)."""
    import cv2
    import numpy as np

    noise = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)  # colour: eval refuses grey
    data = bytearray(cv2.imencode(".jpg", noise)[1].tobytes())
    data[len(data) // 2:len(data) // 2 + 20] = b"\x00" * 20
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "damaged.jpg").write_bytes(bytes(data))
    proc = run_cli("eval", tmp_path / "photos", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"edgecolor: warning: {tmp_path / 'photos' / 'damaged.jpg'}: damaged JPEG data (Corrupt JPEG"), lines


@pytest.mark.slow
@posix_only
def test_a_user_model_whose_weights_are_a_fifo_fails_at_once(models_dir, model_files, tmp_path):
    """`colorize -m NAME` hung for ever on a FIFO .bin in the user model folder (a path was refused)."""
    import shutil

    folder = tmp_path / "user" / "piped"
    folder.mkdir(parents=True)
    shutil.copy(model_files["ir16"], folder / "piped-fp16.xml")
    os.mkfifo(folder / "piped-fp16.bin")
    src = write_image(tmp_path / "a.png", photo())
    proc = run_cli("colorize", src, "-m", "piped", "-p", "fp16", "-b", "openvino", cwd=tmp_path,
                   env={"EDGECOLOR_MODELS": str(tmp_path / "user")}, timeout=60)
    assert proc.returncode == 2
    assert errors(proc.stderr) == [
        f"{ERROR}{folder / 'piped-fp16.bin'}: not a regular file (a FIFO); refused without opening it"]
    assert not (tmp_path / "colorized").exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"l_scale": 0.0}, "'edgecolor.l_scale' is 0.0; it must be a positive number up to 1e4"),
        ({"ab_scale": float("nan")}, "'edgecolor.ab_scale' is nan; it must be a positive number up to 1e4"),
        ({"l_shift": float("inf")}, "'edgecolor.l_shift' is inf; it must be a number within -1e4..1e4"),
        ({"size_multiple": 2048, "working_size": 2048}, "'edgecolor.size_multiple' is 2048, above the limit of 256"),
    ],
)
def test_a_model_with_an_insane_contract_stops_before_any_photo(models_dir, tmp_path, change, reason):
    """l_scale=0 failed every photo with ZeroDivisionError (exit 1), NaN scales gave garbage with exit 0, and
    size_multiple=2048 made a 160x120 photo take 10 GB: a bad model is refused at load, exit 2."""
    from conftest import build_onnx, tiny_contract

    model = build_onnx(tmp_path / "bad.onnx", tiny_contract(**change))
    src = write_image(tmp_path / "a.png", photo())
    result = invoke("colorize", src, "-m", model)
    assert result.exit_code == 2, result.output
    assert errors(result.stderr) == [f"{ERROR}{model}: model metadata {reason}"]
    assert not (tmp_path / "colorized").exists()


@pytest.mark.slow
@posix_only
@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp", ".jpg"])
def test_a_failed_write_is_one_line_without_the_encoders_own_messages(models_dir, tmp_path, suffix):
    """A full disk (here: a file size limit, RLIMIT_FSIZE) made libpng print "libpng error: Write Error" and
    OpenCV its [ERROR]/[ WARN ] lines beside edgecolor's own error."""
    import resource

    noise = (np.random.default_rng(0).random((300, 400)) * 255).astype(np.uint8)  # ~120 KB as PNG
    src = write_image(tmp_path / f"noise{suffix}", noise)
    limit = 16384

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.run([sys.executable, "-m", "edgecolor", "colorize", src, "-o", tmp_path / "out"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=180, preexec_fn=small_files)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"{ERROR}{tmp_path / 'out' / src.name}: cannot write (File too large)"]
    assert os.listdir(tmp_path / "out") == []  # no temporary, no partial file
