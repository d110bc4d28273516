"""A plain float reference of the colour pipeline, to measure what the fast runtime path loses.

Float CIELAB from the 8-bit photo, L resized straight to the runtime's network size (area filter),
the same network, ab resized bilinearly to full size, float Lab -> BGR, rounded once. Issue 9: the
runtime's default path may lose at most 0.02 dB PSNR against this on the validation photos.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgecolor import pipeline


def reference_colorize(colorizer, bgr: np.ndarray) -> np.ndarray:
    """8-bit BGR in, 8-bit BGR out, every step in float32."""
    h, w = bgr.shape[:2]
    c = colorizer.contract
    lab = cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    L = lab[..., 0]
    nh, nw = pipeline.network_size(h, w, colorizer.size or c.working_size, c.size_multiple)
    small = cv2.resize(L, (nw, nh), interpolation=cv2.INTER_AREA if nh <= h and nw <= w else cv2.INTER_LINEAR)
    out = colorizer.backend.infer((small * np.float32(c.l_scale) + np.float32(c.l_shift))[None, None])
    ab = out[0].transpose(1, 2, 0) * np.float32(c.ab_scale)
    ab = cv2.resize(ab, (w, h), interpolation=cv2.INTER_LINEAR)
    back = cv2.cvtColor(np.dstack([L, ab]).astype(np.float32), cv2.COLOR_Lab2BGR)
    return np.clip(back * 255.0 + 0.5, 0, 255).astype(np.uint8)
