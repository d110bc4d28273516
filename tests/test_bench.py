"""`edgecolor bench` runs every variant that exists, skips the others with a reason, and its JSON is complete.

No speed assertions: timings depend on the machine and what else it runs.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_bundled_model
from typer.testing import CliRunner

from edgecolor import bench
from edgecolor.cli import app
from edgecolor.errors import EdgecolorError

NUMBERS = ("gmacs", "load_ms", "first_frame_ms", "net_median_ms", "net_p90_ms", "net_fps", "net_gflops",
           "e2e_median_ms", "e2e_p90_ms", "e2e_fps", "prepare_ms", "merge_ms", "peak_rss_mb")


def _by_variant(records: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["backend"], r["precision"]): r for r in records}


def test_run_measures_existing_variants_and_skips_the_rest(models_dir):
    records = bench.as_dicts(bench.run(size="96x64", frames=2, warmup=1))
    variants = _by_variant(records)
    assert set(variants) == {(b, p) for b in bench.BACKENDS for p in bench.PRECISIONS}
    for key in (("openvino", "fp32"), ("openvino", "fp16"), ("opencv", "fp32")):
        r = variants[key]
        assert r["status"] == "ok", r["note"]
        for name in NUMBERS:
            assert isinstance(r[name], float) and math.isfinite(r[name]) and r[name] > 0, name
        assert r["net_p90_ms"] >= r["net_median_ms"] and r["e2e_p90_ms"] >= r["e2e_median_ms"]
        assert r["frame_size"] == "96x64" and r["input_size"] == "96x64"  # network sides >= 64 px (2 multiples)
        assert r["frames"] == 2 and r["warmup"] == 1 and r["model"] == "edgecolor-lite0"
        assert r["runtime_precision"] in ("f32", "f16", "bf16") and r["threads"] >= 1
        assert Path(r["model_path"]).is_file()
    for key in (("openvino", "int8"), ("opencv", "int8"), ("opencv", "fp16")):
        r = variants[key]
        assert r["status"] == "skipped" and "variant" in r["note"]
        assert all(r[name] is None for name in NUMBERS)


def test_a_model_file_is_one_variant_per_backend(model_files):
    records = bench.run(model=str(model_files["ir16"]), backend="all", precision="all", size="64x64", frames=1,
                        warmup=0)
    assert [(r.backend, r.precision, r.status) for r in records] == [
        ("openvino", "fp16", "ok"),
        ("opencv", "fp16", "skipped"),  # cv2.dnn reads ONNX only, and says so
    ]
    assert "onnx" in records[1].note


def test_run_says_which_variant_starts_and_how_many_in_all(model_files):
    """What `bench`'s progress bar follows: (done, total, backend, precision) before each variant."""
    started, done = [], []
    records = bench.run(model=str(model_files["ir16"]), size="64x64", frames=1, warmup=0,
                        on_start=lambda *a: started.append(a), on_record=done.append)
    assert started == [(0, 2, "openvino", "fp16"), (1, 2, "opencv", "fp16")]
    assert done == records


def test_runs_in_says_what_an_int8_model_computes_in(models_dir):
    """OpenVINO reports "f32" for an int8 model (the layers kept in float): the table says int8 first."""
    from edgecolor.cli.bench import runs_in

    record = bench._record("m", "openvino", "int8", (64, 64), 1, 0, "CPU", "ok", "")
    record.runtime_precision = "f32"
    assert runs_in(record) == "int8 (f32 where kept)"
    record.precision, record.runtime_precision = "fp16", "bf16"
    assert runs_in(record) == "bf16"
    record.runtime_precision = ""
    assert runs_in(record) == "-"


def test_bench_draws_a_bar_on_a_terminal_only(models_dir, monkeypatch):
    """stderr is a terminal when FORCE_COLOR is set (rich's rule): the bar and a line per variant go there;
    in a pipe stderr stays empty."""
    args = ["bench", "--size", "64x48", "--frames", "1", "--warmup", "0", "--backend", "opencv", "--json"]
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    piped = CliRunner().invoke(app, args)
    assert piped.exit_code == 0 and piped.stderr == "" and len(json.loads(piped.stdout)) == len(bench.PRECISIONS)
    monkeypatch.setenv("FORCE_COLOR", "1")
    tty = CliRunner().invoke(app, args)
    assert tty.exit_code == 0 and "opencv fp32: ok" in tty.stderr and "opencv int8: skipped" in tty.stderr
    assert len(json.loads(tty.stdout)) == len(bench.PRECISIONS)


