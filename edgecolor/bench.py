"""`edgecolor bench`: how fast each backend x precision variant colorizes, measured the same way every time.

Speed is edgecolor's reason to exist, so it is measured through the public Colorizer on realistic
grey frames (a bundled photo resized, not zeros), separately for the network alone and for the
whole pipeline, with the load time, the first frame and the peak memory a user would see.
Records have fixed field names so scripts (benchmarks/compare.py, CI) can rely on them.
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from edgecolor.backends.base import AUTO_ORDER
from edgecolor.contract import PRECISIONS
from edgecolor.errors import EdgecolorError, UsageError

BACKENDS = AUTO_ORDER  # every built-in backend, in the order `--backend auto` tries them
DEFAULT_SIZE = "640x480"
_SYNTHETIC_SEED = 7


@dataclass
class BenchRecord:
    """One variant's numbers; times in milliseconds, memory in MB (10^6 bytes), None when skipped."""

    model: str
    backend: str
    precision: str  # the model variant asked for
    runtime_precision: str  # what the runtime computes in (OpenVINO may pick bf16 or f16 for an fp32 model)
    device: str
    threads: int | None  # inference threads the runtime uses
    frame_size: str  # WxH of the frames fed to colorize()
    input_size: str  # WxH of the network input (working size, padded)
    gmacs: float | None  # network multiply-accumulates per frame at input_size
    frames: int
    warmup: int
    load_ms: float | None  # Colorizer construction: read + compile the model
    first_frame_ms: float | None  # first colorize() after loading
    net_median_ms: float | None  # network alone (predict_ab on a prepared frame)
    net_p90_ms: float | None
    net_fps: float | None
    net_gflops: float | None  # 2 * gmacs * net_fps: the efficiency the edge projection scales
    e2e_median_ms: float | None  # colorize(): prepare + network + merge at full frame size
    e2e_p90_ms: float | None
    e2e_fps: float | None
    prepare_ms: float | None  # median of prepare(): full-size L, resize, network tensor
    merge_ms: float | None  # median of merge(): ab upsampling, merge with the original L, Lab -> BGR
    peak_rss_mb: float | None  # peak resident memory of this process while running this variant
    model_path: str
    status: str  # "ok", "skipped" (variant does not exist for this backend) or "failed"
    note: str


FIELDS = tuple(f.name for f in fields(BenchRecord))


def as_dicts(records: Sequence[BenchRecord]) -> list[dict]:
    return [asdict(r) for r in records]


