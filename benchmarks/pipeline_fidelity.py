"""What the fast pipeline loses (or gains) against a plain float reference, on the same network outputs.

    python benchmarks/pipeline_fidelity.py ../shared/data/val [--limit N] [--backend openvino]

Prints PSNR gain over grey for: the float reference (tests/reference_pipeline.py), the runtime's
plain path (guided=False) and its default path (edge-aware upsampling), and the difference to the
reference. Issue 9's target: the default path loses at most 0.02 dB.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


def main(argv: list[str] | None = None) -> int:
    import cv2
    import numpy as np
    from reference_pipeline import reference_colorize

    from edgecolor import metrics, pipeline
    from edgecolor.colorizer import Colorizer
    from edgecolor.files import image_paths

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--backend", default="openvino")
    ap.add_argument("--model", default="default")
    args = ap.parse_args(argv)
    c = Colorizer(args.model, backend=args.backend)
    paths = image_paths(args.folder)[: args.limit or None]
    rows = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        grey = metrics.to_grey_bgr(img)
        prep = c.prepare(grey)
        ab = c.predict_ab(prep)
        base = metrics.psnr(grey, img)
        rows.append([metrics.psnr(reference_colorize(c, grey), img) - base,
                     metrics.psnr(pipeline.merge(prep, ab, guided=False), img) - base,
                     metrics.psnr(pipeline.merge(prep, ab), img) - base])
    r = np.array(rows).mean(0)
    print(f"{len(rows)} photos from {args.folder}, model {c.model_path.name}, backend {c.backend_name}")
    print()
    print("| path | PSNR gain over grey | vs float reference |")
    print("|---|---|---|")
    for name, v in zip(("float reference", "runtime, plain (guided=False)", "runtime, default (guided)"), r):
        print(f"| {name} | {v:+.3f} dB | {v - r[0]:+.3f} dB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
