"""End-to-end `edgecolor video` speed: decode -> colorize -> stabilize -> encode (+ sound), per backend
and precision, at 640x480 and 1280x720.

The clip is a slow pan across a bundled sample photo (grey, H.264, with a sound track), the kind of
footage users bring. Each variant runs edgecolor.video.colorize_video, exactly what the CLI runs, in
this process; fps counts from the first frame read to the last frame handed to the encoder (model
loading excluded, shown separately). Targets: 640x480 >= 60 fps with OpenVINO INT8 on the 2-core
reference machine, 1280x720 >= 25 fps.

    python benchmarks/video_speed.py                    # 300 frames per size, all variants
    python benchmarks/video_speed.py --frames 30        # quick check
    python benchmarks/video_speed.py --sizes 640x480 --backends openvino --precisions int8 --workers 1 2
    python benchmarks/video_speed.py --shares --frames 60   # issue 19: decode/colorize/encode at 720p and 1080p

``--shares`` (OpenVINO INT8, default options) times, on the same clip, decoding alone, colorizing the
decoded frames one at a time (``StreamColorizer.process``, the ``colorize()`` rate with the stabilizer),
encoding those frames alone, and the whole ``colorize_video`` run, whose threads overlap the three;
issue 19 asks the whole run for at least 0.8x the colorize rate. Then two 720p runs at once, each
with its own Colorizer, in two threads: their aggregate frame rate.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

TARGETS = {"640x480": 60.0, "1280x720": 25.0}


def make_clip(folder: Path, width: int, height: int, frames: int, ffmpeg: str) -> Path:
    """A pan across a sample photo, grey, 25 fps, with a tone as sound."""
    import cv2
    import numpy as np
    from video_fixtures import SAMPLES, write_clip

    grey = cv2.imread(str(SAMPLES / "saratoga_springs_broadway_1900s.jpg"), cv2.IMREAD_GRAYSCALE)
    scale = height / grey.shape[0] * 1.2
    big = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if big.shape[1] < width + frames:
        big = cv2.resize(big, (width + frames, big.shape[0]))
    rng = np.random.default_rng(0)
    clip = []
    for i in range(frames):
        x0 = int(i * (big.shape[1] - width) / max(1, frames - 1))
        f = big[:height, x0:x0 + width].astype(np.float32) + rng.normal(0, 3, (height, width))
        clip.append(cv2.cvtColor(np.clip(f, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))
    return write_clip(folder / f"pan_{width}x{height}.mp4", clip, 25.0, ffmpeg)


def shares(model: str, clip: Path, folder: Path, ffmpeg: str) -> dict:
    """Decode, colorize and encode fps of one clip alone, and the whole overlapped run's fps."""
    from edgecolor.colorizer import Colorizer
    from edgecolor.sources import FileSource
    from edgecolor.stream import StreamColorizer, for_streams
    from edgecolor.video import colorize_video
    from edgecolor.writers import open_writer

    c = Colorizer(model, backend="openvino", precision="int8")  # one frame at a time: the photo default
    streaming = Colorizer.from_options(for_streams(c.options))  # what `edgecolor video` loads
    t0 = time.perf_counter()
    source = FileSource(clip, ffmpeg=ffmpeg)
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    source.close()
    decode = len(frames) / (time.perf_counter() - t0)
    stream = StreamColorizer(c)
    stream.process(frames[0])  # warm-up (OpenVINO's compile for the shape)
    stream.reset()
    t0 = time.perf_counter()
    out = [stream.process(f) for f in frames]
    colorize = len(frames) / (time.perf_counter() - t0)
    height, width = out[0].shape[:2]
    t0 = time.perf_counter()
    writer = open_writer(folder / "encode.mp4", (width, height), 25.0, ffmpeg=ffmpeg)
    for f in out:
        writer.write(f)
    writer.close()
    encode = len(out) / (time.perf_counter() - t0)
    del out
    report = colorize_video(clip, folder / "whole.mp4", streaming, ffmpeg=ffmpeg)
    return {"frames": len(frames), "decode": decode, "colorize": colorize, "encode": encode,
            "whole": report.stats.fps, "ratio": report.stats.fps / colorize}


def two_streams(model: str, clip: Path, folder: Path, ffmpeg: str) -> tuple[float, list[float]]:
    """Two colorize_video runs at once on the same clip, one Colorizer each: aggregate and per-run fps."""
    import threading

    from edgecolor.colorizer import Colorizer
    from edgecolor.options import ColorizerOptions
    from edgecolor.stream import for_streams
    from edgecolor.video import colorize_video

    options = for_streams(ColorizerOptions(model=model, backend="openvino", precision="int8"))
    colorizers = [Colorizer.from_options(options) for _ in range(2)]
    reports: list = [None, None]

    def one(i: int) -> None:
        reports[i] = colorize_video(clip, folder / f"two{i}.mp4", colorizers[i], ffmpeg=ffmpeg)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return sum(r.frames for r in reports) / wall, [r.stats.fps for r in reports]


