"""Colour flicker, settling after a cut and smearing, with and without temporal stabilization.

The clip (tests/video_fixtures.py) is three shots of the sample photos with film grain and a slight
exposure flicker: a still scene with a bright disc moving across it, a camera pan, then a hard cut to
a still scene. Measures:

  flicker ab   mean |ab(t) - ab(t-1)| of the colour the colorizer chose (its ab maps), where nothing moved
               (the still shot after the cut, and the still background of the first shot)
  pan          mean |ab(t) - ab(t-1)| of the output frames along the pan, frame t-1 shifted by the pan
  flicker out  the same on the output frames (8x8 block means); includes the floor below
  floor        output flicker with the colour held fixed per shot: exposure flicker moving pixels in
               and out of the displayable range; no stabilizer can remove it
  lag          frames after each cut until the colours are as close to the unstabilized ones as in
               steady state (0 = at once)
  smear        mean |ab - unstabilized ab| on the trail the moving disc just left

Uses the bundled model when it is there (a real network flickers much more than the tiny test
model, which only follows brightness), else a tiny model built on the fly.

    python benchmarks/flicker.py                       # table
    python benchmarks/flicker.py --save frames/         # also raw | stabilized PNGs to look at
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


def pick_model(name: str | None) -> tuple[str, str]:
    """(model argument for Colorizer, label): the given one, the bundled default, or a tiny stand-in."""
    if name:
        return name, name
    from edgecolor import models

    try:
        path = models.resolve("default", "fp32", "openvino")
        return str(path), f"bundled {path.name}"
    except Exception:  # noqa: BLE001 - not landed yet
        from conftest import build_onnx

        path = Path(tempfile.mkdtemp(prefix="edgecolor-flicker-")) / "tiny-fp32.onnx"
        build_onnx(path)
        return str(path), "tiny test model (AveragePool + 1x1 conv; flickers little)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model name or file [default: bundled, else a tiny test model]")
    parser.add_argument("--size", default="320x240", help="frame size WxH [320x240]")
    parser.add_argument("--shot", type=int, default=24, help="frames per shot [24]")
    parser.add_argument("--save", type=Path, help="folder for raw | stabilized PNGs of key frames")
    args = parser.parse_args(argv)

    from video_fixtures import (
        colorize_clip,
        flicker,
        flicker_ab,
        flicker_floor,
        flicker_pan,
        lag,
        smear,
        synthetic_clip,
    )

    from edgecolor.colorizer import Colorizer

    model, label = pick_model(args.model)
    width, height = (int(v) for v in args.size.lower().split("x"))
    clip = synthetic_clip(width, height, args.shot)
    colorizer = Colorizer(model)
    raw, raw_ab = colorize_clip(colorizer, clip, stabilize=False)
    floor = flicker_floor(colorizer, clip)
    from edgecolor.options import DEFAULT_STRENGTH

    variants = [
        ("off (--no-stabilize)", dict(stabilize=False)),
        (f"on, strength {DEFAULT_STRENGTH} (default)", dict(stabilize=True)),
        ("on, strength 0.6", dict(stabilize=True, strength=0.6)),
        ("on, strength 0.85", dict(stabilize=True, strength=0.85)),
        (f"on, {DEFAULT_STRENGTH}, no cut reset", dict(stabilize=True, cut_threshold=float("inf"))),
    ]
    print(f"model: {label}; clip {width}x{height}, 3 shots x {args.shot} frames (moving object, pan, cut)")
    print()
    print("| stabilization | flicker ab (still) | pan | flicker out | floor | lag after cuts | smear | ms/frame |")
    print("|---|---|---|---|---|---|---|---|")
    base = base_pan = None
    for name, options in variants:
        t0 = time.perf_counter()
        out, ab = colorize_clip(colorizer, clip, **options)
        ms = (time.perf_counter() - t0) / len(out) * 1000
        f_ab, f_out, f_pan = flicker_ab(ab, clip), flicker(out, clip), flicker_pan(out, clip)
        base, base_pan = base or f_ab, base_pan or f_pan
        lags = ", ".join(str(lag(out, raw, clip, cut)) for cut in clip.cuts)
        print(f"| {name} | {f_ab:.3f} ({f_ab / base:.0%}) | {f_pan:.3f} ({f_pan / base_pan:.0%}) | {f_out:.3f} | "
              f"{floor:.3f} | {lags} | {smear(out, raw, clip):.3f} | {ms:.1f} |")
        if args.save and options.get("stabilize") and "strength" not in options and "cut_threshold" not in options:
            _save(args.save, clip, raw, out)
    print()
    print("flicker and smear in CIELAB ab units; lag in frames; ms/frame = prepare + network + stabilizer + merge")
    if args.save:
        print(f"frames: {args.save}/frame_NN.png (left: unstabilized, right: stabilized, chroma x2 to make it visible)")
    return 0


def _save(folder: Path, clip, raw, out) -> None:
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)

    def vivid(bgr):
        lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab).astype(np.float32)
        lab[..., 1:] = (lab[..., 1:] - 128) * 2 + 128
        return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_Lab2BGR)

    shot = clip.shots[0][1]
    for t in (shot // 2, shot // 2 + 1, shot + shot // 2, 2 * shot, 2 * shot + 1, 2 * shot + 2):
        if t < len(out):
            cv2.imwrite(str(folder / f"frame_{t:02d}.png"), np.hstack([vivid(raw[t]), vivid(out[t])]))


if __name__ == "__main__":
    sys.exit(main())
