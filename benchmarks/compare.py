"""edgecolor against the network people run today, in one run, on the same frames; writes BENCHMARKS.md.

The anchor is Zhang et al.'s ECCV16 network (OpenCV's DNN colorization sample, OpenVINO's
colorization-v2) rebuilt with random weights (benchmarks/anchor.py). Both go through the same
Colorizer pipeline and the same runtimes (cv2.dnn and OpenVINO), so the ratios isolate the network.
Cold start and 12 MP memory are measured in fresh processes (cold_start.py, memory.py), and the
edge projection scales the compute efficiency measured here to a Raspberry Pi 5 and an Intel NUC.

    python benchmarks/compare.py                      # full run: takes a few minutes on 2 cores
    python benchmarks/compare.py --frames 5 --anchor-frames 2 --cold-runs 1 --no-memory   # smoke
    python benchmarks/compare.py --only-stages        # issue 19's per-stage table and frame rates alone (~2 min)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import re
import shlex
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import anchor  # noqa: E402  (benchmarks/anchor.py, cold_start.py and memory.py, beside this file)
import cold_start  # noqa: E402
import memory  # noqa: E402
import stage_speed  # noqa: E402

from edgecolor import bench  # noqa: E402

TARGETS = {"ov_int8_fps": 100.0, "cv_fp32_fps": 30.0, "anchor_ratio": 30.0, "cold_s": 1.0, "rss_mb": 300.0}
EDGECOLOR_VARIANTS = (("openvino", "fp32"), ("openvino", "fp16"), ("openvino", "int8"), ("opencv", "fp32"))
ANCHOR_VARIANTS = (("openvino", "fp32", "fp32-ir"), ("openvino", "fp16", "fp16"), ("opencv", "fp32", "fp32"))

# Edge projection assumptions: peak GFLOP/s = cores x FLOP per cycle per core x GHz.
EDGE = {
    "Raspberry Pi 5": {
        "cpu": "4x Cortex-A76 @ 2.4 GHz, NEON (2x128-bit FMA pipes), OpenVINO ARM CPU plugin",
        "peak_f32": 4 * 16 * 2.4,  # 4 lanes x 2 pipes x 2 FLOP
        "peak_f16": 4 * 32 * 2.4,  # ARMv8.2 FP16 arithmetic: 8 lanes
        "pipeline_factor": 3.5,  # OpenCV colour work: "about 3-4 times slower" than this machine (issue 4)
    },
    "Intel NUC 13 Pro": {
        "cpu": "Core i5-1340P, 4 P-cores @ ~3.0 GHz sustained, AVX2 + AVX-VNNI (no AVX-512); E-cores left idle",
        "peak_f32": 4 * 32 * 3.0,  # 8 lanes x 2 FMA ports x 2 FLOP
        "peak_f16": None,  # no native f16 arithmetic: the f16 model runs in f32
        "pipeline_factor": 1.0,  # one fast P-core is about one core of this Xeon for OpenCV's colour work
    },
}


def run_variants(model: str, images: list, frames: int, anchor_frames: int, warmup: int, threads: int | None,
                 repeats: int = 4) -> tuple[list[bench.BenchRecord], list[bench.BenchRecord], dict]:
    """Every edgecolor variant, then the anchor's, on the same frames in this process.

    The edgecolor variants run in ``repeats`` alternating passes of frames/repeats frames each
    (``combine`` takes the median over the passes): this shared 2-core machine has slow spells of
    tens of seconds, and one variant measured inside one would look slower than it is.

    Also returns, for each edgecolor variant and the anchor's fp32 on the same runtime, both networks'
    median ms measured in alternating rounds (``paired_network_ms``), by (backend, precision).
    """
    passes: dict[tuple[str, str], list[bench.BenchRecord]] = {v: [] for v in EDGECOLOR_VARIANTS}
    for _ in range(max(1, repeats)):  # alternating passes: a slow spell of the machine hits every variant
        for backend, precision in EDGECOLOR_VARIANTS:
            passes[backend, precision].append(bench.bench_variant(
                model, backend, precision, images, max(1, frames // max(1, repeats)), warmup, threads))
    ours = [combine(records) for records in passes.values()]
    for record in ours:
        _say(record)
    paths = anchor.ensure()
    theirs, paired = [], {}
    for backend, precision, key in ANCHOR_VARIANTS:
        record = bench.bench_variant(str(paths[key]), backend, precision, images, anchor_frames, min(warmup, 1),
                                     threads)
        record.model = anchor.NAME
        _say(record)
        theirs.append(record)
        if record.status != "ok" or precision != "fp32":
            continue
        for r in (o for o in ours if o.status == "ok" and o.backend == backend):
            paired[backend, r.precision] = paired_network_ms(r.model_path, str(paths[key]), backend, images[0],
                                                             max(3, anchor_frames), threads)
    return ours, theirs, paired


def combine(records: list[bench.BenchRecord]) -> bench.BenchRecord:
    """One record from a variant's passes: each time is the median over the passes, fps follow from
    it, the peak memory is the largest; a pass that did not run makes the whole variant its record."""
    bad = [r for r in records if r.status != "ok"]
    if bad or len(records) == 1:
        return (bad or records)[0]
    out = dataclasses.replace(records[0], frames=sum(r.frames for r in records))
    for name in ("load_ms", "first_frame_ms", "net_median_ms", "net_p90_ms", "e2e_median_ms", "e2e_p90_ms",
                 "prepare_ms", "merge_ms"):
        setattr(out, name, statistics.median(getattr(r, name) for r in records))
    out.net_fps = 1000.0 / out.net_median_ms
    out.e2e_fps = 1000.0 / out.e2e_median_ms
    out.net_gflops = 2 * out.gmacs * out.net_fps if out.gmacs else None
    out.peak_rss_mb = max(r.peak_rss_mb for r in records)
    return out


def paired_network_ms(ours_path: str, anchor_path: str, backend: str, frame, rounds: int,
                      threads: int | None, per_round: int = 10) -> tuple[float, float]:
    """Median ms of edgecolor's network (at its working size for ``frame``) and of the anchor's at its
    published 224x224 input (what OpenCV's sample feeds it), through the same runtime.

    The two alternate, ``per_round`` edgecolor runs then one anchor run, for ``rounds`` rounds: a slow
    spell on a shared machine then slows both, and their ratio, the number that matters, stays put.
    """
    from edgecolor.colorizer import Colorizer

    ours = Colorizer(model=ours_path, backend=backend, threads=threads)
    theirs = Colorizer(model=anchor_path, backend=backend, threads=threads)
    ours_in = ours.prepare(frame)
    theirs_in = theirs.prepare(bench.grey_frames(anchor.INPUT_SIZE, anchor.INPUT_SIZE, count=1)[0])
    assert theirs_in.tensor.shape[-2:] == (anchor.INPUT_SIZE, anchor.INPUT_SIZE)
    for _ in range(5):  # past OpenVINO's static compile for a repeated shape (backends/openvino.py)
        ours.predict_ab(ours_in)
        theirs.predict_ab(theirs_in)
    ours_t, theirs_t = [], []
    for _ in range(rounds):
        ours_t += bench.timed(lambda: ours.predict_ab(ours_in), per_round)
        theirs_t += bench.timed(lambda: theirs.predict_ab(theirs_in), 1)
    return statistics.median(ours_t) * 1000, statistics.median(theirs_t) * 1000


def _say(record: bench.BenchRecord) -> None:
    if record.status == "ok":
        print(f"  {record.model} {record.backend} {record.precision} ({record.runtime_precision}): "
              f"net {record.net_median_ms:.2f} ms, end-to-end {record.e2e_fps:.1f} fps", flush=True)
    else:
        print(f"  {record.model} {record.backend} {record.precision}: {record.status}: {record.note}", flush=True)


def ratios(ours: list[bench.BenchRecord], theirs: list[bench.BenchRecord], paired: dict) -> list[dict]:
    """edgecolor fps / anchor fp32 fps through the same runtime.

    net: each network alone at the input it runs for these frames (edgecolor: its working size;
    the anchor: its published 224x224), timed in alternating rounds (``paired_network_ms``).
    e2e: both through the same Colorizer pipeline on the same frames (the anchor at 224 on the long
    side). net_same_input: the anchor at 224x168 as in e2e, from the per-variant runs.
    """
    rows = []
    for base in (t for t in theirs if t.status == "ok" and t.precision == "fp32"):
        for r in (o for o in ours if o.status == "ok" and o.backend == base.backend):
            ours_ms, anchor_ms = paired.get((r.backend, r.precision), (r.net_median_ms, base.net_median_ms))
            rows.append({"backend": r.backend, "precision": r.precision, "vs": f"{base.model} {base.precision}",
                         "net": anchor_ms / ours_ms, "net_same_input": r.net_fps / base.net_fps,
                         "e2e": r.e2e_fps / base.e2e_fps, "anchor_net_ms": anchor_ms, "ours_net_ms": ours_ms})
    return rows


def raw_f32_gflops(model_path: str, height: int, width: int, runs: int) -> tuple[float, float]:
    """(ms, GFLOP/s) of the network alone in OpenVINO with f32 asked for explicitly (no bf16 or f16)."""
    import numpy as np
    import openvino as ov

    core = ov.Core()
    net = core.read_model(model_path)
    net.reshape({net.inputs[0].any_name: [1, 1, height, width]})
    compiled = core.compile_model(net, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, height, width)).astype(np.float32)
    request.infer({0: x})
    ms = statistics.median(bench.timed(lambda: request.infer({0: x}), runs)) * 1000
    gmacs = bench.network_gmacs(model_path, height, width) or 0.0
    return ms, 2 * gmacs / (ms / 1000)


def peak_here(machine: dict) -> tuple[float, str]:
    """This CPU's f32 peak and how it was assumed: cores x FLOP/cycle (from SIMD flags) x clock."""
    ghz = 0.0
    try:
        with open("/proc/cpuinfo") as f:
            ghz = next(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")) / 1000
    except (OSError, StopIteration, ValueError):
        pass
    ghz = max(ghz, 2.5) if ghz else 2.5  # cpuinfo in a VM shows the base clock; all-core turbo is at least 2.5
    simd = machine["simd"]
    flop = 64 if "avx512f" in simd else 32 if "avx2" in simd else 16
    cores = machine["usable_cores"]
    unit = "AVX-512" if flop == 64 else "SIMD"
    return cores * flop * ghz, f"{cores} cores x {flop} FLOP/cycle (2 FMA units, {unit}) x {ghz:.1f} GHz"


def projection(ours: list[bench.BenchRecord], efficiency: float) -> list[dict]:
    """Projected network ms and end-to-end fps per edge machine, from GFLOPs, efficiency and pipeline time."""
    fp32 = next((r for r in ours if r.status == "ok" and r.backend == "openvino" and r.precision == "fp32"), None)
    if fp32 is None or not fp32.gmacs:
        return []
    gflop = 2 * fp32.gmacs
    pipeline_ms = fp32.prepare_ms + fp32.merge_ms  # timed on their own: e2e - net is too noisy a difference
    rows = []
    for name, spec in EDGE.items():
        for label, peak in (("f32", spec["peak_f32"]), ("f16", spec["peak_f16"])):
            if peak is None:
                continue
            net_ms = gflop / (peak * efficiency) * 1000
            e2e_ms = net_ms + pipeline_ms * spec["pipeline_factor"]
            rows.append({"machine": name, "cpu": spec["cpu"], "precision": label, "peak_gflops": peak,
                         "net_ms": net_ms, "net_fps": 1000 / net_ms, "e2e_fps": 1000 / e2e_ms,
                         "pipeline_ms": pipeline_ms * spec["pipeline_factor"]})
    return rows


def verdicts(ours: list, rat: list, cold: list[dict] | None, mem: dict | None) -> list[tuple[str, str, str, str]]:
    """(target, threshold, measured, verdict) for each of issue 4's targets."""
    def get(backend: str, precision: str):
        return next((r for r in ours if r.status == "ok" and r.backend == backend and r.precision == precision), None)

    def row(name: str, want: str, value: float | None, ok: bool | None, fmt: str) -> tuple[str, str, str, str]:
        shown = "not measured" if value is None else fmt.format(value)
        return name, want, shown, "-" if ok is None else ("met" if ok else "MISSED")

    t = TARGETS
    out = []
    ov8, cv32 = get("openvino", "int8"), get("opencv", "fp32")
    fps = ov8.e2e_fps if ov8 else None
    out.append(row("640x480 end to end, OpenVINO INT8", f">= {t['ov_int8_fps']:.0f} fps", fps,
                   None if fps is None else fps >= t["ov_int8_fps"], "{:.1f} fps"))
    fps = cv32.e2e_fps if cv32 else None
    out.append(row("640x480 end to end, cv2.dnn FP32", f">= {t['cv_fp32_fps']:.0f} fps", fps,
                   None if fps is None else fps >= t["cv_fp32_fps"], "{:.1f} fps"))
    for backend, precision in (("openvino", "fp32"), ("openvino", "int8"), ("opencv", "fp32")):
        x = next((x for x in rat if x["backend"] == backend and x["precision"] == precision), None)
        shown = None if x is None else x["net"]
        name = f"vs the anchor's FP32 network, both through {backend}: edgecolor {precision.upper()}, network alone"
        verdict = row(name, f">= {t['anchor_ratio']:.0f}x", shown, None if x is None else shown >= t["anchor_ratio"],
                      "{:.1f}x" + ("" if x is None else f" (end to end {x['e2e']:.1f}x)"))
        out.append(verdict)
    value = cold[0]["cli_median_s"] if cold else None
    out.append(row("cold start, OpenVINO, bundled model (default fp32, warm cache)", f"<= {t['cold_s']:.1f} s", value,
                   None if value is None else value <= t["cold_s"], "{:.2f} s"))
    peaks = [r["peak_mb"] for r in (mem or {}).get("rows", []) if r["peak_mb"] is not None]
    value = max(peaks) if peaks else None
    out.append(row("peak RSS, 12 MP photo (worst variant)", f"<= {t['rss_mb']:.0f} MB", value,
                   None if value is None else value <= t["rss_mb"], "{:.0f} MB"))
    return out


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(data: dict) -> str:
    """BENCHMARKS.md from one run's data."""
    lines = _targets_md(data) + _machine_md(data) + _speed_md(data) + _versus_anchor_md(data)
    lines += _cold_md(data.get("cold")) + _memory_md(data.get("memory")) + _edge_md(data)
    if data.get("stages"):
        lines += stage_speed.markdown(data["stages"])
    return "\n".join(lines) + "\n"


def _targets_md(data: dict) -> list[str]:
    """How the run was made, and the issue's targets met or missed."""
    return [
        "# edgecolor benchmarks",
        "",
        f"Measured {data['date']} by `{shlex.join(['python', 'benchmarks/compare.py', *data['argv']])}` in one run: "
        "every row below used the same frames, the same process and the same machine. Rerun it to regenerate.",
        "",
        f"edgecolor model: `{data['model_file']}`." + (f" **{data['note']}**" if data.get("note") else ""),
        "",
        "## Targets (issue 4)",
        "",
        "| target | wanted | measured | |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in data["verdicts"]],
        "",
    ]


def _machine_md(data: dict) -> list[str]:
    """What the numbers were measured on, and how busy it was."""
    m = data["machine"]
    return [
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['usable_cores']} usable cores ({m['logical_cores']} logical)",
        f"- SIMD: {', '.join(m['simd'])}",
        f"- OS: {m['os']}; load average (1 min) {m['load_avg_1m']:.2f} at the start, {data['load_end']:.2f} at the end"
        " (above 0.3 means something else was running: treat the numbers as lower bounds)",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
    ]


def _speed_md(data: dict) -> list[str]:
    """The table of every variant's timings, with what its columns mean."""
    lines = [
        "## Speed",
        "",
        f"Frames: {data['size']} grey BGR uint8, the bundled sample photos cropped and resized. "
        f"{data['frames']} timed frames per edgecolor measurement, in {data.get('repeats', 1)} alternating "
        "passes over the edgecolor variants (each number is the median over the passes: this shared machine has "
        f"slow spells of tens of seconds), {data['anchor_frames']} for the anchor. "
        "*net*: the network alone (`Colorizer.predict_ab` on a prepared frame). *e2e*: `Colorizer.colorize` on a "
        "full frame: L extraction, resize, network, ab upsampling, merge with the original L, Lab to BGR; "
        "*prep* and *merge* are its two halves around the network, timed on their own. *e2e* is more than "
        "*prep* + *net* + *merge*: *net* runs the network back to back, and between frames of `colorize` "
        "the network runs ~2 ms slower (measured: 4.9 ms back to back, 6.6-7.0 ms after 3 ms of other "
        "work or of sleep, OpenVINO INT8), most likely because its worker threads have gone idle and its weights "
        "have left the cache; CPU pinning and thread settings did not change that. "
        "*runs in*: the precision the runtime computes in, read back from the compiled model (left alone, OpenVINO "
        "would run an fp32 model in bf16 on CPUs with AMX such as this one, and in f16 on ARM; edgecolor asks "
        "explicitly). Times in ms (median, p90); *peak MB*: this process's peak RSS while the variant ran.",
        "",
        "| model | backend | precision | runs in | net input | GMAC | load ms | first ms | net ms | net p90 | net fps "
        "| prep ms | merge ms | e2e ms | e2e p90 | e2e fps | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["records"]:
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {r['backend']} | {r['precision']} | {r['status']}: {r['note']} "
                         "| | | | | | | | | | | | | |")
            continue
        lines.append(
            f"| {r['model']} | {r['backend']} | {r['precision']} | {r['runtime_precision'] or '-'} | {r['input_size']} "
            f"| {_f(r['gmacs'], 2)} | {_f(r['load_ms'], 0)} | {_f(r['first_frame_ms'])} | {_f(r['net_median_ms'], 2)} "
            f"| {_f(r['net_p90_ms'], 2)} | {_f(r['net_fps'])} | {_f(r['prepare_ms'], 2)} | {_f(r['merge_ms'], 2)} "
            f"| {_f(r['e2e_median_ms'], 2)} | {_f(r['e2e_p90_ms'], 2)} "
            f"| {_f(r['e2e_fps'])} | {_f(r['peak_rss_mb'], 0)} |")
    return lines


def _versus_anchor_md(data: dict) -> list[str]:
    """The plot, and edgecolor against the anchor network on the same runtime and frames."""
    return [
        "",
        "The anchor's rows run it through the same pipeline at its own working size (224 on the long side, "
        f"{data['anchor_input']} for these frames): fewer pixels than OpenCV's sample, which squashes every frame "
        "to 224x224, so its end-to-end numbers here are flattering to it.",
        "",
        "![fps per variant](docs/images/bench_fps.png)" if data["plot"] else "(plot skipped: matplotlib is not "
        "installed; `pip install edgecolor[plot]`)",
        "",
        "## edgecolor / anchor, same runtime, same frames",
        "",
        "*network alone*: each network at the input it is run at for a 640x480 frame (edgecolor: its working "
        "size; the anchor: 224x224, as OpenCV's sample feeds it), timed in alternating rounds (10 edgecolor "
        "runs, then one anchor run, repeated) so that a slow spell of this shared machine slows both; the "
        "medians are in the *ms* columns. *same input size*: the anchor at 224x168 instead, from the table "
        "above. *end to end*: both through the same pipeline on the same frames.",
        "",
        "| backend | edgecolor precision | against | edgecolor ms | anchor ms at 224x224 | network alone "
        "| same input size | end to end |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {x['backend']} | {x['precision']} | {x['vs']} | {x.get('ours_net_ms', float('nan')):.2f} "
          f"| {x['anchor_net_ms']:.0f} | {x['net']:.1f}x | {x['net_same_input']:.1f}x | {x['e2e']:.1f}x |"
          for x in data["ratios"]],
        "",
    ]


