"""The colour pipeline alone (no network): sizes, dtypes, alpha, geometry, and L preserved exactly."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from conftest import chroma, lab_l8, photo, tiny_contract

from edgecolor import pipeline
from edgecolor.errors import EdgecolorError, UsageError
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
     ((321, 481), (160, 256)), ((1, 2000), (64, 1024)), ((33, 65), (128, 256)), ((3000, 4000), (192, 256)),
     ((400, 4000), (64, 640))],
)
def test_network_size_stretches_to_multiples_without_padding(shape, valid):
    """The whole photo is resized to multiples of 32 (no mirrored padding), each side >= 64."""
    p = prepare(np.full(shape, 128, np.uint8), CONTRACT)
    assert p.valid == valid
    assert p.tensor.dtype == np.float32 and p.tensor.flags.c_contiguous
    assert p.tensor.shape == (1, 1, *valid)
    assert p.ab_shape == (valid[0] // 4, valid[1] // 4)
    assert p.shape == shape


def test_network_size_keeps_the_aspect_within_half_a_multiple():
    for h in range(1, 1200, 37):
        H, W = pipeline.network_size(h, 1000, 256, 32)
        assert H % 32 == 0 and W % 32 == 0 and min(H, W) >= 64
        if h * 256 / 1000 >= 64:  # not a panorama: only the rounding stretches it
            assert abs(H - h * W / 1000) <= 16 + 1e-9 or abs(W - 1000 * H / h) <= 16 + 1e-9


def test_size_override():
    p = prepare(photo(480, 640), CONTRACT, size=96)
    assert p.valid == (64, 96) and p.tensor.shape == (1, 1, 64, 96)
    with pytest.raises(EdgecolorError, match="working size"):
        prepare(photo(), CONTRACT, size=0)


def test_tensor_is_scaled_l():
    img = np.full((90, 200), 119, np.uint8)  # grey 119 -> L = 50.0 (8-bit L 127/128)
    img[:, :100] = 200
    p = prepare(img, CONTRACT)
    L8 = lab_l8(img)
    t = p.tensor[0, 0]
    expected = L8[0, -1] * (100 / 255) * CONTRACT.l_scale + CONTRACT.l_shift
    assert t[0, -10] == pytest.approx(expected, abs=1e-5)
    assert t.shape == p.valid  # nothing padded
    np.testing.assert_allclose(p.working_l()[0, -10], float(L8[0, -1]) * 100 / 255, atol=1e-3)


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
    assert p.valid == (64, 128) and p.ab_shape == (16, 32)
    ab = np.zeros((*p.ab_shape, 2), np.float32)
    ab[..., 0] = np.arange(32, dtype=np.float32)[None, :] * 2
    x = np.arange(200)
    expected = np.clip((x + 0.5) * 32 / 200 - 0.5, 0, 31) * 2
    for guided in (False, True):  # on flat L the guided filter is a local mean: a ramp stays a ramp
        out = merge(p, ab, guided=guided)
        a = cv2.cvtColor(out.astype(np.float32) / 65535, cv2.COLOR_BGR2Lab)[50, :, 1]
        inner = slice(0, None) if not guided else slice(20, 180)
        assert np.abs(a[inner] - expected[inner]).max() < 0.8


def test_strips_match_whole_frame(monkeypatch):
    img = photo(300, 200)
    p = prepare(img, CONTRACT)
    ab = ab_for(p, 30, -25)
    whole = merge(p, ab, guided=False)
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 200 * 37)
    p2 = prepare(img, CONTRACT)
    np.testing.assert_array_equal(p2.L, p.L)
    np.testing.assert_array_equal(p2.tensor, p.tensor)
    # ab differs by at most one level (warpAffine vs resize rounding); near the gamut edge a level of
    # ab can move a channel close to 0 by ~20 (sRGB gamma is steep there), so compare ab itself
    full = pipeline._align(p, np.clip(ab + 128.5, 0, 255).astype(np.uint8))
    strips = [pipeline._resize_rows(full, 200, 300, y, min(300, y + 37)) for y in range(0, 300, 37)]
    assert np.abs(np.concatenate(strips).astype(int) - pipeline._resize_rows(full, 200, 300, 0, 300)).max() <= 1
    diff = np.abs(merge(p2, ab, guided=False).astype(int) - whole)
    assert np.percentile(diff, 99) <= 3 and diff.mean() < 0.3
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 1 << 19)
    guided = merge(p, ab)
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 200 * 37)
    diff = np.abs(merge(p2, ab).astype(int) - guided)
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
    if dtype == np.uint8:  # a grey 8-bit BGR frame keeps its first channel, as a grey input
        assert as_bgr.lut is not None and as_bgr.source.ndim == 2
    else:
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


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("guided", [True, False])
def test_non_finite_ab_is_refused_not_merged(bad, guided):
    """NaN or inf ab came out as garbage colour: refused (not repaired), whatever the merge path."""
    p = prepare(photo(), CONTRACT)
    ab = np.zeros((*p.ab_shape, 2), np.float32)
    ab[3, 5, 1] = bad
    with pytest.raises(UsageError, match="ab holds NaN or infinite values"):
        merge(p, ab, guided=guided)
    with pytest.raises(UsageError, match="ab holds NaN or infinite values"):
        merge(p, np.full((7, 9, 2), bad, np.float64))  # any size, any float type
    assert merge(p, np.nan_to_num(ab, posinf=0.0, neginf=0.0), guided=guided).shape == (*photo().shape[:2], 3)


def test_colour_detection():
    grey = photo()
    assert mean_chroma(grey) < 0.5 and not is_colour(grey) and not is_colour(grey[:, :, 0])
    colour = grey.copy()
    colour[:, :, 2] = 255
    assert is_colour(colour) and is_colour(colour.astype(np.uint16) * 257)
    assert prepare(colour, CONTRACT).chroma > pipeline.COLOUR_CHROMA
    assert prepare(grey, CONTRACT).chroma < 0.5


@pytest.mark.parametrize("scale", [1, 5])
def test_guided_upsampling_keeps_each_side_of_an_edge_its_own_colour(scale):
    """ab that changes across a vertical L edge at network resolution (warm left, blue right, the
    cell the edge crosses half and half): the guided merge keeps each side's colour up to the edge;
    bilinear smears it over several pixels. Small frames (joint bilateral step only) and photos
    over 4x the working size (plus the guided-filter step at full size)."""
    height, width, x_edge = 240 * scale, 320 * scale, 163 * scale
    img = np.full((height, width), 60, np.uint8)
    img[:, x_edge:] = 200  # not on the cell grid of the network output
    p = prepare(img, CONTRACT)
    h, w = p.ab_shape
    cell = int(x_edge * w / width)
    ab = np.zeros((h, w, 2), np.float32)
    ab[:, :cell] = (20.0, 25.0)
    ab[:, cell + 1:] = (0.0, -25.0)
    ab[:, cell] = (10.0, 0.0)
    bleed = {}
    for guided in (False, True):
        lab = cv2.cvtColor(merge(p, ab, guided=guided), cv2.COLOR_BGR2Lab).astype(np.float32) - 128
        b = lab[height // 2, :, 2]
        near = 3 * scale  # pixels on each side of the edge
        # one pixel each side may be mixed (bilinear from working size for small frames); frames over
        # GRID_PIXELS get their colour on a grid (pipeline.grid_size): one grid cell each side
        mixed = max(1, -(-height // pipeline.grid_size(height, width)[0]))
        left, right = b[x_edge - near:x_edge - mixed], b[x_edge + mixed:x_edge + near]
        bleed[guided] = max(np.abs(left - 25).max(), np.abs(right + 25).max())
        assert b[: x_edge // 2].mean() > 20 and b[x_edge + width // 4:].mean() < -20
    assert bleed[True] < 6 < bleed[False]


def test_guided_off_switch_gives_plain_bilinear_merge():
    img = photo(150, 200)
    p = prepare(img, CONTRACT)
    ab = ab_for(p, 30, -25)
    plain = merge(p, ab, guided=False)
    full = cv2.resize(np.clip(ab + 128.5, 0, 255).astype(np.uint8), (200, 150), interpolation=cv2.INTER_LINEAR)
    expected = cv2.cvtColor(cv2.merge([lab_l8(img), full]), cv2.COLOR_Lab2BGR)
    np.testing.assert_array_equal(plain, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_guided_merge_keeps_l(dtype):
    bgr = photo(150, 200)
    img = {np.uint8: bgr, np.uint16: bgr.astype(np.uint16) * 257, np.float32: bgr.astype(np.float32) / 255}[dtype]
    p = prepare(img, CONTRACT)
    out = merge(p, ab_for(p))
    assert out.dtype == img.dtype and out.shape == img.shape
    back = (out.astype(np.float32) / {np.uint8: 255, np.uint16: 65535, np.float32: 1}[dtype])
    # at most 2 levels of 8-bit L: where the fitted A * L + B overshoots out of the sRGB gamut at a
    # strong edge, the conversion back to BGR clips and L moves a little
    back8 = (back * 255 + 0.5).astype(np.uint8)
    assert np.abs(lab_l8(back8).astype(int) - lab_l8(bgr)).max() <= 2
    assert chroma(back8).mean() > 3


# -- the 8-bit fast merge against a float reference (known answers) -------------------------------


def float_reference(grey: np.ndarray, ab_full: np.ndarray, top: float) -> np.ndarray:
    """Float CIELAB -> BGR of the grey's own L with a full-size ab, rounded once: what the merge
    should give where ab is known at every pixel."""
    g = grey.astype(np.float32) / np.float32(255.0)  # the 8-bit grey the input was made of
    L = cv2.cvtColor(cv2.merge([g, g, g]), cv2.COLOR_BGR2Lab)[..., 0]
    bgr = cv2.cvtColor(cv2.merge([L, ab_full[..., 0], ab_full[..., 1]]), cv2.COLOR_Lab2BGR)
    return np.clip(bgr * np.float32(top) + np.float32(0.5), 0, top).astype(np.int64)


def known_input(kind: str, grey: np.ndarray, dtype) -> np.ndarray:
    img = grey.astype(np.uint16) * 257 if dtype == np.uint16 else grey
    if kind == "bgra":
        return np.dstack([img] * 3 + [np.full_like(img, 77)])
    return np.dstack([img] * 3) if kind == "bgr" else img


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("kind", ["grey", "bgr", "bgra"])
@pytest.mark.parametrize("size", [(240, 320), (1080, 1920)])
def test_flat_colour_is_the_exact_colour(dtype, kind, size):
    """A flat grey with a flat ab: every pixel is the float reference's colour within a level."""
    grey = np.full(size, 119, np.uint8)
    img = known_input(kind, grey, dtype)
    p = prepare(img, CONTRACT)
    ab = np.empty((*p.ab_shape, 2), np.float32)
    ab[...] = (18.0, -22.0)
    out = merge(p, ab)
    top = 255 if dtype == np.uint8 else 65535
    expected = float_reference(grey, np.broadcast_to(np.float32([18.0, -22.0]), (*size, 2)), top)
    assert out.dtype == dtype and out.shape == (*size, 4 if kind == "bgra" else 3)
    assert np.abs(out[..., :3].astype(np.int64) - expected).max() <= (1 if dtype == np.uint8 else 257)
    if kind == "bgra":
        assert (out[..., 3] == img[..., 3]).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("size", [(240, 320), (720, 1280), (1080, 1920)])
