"""edgecolor.batch: planning a whole batch first, and one job at a time (what a process pool or Ray reuses)."""

from __future__ import annotations

import os

import cv2
import pytest
from conftest import photo

from edgecolor import Colorizer
from edgecolor.batch import Job, Result, Summary, plan_batch, run_batch, run_job
from edgecolor.errors import ModelError


def _write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def test_plan_maps_outputs_and_refuses_any_output_that_is_an_input(tmp_path):
    a = _write(tmp_path / "xi" / "a.jpg", photo(seed=1))
    inner = _write(tmp_path / "xi" / "colorized" / "a.jpg", photo(seed=2))
    plan = plan_batch([a, inner])
    assert plan.jobs == [Job(inner, tmp_path / "xi" / "colorized" / "colorized" / "a.jpg")]
    assert plan.problems == [f"{a}: output would overwrite another input of this run ({inner}); "
                             "choose another -o folder"]
    out = tmp_path / "out"
    plan = plan_batch([tmp_path / "xi"], out, recursive=True)
    assert plan.jobs == [Job(a, out / "a.jpg")] and not plan.problems  # colorized/ folders are outputs


def test_plan_skips_hidden_files_such_as_temporaries(tmp_path):
    _write(tmp_path / "a.jpg", photo())
    _write(tmp_path / ".a.jpg.ec0000-1-0123abcd.tmp.jpg", photo())
    assert [j.src.name for j in plan_batch([tmp_path]).jobs] == ["a.jpg"]


def test_run_job_reports_per_file_outcomes_and_raises_what_stops_everything(model_files, tmp_path):
    c = Colorizer(model=model_files["onnx"])
    good = _write(tmp_path / "good.png", photo())
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    done = run_job(c, Job(good, tmp_path / "out" / "good.png"))
    assert done.status == "done" and done.message == "" and (tmp_path / "out" / "good.png").exists()
    assert run_job(c, Job(good, tmp_path / "out" / "good.png")).status == "skipped"
    assert run_job(c, Job(good, tmp_path / "out" / "good.png"), force=True).status == "done"
    failed = run_job(c, Job(bad, tmp_path / "out" / "bad.jpg"))
    assert failed.status == "failed" and failed.message.startswith(f"{bad}: not an image file")
    broken = Colorizer(model=model_files["wrong_stride"])  # loads; its output shape is wrong at first inference
    with pytest.raises(ModelError):
        run_job(broken, Job(good, tmp_path / "out2" / "good.png"))
    assert not (tmp_path / "out2").exists()


def test_run_batch_loads_nothing_when_every_output_exists(model_files, tmp_path):
    made = []

    def make():
        made.append(Colorizer(model=model_files["onnx"]))
        return made[-1]

    jobs = [Job(_write(tmp_path / f"{i}.png", photo(seed=i)), tmp_path / "out" / f"{i}.png") for i in range(2)]
    first = run_batch(jobs, make)
    assert (first.done, first.failed, len(made)) == (2, 0, 1) and first.load_seconds > 0
    assert first.run_seconds == pytest.approx(first.seconds - first.load_seconds) and first.run_seconds > 0
    again = run_batch(jobs, make)
    assert (again.done, again.skipped, len(made)) == (0, 2, 1)
    assert sorted(os.listdir(tmp_path / "out")) == ["0.png", "1.png"]


def test_a_numpy_warning_during_a_job_becomes_one_line_naming_the_file(model_files, tmp_path):
    """numpy's RuntimeWarning says "overflow encountered in exp" and no file: the job's line adds which one."""
    import numpy as np

    class Overflowing(Colorizer):  # the real model; its own step overflows a float32, as a bad boost would
        def predict_ab(self, prepared):
            np.exp(np.float32(100.0))
            return super().predict_ab(prepared)

    good = _write(tmp_path / "good.png", photo())
    result = run_job(Overflowing(model=model_files["onnx"]), Job(good, tmp_path / "out" / "good.png"))
    assert result.status == "done"
    assert result.warnings == (f"{good}: overflow encountered in exp (RuntimeWarning)",)


def test_the_summary_line_leaves_model_loading_out_of_both_its_seconds_and_its_rate(tmp_path):
    """One meaning (issue 24): 4 photos in 3 s of which 1 s loading is "in 2.00 s", 2.0 per second, not 4/3."""
    s = Summary(seconds=3.0, load_seconds=1.0)
    for i in range(4):
        s.add(Result(Job(tmp_path / f"{i}.jpg", tmp_path / "out" / f"{i}.jpg"), "done", seconds=0.25))
    assert s.line() == "done 4, skipped 0, failed 0 in 2.00 s (2.0 images/s, model loading excluded)"
    s.excluded, s.interrupted = "Ray start-up", True
    assert s.line() == "interrupted: done 4, skipped 0, failed 0 in 2.00 s (2.0 images/s, Ray start-up excluded)"
    assert Summary(seconds=0.5, load_seconds=0.5).line().endswith("in 0.00 s (0.0 images/s, model loading excluded)")


def test_colour_photos_are_collected_for_one_warning_at_the_end(model_files, tmp_path):
    """The batch gathers the colour inputs (the CLI says them in one line); grey ones are not among them."""
    colour = photo()
    colour[..., 2] = 250  # a strong red cast: a colour photo
    jobs = [Job(_write(tmp_path / f"c{i}.png", colour), tmp_path / "out" / f"c{i}.png") for i in range(2)]
    jobs.append(Job(_write(tmp_path / "grey.png", photo()), tmp_path / "out" / "grey.png"))
    summary = run_batch(jobs, lambda: Colorizer(model=model_files["onnx"]))
    assert summary.done == 3 and summary.colour_photos == [jobs[0].src, jobs[1].src]
