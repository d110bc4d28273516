"""What does colourfulness cost in PSNR, by the way chroma is added after the network's decode?

The decode constants (temperature, fallback, gain) buy colourfulness ratio at about 2.6 to 3 dB per
unit on unseen photos. This asks whether another shape of chroma boost, applied to the same outputs,
buys it cheaper: a multiply (what ``tools.export --gain`` does), an additive chroma along the
predicted hue (the MSE-cheapest boost if the model were calibrated), the same ramped in from grey,
and a power curve around a pivot chroma. One JSON line per shape and strength, on training photos,
then a ceiling: the photos' own ab at the network's output resolution, upsampled bilinearly (what
colourfulness a perfect network could reach through a pipeline that predicts colour at 1/4 of 256 px).

    python -m tools.chroma_trade runs/ft2r/final.pt --photos ../shared/data/train/bsds500_train \
        ../shared/data/train/sunhays80 --n 300 --temperature 0.5 --fallback 2500
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edgecolor import metrics

Curve = Callable[[np.ndarray], np.ndarray]


def shapes() -> list[tuple[str, float, Curve]]:
    """(name, strength, chroma -> multiplier): each maps chroma c to c * multiplier."""
    out: list[tuple[str, float, Curve]] = []
    for g in (1.0, 1.1, 1.2, 1.3):
        out.append(("mul", g, lambda c, g=g: np.full_like(c, g)))
    for a in (2.0, 4.0, 6.0, 8.0):
        out.append(("add", a, lambda c, a=a: (c + a) / np.maximum(c, 1e-3)))
    for a in (4.0, 8.0, 12.0):  # additive, ramped in over chroma 0..5 so near-grey stays near grey
        out.append(("add_ramp5", a, lambda c, a=a: (c + a * np.clip(c / 5, 0, 1)) / np.maximum(c, 1e-3)))
    for p in (0.8, 0.7):  # c' = 20 * (c / 20) ** p: more chroma below 20, less above
        out.append(("pow_pivot20", p, lambda c, p=p: (np.maximum(c, 1e-3) / 20) ** (p - 1)))
    return out


def apply_chroma(bgr: np.ndarray, curve: Curve) -> np.ndarray:
    """Scale each pixel's ab (float Lab) by curve(chroma); L and hue stay."""
    return metrics.with_ab(bgr, lambda ab: ab * curve(np.linalg.norm(ab, axis=-1, keepdims=True)))


def lowres_truth(bgr: np.ndarray, working: int = 256, stride: int = 4) -> np.ndarray:
    """The photo with its own ab shrunk to the network's output size and resized back bilinearly."""
    h, w = bgr.shape[:2]
    s = working / max(h, w) / stride
    small = (max(1, round(w * s)), max(1, round(h * s)))
    return metrics.with_ab(bgr, lambda ab: cv2.resize(cv2.resize(ab, small, interpolation=cv2.INTER_AREA), (w, h),
                                                       interpolation=cv2.INTER_LINEAR))


CEILING = "ceiling: true ab at 1/4 of 256 px, bilinear"


def trade(outputs: list[np.ndarray], originals: list[np.ndarray]) -> list[dict]:
    """PSNR gain over grey and colourfulness ratio of every shape on the same network outputs, then the
    ceiling (the originals' own colour through lowres_truth)."""
    grey = float(np.mean([metrics.psnr(metrics.to_grey_bgr(p), p) for p in originals]))
    ref_cf = float(np.mean([metrics.colorfulness(p) for p in originals]))

    def row(shape: str, strength: float | None, images: list[np.ndarray]) -> dict:
        return {"shape": shape, "strength": strength,
                "psnr_gain": float(np.mean([metrics.psnr(i, p) for i, p in zip(images, originals)])) - grey,
                "colorfulness_ratio": float(np.mean([metrics.colorfulness(i) for i in images])) / ref_cf}

    rows = [row(name, k, [apply_chroma(o, curve) for o in outputs]) for name, k, curve in shapes()]
    rows.append(row(CEILING, None, [lowres_truth(p) for p in originals]))
    return rows


def main(argv: list[str] | None = None) -> None:
    from edgecolor.colorizer import Colorizer
    from tools.export import contract_for, export, load_checkpoint
    from tools.tune import sample_photos

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--photos", nargs="+", required=True, help="folders of colour photos (training data)")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--temperature", type=float, default=0.5)
    ap.add_argument("--fallback", type=float, default=2500.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    photos = sample_photos(args.photos, args.n, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        export(load_checkpoint(args.checkpoint, args.temperature, args.fallback), path, contract_for("fp32"),
               simplify=False)
        col = Colorizer(model=str(path), backend="openvino")
        outputs = [col.colorize(metrics.to_grey_bgr(p)) for p in photos]
    for r in trade(outputs, photos):
        print(json.dumps(r), flush=True)

if __name__ == "__main__":
    main()
