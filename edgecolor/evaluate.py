"""`edgecolor eval`: colorize greyscale versions of colour photos and score them against the originals.

The greyscale input itself is scored too: PSNR rewards grey, washed-out output, so a colorizer
is only useful when it beats that baseline while staying as colourful as reality.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgecolor import metrics

METRIC_NAMES = ("psnr", "ssim", "colorfulness", "auc")


@dataclass
class EvalReport:
    """Means over the photos, for the colorized outputs and for the greyscale baseline."""

    photos: int
    model: str
    backend: str
    precision: str
    working_size: int
    psnr: float
    ssim: float
    auc: float
    colorfulness: float
    colorfulness_original: float
    colorfulness_ratio: float
    grey_psnr: float
    grey_ssim: float
    grey_auc: float
    psnr_gain: float

    def as_dict(self) -> dict:
        return asdict(self)


def score(output: np.ndarray, original: np.ndarray) -> dict[str, float]:
    return {
        "psnr": metrics.psnr(output, original),
        "ssim": metrics.ssim(output, original),
        "colorfulness": metrics.colorfulness(output),
        "auc": metrics.auc(output, original),
    }


def evaluate_arrays(colorize, originals: list[np.ndarray]) -> dict[str, float]:
    """Core of eval, on 8-bit BGR arrays; colorize maps a grey BGR image to a colour one."""
    outs, greys, refs = [], [], []
    for img in originals:
        grey = metrics.to_grey_bgr(img)
        outs.append(score(colorize(grey), img))
        greys.append(score(grey, img))
        refs.append(metrics.colorfulness(img))

    def mean(rows: list[dict], k: str) -> float:
        return float(np.mean([r[k] for r in rows]))

    cf_ref = float(np.mean(refs))
    res = {k: mean(outs, k) for k in METRIC_NAMES}
    res.update({f"grey_{k}": mean(greys, k) for k in ("psnr", "ssim", "auc")})
    res["colorfulness_original"] = cf_ref
    res["colorfulness_ratio"] = res["colorfulness"] / cf_ref if cf_ref > 0 else 1.0
    res["psnr_gain"] = res["psnr"] - res["grey_psnr"]
    return res


def evaluate(folder: str | Path, colorizer, limit: int = 0) -> EvalReport:
    """Score a Colorizer on every colour photo in folder (8-bit BGR as read from disk)."""
    from edgecolor.files import image_paths, read_image

    paths = image_paths(folder)
    if limit:
        paths = paths[:limit]
    originals = []
    for p in paths:
        img = read_image(p)
        if img.ndim == 2:
            img = np.dstack([img] * 3)
        originals.append(img[..., :3] if img.dtype == np.uint8 else (img[..., :3] // 257).astype(np.uint8))
    res = evaluate_arrays(colorizer.colorize, originals)
    return EvalReport(
        photos=len(originals),
        model=str(colorizer.model_path),
        backend=colorizer.backend_name,
        precision=colorizer.precision,
        working_size=colorizer.size if getattr(colorizer, "size", None) else colorizer.contract.working_size,
        **res,
    )
