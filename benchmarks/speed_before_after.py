"""Issue 19: this tree's pipeline against a git revision's, timed in the same run, rounds alternating.

    python benchmarks/speed_before_after.py --before main
    python benchmarks/speed_before_after.py --before main --sizes 1280x720 --rounds 8

Grey camera frames as BGR, OpenVINO INT8, default options, stabilizer on (as `live`). For each size
and each variant, in alternating rounds: ``frame`` (one ``StreamColorizer.process`` at a time,
median ms), ``prepare`` and ``merge`` (median ms), and ``stream fps`` (``stream.run`` over the same
frame, as `live` and `video` run it: the network of one frame overlaps the merge of the one before).
Variants: "before" (that revision's pipeline, the network on every core: the runtime's choice),
this tree's pipeline with the network on every core (what photos load), and this tree with what
`live` and `video` load (``stream.for_streams``: the network on one core fewer, so the merge has a
core of its own).
The load average is printed at the start and the end: a busy machine slows every variant alike only
on average, so read the ratios of one run. ``--cpu``: the work instead of the wall time, for a busy
machine: OpenCV on one thread, ``prepare`` and ``merge`` timed by this thread's CPU clock (first
quartile), no stream run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "benchmarks"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

SIZES = ("640x480", "1280x720", "1920x1080")


def colorizer_with(module, **kwargs):
    """A Colorizer whose prepare and merge are ``module``'s (another revision's pipeline.py)."""
    import numpy as np

    from edgecolor.colorizer import Colorizer

    class Before(Colorizer):
        def prepare(self, image):
            return module.prepare(image, self.contract, self.size)

        def predict_ab(self, prepared):
            out = self._infer(prepared.tensor)
            h, w = prepared.ab_shape
            ab = out[0, :, :h, :w].transpose(1, 2, 0) * np.float32(self.contract.ab_scale)
            return np.ascontiguousarray(ab, dtype=np.float32)

        def merge(self, prepared, ab):
            return module.merge(prepared, ab, self.saturation, self.guided)

    return Before(**kwargs)


def cpu_work(args) -> int:
    """prepare and merge of each variant, CPU ms on this thread (first quartile), rounds alternating."""
    import numpy as np
    from fast_path_colour import load_before

    from edgecolor import bench
    from edgecolor.colorizer import Colorizer

    kw = dict(backend="openvino", precision="int8")
    variants = {"before": colorizer_with(load_before(args.before), **kw), "after": Colorizer(**kw)}
    print(f"CPU time on one thread (OpenCV single-threaded), load {os.getloadavg()[0]:.1f} at the start; "
          f"{args.rounds} alternating rounds of {args.frames}; first quartile, ms")
    print()
    print("| size | before prepare | after prepare | before merge | after merge | merge after/before |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        frame = bench.grey_frames(width, height, count=1)[0]
        work = {k: (c, c.prepare(frame)) for k, c in variants.items()}
        work = {k: (c, p, c.predict_ab(p)) for k, (c, p) in work.items()}
        times = {(k, n): [] for k in variants for n in ("prepare", "merge")}
        for _ in range(args.rounds):
            for k, (c, p, ab) in work.items():
                for _ in range(args.frames):
                    t0 = time.thread_time()
                    c.prepare(frame)
                    t1 = time.thread_time()
                    c.merge(p, ab)
                    t2 = time.thread_time()
                    times[k, "prepare"].append(t1 - t0)
                    times[k, "merge"].append(t2 - t1)
        q = {key: float(np.percentile(v, 25)) * 1e3 for key, v in times.items()}
        print(f"| {size} | {q['before', 'prepare']:.2f} | {q['after', 'prepare']:.2f} | {q['before', 'merge']:.2f} | "
              f"{q['after', 'merge']:.2f} | {q['after', 'merge'] / q['before', 'merge']:.2f} |", flush=True)
    print()
    print(f"load {os.getloadavg()[0]:.1f} at the end")
    return 0


def main(argv: list[str] | None = None) -> int:
    from fast_path_colour import load_before

    from edgecolor import bench
    from edgecolor.colorizer import Colorizer
    from edgecolor.stream import StreamColorizer, run

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="main", help="git revision whose pipeline.py is 'before'")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES))
    ap.add_argument("--rounds", type=int, default=6, help="alternating rounds per size")
    ap.add_argument("--frames", type=int, default=30, help="frames per variant and round")
    ap.add_argument("--cpu", action="store_true", help="CPU time of prepare and merge on one thread (busy machines)")
    args = ap.parse_args(argv)
    if args.cpu:
        import cv2

        cv2.setNumThreads(1)
        return cpu_work(args)
    kw = dict(backend="openvino", precision="int8")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    from edgecolor.stream import for_streams

    variants = {  # before: the runtime's choice of threads (all cores)
        "before": colorizer_with(load_before(args.before), threads=cores, **kw),
        f"after, network on {cores} threads": Colorizer(threads=cores, **kw),
        "after (a stream's threads)": Colorizer.from_options(for_streams(Colorizer(**kw).options)),
    }
    load0 = os.getloadavg()[0]
    print(f"OpenVINO INT8, {cores} cores, load {load0:.1f} at the start; {args.rounds} alternating rounds of "
          f"{args.frames} frames; medians")
    print()
    print("| size | variant | prepare ms | merge ms | frame ms | fps | stream fps |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        frame = bench.grey_frames(width, height, count=1)[0]
        streams = {k: StreamColorizer(c) for k, c in variants.items()}
        times = {k: {"prepare": [], "merge": [], "frame": [], "stream": []} for k in variants}
        for k, c in variants.items():  # warm-up: compiles for the shape, buffers
            run([frame] * 5, lambda f: None, c, live=False)
            for _ in range(5):
                streams[k].process(frame)
        for _ in range(args.rounds):
            for k, c in variants.items():
                p = c.prepare(frame)
                ab = c.predict_ab(p)
                for _ in range(args.frames):
                    t0 = time.perf_counter()
                    c.prepare(frame)
                    t1 = time.perf_counter()
                    c.merge(p, ab)
                    t2 = time.perf_counter()
                    streams[k].process(frame)
                    t3 = time.perf_counter()
                    times[k]["prepare"].append(t1 - t0)
                    times[k]["merge"].append(t2 - t1)
                    times[k]["frame"].append(t3 - t2)
                times[k]["stream"].append(run([frame] * args.frames * 2, lambda f: None, c, live=False).fps)
        for k in variants:
            m = {n: statistics.median(v) for n, v in times[k].items()}
            print(f"| {size} | {k} | {m['prepare'] * 1e3:.2f} | {m['merge'] * 1e3:.2f} | {m['frame'] * 1e3:.2f} | "
                  f"{1 / m['frame']:.0f} | {m['stream']:.0f} |", flush=True)
    print()
    print(f"load {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