def test_step_edge_keeps_each_side_its_exact_colour(dtype, size):
    """Dark left, light right, each with its own ab, the edge on a cell border of the network output:
    each side is the float reference's colour for its own L and ab, within a level from 4 working
    pixels off the edge and within a few levels up to it (16-bit: the float path, the same bounds)."""
    height, width = size
    h, w = prepare(np.zeros(size, np.uint8), CONTRACT).ab_shape
    cell = w // 2 + 1
    x_edge = cell * width // w
    grey = np.full(size, 60, np.uint8)
    grey[:, x_edge:] = 200
    p = prepare(known_input("grey", grey, dtype), CONTRACT)
    ab = np.zeros((h, w, 2), np.float32)
    ab[:, :cell] = (20.0, 25.0)
    ab[:, cell:] = (-15.0, -25.0)
    level = 1 if dtype == np.uint8 else 257
    out = merge(p, ab).astype(np.int64)
    ab_full = np.zeros((*size, 2), np.float32)
    ab_full[:, :x_edge] = (20.0, 25.0)
    ab_full[:, x_edge:] = (-15.0, -25.0)
    err = np.abs(out - float_reference(grey, ab_full, 255 * level)).max(axis=(0, 2)) / level
    off = np.abs(np.arange(width) + 0.5 - x_edge) / (width / CONTRACT.working_size)  # in working pixels
    assert err[off >= 4].max() <= 1
    assert err[off >= 0.5].max() <= 10


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("size", [(240, 320), (1080, 1920)])
def test_gradient_follows_its_own_l(dtype, size):
    """A horizontal grey ramp under one ab: each column is the float reference's colour for its
    own L (the colour's brightness follows the ramp, not the working size's steps)."""
    height, width = size
    grey = np.tile(np.linspace(20, 235, width).astype(np.uint8), (height, 1))
    p = prepare(known_input("bgr", grey, dtype), CONTRACT)
    ab = np.empty((*p.ab_shape, 2), np.float32)
    ab[...] = (-12.0, 30.0)
    out = merge(p, ab).astype(np.int64)
    top = 255 if dtype == np.uint8 else 65535
    expected = float_reference(grey, np.broadcast_to(np.float32([-12.0, 30.0]), (*size, 2)), top)
    assert np.abs(out - expected).max() <= (2 if dtype == np.uint8 else 2 * 257)
    assert np.abs(out - expected).mean() <= (0.5 if dtype == np.uint8 else 0.5 * 257)