def main_shares(args) -> int:
    import os

    from edgecolor.ffmpeg import find_ffmpeg

    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        print("video_speed: needs ffmpeg (pip install imageio-ffmpeg)", file=sys.stderr)
        return 2
    sizes = args.sizes if args.sizes != list(TARGETS) else ["1280x720", "1920x1080"]
    print(f"OpenVINO INT8, default options, stabilizer on; {args.frames} frames per clip; "
          f"load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    print()
    print("| size | decode fps | colorize fps | encode fps | whole run fps | whole / colorize |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="edgecolor-video-shares-") as tmp:
        folder = Path(tmp)
        for size in sizes:
            width, height = (int(v) for v in size.lower().split("x"))
            clip = make_clip(folder, width, height, args.frames, ffmpeg)
            r = shares(args.model, clip, folder, ffmpeg)
            mark = "ok" if r["ratio"] >= 0.8 else "below 0.8"
            print(f"| {size} | {r['decode']:.0f} | {r['colorize']:.0f} | {r['encode']:.0f} | {r['whole']:.0f} | "
                  f"{r['ratio']:.2f} ({mark}) |", flush=True)
        clip = make_clip(folder, 1280, 720, args.frames, ffmpeg)
        total, each = two_streams(args.model, clip, folder, ffmpeg)
        print()
        print(f"two 720p runs at once: {total:.0f} fps together ({' and '.join(f'{f:.0f}' for f in each)} fps each)")
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    return 0


def variants(model: str, backends: list[str], precisions: list[str]):
    """(backend, precision) pairs that exist for the model; the others are reported as skipped."""
    from edgecolor import models
    from edgecolor.errors import EdgecolorError

    for backend in backends:
        for precision in precisions:
            try:
                models.resolve(model, precision, backend)
            except EdgecolorError as e:
                yield backend, precision, str(e)
                continue
            yield backend, precision, None


def main(argv: list[str] | None = None) -> int:
    from edgecolor.backends.base import AUTO_ORDER
    from edgecolor.contract import PRECISIONS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="model name or file [default]")
    parser.add_argument("--frames", type=int, default=300, help="frames per clip [300]")
    parser.add_argument("--sizes", nargs="+", default=list(TARGETS), help="WxH sizes")
    parser.add_argument("--backends", nargs="+", default=list(AUTO_ORDER))
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS))
    parser.add_argument("--workers", nargs="+", type=int, default=[1], help="inference threads to try [1]")
    parser.add_argument("--no-stabilize", action="store_true", help="measure without the stabilizer")
    parser.add_argument("--shares", action="store_true",
                        help="decode/colorize/encode shares at 720p and 1080p and two 720p runs at once (issue 19)")
    args = parser.parse_args(argv)
    if args.shares:
        return main_shares(args)

    from edgecolor.colorizer import Colorizer
    from edgecolor.errors import EdgecolorError
    from edgecolor.ffmpeg import find_ffmpeg
    from edgecolor.options import StreamOptions
    from edgecolor.video import colorize_video

    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        print("video_speed: needs ffmpeg (pip install imageio-ffmpeg)", file=sys.stderr)
        return 2
    print(f"model: {args.model}; {args.frames} frames per clip; encoder: ffmpeg libx264 veryfast + sound copy")
    print()
    print("| size | backend | precision | workers | fps | target | load s | note |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="edgecolor-video-speed-") as tmp:
        folder = Path(tmp)
        for size in args.sizes:
            width, height = (int(v) for v in size.lower().split("x"))
            clip = make_clip(folder, width, height, args.frames, ffmpeg)
            target = TARGETS.get(f"{width}x{height}")
            for backend, precision, skipped in variants(args.model, args.backends, args.precisions):
                if skipped:
                    print(f"| {size} | {backend} | {precision} | - | - | - | - | skipped: {skipped} |")
                    continue
                for workers in args.workers:
                    t0 = time.perf_counter()
                    try:
                        pool = [Colorizer(args.model, backend=backend, precision=precision) for _ in range(workers)]
                    except EdgecolorError as e:
                        print(f"| {size} | {backend} | {precision} | {workers} | - | - | - | failed: {e} |")
                        continue
                    load = time.perf_counter() - t0
                    it = iter(pool)
                    report = colorize_video(clip, folder / "out.mp4", lambda: next(it),
                                            stream_options=StreamOptions(stabilize=not args.no_stabilize,
                                                                         workers=workers), ffmpeg=ffmpeg)
                    fps = report.stats.fps
                    mark = "" if target is None else (" ok" if fps >= target else " below")
                    print(f"| {size} | {backend} | {precision} | {workers} | {fps:.1f} | "
                          f"{target or '-'}{mark} | {load:.2f} | {report.frames} frames, sound {report.audio} |")
                    (folder / "out.mp4").unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
