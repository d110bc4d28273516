"""tools.chroma_trade: the shapes do to chroma what they say, and the scoring is edgecolor eval's."""

import cv2
import numpy as np
import pytest

from edgecolor.evaluate import evaluate_arrays
from tools.chroma_trade import CEILING, apply_chroma, lowres_truth, shapes, trade


def patch(bgr: tuple[int, int, int]) -> np.ndarray:
    return np.full((8, 8, 3), bgr, np.uint8)


def chroma(img: np.ndarray) -> float:
    lab = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    return float(np.linalg.norm(lab[0, 0, 1:]))


def test_unit_multiply_keeps_the_image_and_a_gain_scales_chroma_but_not_l():
    img = patch((60, 120, 200))
    assert np.abs(apply_chroma(img, lambda c: np.ones_like(c)).astype(int) - img).max() <= 1
    out = apply_chroma(img, lambda c: np.full_like(c, 1.2))
    assert chroma(out) == pytest.approx(1.2 * chroma(img), rel=0.03)
    l_in = cv2.cvtColor(img, cv2.COLOR_BGR2Lab)[0, 0, 0]
    assert abs(int(cv2.cvtColor(out, cv2.COLOR_BGR2Lab)[0, 0, 0]) - int(l_in)) <= 1


def test_additive_shape_adds_chroma_and_the_ramp_leaves_grey_grey():
    add = {(n, k): f for n, k, f in shapes()}
    img = patch((90, 110, 130))
    assert chroma(apply_chroma(img, add[("add", 4.0)])) == pytest.approx(chroma(img) + 4, abs=0.5)
    grey = patch((128, 128, 128))
    assert chroma(apply_chroma(grey, add[("add_ramp5", 12.0)])) < 0.5


def test_trade_scores_like_eval_and_more_gain_means_more_colour():
    rng = np.random.default_rng(0)
    originals = [cv2.GaussianBlur(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), (9, 9), 3) for _ in range(3)]
    outputs = [cv2.addWeighted(o, 0.5, cv2.cvtColor(cv2.cvtColor(o, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR), 0.5, 0)
               for o in originals]
    rows = {(r["shape"], r["strength"]): r for r in trade(outputs, originals)}
    it = iter(outputs)  # eval calls colorize once per photo, in order
    by_eval = evaluate_arrays(lambda grey: next(it), originals)
    assert rows[("mul", 1.0)]["psnr_gain"] == pytest.approx(by_eval["psnr_gain"], abs=0.05)
    assert rows[("mul", 1.0)]["colorfulness_ratio"] == pytest.approx(by_eval["colorfulness_ratio"], abs=0.01)
    muls = [rows[("mul", g)]["colorfulness_ratio"] for g in (1.0, 1.1, 1.2, 1.3)]
    assert muls == sorted(muls) and muls[-1] > muls[0] * 1.2
    # 64 px wide at a working size of 256: the network's output grid is as fine as the photo, so no loss
    assert rows[(CEILING, None)]["colorfulness_ratio"] == pytest.approx(1.0, abs=0.02)


def test_lowres_truth_keeps_flat_colour_and_l_but_loses_fine_colour_texture():
    flat = np.full((120, 180, 3), (40, 140, 200), np.uint8)
    assert np.abs(lowres_truth(flat).astype(int) - flat).max() <= 1
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::2] = (0, 0, 255)
    stripes[:, 1::2] = (255, 0, 0)  # 1-px red/blue stripes: colour detail far below 1/4 of the working size
    out = lowres_truth(stripes, working=64)
    assert np.abs(out.astype(int) - stripes).max() > 40
    def l_of(im):
        return cv2.cvtColor(im.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)[..., 0]
    assert np.abs(l_of(out) - l_of(stripes)).mean() < 3
