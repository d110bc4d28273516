"""Issue 19's colour limit for a faster pipeline: the same network outputs through the merge of a git
revision ("before") and through this tree's merge, with candidate settings, on validation photos
upscaled to camera frame sizes.

    python benchmarks/fast_path_colour.py ../shared/data/val --before main --limit 100
    python benchmarks/fast_path_colour.py ../shared/data/val --set GRID_PIXELS=131072 --set GRID_PIXELS=262144

Each photo is resized (bicubic) to fit the frame size, made grey (exactly grey BGR, as cameras
deliver) and colorized once by the network (OpenVINO INT8 by default); the merges then differ only
in what they do after the network. Printed per frame size: PSNR gain over grey against the original
colour photo for the float reference (tests/reference_pipeline.py), "before" and each variant; the
variant's difference to "before" (the limit: at most -0.02 dB) and to the reference; the PSNR
between the variant's and before's outputs. ``--crops DIR`` writes 400 % crops (grey | before |
variant) where the two differ most, for looking at.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

SIZES = ("640x480", "1280x720", "1920x1080")


def load_before(rev: str):
    """edgecolor/pipeline.py as it is at git revision ``rev``, imported as a separate module."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:edgecolor/pipeline.py"], check=True,
                          capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "pipeline_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("pipeline_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def fit(img, width: int, height: int):
    import cv2

    s = min(width / img.shape[1], height / img.shape[0])
    size = (round(img.shape[1] * s), round(img.shape[0] * s))
    return cv2.resize(img, size, interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)


def variant(pipeline, setting: str):
    """Apply NAME=VALUE to the pipeline module; returns the undo."""
    name, value = setting.split("=")
    old = getattr(pipeline, name)
    setattr(pipeline, name, type(old)(float(value)) if not isinstance(old, int) else int(value))
    return lambda: setattr(pipeline, name, old)


def crop_sheet(grey, before, after, size: int = 48):
    """400 % crops around where ``after`` differs most from ``before``: grey | before | after."""
    import cv2
    import numpy as np

    diff = cv2.blur(np.abs(after.astype(np.int16) - before.astype(np.int16)).sum(axis=2).astype(np.float32),
                    (9, 9))
    y, x = np.unravel_index(int(diff.argmax()), diff.shape)
    y0 = int(min(max(0, y - size // 2), grey.shape[0] - size))
    x0 = int(min(max(0, x - size // 2), grey.shape[1] - size))
    tiles = [im[y0:y0 + size, x0:x0 + size] for im in (grey, before, after)]
    return np.hstack([cv2.resize(t, (size * 4, size * 4), interpolation=cv2.INTER_NEAREST) for t in tiles])


def main(argv: list[str] | None = None) -> int:
    import cv2
    import numpy as np
    from reference_pipeline import reference_colorize

    from edgecolor import metrics, pipeline
    from edgecolor.colorizer import Colorizer
    from edgecolor.files import image_paths

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--before", default="main", help="git revision whose pipeline is the reference")
    ap.add_argument("--set", action="append", default=[], dest="settings",
                    help="NAME=VALUE of edgecolor.pipeline for one variant (repeat for several; none: as is)")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--backend", default="openvino")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--crops", type=Path, default=None, help="folder for 400 %% crop sheets")
    args = ap.parse_args(argv)
    before = load_before(args.before)
    c = Colorizer(backend=args.backend, precision=args.precision)
    names = args.settings or ["as is"]
    paths = image_paths(args.folder)[: args.limit or None]
    print(f"{len(paths)} photos from {args.folder}; before: {args.before}; {c.backend_name} {c.precision}")
    print()
    print("| frame | photos at | float reference | before | variant | variant | - before | - reference | "
          "vs before (PSNR) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        gains = {n: [] for n in ["float", "before", *names]}
        close = {n: [] for n in names}
        sheets = {n: [] for n in names}
        shape = None
        for path in paths:
            img = fit(cv2.imread(str(path), cv2.IMREAD_COLOR), width, height)
            shape = img.shape
            grey = np.ascontiguousarray(np.repeat(metrics.to_grey_bgr(img)[..., 1:2], 3, axis=2))  # exactly grey
            base = metrics.psnr(grey, img)
            ab = c.predict_ab(c.prepare(grey))
            ref = before.merge(before.prepare(grey, c.contract), ab)
            gains["float"].append(metrics.psnr(reference_colorize(c, grey), img) - base)
            gains["before"].append(metrics.psnr(ref, img) - base)
            for n in names:
                undo = variant(pipeline, n) if n != "as is" else (lambda: None)
                try:
                    out = pipeline.merge(pipeline.prepare(grey, c.contract), ab)
                finally:
                    undo()
                gains[n].append(metrics.psnr(out, img) - base)
                close[n].append(min(99.0, metrics.psnr(out, ref)))
                if args.crops is not None and len(sheets[n]) < 6:
                    sheets[n].append(crop_sheet(grey, ref, out))
        b, f = float(np.mean(gains["before"])), float(np.mean(gains["float"]))
        for n in names:
            v = float(np.mean(gains[n]))
            print(f"| {size} | {shape[1]}x{shape[0]} | {f:+.4f} dB | {b:+.4f} dB | {n} | {v:+.4f} dB | "
                  f"{v - b:+.4f} dB | {v - f:+.4f} dB | {np.mean(close[n]):.1f} dB |", flush=True)
            if args.crops is not None:
                args.crops.mkdir(parents=True, exist_ok=True)
                tag = n.replace("=", "-").replace(" ", "_")
                cv2.imwrite(str(args.crops / f"crops-{size}-{tag}.png"), np.vstack(sheets[n]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
