"""The colour pipeline alone (no network): sizes, dtypes, alpha, geometry, and L preserved exactly."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from conftest import chroma, lab_l8, photo, tiny_contract

from edgecolor import pipeline
from edgecolor.errors import EdgecolorError
from edgecolor.pipeline import Prepared, is_colour, mean_chroma, merge, prepare

CONTRACT = tiny_contract(working_size=256)


def ab_for(p: Prepared, a: float = 12.0, b: float = -9.0) -> np.ndarray:
    """A smooth, in-gamut ab field of the size the network would return."""
    h, w = p.ab_shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ab = np.empty((h, w, 2), np.float32)
    ab[..., 0] = a * np.cos(xx / max(w, 2) * 3)
    ab[..., 1] = b * np.sin(yy / max(h, 2) * 3 + 0.5)
    return ab


@pytest.mark.parametrize(
    ("shape", "valid"),
    [((480, 640), (192, 256)), ((640, 480), (256, 192)), ((100, 100), (256, 256)), ((1, 1), (256, 256)),
     ((1, 2000), (1, 256)), ((33, 65), (130, 256)), ((3000, 4000), (192, 256))],
)
def test_working_size_and_padding(shape, valid):
    p = prepare(np.full(shape, 128, np.uint8), CONTRACT)
    assert p.valid == valid
    assert p.tensor.dtype == np.float32 and p.tensor.flags.c_contiguous
    n, c, h, w = p.tensor.shape
    assert (n, c) == (1, 1) and h % 32 == 0 and w % 32 == 0
    assert h - 32 < valid[0] <= h and w - 32 < valid[1] <= w
    assert p.ab_shape == (-(-valid[0] // 4), -(-valid[1] // 4))
    assert p.shape == shape


def test_size_override():
    p = prepare(photo(480, 640), CONTRACT, size=96)
    assert p.valid == (72, 96) and p.tensor.shape == (1, 1, 96, 96)
    with pytest.raises(EdgecolorError, match="working size"):
        prepare(photo(), CONTRACT, size=0)


def test_tensor_is_scaled_l_and_padding_reflects():
    img = np.full((90, 200), 119, np.uint8)  # grey 119 -> L = 50.0 (8-bit L 127/128)
    img[:, :100] = 200
    p = prepare(img, CONTRACT)
    L8 = lab_l8(img)
    t = p.tensor[0, 0]
    expected = L8[0, -1] * (100 / 255) * CONTRACT.l_scale + CONTRACT.l_shift
    assert t[0, -10] == pytest.approx(expected, abs=1e-5)
    h, w = p.valid
    assert t.shape[0] > h  # padded below: reflect-101 mirrors row h-2 into row h
    np.testing.assert_array_equal(t[h], t[h - 2])


@pytest.mark.parametrize("kind", ["grey", "bgr", "bgra", "grey1"])
def test_8bit_round_trip_keeps_l_and_alpha(kind):
    bgr = photo(150, 200)
    img = {"grey": bgr[:, :, 0], "bgr": bgr, "grey1": bgr[:, :, :1],
           "bgra": np.dstack([bgr, np.arange(150 * 200, dtype=np.uint32).reshape(150, 200).astype(np.uint8)])}[kind]
    p = prepare(img, CONTRACT)
    out = merge(p, ab_for(p))
    assert out.dtype == np.uint8 and out.shape[:2] == img.shape[:2]
    assert out.shape[2] == (4 if kind == "bgra" else 3)
    if kind == "bgra":
        np.testing.assert_array_equal(out[:, :, 3], img[:, :, 3])
    assert np.abs(lab_l8(out).astype(int) - lab_l8(bgr).astype(int)).max() <= 1
    assert chroma(out).mean() > 3  # it got colour


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_round_trip(channels):
    grey16 = (photo(90, 120)[:, :, 0].astype(np.uint16) * 257) + 100
    img = grey16 if channels == 1 else np.dstack([grey16] * channels)
    if channels == 4:
        img[:, :, 3] = 12345
    p = prepare(img, CONTRACT)
    assert p.L.dtype == np.float32
    out = merge(p, ab_for(p))
    assert out.dtype == np.uint16 and out.shape == (90, 120, 4 if channels == 4 else 3)
    if channels == 4:
        assert (out[:, :, 3] == 12345).all()
    L_in = cv2.cvtColor(cv2.cvtColor(grey16.astype(np.float32) / 65535, cv2.COLOR_GRAY2BGR), cv2.COLOR_BGR2Lab)[..., 0]
    L_out = cv2.cvtColor(out[:, :, :3].astype(np.float32) / 65535, cv2.COLOR_BGR2Lab)[..., 0]
    # L units (0..100): OpenCV's float Lab -> BGR -> Lab round trip alone is off by up to 0.23 (its
    # gamma and cube-root approximations); one 8-bit level is 0.39
    assert np.abs(L_out - L_in).max() < 0.3
    assert chroma(out).mean() > 3


def test_float_input():
    img = photo(60, 80).astype(np.float32) / 255
    p = prepare(img, CONTRACT)
    out = merge(p, ab_for(p))
    assert out.dtype == np.float32 and out.shape == (60, 80, 3) and 0 <= out.min() and out.max() <= 1


def test_saturation():
    p = prepare(photo(), CONTRACT)
    ab = ab_for(p)
    grey = merge(p, ab, saturation=0)
    assert np.abs(grey.astype(int) - grey[:, :, :1].astype(int)).max() <= 1  # R = G = B
    c1, c2 = chroma(merge(p, ab)).mean(), chroma(merge(p, ab, saturation=2.0)).mean()
    assert c2 == pytest.approx(2 * c1, rel=0.1)
    with pytest.raises(EdgecolorError, match="saturation"):
        merge(p, ab, saturation=-1)


def test_one_pixel_image():
    for img in (np.array([[77]], np.uint8), np.zeros((1, 1, 4), np.uint16)):
        p = prepare(img, CONTRACT)
        out = merge(p, ab_for(p))
        assert out.shape[:2] == (1, 1) and out.dtype == img.dtype


def test_ab_is_aligned_with_the_image():
    """A ramp a = column index of the network output must land where that column's pixels are,
    also when the working size is not a multiple of the output stride (here 50 = 12.5 strides)."""
    img = np.full((100, 200), 30000, np.uint16)
    p = prepare(img, CONTRACT, size=50)
    assert p.valid == (25, 50) and p.ab_shape == (7, 13)
    ab = np.zeros((*p.ab_shape, 2), np.float32)
    ab[..., 0] = np.arange(13, dtype=np.float32)[None, :] * 3
    out = merge(p, ab)
    a = cv2.cvtColor(out.astype(np.float32) / 65535, cv2.COLOR_BGR2Lab)[50, :, 1]
    x = np.arange(200)
    expected = np.clip((x + 0.5) * (50 / 4) / 200 - 0.5, 0, 12) * 3
    assert np.abs(a - expected).max() < 0.8


def test_strips_match_whole_frame(monkeypatch):
    img = photo(300, 200)
    p = prepare(img, CONTRACT)
    ab = ab_for(p, 30, -25)
    whole = merge(p, ab)
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 200 * 37)
    p2 = prepare(img, CONTRACT)
    np.testing.assert_array_equal(p2.L, p.L)
    np.testing.assert_array_equal(p2.tensor, p.tensor)
    # ab differs by at most one level (warpAffine vs resize rounding); near the gamut edge a level of
    # ab can move a channel close to 0 by ~20 (sRGB gamma is steep there), so compare ab itself
    full = pipeline._align(p, np.clip(ab + 128.5, 0, 255).astype(np.uint8))
    strips = [pipeline._resize_rows(full, 200, 300, y, min(300, y + 37)) for y in range(0, 300, 37)]
    assert np.abs(np.concatenate(strips).astype(int) - pipeline._resize_rows(full, 200, 300, 0, 300)).max() <= 1
    diff = np.abs(merge(p2, ab).astype(int) - whole)
    assert np.percentile(diff, 99) <= 3 and diff.mean() < 0.3


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_input_holds_no_second_full_size_plane(monkeypatch, dtype):
    """A single-channel photo keeps only itself and a lookup table; merge looks L up by strips and
    gives the same pixels as the same grey given as BGR (which holds a full L plane)."""
    grey = photo(300, 200)[:, :, 0].astype(dtype) * (257 if dtype == np.uint16 else 1)
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 200 * 37)  # several strips
    p = prepare(grey, CONTRACT)
    assert p.source is grey and p.lut is not None
    as_bgr = prepare(np.dstack([grey] * 3), CONTRACT)
    assert as_bgr.lut is None
    tol = 0 if dtype == np.uint8 else 1e-3  # 8 bits: the table is OpenCV's own BGR2Lab, exactly
    np.testing.assert_allclose(p.L, as_bgr.L, rtol=0, atol=tol)
    np.testing.assert_allclose(p.l_rows(40, 77), as_bgr.L[40:77], rtol=0, atol=tol)
    np.testing.assert_allclose(p.tensor, as_bgr.tensor, rtol=0, atol=tol / 100)
    ab = ab_for(p, 30, -25)
    diff = np.abs(merge(p, ab).astype(np.int64) - merge(as_bgr, ab).astype(np.int64))
    assert diff.max() <= (0 if dtype == np.uint8 else 2)


def test_large_photo_is_quick():
    """12 MP goes through the strip path; only the working size reaches the 'network'."""
    img = cv2.resize(photo(300, 400), (4000, 3000), interpolation=cv2.INTER_LINEAR)
    start = time.perf_counter()
    p = prepare(img, CONTRACT)
    out = merge(p, ab_for(p))
    assert time.perf_counter() - start < 10
    assert p.tensor.shape == (1, 1, 192, 256) and out.shape == img.shape
    assert np.abs(lab_l8(out[::50, ::50]).astype(int) - lab_l8(img[::50, ::50])).max() <= 1


def test_non_contiguous_input():
    img = photo(100, 200)[:, ::2]
    out = merge(prepare(img, CONTRACT), np.zeros((4, 4, 2), np.float32))
    assert out.shape == (100, 100, 3)
    assert np.abs(lab_l8(out).astype(int) - lab_l8(np.ascontiguousarray(img))).max() <= 1


def test_any_ab_size_covers_the_image():
    p = prepare(photo(), CONTRACT)
    out = merge(p, np.full((1, 1, 2), 20, np.float32))
    assert chroma(out).min() > 20


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((4, 4), np.float64), "unsupported pixel type float64"),
        (np.zeros((4, 4), np.int32), "unsupported pixel type int32"),
        (np.zeros((4, 4, 2), np.uint8), "unsupported shape"),
        (np.zeros((4, 4, 5), np.uint8), "unsupported shape"),
        (np.zeros((2, 4, 4, 3), np.uint8), "unsupported shape"),
        (np.zeros((0, 4), np.uint8), "empty image"),
        ([[1, 2]], "expected a numpy array"),
    ],
)
def test_bad_input_arrays(image, message):
    with pytest.raises(EdgecolorError, match=message):
        prepare(image, CONTRACT)


def test_bad_ab():
    p = prepare(photo(), CONTRACT)
    with pytest.raises(EdgecolorError, match="ab must be"):
        merge(p, np.zeros((4, 4, 3), np.float32))


def test_colour_detection():
    grey = photo()
    assert mean_chroma(grey) < 0.5 and not is_colour(grey) and not is_colour(grey[:, :, 0])
    colour = grey.copy()
    colour[:, :, 2] = 255
    assert is_colour(colour) and is_colour(colour.astype(np.uint16) * 257)
    assert prepare(colour, CONTRACT).chroma > pipeline.COLOUR_CHROMA
    assert prepare(grey, CONTRACT).chroma < 0.5
