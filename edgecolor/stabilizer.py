"""Steady colour over time for a colorized frame stream: ``Stabilizer`` and the helpers it needs.

A colorization network sees every frame on its own, so film grain, exposure flicker and small shifts
make its colours jump from frame to frame. ``Stabilizer`` smooths the predicted chroma over time at
the network's output resolution (tens of pixels across, so it costs well under a millisecond):

* each pixel blends its previous colour and the new prediction (exponential smoothing), with less
  history where its L changed beyond grain and global exposure changes: a moving object or a
  panning camera takes the new prediction at once, so nothing smears;
* a camera pan or shake moves the whole frame: the history is first shifted by the global motion
  (phase correlation of the low-res L), so a pan is smoothed like a still shot, not reset;
* a scene cut (the low-res L changes everywhere) drops the history: the new shot's colours show
  at once.

(Flow-guided warping of the history was tried: at this resolution its errors left coloured specks
on moving edges, while plain motion-aware smoothing kept them clean, so it is not used.)

A part below the stream loop (stream.StreamColorizer holds one): imports only numpy, cv2 and options.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from edgecolor.options import DEFAULT_STRENGTH, check_strength

if TYPE_CHECKING:
    from edgecolor.pipeline import Prepared

NOISE_CAP = 1.5  # L units: the most brightness change per low-res pixel that is taken for grain
MIN_SHIFT = 0.2  # low-res pixels: a global shift below this is not compensated (grain jitters the estimate)
MIN_RESPONSE = 0.1  # phase-correlation peak below which the global shift is not trusted


class Stabilizer:
    """Motion-aware exponential smoothing of ab, reset on scene cuts.

    ``strength`` (0..options.MAX_STRENGTH) is the weight of history on a still pixel; the default,
    options.DEFAULT_STRENGTH, lets flicker through at about a fifth of its amplitude and follows real
    colour changes within a few frames.
    ``motion_tolerance`` (L units, 0..100) is the change of a pixel's local mean brightness, beyond
    grain, at which it stops trusting its history. ``cut_threshold`` is the mean brightness change
    over the frame (L units) above which a frame counts as a new shot.
    """

    def __init__(
        self,
        strength: float = DEFAULT_STRENGTH,
        *,
        motion_tolerance: float = 6.0,
        cut_threshold: float = 12.0,
    ) -> None:
        self.strength = check_strength(strength)
        self.motion_tolerance = float(motion_tolerance)
        self.cut_threshold = float(cut_threshold)
        self.cuts = 0  # scene cuts seen, for reports and tests
        self.reset()

    def reset(self) -> None:
        """Forget the history (call between unrelated clips)."""
        self._ab: np.ndarray | None = None
        self._luma: np.ndarray | None = None

    def update(self, ab: np.ndarray, luma: np.ndarray) -> np.ndarray:
        """The stabilized ab for this frame. ``ab`` is (h, w, 2) float32, ``luma`` the (h, w) L (0..100)."""
        import cv2

        ab = np.asarray(ab, dtype=np.float32)
        luma = np.asarray(luma, dtype=np.float32)
        if self._ab is None or self._ab.shape != ab.shape or self.strength == 0.0:
            return self._keep(ab, luma)
        prev_ab, prev_luma = self._ab, self._luma
        prev_ab, prev_luma, inside = _follow_camera(prev_ab, prev_luma, luma)
        # Exposure flicker (old film, auto-exposure) shifts the whole frame: not motion.
        diff = luma - prev_luma
        diff -= np.float32(np.median(diff))
        # Grain is not motion either: compare 3x3 means, and only count change above the noise level.
        residual = np.abs(cv2.blur(diff, (3, 3)))
        if float(residual.mean()) > self.cut_threshold:
            self.cuts += 1
            return self._keep(ab, luma)
        # Grain left after this averaging is well under 1 L unit; a pan's median change is not grain.
        noise = np.float32(min(2.0 * float(np.median(residual)), NOISE_CAP))
        # Spread the motion mask a pixel so the edges of a moving object do not keep stale colour.
        motion = cv2.dilate(np.maximum(residual - noise, 0.0), np.ones((3, 3), np.uint8))
        trust = np.clip(1.0 - motion / np.float32(self.motion_tolerance), 0.0, 1.0)
        if inside is not None:  # what a pan brings into view has no history
            trust *= inside
        weight = (np.float32(self.strength) * trust)[..., None]
        out = ab + weight * (prev_ab - ab)
        self._ab, self._luma = out, luma
        return out

    def _keep(self, ab: np.ndarray, luma: np.ndarray) -> np.ndarray:
        self._ab, self._luma = ab.copy(), luma
        return ab


def _follow_camera(prev_ab: np.ndarray, prev_luma: np.ndarray, luma: np.ndarray):
    """The history shifted by the frame's global motion (pan, shake), and where it is still inside
    the frame (None: no shift). Phase correlation on the low-res L costs well under a millisecond."""
    import cv2

    h, w = luma.shape
    if min(h, w) < 8:
        return prev_ab, prev_luma, None
    window = _hanning(h, w)
    # copies: OpenCV applies the window in place
    (dx, dy), response = cv2.phaseCorrelate(prev_luma.copy(), luma.copy(), window)
    if response < MIN_RESPONSE or max(abs(dx), abs(dy)) < MIN_SHIFT or max(abs(dx), abs(dy)) > min(h, w) / 4:
        return prev_ab, prev_luma, None
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    flags, border = cv2.INTER_LINEAR, cv2.BORDER_REPLICATE
    shifted_luma = cv2.warpAffine(prev_luma, m, (w, h), flags=flags, borderMode=border)
    inside = cv2.warpAffine(np.ones((h, w), np.float32), m, (w, h), flags=flags, borderValue=0.0) > 0.999
    # Only a shift that explains the change counts (grain and a moving object can fool the correlation).
    before = _mean_abs_change(prev_luma, luma, inside)
    after = _mean_abs_change(shifted_luma, luma, inside)
    if not after < 0.7 * before:
        return prev_ab, prev_luma, None
    shifted_ab = cv2.warpAffine(prev_ab, m, (w, h), flags=flags, borderMode=border)
    return shifted_ab, shifted_luma, inside.astype(np.float32)


def _mean_abs_change(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean |a - b| inside mask, exposure change (the median difference) removed."""
    d = (a - b)[mask]
    return float(np.abs(d - np.median(d)).mean()) if d.size else 0.0


@functools.lru_cache(maxsize=8)
def _hanning(h: int, w: int) -> np.ndarray:
    """The phase-correlation window for an (h, w) luma, made once per frame size."""
    import cv2

    return cv2.createHanningWindow((w, h), cv2.CV_32F)


def low_res_luma(prepared: Prepared, shape: tuple[int, int]) -> np.ndarray:
    """The L (0..100) of the working image at the ab resolution, recovered from the network tensor.

    Costs one small resize: the tensor is already the working-size L, so the full frame is not touched.
    """
    import cv2

    return cv2.resize(prepared.working_l(), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