def test_json_has_every_field(models_dir):
    result = CliRunner().invoke(app, ["bench", "--size", "64x48", "--frames", "2", "--warmup", "0",
                                      "--backend", "openvino", "--precision", "all", "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert isinstance(records, list) and len(records) == len(bench.PRECISIONS)
    for r in records:
        assert tuple(r) == bench.FIELDS
        assert r["status"] in ("ok", "skipped", "failed")
        assert r["backend"] == "openvino"
    assert [r["status"] for r in records] == ["ok", "ok", "skipped"]
    assert records[0]["threads"] == 1


def test_table_lists_results_and_says_what_was_skipped(models_dir):
    result = CliRunner().invoke(app, ["bench", "--size", "64x48", "--frames", "1", "--warmup", "0",
                                      "--backend", "opencv"])
    assert result.exit_code == 0, result.output
    assert "opencv" in result.stdout and "fp32" in result.stdout
    assert "skipped: opencv fp16" in result.stdout and "skipped: opencv int8" in result.stdout


def test_bad_options_are_one_line_errors(models_dir):
    runner = CliRunner()
    for args in (["--size", "640by480"], ["--backend", "tensorrt"], ["--precision", "int4"]):
        result = runner.invoke(app, ["bench", "--frames", "1", *args])
        assert result.exit_code == 2
        assert "edgecolor: error:" in result.output and "Traceback" not in result.output


def test_parse_size_and_select():
    assert bench.parse_size("640x480") == (640, 480)
    assert bench.parse_size("1280X720") == (1280, 720)
    with pytest.raises(EdgecolorError, match="640x480"):
        bench.parse_size("big")
    with pytest.raises(EdgecolorError, match="out of range"):
        bench.parse_size("8x8")
    assert bench.select("all", bench.BACKENDS, "backend") == bench.BACKENDS
    assert bench.select("OpenCV", bench.BACKENDS, "backend") == ("opencv",)


def test_frames_are_realistic_grey_bgr():
    frames = bench.grey_frames(160, 120, count=2)
    for f in frames + [bench.synthetic_frame(160, 120)]:
        assert f.shape == (120, 160, 3) and f.dtype == np.uint8
        assert np.array_equal(f[..., 0], f[..., 2])  # grey: B = G = R
        assert f.std() > 10  # texture, not a flat frame


def test_gmacs_are_counted_from_the_graph(model_files):
    # tiny model: AveragePool /4, then a 1x1 conv 1 -> 2 channels: 2 MACs per output pixel
    assert bench.network_gmacs(model_files["onnx"], 64, 96) == pytest.approx(2 * 16 * 24 / 1e9)
    assert bench.network_gmacs(model_files["ir16"], 64, 96) == pytest.approx(2 * 16 * 24 / 1e9)
    assert bench.network_gmacs(model_files["corrupt"], 64, 64) is None


def test_peak_rss_and_machine_facts():
    bench.reset_peak_rss()
    assert bench.peak_rss_mb() > 1
    facts = bench.machine()
    assert facts["cpu"] and facts["usable_cores"] >= 1
    assert {"numpy", "cv2", "openvino", "edgecolor"} <= set(facts["versions"])


@pytest.mark.slow  # builds the 129 MB anchor model
def test_anchor_layer_table_matches_the_graph_it_builds(tmp_path):
    """The analytic GMACs (no model needed) agree with the MACs OpenVINO counts in the built graph."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "anchor.py"
    spec = importlib.util.spec_from_file_location("bench_anchor", path)
    anchor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(anchor)
    anchor.build_onnx(tmp_path / "anchor.onnx")
    for size in (224, 320):
        assert bench.network_gmacs(tmp_path / "anchor.onnx", size, size) == pytest.approx(anchor.gmacs(size))
    assert len(anchor.bin_centres()) == anchor.N_BINS


@needs_bundled_model
def test_memory_benchmark_measures_each_photo_kind_in_a_fresh_process():
    """benchmarks/memory.py runs colorize_file in child processes; a peak can only exceed its floor."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "memory.py"
    spec = importlib.util.spec_from_file_location("bench_memory", path)
    memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory)
    result = memory.measure("default", megapixels=0.5, variants=(("openvino", "int8"),))
    assert result["target_mb"] == 300 and result["megapixels"] == pytest.approx(0.5, rel=0.01)
    rows = result["rows"]
    assert [r["kind"] for r in rows] == list(memory.PHOTO_KINDS)
    for r in rows:
        assert r["note"] == "" and r["floor_mb"] > 50 and r["peak_mb"] >= r["floor_mb"]
        assert r["photo_mb"] == pytest.approx(r["peak_mb"] - r["floor_mb"])


@pytest.mark.slow
@needs_bundled_model
def test_memory_benchmark_of_huge_scans_runs_each_format_with_the_limit_lifted():
    """benchmarks/memory.py --huge: a JPEG and a 16-bit TIFF, each colorized in a fresh process (small here)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "memory.py"
    spec = importlib.util.spec_from_file_location("bench_memory_huge", path)
    memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory)
    result = memory.measure_huge("default", width=400, height=300)
    assert result["photo"] == "400x300" and [r["kind"] for r in result["rows"]] == list(memory.HUGE_KINDS)
    for row in result["rows"]:
        assert row["peak_mb"] > 50 and row["seconds"] > 0
        assert row["bytes_per_pixel"] == pytest.approx(row["peak_mb"] * 1e6 / 120_000)
