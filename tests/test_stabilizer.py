"""stabilizer.py: motion-aware smoothing of the predicted ab over time (still scenes, moving objects, pans, cuts),
and the low-res L it compares frames by, on a real runtime (tiny model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgecolor.colorizer import Colorizer
from edgecolor.errors import UsageError
from edgecolor.options import DEFAULT_STRENGTH
from edgecolor.stabilizer import Stabilizer, low_res_luma


def _noisy_ab(rng, n=30, shape=(12, 16)):
    base = np.stack([np.full(shape, 20.0), np.full(shape, -10.0)], -1).astype(np.float32)
    return [base + rng.normal(0, 2.0, base.shape).astype(np.float32) for _ in range(n)]


def test_still_scene_flicker_drops_by_more_than_half():
    rng = np.random.default_rng(0)
    abs_ = _noisy_ab(rng)
    luma = np.full((12, 16), 50.0, np.float32)
    st = Stabilizer(0.6)
    out = [st.update(ab, luma + rng.normal(0, 0.3, luma.shape).astype(np.float32)) for ab in abs_]
    raw = np.mean([np.abs(abs_[i] - abs_[i - 1]).mean() for i in range(1, len(abs_))])
    smooth = np.mean([np.abs(out[i] - out[i - 1]).mean() for i in range(1, len(out))])
    assert smooth < 0.5 * raw


def test_moving_pixels_take_the_new_colour_and_exposure_changes_do_not_count():
    st = Stabilizer(0.6)
    luma = np.full((12, 16), 40.0, np.float32)
    st.update(np.zeros((12, 16, 2), np.float32), luma)
    moved = luma + 3.0  # the whole frame 3 L units brighter: exposure, not motion
    moved[4:8, 4:8] = 90.0  # an object arrives here
    new = np.full((12, 16, 2), 30.0, np.float32)
    out = st.update(new, moved)
    assert np.allclose(out[5:7, 5:7], 30.0)  # no history where the object is
    assert np.allclose(out[0, 0], 30.0 * 0.4, atol=0.5)  # still pixels blend 60 % history


def test_a_pan_keeps_its_history_shifted_with_the_camera():
    """The camera pans 2 low-res pixels a frame over a textured scene whose colour is tied to it, with
    colour noise per frame: the history follows the pan (colour error well below the raw noise); without
    following it the whole frame counts as motion and keeps the raw noise."""
    rng = np.random.default_rng(3)
    scene = cv2.GaussianBlur(rng.uniform(0, 100, (40, 160)).astype(np.float32), (0, 0), 1.0)
    colour = np.stack([scene - 50, 50 - scene], -1)  # colour that belongs to the content
    st = Stabilizer(0.75)
    errors, raw_errors = [], []
    for t in range(30):
        luma = scene[:, 2 * t:2 * t + 64] + rng.normal(0, 0.3, (40, 64)).astype(np.float32)
        truth = colour[:, 2 * t:2 * t + 64]
        noisy = truth + rng.normal(0, 3.0, truth.shape).astype(np.float32)
        out = st.update(noisy, luma)
        if t >= 5:
            inner = (slice(4, -4), slice(4, -8))  # away from where the pan brings new content in
            errors.append(np.abs(out - truth)[inner].mean())
            raw_errors.append(np.abs(noisy - truth)[inner].mean())
    assert np.mean(errors) < 0.75 * np.mean(raw_errors)
    assert st.cuts == 0


def test_scene_cut_resets_history():
    st = Stabilizer(0.9)
    st.update(np.zeros((12, 16, 2), np.float32), np.full((12, 16), 20.0, np.float32))
    new = np.full((12, 16, 2), 25.0, np.float32)
    cut_luma = np.full((12, 16), 10.0, np.float32)  # another shot: bright left half, dark right half
    cut_luma[:, :8] = 90.0
    assert np.array_equal(st.update(new, cut_luma), new)
    assert st.cuts == 1


def test_strength_zero_is_identity_and_bad_strength_is_refused():
    st = Stabilizer(0.0)
    luma = np.full((4, 4), 50.0, np.float32)
    a, b = np.zeros((4, 4, 2), np.float32), np.ones((4, 4, 2), np.float32)
    st.update(a, luma)
    assert np.array_equal(st.update(b, luma), b)
    for bad in (-0.1, 0.99, float("nan"), "x", True):
        with pytest.raises(UsageError, match="stabilization strength must be between 0 and 0.95"):
            Stabilizer(bad)


def test_default_strength_is_the_options_one():
    assert Stabilizer().strength == DEFAULT_STRENGTH


def test_low_res_luma_is_the_frames_lightness_at_the_ab_resolution(model_files):
    """What the stabilizer compares frames by: the L of the frame (0..100) at the network output's size,
    taken from the working tensor, so it matches L computed from the full frame and shrunk."""
    c = Colorizer(model_files["onnx"], backend="openvino")
    rng = np.random.default_rng(1)
    grey = cv2.GaussianBlur(rng.integers(0, 256, (120, 160), dtype=np.uint8), (0, 0), 6)
    prepared = c.prepare(grey)
    ab = c.predict_ab(prepared)
    luma = low_res_luma(prepared, ab.shape[:2])
    assert luma.shape == ab.shape[:2] and luma.dtype == np.float32
    lab = cv2.cvtColor(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR).astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    truth = cv2.resize(lab[:, :, 0], (ab.shape[1], ab.shape[0]), interpolation=cv2.INTER_AREA)
    assert 0.0 <= luma.min() and luma.max() <= 100.0
    assert np.abs(luma - truth).mean() < 2.0
