"""eval's arithmetic on known answers: a perfect output and the greyscale baseline."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgecolor import metrics
from edgecolor.errors import EdgecolorError
from edgecolor.evaluate import evaluate_arrays
from edgecolor.files import image_paths


def _photos() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for h, w in ((48, 64), (40, 40), (33, 71)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out.append(cv2.GaussianBlur(img, (5, 5), 0))
    return out


def test_perfect_output_scores_cap_ratio_one_auc_one():
    photos = _photos()
    by_grey = {metrics.to_grey_bgr(p).tobytes(): p for p in photos}
    res = evaluate_arrays(lambda g: by_grey[g.tobytes()], photos)
    assert res["psnr"] == metrics.PSNR_CAP
    assert res["colorfulness_ratio"] == pytest.approx(1.0)
    assert res["auc"] == pytest.approx(1.0)
    assert res["ssim"] == pytest.approx(1.0)


def test_grey_output_equals_the_baseline_and_has_no_colour():
    photos = _photos()
    res = evaluate_arrays(lambda g: g, photos)
    assert res["psnr"] == pytest.approx(res["grey_psnr"])
    assert res["psnr_gain"] == pytest.approx(0.0)
    assert res["colorfulness_ratio"] < 0.05
    assert res["auc"] == pytest.approx(res["grey_auc"])
    assert res["auc"] < 1.0


def test_grey_baseline_keeps_lightness():
    img = _photos()[0]
    grey = metrics.to_grey_bgr(img)
    L = cv2.cvtColor(img, cv2.COLOR_BGR2Lab)[..., 0].astype(int)
    Lg = cv2.cvtColor(grey, cv2.COLOR_BGR2Lab)[..., 0].astype(int)
    assert np.abs(L - Lg).max() <= 2
    assert np.ptp(grey.astype(int), axis=2).max() <= 1


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(EdgecolorError, match="no images"):
        image_paths(tmp_path)
    with pytest.raises(EdgecolorError, match="not a folder"):
        image_paths(tmp_path / "nope")


def test_eval_and_colorize_offer_the_same_precisions(tmp_path):
    """`eval --precision` takes its choices from the one list in the contract, like every other command."""
    from typer.testing import CliRunner

    from edgecolor.cli import app
    from edgecolor.contract import PRECISIONS

    for command in ("eval", "colorize"):
        res = CliRunner().invoke(app, [command, str(tmp_path), "--precision", "fp64"])
        assert res.exit_code == 2 and all(p in res.output for p in PRECISIONS), res.output
