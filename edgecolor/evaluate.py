"""`edgecolor eval`: colorize greyscale versions of colour photos and score them against the originals.

The greyscale input itself is scored too: PSNR rewards grey, washed-out output, so a colorizer
is only useful when it beats that baseline while staying as colourful as reality.

Any model can trade colour for PSNR (about 3 dB per unit of colourfulness ratio), so models are
compared at a fixed ratio too (``at_ratio``): the outputs' chroma is scaled until their
colourfulness ratio is the one asked, and the PSNR gain over grey is read there. A model that is
only more vivid then scores the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from edgecolor import metrics
from edgecolor.errors import InputError

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
    name: str = ""  # the folder (source kind) scored; "all" for the photos of several pooled
    at_ratio: float | None = None
    psnr_gain_at_ratio: float | None = None  # None: the ratio is out of reach (scales up to MAX_SCALE)
    chroma_scale_at_ratio: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def score(output: np.ndarray, original: np.ndarray) -> dict[str, float]:
    return {
        "psnr": metrics.psnr(output, original),
        "ssim": metrics.ssim(output, original),
        "colorfulness": metrics.colorfulness(output),
        "auc": metrics.auc(output, original),
    }


MAX_SCALE = 8.0  # the largest chroma scale at_ratio tries
RATIO_TOLERANCE = 1e-3


class ChromaSweep:
    """The outputs with their chroma (a, b of float CIELAB) times a scale, their own L kept, scored
    against the originals: mean PSNR gain over grey and colourfulness ratio, one point per scale."""

    def __init__(self, outputs: list[np.ndarray], originals: list[np.ndarray]) -> None:
        self.labs = [cv2.cvtColor(o.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab) for o in outputs]
        self.originals = originals
        self.grey_psnr = float(np.mean([metrics.psnr(metrics.to_grey_bgr(p), p) for p in originals]))
        self.cf_ref = float(np.mean([metrics.colorfulness(p) for p in originals]))
        self.points: dict[float, tuple[float, float]] = {}

    def scaled(self, lab: np.ndarray, scale: float) -> np.ndarray:
        x = lab.copy()
        x[..., 1:] *= scale
        return np.clip(cv2.cvtColor(x, cv2.COLOR_Lab2BGR) * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def point(self, scale: float) -> tuple[float, float]:
        """(colourfulness ratio, PSNR gain over grey) at this chroma scale."""
        if scale not in self.points:
            imgs = [self.scaled(lab, scale) for lab in self.labs]
            ratio = float(np.mean([metrics.colorfulness(i) for i in imgs])) / max(self.cf_ref, 1e-9)
            gain = float(np.mean([metrics.psnr(i, p) for i, p in zip(imgs, self.originals)])) - self.grey_psnr
            self.points[scale] = (ratio, gain)
        return self.points[scale]

    def at_ratio(self, ratio: float) -> tuple[float, float] | None:
        """(PSNR gain, chroma scale) where the colourfulness ratio is ``ratio``: the scale is bracketed
        (doubling from 1), bisected to RATIO_TOLERANCE, and the gain interpolated linearly in ratio
        between the bracket's ends. None when even MAX_SCALE is too dull (a grey model)."""
        lo, hi = 0.0, 1.0
        while self.point(hi)[0] < ratio:
            lo, hi = hi, hi * 2
            if hi > MAX_SCALE:
                return None
        while hi - lo > 1e-4:
            (r_lo, _), (r_hi, _) = self.point(lo), self.point(hi)
            if r_hi - r_lo <= RATIO_TOLERANCE:
                break
            mid = 0.5 * (lo + hi)
            if self.point(mid)[0] < ratio:
                lo = mid
            else:
                hi = mid
        (r_lo, g_lo), (r_hi, g_hi) = self.point(lo), self.point(hi)
        t = 0.0 if r_hi <= r_lo else (ratio - r_lo) / (r_hi - r_lo)
        return g_lo + t * (g_hi - g_lo), lo + t * (hi - lo)


# Below this mean colourfulness (Hasler & Suesstrunk; natural photos score 20-60, sepia about 10) a folder's
# photos are grey: the grey baseline equals them (PSNR capped at 99, so a "gain" of about -75 dB) and the
# colourfulness ratio divides by ~0. Nothing eval would print means anything, so the folder is refused.
MIN_COLOURFULNESS = 2.0


