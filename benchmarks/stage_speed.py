"""Where a frame's time goes, per stage, at the sizes cameras deliver (issue 19).

    python benchmarks/stage_speed.py                          # 480p, 720p, 1080p, 4K; OpenVINO INT8 and cv2.dnn FP32
    python benchmarks/stage_speed.py --sizes 1920x1080 --rounds 20 --variants openvino:int8

Grey frames stored as BGR (what cameras and decoders deliver), default options (edge-aware
upsampling on) and the stabilizer as `edgecolor live` runs it. The stages of one frame:

* prepare: ``pipeline.prepare`` (grey check, L, the working-size tensor);
* network: ``predict_ab`` alone;
* upsample: the joint bilateral step at working size, then the colour offset evaluated on the
  frame's grey (on a grid of at most 0.125 MP), resized to full size and added to the grey;
* colour conversion: Lab -> BGR at working size and the fit of the colour offset on grey;
* other: the stabilizer (low-res L and its update).

``frame`` is a whole ``StreamColorizer.process`` (one frame at a time) and ``fps`` follows from it;
``x network`` is frame / network. ``stream fps`` runs the same frames through ``stream.run``, as
`live` and `video` do: the network of one frame overlaps the merge of the one before, so both
cores work; the issue's frame-rate targets are read there. It loads what `live` and `video` load
(``stream.for_streams``: OpenVINO on one core fewer, the merge keeping one); the one-frame columns
use the photo default (the runtime's own thread count). ``stream fps, network on every core``
(OpenVINO rows, default threads only): the stream with the photo default, alternating with it.
``merge before`` is the merge this replaced (full-size guided filter on ab and OpenCV's 8-bit
Lab -> BGR), timed in the same rounds.
Every stage is timed in alternating rounds and the medians are reported: a slow spell of a shared
machine then slows every column alike. 4K is merged by strips (memory stays bounded; peak RSS shown).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = ("640x480", "1280x720", "1920x1080", "3840x2160")
VARIANTS = ("openvino:int8", "opencv:fp32")
TARGET_FPS = {"640x480": 200.0, "1280x720": 120.0, "1920x1080": 60.0}  # OpenVINO INT8, 2-core reference machine
TARGET_RATIO = 2.5  # a whole 1080p frame at most this many times the network alone
STAGES = ("prepare", "network", "upsample", "colour", "other", "frame", "before")
# Raspberry Pi 5 estimate: the network x PI_NETWORK (compare.py's f32 projection: 154 GFLOP/s peak
# at this machine's efficiency, 10.1 ms against 4.47 ms here) and the rest x PI_PIPELINE (issue 4's
# "OpenCV colour work about 3-4 times slower"), one frame at a time on one core's worth of work
PI_NETWORK = 10.1 / 4.47
PI_PIPELINE = 3.5


def _timers(c, frame):
    """One zero-argument callable per measured piece, on the same prepared frame."""
    import cv2

    from edgecolor import pipeline
    from edgecolor.stabilizer import Stabilizer, low_res_luma
    from edgecolor.stream import StreamColorizer

    p = c.prepare(frame)
    ab = c.predict_ab(p)
    aligned = pipeline._align(p, ab)
    working_l = p.working_l()
    stab = Stabilizer()
    stream = StreamColorizer(c)

    def stabilize():
        stab.update(ab, low_res_luma(p, ab.shape[:2]))

    if pipeline._full_scale(p) > pipeline.FULL_GUIDE_SCALE and p.lut is not None:  # the fast 8-bit merge
        jbu, coeff = (lambda: pipeline.joint_bilateral_upsample(aligned, working_l),
                      lambda: pipeline.output_coefficients(p, ab))
    else:  # below 4x the working size: bilinear from working size, then OpenCV's 8-bit Lab -> BGR at full size
        lab = cv2.merge([p.L] * 3)
        jbu, coeff = (lambda: None), (lambda: cv2.cvtColor(lab, cv2.COLOR_Lab2BGR))

    return {
        "prepare": lambda: c.prepare(frame),
        "network": lambda: c.predict_ab(p),
        "jbu": jbu,
        "coeff": coeff,
        "merge": lambda: c.merge(p, ab),
        "other": stabilize,
        "frame": lambda: stream.process(frame),
        "before": lambda: pipeline._merge_guided(p, ab),
    }


def measure_size(c, width: int, height: int, rounds: int, all_cores=None, streaming=None) -> dict:
    """Median ms of each piece over ``rounds`` alternating rounds, and the stages derived from them."""
    from edgecolor import bench

    frame = bench.grey_frames(width, height, count=1)[0]
    timers = _timers(c, frame)
    for fn in timers.values():  # warm-up: OpenVINO's compile for the shape, buffers, caches
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in timers}
    for _ in range(rounds):
        for name, fn in timers.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
    m = {k: statistics.median(v) for k, v in times.items()}
    colour = max(0.0, m["coeff"] - m["jbu"])
    row = {"size": f"{width}x{height}", "prepare": m["prepare"], "network": m["network"],
           "upsample": max(0.0, m["merge"] - colour), "colour": colour, "other": m["other"],
           "frame": m["frame"], "before": m["before"]}
    row["fps"] = 1000.0 / row["frame"]
    row["x_network"] = row["frame"] / row["network"]
    count = max(20, 3 * rounds)
    streaming = streaming or c
    if all_cores is None:
        row["stream_fps"], row["all_cores_fps"] = stream_fps(streaming, frame, count), None
    else:  # alternating, median of three each: the stream's threads against every core in the same minutes
        runs = [(stream_fps(streaming, frame, count), stream_fps(all_cores, frame, count)) for _ in range(3)]
        row["stream_fps"] = statistics.median(r[0] for r in runs)
        row["all_cores_fps"] = statistics.median(r[1] for r in runs)
    row["pi_fps"] = 1000.0 / (row["network"] * PI_NETWORK + (row["frame"] - row["network"]) * PI_PIPELINE)
    row["peak_rss_mb"] = bench.peak_rss_mb()
    return row


def stream_fps(c, frame, count: int) -> float:
    """Frames per second through ``stream.run`` (what `live` and `video` run: reading, the network and
    the merge of the frame before overlap in threads), the same frame ``count`` times, stabilizer on."""
    from edgecolor.stream import run

    run([frame] * 5, lambda f: None, c, live=False)  # warm-up
    stats = run([frame] * count, lambda f: None, c, live=False)
    return stats.fps


def measure(model: str = "default", sizes=SIZES, variants=VARIANTS, rounds: int = 30, threads: int | None = None,
            say=print) -> dict:
    """Every size for every variant; 4K gets a quarter of the rounds (each takes ~10x longer)."""
    from edgecolor.colorizer import Colorizer
    from edgecolor.stream import for_streams

    out = {"rows": [], "load_start": os.getloadavg()[0], "rounds": rounds, "cores": os.cpu_count()}
    for variant in variants:
        backend, precision = variant.split(":")
        c = Colorizer(model, backend=backend, precision=precision, threads=threads)  # photos: one at a time
        streaming = Colorizer.from_options(for_streams(c.options))  # what `live` and `video` load
        all_cores = None  # the stream on the photo default too (OpenVINO: every core), for comparison
        if streaming.options.threads != c.options.threads:
            all_cores = c
        for size in sizes:
            width, height = (int(v) for v in size.lower().split("x"))
            n = rounds if width * height <= 1 << 21 else max(3, rounds // 4)
            row = measure_size(c, width, height, n, all_cores, streaming)
            row.update(backend=backend, precision=precision)
            out["rows"].append(row)
            say(f"  {backend} {precision} {size}: frame {row['frame']:.1f} ms ({row['fps']:.0f} fps, "
                f"stream {row['stream_fps']:.0f} fps), "
                f"network {row['network']:.1f} ms, merge before {row['before']:.1f} ms", flush=True)
    out["load_end"] = os.getloadavg()[0]
    return out


def verdicts(data: dict) -> list[tuple[str, str, str, str]]:
    """Issue 19's frame-rate targets (OpenVINO INT8) as (target, wanted, measured, verdict) rows."""
    rows = {r["size"]: r for r in data["rows"] if (r["backend"], r["precision"]) == ("openvino", "int8")}
    out = []
    for size, want in TARGET_FPS.items():
        if size in rows:
            fps, one = rows[size]["stream_fps"], rows[size]["fps"]
            out.append((f"{size} stream rate, OpenVINO INT8 (issue 19)", f">= {want:.0f} fps",
                        f"{fps:.0f} fps ({one:.0f} one frame at a time)", "ok" if fps >= want else "MISSED"))
    if "1920x1080" in rows:
        x = rows["1920x1080"]["x_network"]
        out.append(("1080p frame / network alone (issue 19)", f"<= {TARGET_RATIO}x", f"{x:.2f}x",
                    "ok" if x <= TARGET_RATIO else "MISSED"))
    return out


