"""A before/after sheet: greyscale input | colorized | original, one row per photo.

    python -m tools.sheet ../shared/data/val models/edgecolor-lite0/val_sheet.jpg --n 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from edgecolor.metrics import to_grey_bgr


def row(images: list[np.ndarray], height: int) -> np.ndarray:
    scaled = [cv2.resize(i, (round(i.shape[1] * height / i.shape[0]), height), interpolation=cv2.INTER_AREA)
              for i in images]
    gap = np.full((height, 6, 3), 255, np.uint8)
    out = []
    for s in scaled:
        out += [s, gap]
    return np.hstack(out[:-1])


def make_sheet(paths: list[Path], colorize, height: int = 200, with_original: bool = True) -> np.ndarray:
    rows = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        grey = to_grey_bgr(img)
        cells = [grey, colorize(grey)] + ([img] if with_original else [])
        rows.append(row(cells, height))
    width = max(r.shape[1] for r in rows)
    padded = [cv2.copyMakeBorder(r, 0, 6, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
              for r in rows]
    return np.vstack(padded)


def main(argv: list[str] | None = None) -> None:
    from edgecolor.colorizer import Colorizer
    from edgecolor.files import image_paths, write_image_atomic

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("out")
    ap.add_argument("--model", default="default")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--step", type=int, default=0, help="take every step-th photo (default: spread over all)")
    ap.add_argument("--height", type=int, default=200)
    args = ap.parse_args(argv)
    paths = image_paths(args.folder)
    step = args.step or max(1, len(paths) // args.n)
    c = Colorizer(model=args.model, precision=args.precision)
    write_image_atomic(Path(args.out), make_sheet(paths[::step][: args.n], c.colorize, args.height))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
