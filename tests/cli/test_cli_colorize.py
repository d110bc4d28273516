"""`edgecolor colorize`: inputs, output naming, --force, progress and summary, and every bad input.

Runs the real CLI on tiny real ONNX/IR models (tests/conftest.py) with real OpenVINO and cv2.dnn.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_support import (
    ERROR,
    WITHOUT_OPENVINO,
    assert_no_traceback,
    errors,
    invoke,
    leftovers,
    mean_chroma,
    read,
    run_cli,
    run_python,
    write_image,
)
from conftest import photo

from edgecolor.batch import Job, plan_batch, run_batch
from edgecolor.files import sniff

SUMMARY = re.compile(
    r"^done (\d+), skipped (\d+), failed (\d+) in [\d.]+ s \([\d.]+ images/s, model loading excluded\)$", re.M
)


def summary(text: str) -> tuple[int, int, int]:
    m = SUMMARY.search(text)
    assert m, text
    return int(m[1]), int(m[2]), int(m[3])


@pytest.fixture
def grey(tmp_path) -> Path:
    return write_image(tmp_path / "old.jpg", photo())


def test_single_file_goes_to_colorized_folder_next_to_it(models_dir, grey):
    result = invoke("colorize", grey)
    assert result.exit_code == 0, result.output
    out = grey.parent / "colorized" / "old.jpg"
    image = read(out)
    assert image.shape == (120, 160, 3)
    assert mean_chroma(image) > 5  # the tiny model predicts clear colour
    assert f"wrote {out}" in result.stdout
    assert summary(result.stdout) == (1, 0, 0)
    assert not errors(result.output)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".webp", ".jpeg"])
def test_output_keeps_name_and_format(models_dir, tmp_path, suffix):
    src = write_image(tmp_path / f"scan{suffix}", photo(64, 48))
    result = invoke("colorize", src, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / f"scan{suffix}"
    assert sniff(out.read_bytes()) == sniff(src.read_bytes())
    assert read(out).shape[:2] == (64, 48)


def test_16bit_png_and_rgba_keep_depth_and_alpha(models_dir, tmp_path):
    deep = write_image(tmp_path / "deep.png", photo().astype(np.uint16) * 257)
    rgba = np.dstack([photo(), np.full((120, 160), 77, np.uint8)])
    alpha = write_image(tmp_path / "alpha.png", rgba)
    result = invoke("colorize", deep, alpha, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out16 = read(tmp_path / "out" / "deep.png")
    assert out16.dtype == np.uint16 and mean_chroma(out16) > 5
    out4 = read(tmp_path / "out" / "alpha.png")
    assert out4.shape == (120, 160, 4) and (out4[..., 3] == 77).all()


def test_existing_output_is_skipped_unless_force(models_dir, grey):
    out = grey.parent / "colorized" / "old.jpg"
    out.parent.mkdir()
    out.write_bytes(b"keep me")
    result = invoke("colorize", grey)
    assert result.exit_code == 0, result.output
    assert summary(result.stdout) == (0, 1, 0)
    assert "--force" in result.stderr and str(out) in result.stderr
    assert out.read_bytes() == b"keep me"
    result = invoke("colorize", grey, "--force")
    assert result.exit_code == 0, result.output
    assert summary(result.stdout) == (1, 0, 0)
    assert read(out).shape == (120, 160, 3)


def test_never_overwrites_the_input(models_dir, grey):
    before = grey.read_bytes()
    result = invoke("colorize", grey, "-o", grey.parent, "--force")
    assert result.exit_code == 1
    assert errors(result.stderr) == [
        f"{ERROR}{grey}: output would overwrite the input itself; choose another -o folder"
    ]
    assert grey.read_bytes() == before


def test_folder_recursive_mirrors_subfolders_and_skips_own_outputs(models_dir, tmp_path):
    root = tmp_path / "scans"
    write_image(root / "a.jpg", photo(seed=1))
    write_image(root / "sub" / "b.png", photo(seed=2))
    (root / "notes.txt").write_text("not an image")

    result = invoke("colorize", root)  # not recursive: only the top level
    assert result.exit_code == 0, result.output
    assert summary(result.stdout) == (1, 0, 0)
    assert (root / "colorized" / "a.jpg").is_file() and not (root / "sub" / "colorized").exists()

    result = invoke("colorize", root, "--recursive")  # next to each input; colorized/ itself is not an input
    assert result.exit_code == 0, result.output
    assert summary(result.stdout) == (1, 1, 0)
    assert (root / "sub" / "colorized" / "b.png").is_file()
    assert not (root / "colorized" / "colorized").exists()

    result = invoke("colorize", root, "-r", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")) == [
        "a.jpg",
        "sub/b.png",
    ]


def test_globs_are_expanded_by_edgecolor(models_dir, tmp_path):
    for name in ("x1.jpg", "x2.jpg", "y.png"):
        write_image(tmp_path / name, photo())
    result = invoke("colorize", str(tmp_path / "x*.jpg"), str(tmp_path / "nothing*.jpg"), "-o", tmp_path / "out")
    assert result.exit_code == 1  # the pattern that matched nothing is an error; the others are done
    assert summary(result.stdout) == (2, 0, 1)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x1.jpg", "x2.jpg"]
    assert errors(result.stderr) == [f"{ERROR}{tmp_path / 'nothing*.jpg'}: no files match this pattern"]


def test_glob_does_not_pick_up_previous_outputs(models_dir, tmp_path):
    write_image(tmp_path / "a.jpg", photo())
    assert invoke("colorize", tmp_path / "a.jpg").exit_code == 0  # -> tmp_path/colorized/a.jpg
    result = invoke("colorize", str(tmp_path / "*"), "--force")
    assert result.exit_code == 0, result.output
    assert summary(result.stdout) == (1, 0, 0)
    assert not (tmp_path / "colorized" / "colorized").exists()


def test_same_output_name_from_two_folders_is_refused(models_dir, tmp_path):
    a = write_image(tmp_path / "a" / "same.jpg", photo(seed=1))
    b = write_image(tmp_path / "b" / "same.jpg", photo(seed=2))
    result = invoke("colorize", a, b, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert summary(result.stdout) == (1, 0, 1)
    assert str(b) in errors(result.stderr)[0] and "separate folders" in result.stderr


def test_colour_input_warns_and_is_colorized(models_dir, tmp_path):
    colour = photo()
    colour[..., 2] = 250  # strong red cast: a colour photo
    src = write_image(tmp_path / "colour.png", colour)
    result = invoke("colorize", src)
    assert result.exit_code == 0, result.output
    assert f"edgecolor: warning: {src}: is a colour photo" in result.stderr
    assert (tmp_path / "colorized" / "colour.png").is_file()


def test_a_folder_of_colour_photos_gets_one_warning_at_the_end(models_dir, tmp_path):
    colour = photo()
    colour[..., 2] = 250
    for i in range(5):
        write_image(tmp_path / "in" / f"c{i}.png", colour)
    write_image(tmp_path / "in" / "grey.png", photo())
    result = invoke("colorize", tmp_path / "in", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("edgecolor: warning:")]
    assert warnings == ["edgecolor: warning: 5 photos were in colour and were colorized from their lightness only "
                        f"(the first: {tmp_path / 'in' / 'c0.png'})"]
    assert summary(result.stdout) == (6, 0, 0)


def test_grey_photo_with_scanning_cast_does_not_warn(models_dir, tmp_path):
    sepia = photo().astype(np.int16)
    sepia[..., 2] += 2  # a faint cast, as scanned prints have
    src = write_image(tmp_path / "scan.png", np.clip(sepia, 0, 255).astype(np.uint8))
    result = invoke("colorize", src)
    assert result.exit_code == 0 and "warning" not in result.stderr


def test_options_reach_the_colorizer(models_dir, grey):
    result = invoke("colorize", grey, "-o", grey.parent / "g", "--saturation", "0", "--backend", "opencv")
    assert result.exit_code == 0, result.output
    assert mean_chroma(read(grey.parent / "g" / "old.jpg")) < 1.5  # saturation 0 gives grey
    for args in (["--precision", "fp16", "--threads", "1"], ["--size", "32", "--device", "CPU"]):
        result = invoke("colorize", grey, "-o", grey.parent / "o", "--force", *args)
        assert result.exit_code == 0, (args, result.output)
    result = invoke("colorize", grey, "--precision", "int8")
    assert result.exit_code == 2
    assert errors(result.stderr) and "no int8 variant" in result.stderr and "fp32" in result.stderr


def test_non_ascii_paths(models_dir, tmp_path):
    src = write_image(tmp_path / "café" / "фото 1.jpg", photo())
    result = invoke("colorize", src)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "café" / "colorized" / "фото 1.jpg").is_file()


def test_model_is_loaded_once_per_batch_and_not_at_all_when_nothing_to_do(models_dir, tmp_path):
    from edgecolor.colorizer import Colorizer

    made = []

    def make():
        made.append(Colorizer())
        return made[-1]

    jobs = [Job(write_image(tmp_path / f"{i}.jpg", photo(seed=i)), tmp_path / "out" / f"{i}.jpg") for i in range(3)]
    assert run_batch(jobs, make, force=False).done == 3
    assert len(made) == 1
    assert run_batch(jobs, make, force=False).skipped == 3
    assert len(made) == 1


def test_plan_dedupes_inputs(tmp_path):
    write_image(tmp_path / "a.jpg", photo())
    plan = plan_batch([str(tmp_path), str(tmp_path / "a.jpg"), str(tmp_path / "*.jpg")], None, False)
    assert plan.jobs == [Job(tmp_path / "a.jpg", tmp_path / "colorized" / "a.jpg")] and not plan.problems


def test_progress_bar_for_batches_and_summary_line(models_dir, tmp_path):
    for i in range(3):
        write_image(tmp_path / f"{i}.jpg", photo(seed=i))
    # TTY_COMPATIBLE makes rich draw as on a terminal although stderr is a pipe here
    proc = run_cli("colorize", tmp_path, "-o", tmp_path / "out", cwd=tmp_path, env={"TTY_COMPATIBLE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "colorizing" in proc.stderr and "3/3" in proc.stderr
    assert summary(proc.stdout) == (3, 0, 0)
    # one meaning: the seconds and the rate both leave out model loading, which has its own line
    loading = re.search(r"^model loading: ([\d.]+) s \(not in the seconds and rate below\)$", proc.stdout, re.M)
    assert loading and float(loading[1]) > 0, proc.stdout
    seconds, rate = (float(x) for x in re.search(r" in ([\d.]+) s \(([\d.]+) images/s", proc.stdout).groups())
    assert 3 / (seconds + 0.005) - 0.05 <= rate <= 3 / max(seconds - 0.005, 1e-9) + 0.05  # rate = done / seconds
    proc = run_cli("colorize", tmp_path / "0.jpg", "-o", tmp_path / "one", cwd=tmp_path, env={"TTY_COMPATIBLE": "1"})
    assert proc.returncode == 0 and "colorizing" not in proc.stderr  # no bar for a single file


def test_bad_inputs_each_get_one_line_and_the_batch_goes_on(models_dir, tmp_path):
    """One real process: every per-file failure named, good files done, exit 1, no traceback, no partial files."""
    good = write_image(tmp_path / "good.jpg", photo())
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("this is not a JPEG\n")
    data = good.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.txt").write_text("hello")
    out = tmp_path / "out"
    proc = run_cli(
        "colorize", "missing.jpg", "empty_folder", "zero.jpg", "text.jpg", "cut.jpg", "notes.txt", "good.jpg",
        "-o", out, cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert_no_traceback(proc.stdout, proc.stderr)
    lines = errors(proc.stderr)
    expected = {
        "missing.jpg": "no such file",
        "empty_folder": "no images",
        "zero.jpg": "empty file",
        "text.jpg": "not an image",
        "cut.jpg": "truncated",
        "notes.txt": "not an image type",
    }
    assert len(lines) == len(expected), proc.stderr
    for name, reason in expected.items():
        assert any(line.startswith(f"{ERROR}{name}: ") and reason in line for line in lines), (name, proc.stderr)
    assert summary(proc.stdout) == (1, 0, 6)
    assert sorted(p.name for p in out.iterdir()) == ["good.jpg"]  # nothing partial, no temp files
    assert not leftovers(out)


def test_unwritable_output_folder(models_dir, tmp_path, grey):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    second = write_image(tmp_path / "second.png", photo(seed=3))
    proc = run_cli("colorize", grey, second, "-o", blocker / "sub", cwd=tmp_path)
    assert proc.returncode == 1
    assert_no_traceback(proc.stdout, proc.stderr)
    lines = errors(proc.stderr)
    assert len(lines) == 2 and all("cannot create output folder" in line for line in lines), proc.stderr
    assert str(blocker / "sub" / "old.jpg") in lines[0] and str(blocker / "sub" / "second.png") in lines[1]
    assert summary(proc.stdout) == (0, 0, 2)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(models_dir, tmp_path, grey):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = invoke("colorize", grey, "-o", out)
    finally:
        out.chmod(0o700)
    assert result.exit_code == 1 and "cannot write" in result.stderr and not list(out.iterdir())


@pytest.mark.parametrize(
    "which, reason",
    [
        ("corrupt", "corrupt or not a model file"),
        ("truncated", "corrupt or not a model file"),
        ("no_metadata", "not an edgecolor model"),
        ("wrong_out", "shape"),
        ("wrong_in", "shape"),
        ("wrong_stride", "shape"),
        ("missing", "model file not found"),
    ],
)
def test_bad_model_is_one_line_exit_2_and_no_output(model_files, tmp_path, grey, which, reason):
    model = model_files[which] if which != "missing" else tmp_path / "nope.onnx"
    proc = run_cli("colorize", grey, "--model", model, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert_no_traceback(proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{ERROR}{model}: ") and reason in lines[0], proc.stderr
    assert not (tmp_path / "colorized").exists()


@pytest.mark.parametrize("backend", ["opencv", "openvino"])
def test_model_file_runs_on_each_backend(model_files, tmp_path, grey, backend):
    result = invoke("colorize", grey, "--model", model_files["onnx"], "--backend", backend)
    assert result.exit_code == 0, result.output
    assert mean_chroma(read(tmp_path / "colorized" / "old.jpg")) > 5


@pytest.mark.parametrize(("args", "says"), [
    (["-m", "nosuchmodel"], "unknown model 'nosuchmodel'"),
    (["--backend", "cuda"], "unknown backend 'cuda'"),
    (["--precision", "int8"], "no int8 variant"),
])
def test_options_are_checked_before_planning_even_when_every_output_exists(models_dir, grey, args, says):
    """Issue 24: a bad model was "skipped ... exists", exit 0, when the outputs were there from an earlier run."""
    assert invoke("colorize", grey).exit_code == 0
    result = invoke("colorize", grey, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == errors(result.stderr) and says in result.stderr
    assert "skipped" not in result.output and not SUMMARY.search(result.stdout)


def test_backend_not_installed(models_dir, tmp_path, grey):
    proc = run_python(WITHOUT_OPENVINO, "colorize", grey, "--backend", "openvino", cwd=tmp_path)
    assert proc.returncode == 2
    assert_no_traceback(proc.stderr)
    assert proc.stderr.strip() == f"{ERROR}backend 'openvino' is not installed (pip install openvino)"
    assert not (tmp_path / "colorized").exists()
    proc = run_python(WITHOUT_OPENVINO, "colorize", grey, cwd=tmp_path)  # auto falls back to OpenCV
    assert proc.returncode == 0, proc.stderr
    assert cv2.imread(str(tmp_path / "colorized" / "old.jpg")) is not None


def test_unknown_backend_and_bad_option_values(models_dir, grey):
    result = invoke("colorize", grey, "--backend", "cuda")
    assert result.exit_code == 2 and errors(result.stderr) and "unknown backend" in result.stderr
    result = invoke("colorize", grey, "--precision", "fp8")
    assert result.exit_code == 2 and "fp8" in result.output
    result = invoke("colorize", grey, "--saturation", "-1")
    assert result.exit_code == 2
    assert not (grey.parent / "colorized").exists()


def test_an_output_that_is_an_input_of_the_run_is_refused_even_with_force(models_dir, tmp_path):
    """The batch is planned whole before anything is written: no input of the run is ever overwritten."""
    xi = tmp_path / "xi"
    a = write_image(xi / "a.jpg", photo(seed=1))
    inner = write_image(xi / "colorized" / "a.jpg", photo(seed=2))
    before = {p: p.read_bytes() for p in (a, inner)}
    result = invoke("colorize", a, inner, "--force")
    assert result.exit_code == 1, result.output
    assert errors(result.stderr) == [
        f"{ERROR}{a}: output would overwrite another input of this run ({inner}); choose another -o folder"
    ]
    assert {p: p.read_bytes() for p in before} == before
    assert (xi / "colorized" / "colorized" / "a.jpg").exists()  # the other pair still ran
    assert summary(result.stdout) == (1, 0, 1)

    new, old = tmp_path / "new", tmp_path / "old"
    write_image(new / "b.jpg", photo(seed=3))
    kept = write_image(old / "b.jpg", photo(seed=4))
    kept_bytes = kept.read_bytes()
    result = invoke("colorize", new, old, "-o", old, "--force")
    assert result.exit_code == 1 and kept.read_bytes() == kept_bytes, result.output
    assert summary(result.stdout) == (0, 0, 2) and len(errors(result.stderr)) == 2


def test_plan_refuses_a_hard_link_to_an_input(tmp_path):
    src = write_image(tmp_path / "a.jpg", photo())
    (tmp_path / "out").mkdir()
    os.link(src, tmp_path / "out" / "a.jpg")
    plan = plan_batch([src], tmp_path / "out")
    assert not plan.jobs and "overwrite the input itself" in plan.problems[0]


def test_no_guided_switch_gives_plain_bilinear_colour(models_dir, tmp_path):
    """--no-guided is the API's guided=False (bilinear upsampling); the default differs at edges."""
    from edgecolor.colorizer import Colorizer

    img = photo(240, 320)
    img[:, 160:] = 255 - img[:, 160:]  # a strong edge
    src = write_image(tmp_path / "edge.png", img)
    for flag, guided in (("--no-guided", False), ("--guided", True)):
        out = tmp_path / flag.strip("-")
        result = invoke("colorize", src, "-o", out, flag)
        assert result.exit_code == 0, result.output
        expected = Colorizer(guided=guided).colorize(cv2.imread(str(src), cv2.IMREAD_UNCHANGED))
        np.testing.assert_array_equal(read(out / "edge.png"), expected)
    assert not np.array_equal(read(tmp_path / "no-guided" / "edge.png"), read(tmp_path / "guided" / "edge.png"))
