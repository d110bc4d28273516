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
    args = parser.parse_args(argv)

    from edgecolor.colorizer import Colorizer
    from edgecolor.errors import EdgecolorError
    from edgecolor.video import colorize_video, find_ffmpeg

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
                    report = colorize_video(clip, folder / "out.mp4", lambda: next(it), workers=workers,
                                            stabilize=not args.no_stabilize, ffmpeg=ffmpeg)
                    fps = report.stats.fps
                    mark = "" if target is None else (" ok" if fps >= target else " below")
                    print(f"| {size} | {backend} | {precision} | {workers} | {fps:.1f} | "
                          f"{target or '-'}{mark} | {load:.2f} | {report.frames} frames, sound {report.audio} |")
                    (folder / "out.mp4").unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