def _cold_md(colds: list[dict] | None) -> list[str]:
    if not colds:
        return ["## Cold start", "", "Not measured in this run.", ""]
    lines = [
        "## Cold start",
        "",
        f"`python -m edgecolor colorize {colds[0]['photo']} --backend openvino --precision P` in a new process until "
        f"the colorized file is written, {colds[0]['runs']} runs per row (fp32 is what `edgecolor colorize` runs "
        "by default). The compiled-model cache is OpenVINO's CACHE_DIR (`EDGECOLOR_CACHE_DIR`, default "
        "`~/.cache/edgecolor/openvino`).",
        "",
        "| model file | warm cache: every run after the first (median, min-max) s | empty cache: first run after "
        "installing s | caching off (median) s |",
        "|---|---|---|---|",
    ]
    for c in colds:
        lines.append(f"| {c['model']} | **{c['cli_median_s']:.3f}** ({c['cli_min_s']:.3f}-{c['cli_max_s']:.3f}) "
                     f"| {c['first_run_s']:.3f} | {c['no_cache_median_s']:.3f} |")
    lines += ["", f"A bare `python -c pass` takes {colds[0]['python_floor_s']:.3f} s. Where the time goes (library API "
              "in a fresh process, warm cache, medians):", ""]
    for c in colds:
        lines.append(f"- {c['model']}: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in c["stages_s"].items()))
    return lines + [""]


def _memory_md(mem: dict | None) -> list[str]:
    if not mem:
        return ["## Memory", "", "Not measured in this run.", ""]
    lines = [
        "## Memory on a 12-megapixel photo",
        "",
        f"Peak resident memory (the kernel's high-water mark VmHWM of a fresh process) colorizing a {mem['photo']} "
        "JPEG from file to file with `Colorizer.colorize_file` (what `edgecolor colorize` runs): *grey* is a "
        "1-channel JPEG, *sepia* a toned print stored as 3-channel BGR, as most scanners store them. *floor* "
        "is the same process with the runtime and model loaded but no photo.",
        "",
        "*libraries* is the part of the peak that is shared-library pages (RssFile at exit): it depends on "
        "the kernel's page cache, not on edgecolor, and moved the same code's peak between 284 and 213 MB "
        "on 2026-11-26.",
        "",
        "| backend | precision | photo | peak MB | floor MB | the photo adds | libraries MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in mem["rows"]:
        head = f"| {r['backend']} | {r['precision']} | {r.get('kind', 'grey')} |"
        if r["peak_mb"] is None:
            lines.append(f"{head} failed: {r['note']} | | | |")
        else:
            lines.append(f"{head} {r['peak_mb']:.0f} | {r['floor_mb']:.0f} | {r['photo_mb']:.0f} "
                         f"| {_f(r.get('library_mb'), 0)} |")
    lines += [
        "",
        "Where it goes (OpenVINO FP32, 12 MP grey JPEG, measured step by step in one process): allocated "
        "memory (RssAnon) is ~40 MB once the model is compiled, ~85 MB after the photo is decoded and the "
        "first inference has made its buffers, and ~130 MB at the peak, when the 36 MB BGR result and the "
        "encoded file exist. The rest of the peak is shared-library pages (80-150 MB; OpenVINO's CPU plugin "
        "alone is a 64 MB library). A static-shape compile ends at the same total. "
        "Two changes brought the worst case down by ~60 MB (344 MB in the previous release): on CPU "
        "the runtime no longer lists OpenVINO's devices, which loads the GPU and NPU plugins too "
        "(-48 MB, with a warm page cache), and `colorize_file` frees "
        "each full-size plane once used and writes the encoded buffer without a copy (-12 MB). A 16-bit "
        "PNG written from a 12 MP photo peaks near 430 MB: its result alone is 72 MB and the PNG encoder "
        "holds its whole output.",
        "",
    ]
    return lines + HUGE_SCAN_MD


# Measured by `python benchmarks/memory.py --huge` (minutes, so not rerun here); kept in BENCHMARKS.md.
HUGE_SCAN_MD = [
    '## Memory on a 20,000 x 15,000 scan',
    '',
    'Measured 2026-12-02 by `python benchmarks/memory.py --huge` (not by compare.py: it takes minutes): '
    'peak resident memory (VmHWM of a fresh process) colorizing a 300-megapixel grey scan from file to '
    'file with `Colorizer(max_pixels=None).colorize_file`, OpenVINO FP32, on a 2-core AMD EPYC.',
    '',
    '| photo | peak | per pixel | time |',
    '|---|---|---|---|',
    '| 8-bit grey JPEG | 1.40 GB | 4.7 B | 22 s |',
    '| 16-bit grey TIFF | 2.61 GB | 8.7 B | 89 s |',
    '',
    'Memory is not bounded: OpenCV decodes and encodes whole images, so the full-size input (held for its'
    ' L channel) and the full-size BGR result are in memory together; the network only sees the working-'
    'size copy. The 16-bit TIFF peaked at 4.43 GB before the encoders wrote straight into the output file'
    ' (the uncompressed 1.8 GB TIFF was held in memory once more). Photos above `--max-pixels` (default '
    '120 megapixels: about 0.55 GB for a JPEG and 1.0 GB for a 16-bit TIFF, at these per-pixel rates, '
    'plus the runtime) are refused from their header before decoding.',
    '',
]


def _edge_md(data: dict) -> list[str]:
    eff = data.get("efficiency")
    if not eff:
        return ["## Edge projection", "", "Not computed: no OpenVINO FP32 result in this run.", ""]
    lines = [
        "## Edge projection (projections, not measurements)",
        "",
        "Network time on another CPU = the model's FLOPs / (that CPU's peak FLOP/s x the efficiency measured here);"
        " pipeline time (*prep* + *merge*, OpenCV colour work at full frame size) = the time measured here x a "
        "stated factor.",
        "",
        f"- Efficiency measured here: edgecolor's FP32 network alone in OpenVINO with f32 asked for explicitly ran "
        f"{eff['ms']:.2f} ms = {eff['gflops']:.0f} GFLOP/s at {eff['input']}, "
        f"{100 * eff['efficiency']:.0f}% of this CPU's assumed f32 peak of {eff['peak']:.0f} GFLOP/s "
        f"({eff['peak_how']}). For comparison the anchor ran {eff['anchor_gflops']:.0f} GFLOP/s "
        f"({100 * eff['anchor_gflops'] / eff['peak']:.0f}%): big dense convolutions use a CPU better than "
        "edgecolor's depthwise ones, so the same efficiency is assumed for edgecolor everywhere, not the anchor's.",
        f"- Model: {eff['gflop']:.2f} GFLOP per frame at {eff['input']} (2 x {eff['gflop'] / 2:.3f} GMAC).",
        "- Raspberry Pi 5: 4x Cortex-A76 @ 2.4 GHz, NEON, two 128-bit FMA pipes per core: 154 GFLOP/s f32, "
        "307 GFLOP/s f16. OpenVINO's ARM CPU plugin infers in f16 by default; edgecolor's OpenVINO backend sets "
        "`INFERENCE_PRECISION_HINT` explicitly for the variant it loads, so the f32 row is the fp32 variant and the "
        "f16 row the fp16 variant. INT8 is not projected: its speed depends on the plugin's ARM int8 kernels. "
        "Pipeline factor 3.5 (issue 4's \"about 3-4 times slower\").",
        "- arm64 itself is checked, not timed: `scripts/check_arm64.sh` runs edgecolor in an arm64 Debian under "
        "qemu (docs/arm64.md): the same outputs as x86-64 and the precision that really runs on ARM. Emulated "
        "speed says nothing about a Pi, so these rows stay projections until measured on a board.",
        "- Intel NUC 13 Pro: Core i5-1340P, 4 P-cores at ~3.0 GHz sustained, AVX2 (no AVX-512): 384 GFLOP/s f32; "
        "the OpenVINO LATENCY hint keeps inference on P-cores. Pipeline factor 1.0.",
        "",
        "| machine | precision | peak GFLOP/s | network ms | network fps | pipeline ms | end-to-end fps |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in data["projection"]:
        lines.append(f"| {p['machine']} | {p['precision']} | {p['peak_gflops']:.0f} | {p['net_ms']:.1f} "
                     f"| {p['net_fps']:.0f} | {p['pipeline_ms']:.1f} | **{p['e2e_fps']:.0f}** (projected) |")
    return lines + [""]


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def plot(records: list[dict], path: Path) -> bool:
    """Bar chart of network and end-to-end fps per variant (log scale); False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ok = [r for r in records if r["status"] == "ok"]
    labels = [f"{r['model'].replace('edgecolor-', '')}\n{r['backend']} {r['precision']}" for r in ok]
    x = list(range(len(ok)))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(ok)), 4.2), dpi=110)
    for shift, key, label in ((-0.2, "net_fps", "network alone"), (0.2, "e2e_fps", "end to end")):
        bars = ax.bar([i + shift for i in x], [r[key] for r in ok], 0.4, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("frames per second (log)")
    ax.set_xticks(x, labels, fontsize=8)
    for fps in (30, 100):
        ax.axhline(fps, color="grey", lw=0.8, ls="--")
        ax.text(len(ok) - 0.5, fps * 1.05, f"{fps} fps", ha="right", fontsize=7, color="grey")
    ax.set_title(f"{records[0]['frame_size']} frames on this machine")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


def parse_args() -> argparse.Namespace:
    """The command line of ``python benchmarks/compare.py``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="edgecolor model: bundled name or a .onnx/.xml path")
    parser.add_argument("--size", default=bench.DEFAULT_SIZE)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--anchor-frames", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=4, help="alternating passes over the edgecolor variants")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start measurement")
    parser.add_argument("--no-memory", action="store_true", help="skip the 12 MP memory measurement")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage table at 480p..4K (issue 19)")
    parser.add_argument("--stage-rounds", type=int, default=30, help="alternating rounds per size in the stage table")
    parser.add_argument("--only-stages", action="store_true",
                        help="print the per-stage table and issue 19's verdicts only (BENCHMARKS.md untouched)")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "images" / "bench_fps.png")
    parser.add_argument("--json", type=Path, default=None, help="also write all data as JSON here")
    parser.add_argument("--note", default="", help="a caveat printed at the top of BENCHMARKS.md")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.only_stages:
        stages = stage_speed.measure(args.model, rounds=args.stage_rounds, threads=args.threads)
        print("\n".join(stage_speed.markdown(stages)))
        for name, want, got, verdict in stage_speed.verdicts(stages):
            print(f"  {verdict:6s} {name}: {got} (want {want})")
        return
    machine = bench.machine()
    width, height = bench.parse_size(args.size)
    images = bench.grey_frames(width, height)
    print(f"{machine['cpu']}, {machine['usable_cores']} cores, load {machine['load_avg_1m']:.2f}; {args.size} frames")
    ours, theirs, paired = run_variants(args.model, images, args.frames, args.anchor_frames, args.warmup,
                                        args.threads, args.repeats)
    rat = ratios(ours, theirs, paired)
    _say_ratios(rat)
    data: dict = {"date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), "machine": machine,
                  "size": args.size, "frames": args.frames, "anchor_frames": args.anchor_frames,
                  "repeats": args.repeats,
                  "records": bench.as_dicts(ours + theirs), "ratios": rat,
                  "argv": sys.argv[1:],
                  "anchor_input": next((r.input_size for r in theirs if r.status == "ok"), "?"), "note": args.note,
                  "model_file": next((_relative(r.model_path) for r in ours if r.status == "ok"), args.model)}
    _add_efficiency(data, ours, args, machine)
    _add_cold_and_memory(data, args)
    data["verdicts"] = verdicts(ours, rat, data.get("cold"), data.get("memory"))
    if not args.no_stages:
        print("per-stage times at 480p, 720p, 1080p and 4K (issue 19):")
        data["stages"] = stage_speed.measure(args.model, rounds=args.stage_rounds, threads=args.threads)
        data["verdicts"] += stage_speed.verdicts(data["stages"])
    data["load_end"] = os.getloadavg()[0]
    data["plot"] = plot(data["records"], args.plot)
    _write(data, args)