@pytest.mark.parametrize("kind", ["grey", "bgr", "bgra"])
def test_fast_merge_strips_equal_one_shot(monkeypatch, kind):
    """A frame above ONE_SHOT_PIXELS goes by strips with the colour offset at full size; the same
    frame in one piece (offset on the quarter-size grid) gives the same picture within a level or two
    away from edges, and exactly the same alpha."""
    img = known_input(kind, cv2.resize(photo(90, 160)[..., 0], (1280, 720), interpolation=cv2.INTER_CUBIC),
                      np.uint8)
    p = prepare(img, CONTRACT)
    ab = ab_for(p, 25, -20)
    whole = merge(p, ab).astype(np.int64)
    monkeypatch.setattr(pipeline, "ONE_SHOT_PIXELS", 1000)
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 1280 * 37)  # 20 strips
    strips = merge(p, ab).astype(np.int64)
    diff = np.abs(strips - whole)
    assert diff.max() <= 2 and diff.mean() < 0.2
    if kind == "bgra":
        np.testing.assert_array_equal(strips[..., 3], img[..., 3])


@pytest.mark.parametrize("kind", ["grey", "bgr", "bgra"])
@pytest.mark.parametrize("colour", [(12.0, -9.0), (25.0, -20.0)])
def test_fast_merge_keeps_l_on_texture(kind, colour):
    """720p grey texture with grain under a varying colour: the fast merge keeps L as well as the exact
    conversion it replaces (which moves L where a saturated colour leaves the sRGB gamut), within a
    level or two, and gives nearly the same picture."""
    grey = cv2.resize(photo(90, 160, seed=3)[..., 0], (1280, 720), interpolation=cv2.INTER_CUBIC)
    grain = np.random.default_rng(0).integers(-12, 13, grey.shape)
    grey = np.clip(grey.astype(int) + grain, 0, 255).astype(np.uint8)
    img = known_input(kind, grey, np.uint8)
    p = prepare(img, CONTRACT)
    assert pipeline._full_scale(p) > pipeline.FULL_GUIDE_SCALE  # the fast path
    ab = ab_for(p, *colour)
    out, exact = merge(p, ab)[..., :3], pipeline._merge_guided(p, ab)[..., :3]
    ref = lab_l8(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)).astype(int)
    dl, dl_exact = np.abs(lab_l8(out).astype(int) - ref), np.abs(lab_l8(exact).astype(int) - ref)
    assert dl.max() <= dl_exact.max() + 2
    assert (dl <= 1).mean() >= (dl_exact <= 1).mean() - 0.01
    assert cv2.PSNR(np.ascontiguousarray(out), np.ascontiguousarray(exact)) > 44


