"""Property-based tests (hypothesis): over shapes, dtypes, channels, strides and option values, every
call of the public API returns its documented result or raises EdgecolorError, never anything else.

Example counts are kept small so CI stays fast; the tiny real model runs in real OpenVINO/cv2.dnn.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_contract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgecolor import Colorizer, EdgecolorError
from edgecolor.files import read_image, write_image_atomic
from edgecolor.pipeline import merge, prepare

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
CONTRACT = tiny_contract()


@st.composite
def images(draw, valid: bool = True):
    """An image array as callers hand them over: grey, HxWx1, BGR, BGRA; uint8/uint16/float32; any strides.
    With ``valid=False`` also wrong dtypes, channel counts, ranks and float values outside 0..1 (or NaN)."""
    h, w = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    channels = draw(st.sampled_from([None, 1, 3, 4] + ([2, 5] if not valid else [])))
    dtypes = [np.uint8, np.uint16, np.float32] + ([np.float64, np.int32, np.bool_, np.int8] if not valid else [])
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    step = draw(st.sampled_from([1, 2]))  # non-contiguous views: every other row/column of a larger array
    shape = (h * step, w * step) + (() if channels is None else (channels,))
    if dtype.kind == "f":
        base = rng.random(shape).astype(dtype)
        if not valid and draw(st.booleans()):
            base.flat[rng.integers(0, base.size)] = draw(st.sampled_from([np.nan, -0.5, 2.0, np.inf]))
    elif dtype == np.bool_:
        base = rng.random(shape) > 0.5
    else:
        info = np.iinfo(dtype)
        base = rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)
    image = base[::step, ::step]
    if draw(st.booleans()) and image.ndim == 3:
        image = np.ascontiguousarray(image.transpose(1, 0, 2)).transpose(1, 0, 2)  # F-ordered
    if not valid and draw(st.integers(0, 5)) == 0:
        image = image[..., None, None] if draw(st.booleans()) else image.reshape(-1)
    return image


def expected_shape(image: np.ndarray) -> tuple[int, int, int]:
    alpha = image.ndim == 3 and image.shape[2] == 4
    return image.shape[0], image.shape[1], 4 if alpha else 3


@pytest.fixture(scope="module")
def colorizers(model_files):
    return {name: Colorizer(model=model_files["onnx"], backend=name) for name in ("openvino", "opencv")}


@FAST
@given(image=images(), backend=st.sampled_from(["openvino", "opencv"]))
def test_colorize_valid_images_keep_size_dtype_and_alpha(colorizers, image, backend):
    out = colorizers[backend].colorize(image)
    assert out.shape == expected_shape(image) and out.dtype == image.dtype
    if image.ndim == 3 and image.shape[2] == 4:
        np.testing.assert_array_equal(out[..., 3], image[..., 3])
    if out.dtype == np.float32:
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@FAST
@given(image=images(valid=False))
def test_colorize_any_array_is_a_result_or_an_edgecolor_error(colorizers, image):
    try:
        out = colorizers["openvino"].colorize(image)
    except EdgecolorError as e:
        assert "\n" not in str(e)
        return
    assert out.shape == expected_shape(image) and out.dtype == image.dtype
    if out.dtype == np.float32:
        assert np.isfinite(out).all()


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    size=st.one_of(st.none(), st.integers(-5, 5000), st.floats(allow_nan=True), st.text(max_size=3), st.booleans()),
    saturation=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 10), st.text(max_size=2)),
    max_pixels=st.one_of(st.none(), st.integers(-3, 10**9), st.floats(allow_nan=True)),
)
def test_colorizer_options_are_checked_when_made(model_files, size, saturation, max_pixels):
    try:
        c = Colorizer(model=model_files["onnx"], size=size, saturation=saturation, max_pixels=max_pixels)
    except EdgecolorError as e:
        assert "\n" not in str(e)
        return
    out = c.colorize(np.full((20, 30), 100, np.uint8))
    assert out.shape == (20, 30, 3)


@FAST
@given(image=images(), size=st.one_of(st.none(), st.integers(1, 160)),
       ab_shape=st.one_of(st.none(), st.tuples(st.integers(1, 20), st.integers(1, 20))),
       saturation=st.floats(0, 4))
def test_prepare_then_merge_gives_the_input_size(image, size, ab_shape, saturation):
    p = prepare(image, CONTRACT, size)
    assert p.tensor.shape[:2] == (1, 1) and p.tensor.dtype == np.float32
    assert p.tensor.shape[2] % CONTRACT.size_multiple == 0 and p.tensor.shape[3] % CONTRACT.size_multiple == 0
    ab = np.random.default_rng(0).uniform(-80, 80, (*(ab_shape or p.ab_shape), 2)).astype(np.float32)
    out = merge(p, ab, saturation)
    assert out.shape == expected_shape(image) and out.dtype == image.dtype


@FAST
@given(image=images(), ab=st.one_of(st.none(), st.text(max_size=2), st.integers(), st.lists(st.floats(), max_size=4),
                                    st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4))),
       saturation=st.one_of(st.floats(allow_nan=True), st.text(max_size=1), st.none()))
def test_merge_with_bad_arguments_is_an_edgecolor_error(image, ab, saturation):
    p = prepare(image, CONTRACT)
    if isinstance(ab, tuple):
        ab = np.zeros(ab, np.float32)
    try:
        out = merge(p, ab, saturation)
    except EdgecolorError:
        return
    assert out.shape == expected_shape(image)


SUFFIXES = [".png", ".jpg", ".tif", ".bmp", ".webp"]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(image=images(), suffix=st.sampled_from(SUFFIXES), cut=st.floats(0, 1), flips=st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4))
def test_read_image_of_any_file_is_an_image_or_an_edgecolor_error(tmp_path_factory, image, suffix, cut, flips):
    """Real files of every format, then damaged: cut short or with bytes changed (headers included)."""
    folder = tmp_path_factory.mktemp("read")
    path = write_image_atomic(folder / f"x{suffix}", image)
    data = bytearray(path.read_bytes())
    if cut < 0.3:
        data = data[: int(len(data) * cut / 0.3)]
    for where, value in flips:
        if data:
            data[int(where * (len(data) - 1))] = value
    path.write_bytes(bytes(data))
    try:
        got = read_image(path, max_pixels=4_000_000)
    except EdgecolorError as e:
        assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
        return
    assert got.ndim == 2 or (got.ndim == 3 and got.shape[2] in (3, 4))
    assert got.dtype in (np.uint8, np.uint16, np.float32) and got.size > 0
    assert got.shape[0] * got.shape[1] <= 4_000_000