def _say_ratios(rat: list[dict]) -> None:
    print("edgecolor / anchor (same runtime):")
    for x in rat:
        print(f"  {x['backend']:8s} {x['precision']} vs {x['vs']}: network {x['net']:.1f}x "
              f"({x['ours_net_ms']:.2f} vs {x['anchor_net_ms']:.0f} ms at 224x224, alternating rounds), "
              f"end to end {x['e2e']:.1f}x")


def _add_efficiency(data: dict, ours: list[bench.BenchRecord], args: argparse.Namespace, machine: dict) -> None:
    """The fp32 network's share of this CPU's peak GFLOP/s, and what that projects for other machines."""
    fp32 = next((r for r in ours if r.status == "ok" and r.backend == "openvino" and r.precision == "fp32"), None)
    if fp32 is None or not fp32.gmacs:
        return
    in_w, in_h = (int(v) for v in fp32.input_size.split("x"))
    ms, gflops = raw_f32_gflops(fp32.model_path, in_h, in_w, max(20, args.frames // 4))
    _, anchor_gflops = raw_f32_gflops(str(anchor.ensure()["fp32-ir"]), 224, 224, max(3, args.anchor_frames // 2))
    peak, how = peak_here(machine)
    data["efficiency"] = {"ms": ms, "gflops": gflops, "efficiency": gflops / peak, "peak": peak, "peak_how": how,
                          "input": fp32.input_size, "gflop": 2 * fp32.gmacs, "anchor_gflops": anchor_gflops}
    data["projection"] = projection(ours, gflops / peak)


def _add_cold_and_memory(data: dict, args: argparse.Namespace) -> None:
    """Cold start (benchmarks/cold_start.py) and the 12 MP memory peaks (benchmarks/memory.py), unless skipped."""
    if not args.no_cold:  # fp32 first: it is what `edgecolor colorize` runs by default, and the target's row
        data["cold"] = [cold_start.measure(args.model, p, args.cold_runs) for p in ("fp32", "int8")]
        for c in data["cold"]:
            print(f"cold start {c['model']}: median {c['cli_median_s']:.3f} s (first run {c['first_run_s']:.3f} s)")
    if not args.no_memory:
        data["memory"] = memory.measure(args.model)
        for r in data["memory"]["rows"]:
            print(f"12 MP peak RSS {r['backend']} {r['precision']} {r.get('kind', 'grey')}: "
                  f"{_f(r['peak_mb'], 0)} MB")


def _write(data: dict, args: argparse.Namespace) -> None:
    """BENCHMARKS.md (keeping the sections other scripts own), the verdicts on stdout, the JSON if asked."""
    old = args.out.read_text() if args.out.is_file() else ""
    # sections other scripts own (<!-- begin NAME --> ... <!-- end NAME -->) survive a rerun
    kept = "".join(f"\n{m.group(0)}\n" for m in re.finditer(r"<!-- begin (\S+) -->.*?<!-- end \1 -->", old, re.S))
    args.out.write_text(markdown(data) + kept)
    print(f"wrote {args.out}" + (f" and {args.plot}" if data["plot"] else " (no plot: matplotlib not installed)"))
    for name, want, got, verdict in data["verdicts"]:
        print(f"  {verdict:6s} {name}: {got} (want {want})")
    if args.json:
        args.json.write_text(json.dumps(data, indent=2, default=str))


if __name__ == "__main__":
    main()