def markdown(data: dict) -> list[str]:
    """The per-stage table as markdown lines."""
    lines = [
        "## Where a frame's time goes (issue 19)",
        "",
        f"`benchmarks/stage_speed.py`: grey camera frames as BGR, default options (edge-aware upsampling), the "
        f"stabilizer as in `live`; medians of {data['rounds']} alternating rounds (4K: a quarter), "
        f"{data['cores']} cores, load {data['load_start']:.1f} at the start and {data['load_end']:.1f} at the end. "
        "ms per frame; *upsample*: joint bilateral step, colour offset on the frame's grey (on a grid of at "
        "most 0.125 MP), resize and add; *colour conversion*: Lab -> BGR and the offset fit at working size (480p, "
        "under 4x the working size, keeps the exact merge: bilinear ab and OpenCV's 8-bit Lab -> BGR at full size, "
        "which is then this column); "
        "*other*: the stabilizer; *frame*, *fps*: one frame at a time with the photo default (OpenVINO's own "
        "thread count); *stream fps*: through the stream loop with what `live` and `video` load (OpenVINO on one "
        "core fewer than the machine has: the merge keeps a core); *stream fps, network on every core*: the "
        "same loop with the photo default, alternating with it, medians of three each; "
        "*merge before*: the merge this replaced (full-size guided filter and "
        "OpenCV's 8-bit Lab -> BGR), same rounds. *Pi 5 est.*: an estimate, not a measurement: the network "
        f"x {PI_NETWORK:.2f} (the f32 edge projection's Pi-to-here ratio) plus the rest of the frame x {PI_PIPELINE} "
        "(issue 4's factor for OpenCV colour work), one frame at a time.",
        "",
        "| runtime | size | prepare | network | upsample | colour conversion | other | frame | fps | stream fps "
        "| stream fps, network on every core | x network | merge before | peak RSS MB | Pi 5 est. fps |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        every = "-" if r.get("all_cores_fps") is None else f"{r['all_cores_fps']:.0f}"
        lines.append(f"| {r['backend']} {r['precision']} | {r['size']} | {r['prepare']:.2f} | {r['network']:.2f} | "
                     f"{r['upsample']:.2f} | {r['colour']:.2f} | {r['other']:.2f} | {r['frame']:.2f} | "
                     f"{r['fps']:.0f} | {r['stream_fps']:.0f} | {every} | {r['x_network']:.2f} | {r['before']:.2f} | "
                     f"{r['peak_rss_mb']:.0f} | {r['pi_fps']:.0f} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), help="backend:precision")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    data = measure(args.model, args.sizes, args.variants, args.rounds, args.threads)
    print()
    print("\n".join(markdown(data)))
    for name, want, got, verdict in verdicts(data):
        print(f"  {verdict:6s} {name}: {got} (want {want})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