def parse_size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480); a clear error for anything else."""
    try:
        w, h = (int(v) for v in text.lower().replace("*", "x").split("x"))
    except ValueError:
        raise UsageError(f"frame size must look like 640x480, got {text!r}") from None
    if w < 16 or h < 16 or w * h > 100_000_000:
        raise UsageError(f"frame size {text!r} is out of range (16x16 .. 100 megapixels)")
    return w, h


def select(choice: str, known: Sequence[str], what: str) -> tuple[str, ...]:
    """'all' or one known name -> the names to run."""
    choice = choice.lower()
    if choice == "all":
        return tuple(known)
    if choice not in known:
        raise UsageError(f"unknown {what} {choice!r} (choose all, {', '.join(known)})")
    return (choice,)


# -- frames --------------------------------------------------------------------------------------


def grey_frames(width: int, height: int, count: int = 5) -> list[np.ndarray]:
    """Realistic grey BGR uint8 frames: the bundled photos cropped to the aspect and resized.

    A webcam or video decoder hands over 3-channel BGR, so that is what is timed. Falls back to a
    synthetic textured frame (gradients, edges, noise) when no sample photo is found.
    """
    import cv2

    from edgecolor.sheets import sample_dirs

    paths = [p for d in sample_dirs() if d.is_dir() for p in sorted(d.glob("*.jpg"))]
    frames = []
    for path in paths[:count]:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            continue
        frames.append(cv2.cvtColor(_crop_to_aspect_and_resize(grey, width, height), cv2.COLOR_GRAY2BGR))
    return frames or [synthetic_frame(width, height)]


def synthetic_frame(width: int, height: int) -> np.ndarray:
    """A textured grey BGR frame: smooth shading, hard edges and sensor-like noise."""
    import cv2

    rng = np.random.default_rng(_SYNTHETIC_SEED)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = 90 + 60 * np.sin(x / (width / 7)) * np.cos(y / (height / 5))
    for _ in range(12):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(8, max(9, min(width, height) // 4))
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(20, 235)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    grey = np.clip(img, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def _crop_to_aspect_and_resize(grey: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop to the target aspect, then resize (area when shrinking)."""
    import cv2

    h, w = grey.shape
    if w * height > h * width:
        cw = h * width // height
        grey = grey[:, (w - cw) // 2:(w - cw) // 2 + cw]
    else:
        ch = w * height // width
        grey = grey[(h - ch) // 2:(h - ch) // 2 + ch]
    shrink = grey.shape[0] >= height
    return cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


# -- memory --------------------------------------------------------------------------------------


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so each variant gets its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory of this process since the last reset (or since start), in MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


# -- model facts ---------------------------------------------------------------------------------


def network_gmacs(model_path: str | Path, height: int, width: int) -> float | None:
    """Multiply-accumulates of the network at one input size, counted from its graph with OpenVINO.

    Convolutions (plain, grouped, transposed) and MatMuls, which is where all the time of a
    convolutional network goes; None when the model cannot be read or reshaped.
    """
    try:
        import openvino as ov

        model = ov.Core().read_model(str(model_path))
        model.reshape({model.inputs[0].any_name: [1, 1, height, width]})
    except Exception:  # a model OpenVINO cannot reshape: no count rather than a failed bench
        return None
    total = 0
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind not in ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul"):
            continue
        out = op.get_output_partial_shape(0)
        weights = op.get_input_partial_shape(1)
        if not (out.is_static and weights.is_static):
            continue
        out_shape, w_shape = list(out.to_shape()), list(weights.to_shape())
        if kind == "Convolution":  # weights O, I, kh, kw
            total += int(np.prod(out_shape)) * int(np.prod(w_shape[1:]))
        elif kind == "GroupConvolution":  # weights G, O/G, I/G, kh, kw
            total += int(np.prod(out_shape)) * int(np.prod(w_shape[2:]))
        elif kind == "ConvolutionBackpropData":  # weights I, O, kh, kw; each output sees I*kh*kw/stride^2
            strides = op.get_attributes().get("strides", [1, 1])
            total += int(np.prod(out_shape)) * w_shape[0] * int(np.prod(w_shape[2:])) // int(np.prod(strides))
        else:  # MatMul: every output element is one dot product over the inner dimension
            a = op.get_input_partial_shape(0)
            if a.is_static:
                inner = list(a.to_shape())
                total += int(np.prod(out_shape)) * inner[-2 if op.get_attributes().get("transpose_a") else -1]
    return total / 1e9


def runtime_facts(colorizer: object) -> tuple[str, int | None]:
    """(precision the runtime computes in, inference threads), as the loaded backend reports them.

    Reported because the precision asked for is not always the one used: OpenVINO runs f32 as bf16
    on CPUs with AMX, and f16 as bf16 on CPUs with AVX-512 BF16 but no FP16 arithmetic.
    """
    facts = colorizer.backend.runtime_info()
    return str(facts.get("inference_precision", "")), facts.get("threads")


# -- measuring -----------------------------------------------------------------------------------


def _stats(seconds: Sequence[float]) -> tuple[float, float, float]:
    """(median ms, p90 ms, fps from the median)."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    median = float(np.median(ms))
    return median, float(np.percentile(ms, 90)), (1000.0 / median if median > 0 else float("inf"))


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Seconds taken by each of n calls of fn."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _record(model: str, backend: str, precision: str, frame: tuple[int, int], frames: int, warmup: int,
            device: str, status: str, note: str, model_path: str = "") -> BenchRecord:
    empty = {f: None for f in FIELDS}
    empty.update(model=model, backend=backend, precision=precision, runtime_precision="", device=device,
                 frame_size=f"{frame[0]}x{frame[1]}", input_size="", frames=frames, warmup=warmup,
                 model_path=model_path, status=status, note=note)
    return BenchRecord(**empty)


def _missing(model: str, backend: str, precision: str) -> str:
    """Why this variant cannot run here (no such file for the backend, runtime not installed), or ''."""
    from edgecolor import models
    from edgecolor.backends import get_backend

    try:
        backend_cls = get_backend(backend)
        path = models.resolve(model, precision, backend_cls.name)
    except EdgecolorError as e:
        return str(e)
    fmt = models.FORMATS.get(path.suffix.lower())
    if fmt not in backend_cls.formats(precision):  # a model file given by path that this runtime cannot read
        readable = ", ".join(f".{f}" if f == "onnx" else ".xml" for f in backend_cls.formats(precision))
        return f"{path}: the {backend_cls.name} backend reads {readable} models only"
    return ""


def bench_variant(
    model: str,
    backend: str,
    precision: str,
    frames: Sequence[np.ndarray],
    n: int = 50,
    warmup: int = 5,
    threads: int | None = None,
    device: str = "CPU",
    size: int | None = None,
) -> BenchRecord:
    """Load one variant and time it; a variant that does not exist comes back as a 'skipped' record."""
    from edgecolor.colorizer import Colorizer

    height, width = frames[0].shape[:2]
    skip = _missing(model, backend, precision)
    if skip:
        from edgecolor.models import ALIASES

        name = ALIASES.get(str(model), str(model))
        return _record(name, backend, precision, (width, height), n, warmup, device, "skipped", skip)
    record = _record(str(model), backend, precision, (width, height), n, warmup, device, "ok", "")
    gc.collect()
    reset_peak_rss()
    try:
        t0 = time.perf_counter()
        c = Colorizer(model=model, backend=backend, precision=precision, device=device, threads=threads, size=size)
        load = time.perf_counter() - t0
    except EdgecolorError as e:
        record.status, record.note = "failed", str(e)
        return record
    record.model_path = str(c.model_path)
    try:
        prepared, first, times = _time_stages(c, frames, n, warmup)
    except EdgecolorError as e:
        record.status, record.note = "failed", str(e)
        return record
    record.peak_rss_mb = peak_rss_mb()  # before anything below reads the model again
    record.load_ms = load * 1000.0
    record.first_frame_ms = first * 1000.0
    _fill(record, c, prepared, times)
    record.precision = getattr(c, "precision", precision)
    contract = getattr(c, "contract", None)
    record.model = getattr(contract, "name", model) or model
    return record  # the colorizer is freed here; the next variant collects it before resetting the peak


def _time_stages(c: Any, frames: Sequence[np.ndarray], n: int, warmup: int) -> tuple[Any, float, dict[str, list]]:
    """The first frame's seconds, then ``n`` timed calls of each stage after ``warmup`` frames:
    the network alone, prepare, merge, and the whole colorize."""
    t0 = time.perf_counter()
    c.colorize(frames[0])
    first = time.perf_counter() - t0
    for i in range(warmup):
        c.colorize(frames[i % len(frames)])
    prepared = c.prepare(frames[0])
    times = {"net": timed(lambda: c.predict_ab(prepared), n)}
    ab = c.predict_ab(prepared)
    feed = itertools.cycle(frames)
    times["prepare"] = timed(lambda: c.prepare(next(feed)), n)
    times["merge"] = timed(lambda: c.merge(prepared, ab), n)
    times["e2e"] = timed(lambda: c.colorize(next(feed)), n)
    return prepared, first, times


def _fill(record: BenchRecord, c: Any, prepared: Any, times: dict[str, list]) -> None:
    """The record's sizes, runtime facts and timing statistics."""
    in_h, in_w = prepared.tensor.shape[-2:]
    record.input_size = f"{in_w}x{in_h}"
    record.runtime_precision, record.threads = runtime_facts(c)
    record.gmacs = network_gmacs(c.model_path, in_h, in_w)
    record.net_median_ms, record.net_p90_ms, record.net_fps = _stats(times["net"])
    record.e2e_median_ms, record.e2e_p90_ms, record.e2e_fps = _stats(times["e2e"])
    record.prepare_ms, record.merge_ms = _stats(times["prepare"])[0], _stats(times["merge"])[0]
    if record.gmacs is not None:
        record.net_gflops = 2.0 * record.gmacs * record.net_fps


def run(
    model: str = "default",
    backend: str = "all",
    precision: str = "all",
    size: str = DEFAULT_SIZE,
    frames: int = 50,
    warmup: int = 5,
    threads: int | None = None,
    device: str = "CPU",
    on_record: Callable[[BenchRecord], None] | None = None,
    on_start: Callable[[int, int, str, str], None] | None = None,
) -> list[BenchRecord]:
    """Bench every selected backend x precision variant of one model on the same frames.

    ``on_start(variants done, variants in all, backend, precision)`` before each variant, ``on_record``
    after it: what a progress bar needs (a variant takes minutes on a small board)."""
    if frames < 1 or warmup < 0:
        raise UsageError("--frames must be >= 1 and --warmup >= 0")
    width, height = parse_size(size)
    precisions = select(precision, PRECISIONS, "precision")
    from edgecolor import models

    if models.is_model_path(model):  # a file is one variant: its own metadata says which precision
        precisions = (models.read_contract(models.check_model_file(Path(model).expanduser())).precision,)
    images = grey_frames(width, height)
    variants = [(b, p) for b in select(backend, BACKENDS, "backend") for p in precisions]
    records = []
    for i, (b, p) in enumerate(variants):
        if on_start:
            on_start(i, len(variants), b, p)
        record = bench_variant(model, b, p, images, frames, warmup, threads, device)
        records.append(record)
        if on_record:
            on_record(record)
    return records


def machine() -> dict[str, object]:
    """CPU model, cores, SIMD flags and library versions: what a number needs next to it to mean anything."""
    import platform

    from edgecolor.cpu import read_cpuinfo

    cpu, flags = read_cpuinfo()
    cpu = cpu or platform.processor() or platform.machine()
    simd = [f for f in ("sse4_2", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
                        "amx_bf16", "amx_int8", "amx_fp16", "asimd", "asimdhp", "asimddp", "sve") if f in flags]
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("cv2", "openvino"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # not installed: the bench says so through skipped records
            versions[name] = "-"
    from edgecolor import __version__

    versions["edgecolor"] = __version__
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "simd": simd,
        "os": f"{platform.system()} {platform.release()}",
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }
