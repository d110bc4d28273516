"""Sheets that show where two ways of colorizing differ, to look at a change rather than only score it.

    # the 12 photos where model B differs most from model A: grey | A | B | original
    python -m tools.compare_sheet ../shared/data/val docs/images/fallback_sheet.jpg \
        --a runs/no-fallback.onnx --b models/edgecolor-lite0/edgecolor-lite0-fp32.onnx
    # crops at 400 % around the strongest edges: grey | bilinear | guided (edge-aware) | original
    python -m tools.compare_sheet ../shared/data/val docs/images/guided_crops.jpg --crops
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from edgecolor import pipeline
from edgecolor.metrics import to_grey_bgr
from tools.sheet import row


def ab_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Mean |Δab| (8-bit Lab units) between two BGR images."""
    a = cv2.cvtColor(x, cv2.COLOR_BGR2Lab)[..., 1:].astype(np.int16)
    b = cv2.cvtColor(y, cv2.COLOR_BGR2Lab)[..., 1:].astype(np.int16)
    return float(np.abs(a - b).mean())


def stack(rows: list[np.ndarray]) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    return np.vstack([cv2.copyMakeBorder(r, 0, 6, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(255,) * 3)
                      for r in rows])


def most_different(paths: list[Path], colorize_a, colorize_b, n: int, height: int) -> np.ndarray:
    scored = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        grey = to_grey_bgr(img)
        a, b = colorize_a(grey), colorize_b(grey)
        scored.append((ab_distance(a, b), [grey, a, b, img]))
    scored.sort(key=lambda t: -t[0])
    return stack([row(cells, height) for _, cells in scored[:n]])


def edge_crops(paths: list[Path], colorizer, n: int, crop: int = 48, zoom: int = 4) -> np.ndarray:
    """For each photo, the crop around its strongest L edge, nearest-neighbour zoomed."""
    rows = []
    for p in paths[:n]:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        grey = to_grey_bgr(img)
        prep = colorizer.prepare(grey)
        ab = colorizer.predict_ab(prep)
        plain, guided = pipeline.merge(prep, ab, guided=False), pipeline.merge(prep, ab)
        g = cv2.GaussianBlur(grey[..., 0].astype(np.float32), (0, 0), 2)
        mag = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
        h, w = mag.shape
        inner = np.zeros_like(mag)  # the crop must fit: only centres away from the border count
        inner[crop // 2:h - crop // 2, crop // 2:w - crop // 2] = 1
        mag *= inner
        y, x = np.unravel_index(int(np.argmax(mag)), mag.shape)
        box = (slice(y - crop // 2, y + crop // 2), slice(x - crop // 2, x + crop // 2))
        cells = [cv2.resize(c[box], (crop * zoom, crop * zoom), interpolation=cv2.INTER_NEAREST)
                 for c in (grey, plain, guided, img)]
        rows.append(row(cells, crop * zoom))
    return stack(rows)


def main(argv: list[str] | None = None) -> None:
    from edgecolor.colorizer import Colorizer
    from edgecolor.files import image_paths, write_image_atomic

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("out")
    ap.add_argument("--a", help="model A (file or name)")
    ap.add_argument("--b", default="default", help="model B (file or name)")
    ap.add_argument("--crops", action="store_true", help="bilinear vs guided crops at 400 %% instead")
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--height", type=int, default=160)
    args = ap.parse_args(argv)
    paths = image_paths(args.folder)
    if args.crops:
        step = max(1, len(paths) // args.n)
        sheet = edge_crops(paths[::step], Colorizer(args.b, backend="openvino"), args.n)
    else:
        a, b = Colorizer(args.a, backend="openvino"), Colorizer(args.b, backend="openvino")
        sheet = most_different(paths, a.colorize, b.colorize, args.n, args.height)
    write_image_atomic(Path(args.out), sheet, quality=85)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
