"""The fast pipeline against a plain float reference on real colour photos and the bundled model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from reference_pipeline import reference_colorize

from edgecolor import metrics, pipeline
from edgecolor.colorizer import Colorizer
from edgecolor.files import image_paths

VAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "val"


@pytest.mark.skipif(not VAL.is_dir(), reason="needs ../shared/data/val")
def test_default_path_loses_at_most_0_02_db_against_a_float_reference():
    c = Colorizer(backend="openvino")
    gains = []
    for p in image_paths(VAL)[:12]:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        grey = metrics.to_grey_bgr(img)
        prep = c.prepare(grey)
        ab = c.predict_ab(prep)
        gains.append((metrics.psnr(pipeline.merge(prep, ab, guided=False), img),
                      metrics.psnr(c.colorize(grey), img),
                      metrics.psnr(reference_colorize(c, grey), img)))
    plain, default, reference = np.mean(gains, axis=0)
    assert plain >= reference - 0.02
    assert default >= reference - 0.02