def grid_grey(grey: np.ndarray) -> np.ndarray:
    gh, gw = pipeline.grid_size(*grey.shape)
    return cv2.resize(grey, (gw, gh), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("kind", ["grey", "bgr", "bgra"])
def test_fast_merge_uint8_offset_equals_int16_path(monkeypatch, kind):
    """1080p texture under a varying colour: the colour offset resized and added as uint8 (+128) gives
    the int16 path's picture within a level (where the two resizes round apart), alpha exactly."""
    grey = cv2.resize(photo(90, 160, seed=5)[..., 0], (1920, 1080), interpolation=cv2.INTER_CUBIC)
    img = known_input(kind, grey, np.uint8)
    p = prepare(img, CONTRACT)
    ab = ab_for(p, 25, -20)
    slope, offset = pipeline.output_coefficients(p, ab)
    assert pipeline._biased_offset(slope, offset, grid_grey(grey)) is not None  # the uint8 path runs
    fast = merge(p, ab).astype(np.int64)
    monkeypatch.setattr(pipeline, "_biased_offset", lambda *args: None)
    wide = merge(p, ab).astype(np.int64)
    assert np.abs(fast - wide).max() <= 1 and (fast != wide).mean() < 0.05
    if kind == "bgra":
        np.testing.assert_array_equal(fast[..., 3], img[..., 3])


@pytest.mark.parametrize(("level", "colour"), [(119, (80.0, -100.0)), (200, (-70.0, 70.0))])
def test_fast_merge_saturated_colour_takes_the_int16_path(level, colour):
    """A colour more than 127 levels from the grey does not fit the uint8 offset: the int16 path
    runs and the flat 1080p frame is the float reference's colour within a level."""
    grey = np.full((1080, 1920), level, np.uint8)
    p = prepare(known_input("bgr", grey, np.uint8), CONTRACT)
    ab = np.empty((*p.ab_shape, 2), np.float32)
    ab[...] = colour
    slope, offset = pipeline.output_coefficients(p, ab)
    assert pipeline._biased_offset(slope, offset, grid_grey(grey)) is None
    out = merge(p, ab).astype(np.int64)
    expected = float_reference(grey, np.broadcast_to(np.float32(colour), (1080, 1920, 2)), 255)
    assert np.abs(out - expected).max() <= 1


@pytest.mark.parametrize("size", [(720, 1280), (1080, 1920), (721, 1283), (480, 640), (9, 7000), (2160, 3840)])
def test_grid_is_the_frame_halved_until_it_fits(size):
    """The fast merge's grid: the frame halved (rounding up) the fewest times that bring it within
    GRID_PIXELS, so each grid cell covers a power-of-two block of the frame."""
    height, width = size
    gh, gw = pipeline.grid_size(height, width)
    assert gh * gw <= pipeline.GRID_PIXELS
    s = -(-height // gh)
    assert s & (s - 1) == 0 and (gh, gw) == (-(-height // s), -(-width // s))
    if s > 1:  # one halving fewer would not fit
        assert -(-height // (s // 2)) * -(-width // (s // 2)) > pipeline.GRID_PIXELS


@pytest.mark.parametrize("size", [(720, 1280), (1080, 1920), (721, 1283)])
def test_grid_grey_is_the_box_filtered_grey(size):
    """The grid's grey by halvings: a flat grey stays exact, a photo is its box-filtered (INTER_AREA)
    self within a level (each halving rounds once)."""
    gh, gw = pipeline.grid_size(*size)
    flat = np.full(size, 173, np.uint8)
    np.testing.assert_array_equal(pipeline.grid_grey(flat, gh, gw), np.full((gh, gw), 173, np.uint8))
    grey = cv2.resize(photo(90, 160, seed=7)[..., 0], size[::-1], interpolation=cv2.INTER_CUBIC)
    grid = pipeline.grid_grey(grey, gh, gw).astype(int)
    area = cv2.resize(grey, (gw, gh), interpolation=cv2.INTER_AREA).astype(int)
    assert grid.shape == (gh, gw)
    if size[0] % gh == 0 and size[1] % gw == 0:  # exact halvings: the same box as one resize
        assert np.abs(grid - area).max() <= 1 and np.abs(grid - area).mean() < 0.5


def test_grey_of_l_is_opencvs_conversion():
    """The tabulated grey level of L equals OpenCV's float Lab -> BGR of (L, 0, 0) within 1e-3 levels,
    end points included."""
    L = np.linspace(0.0, 100.0, 20001, dtype=np.float32).reshape(1, -1)
    zero = np.zeros_like(L)
    exact = cv2.cvtColor(cv2.merge([L, zero, zero]), cv2.COLOR_Lab2BGR)[..., 0] * np.float32(255.0)
    got = pipeline._grey_of_l(L)
    assert got.shape == L.shape and got.dtype == np.float32
    assert np.abs(got - exact).max() < 1e-3
    assert got[0, 0] == pytest.approx(0.0, abs=1e-3) and got[0, -1] == pytest.approx(255.0, abs=1e-3)


def test_decoded_grey_takes_coding_noise_as_grey_and_colour_as_colour():
    """A black-and-white frame decoded from YUV carries a few levels of chroma noise: it is grey (its luma);
    a frame with real colour, 16-bit or BGRA frames are not; an exactly grey frame gives its own channel."""
    from edgecolor.pipeline import DECODED_GREY_TOLERANCE, decoded_grey

    rng = np.random.default_rng(3)
    grey = rng.integers(10, 245, (48, 64), dtype=np.uint8)
    exact = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    assert np.array_equal(decoded_grey(exact), grey)
    noise = rng.integers(-2, 3, exact.shape)
    noisy = np.clip(exact.astype(int) + noise, 0, 255).astype(np.uint8)
    got = decoded_grey(noisy)
    assert got is not None and np.abs(got.astype(int) - grey).max() <= 2
    coloured = exact.copy()
    coloured[10:20, 10:20] = (40, 60, 200)  # a red patch
    assert decoded_grey(coloured) is None
    tinted = np.clip(exact.astype(int) + (0, 0, DECODED_GREY_TOLERANCE + 4), 0, 255).astype(np.uint8)
    assert decoded_grey(tinted) is None
    assert decoded_grey(exact.astype(np.uint16) * 257) is None
    assert decoded_grey(cv2.cvtColor(exact, cv2.COLOR_BGR2BGRA)) is None


def test_a_stream_colorizes_a_decoded_grey_frame_as_its_grey(model_files):
    """StreamColorizer (video, live) hands a noisy grey frame on as grey: the same output as the grey frame."""
    from edgecolor.stream import StreamColorizer

    rng = np.random.default_rng(4)
    grey = cv2.resize(rng.integers(0, 255, (12, 16), dtype=np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
    noisy = np.clip(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR).astype(int) + rng.integers(-1, 2, (120, 160, 3)), 0,
                    255).astype(np.uint8)
    from edgecolor.colorizer import Colorizer
    from edgecolor.pipeline import decoded_grey

    c = Colorizer(model_files["onnx"])
    out = StreamColorizer(c, stabilize=False).process(noisy)
    assert np.array_equal(out, c.colorize(decoded_grey(noisy)))
    assert out.shape == noisy.shape and out.dtype == np.uint8
