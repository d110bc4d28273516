"""Time everything around the network (issue 2's budget: under 5 ms for a 640x480 frame).

    python benchmarks/pipeline_overhead.py [--size 640x480] [--iterations 200] [--threads N]

Prints the median (and 10th percentile) milliseconds of ``pipeline.prepare`` (L of CIELAB at full
size, working-size tensor) and ``pipeline.merge`` (ab resized to full size + original L -> BGR),
per input kind. The ab field is random at the network's output size: no model is needed, but the
contract is the bundled model's when it is there (its working size decides the tensor size).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgecolor import pipeline  # noqa: E402
from edgecolor.contract import ModelContract  # noqa: E402

BUDGET_MS = 5.0


def contract() -> ModelContract:
    try:
        from edgecolor import models

        return models.read_contract(models.resolve("default", "fp32", "opencv"))
    except Exception:  # noqa: BLE001 - no bundled model yet: the contract's defaults
        return ModelContract(name="defaults", version="0", precision="fp32", input_name="L", output_name="ab")


def frame(kind: str, width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    grey = cv2.resize(rng.integers(0, 256, (height // 8, width // 8), dtype=np.uint8), (width, height))
    bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    return {
        "BGR 8-bit": bgr,
        "grey 8-bit": grey,
        "BGRA 8-bit": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        "BGR 16-bit": bgr.astype(np.uint16) * 257,
    }[kind]


def timed(fn, iterations: int) -> tuple[float, float]:
    """Median wall ms, and median CPU ms of this process (all its threads): on a machine shared with
    other work the CPU time shows the cost without the time spent waiting for a core."""
    for _ in range(5):
        fn()
    wall, cpu = [], []
    for _ in range(iterations):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x480", help="frame size WxH")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's choice)")
    args = ap.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    width, height = (int(v) for v in args.size.lower().split("x"))
    c = contract()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.size}, contract {c.name} (working size {c.working_size}), OpenCV {cv2.__version__} "
          f"with {cv2.getNumThreads()} threads, {os.cpu_count()} CPUs, load {load:.2f}, {args.iterations} iterations")
    print(f"{'input':<12} {'prepare ms':>11} {'merge ms':>9} {'total ms':>9} {'total CPU ms':>13}  "
          f"(medians; budget {BUDGET_MS} ms)")
    worst = 0.0
    for kind in ("BGR 8-bit", "grey 8-bit", "BGRA 8-bit", "BGR 16-bit"):
        img = frame(kind, width, height)
        p = pipeline.prepare(img, c)
        ab = np.random.default_rng(1).uniform(-30, 30, (*p.ab_shape, 2)).astype(np.float32)
        prep, prep_cpu = timed(lambda: pipeline.prepare(img, c), args.iterations)
        merge, merge_cpu = timed(lambda: pipeline.merge(p, ab), args.iterations)
        total = prep + merge
        if "8-bit" in kind and kind != "BGRA 8-bit":
            worst = max(worst, total)
        print(f"{kind:<12} {prep:>11.2f} {merge:>9.2f} {total:>9.2f} {prep_cpu + merge_cpu:>13.2f}")
    verdict = "within" if worst < BUDGET_MS else "OVER"
    print(f"8-bit BGR/grey worst median total: {worst:.2f} ms ({verdict} the {BUDGET_MS} ms budget; "
          "a busy machine reads high)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
