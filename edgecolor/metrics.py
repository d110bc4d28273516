"""Quality metrics for colorization (definitions in the project's anchors document).

All take 8-bit BGR images of the same size, as OpenCV reads them.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

PSNR_CAP = 99.0  # reported for identical images instead of infinity
AUC_MAX_ERROR = 150


def psnr(output: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB over 8-bit RGB; identical images give PSNR_CAP."""
    mse = np.mean((output.astype(np.float64) - reference.astype(np.float64)) ** 2)
    if mse == 0:
        return PSNR_CAP
    return float(min(PSNR_CAP, 10.0 * np.log10(255.0**2 / mse)))


def ssim(output: np.ndarray, reference: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004, Gaussian window 11, sigma 1.5) averaged over the 3 channels."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for ch in range(output.shape[2] if output.ndim == 3 else 1):
        x = (output[..., ch] if output.ndim == 3 else output).astype(np.float64)
        y = (reference[..., ch] if reference.ndim == 3 else reference).astype(np.float64)

        def blur(z: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

        mx, my = blur(x), blur(y)
        sxx = blur(x * x) - mx * mx
        syy = blur(y * y) - my * my
        sxy = blur(x * y) - mx * my
        m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        vals.append(m.mean())
    return float(np.mean(vals))


def colorfulness(image: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003): sigma_rgyb + 0.3 * mu_rgyb on 8-bit RGB."""
    b, g, r = (image[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    sigma = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    mu = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(sigma + 0.3 * mu)


def ab_of(image: np.ndarray) -> np.ndarray:
    """a, b of CIELAB (float, OpenCV's float conversion) for an 8-bit BGR image."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    return lab[..., 1:]


def auc(output: np.ndarray, reference: np.ndarray, max_error: int = AUC_MAX_ERROR) -> float:
    """Area under the CDF of per-pixel ab error over thresholds 0..max_error (Zhang et al. 2016)."""
    err = np.linalg.norm(ab_of(output) - ab_of(reference), axis=-1).ravel()
    thresholds = np.arange(0, max_error + 1)
    err_sorted = np.sort(err)
    cdf = np.searchsorted(err_sorted, thresholds, side="right") / err.size
    return float(cdf.mean())


def with_ab(image: np.ndarray, new_ab: Callable[[np.ndarray], np.ndarray | float]) -> np.ndarray:
    """An 8-bit BGR image with its own L and new_ab(its ab) as colour (float Lab), back to 8-bit BGR."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    lab[..., 1:] = new_ab(lab[..., 1:])
    out = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def to_grey_bgr(image: np.ndarray) -> np.ndarray:
    """The greyscale baseline: the photo's own L with a = b = 0, back to 8-bit BGR."""
    return with_ab(image, lambda ab: 0.0)