def check_colourful(folder: str | Path, originals: list[np.ndarray]) -> None:
    """An InputError naming ``folder`` when its photos have (almost) no colour to score against."""
    cf = float(np.mean([metrics.colorfulness(p) for p in originals])) if originals else 0.0
    if cf < MIN_COLOURFULNESS:
        raise InputError(f"{folder}: its photos have (almost) no colour (mean colourfulness {cf:.2f} < "
                         f"{MIN_COLOURFULNESS:g}); eval needs colour originals to score against")


def colorize_all(colorize, originals: list[np.ndarray],
                 on_photo: Callable[[], None] | None = None) -> list[np.ndarray]:
    """Each original turned grey (its own L) and colorized; ``on_photo`` is called after each (a progress bar)."""
    outs = []
    for img in originals:
        outs.append(colorize(metrics.to_grey_bgr(img)))
        if on_photo:
            on_photo()
    return outs


def evaluate_arrays(colorize, originals: list[np.ndarray], at_ratio: float | None = None) -> dict[str, float]:
    """Core of eval, on 8-bit BGR arrays; colorize maps a grey BGR image to a colour one."""
    return summarize(colorize_all(colorize, originals), originals, at_ratio)


def summarize(outputs: list[np.ndarray], originals: list[np.ndarray], at_ratio: float | None = None) -> dict:
    """Means of the scores of outputs against originals, the greyscale baseline's, and with ``at_ratio``
    the PSNR gain at that colourfulness ratio (see ChromaSweep.at_ratio)."""
    outs, greys, refs = [], [], []
    for out, img in zip(outputs, originals):
        grey = metrics.to_grey_bgr(img)
        outs.append(score(out, img))
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
    if at_ratio is not None:
        hit = ChromaSweep(outputs, originals).at_ratio(at_ratio)
        res["at_ratio"] = at_ratio
        res["psnr_gain_at_ratio"], res["chroma_scale_at_ratio"] = hit if hit else (None, None)
    return res


def evaluate(folder: str | Path, colorizer, limit: int = 0, at_ratio: float | None = None) -> EvalReport:
    """Score a Colorizer on every colour photo in folder (8-bit BGR as read from disk)."""
    return evaluate_folders([folder], colorizer, limit, at_ratio)[0]


def evaluate_folders(folders: list[str | Path], colorizer, limit: int = 0, at_ratio: float | None = None,
                     on_photo: Callable[[str, int, int], None] | None = None) -> list[EvalReport]:
    """One report per folder (a source kind each, so a weak kind shows) and, for several, a last one
    named "all" over every photo pooled (the at-ratio scale found for the pool, not per kind).

    Every folder is read and checked (``check_colourful``) before any photo is colorized, so a grey folder
    fails at once. ``on_photo(folder name, photos done, photos in all)`` follows the colorizing."""
    read = [(folder, read_originals(folder, limit)) for folder in folders]
    for folder, imgs in read:
        check_colourful(folder, imgs)
    total, done = sum(len(imgs) for _, imgs in read), 0
    outputs, originals, reports = [], [], []
    for folder, imgs in read:
        def step(name: str = Path(folder).name) -> None:
            nonlocal done
            done += 1
            if on_photo:
                on_photo(name, done, total)

        outs = colorize_all(colorizer.colorize, imgs, step)
        reports.append(_report(colorizer, Path(folder).name, outs, imgs, at_ratio))
        outputs += outs
        originals += imgs
    if len(folders) > 1:
        reports.append(_report(colorizer, "all", outputs, originals, at_ratio))
    return reports


def _report(colorizer, name: str, outputs: list[np.ndarray], originals: list[np.ndarray],
            at_ratio: float | None) -> EvalReport:
    return EvalReport(
        photos=len(originals),
        model=str(colorizer.model_path),
        backend=colorizer.backend_name,
        precision=colorizer.precision,
        working_size=colorizer.size if getattr(colorizer, "size", None) else colorizer.contract.working_size,
        name=name,
        **summarize(outputs, originals, at_ratio),
    )


def read_originals(folder: str | Path, limit: int = 0) -> list[np.ndarray]:
    """Every photo in folder as 8-bit BGR (grey ones as three equal channels; 16-bit scaled down)."""
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
    return originals
