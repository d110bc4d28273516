"""The Python API end to end, on real tiny models through both backends (and the bundled model)."""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import assert_l_kept, bundled_model, chroma, needs_bundled_model, photo, tiny_ab

from edgecolor import Colorizer, EdgecolorError
from edgecolor.colorizer import ColourInputWarning
from edgecolor.models import DEFAULT_MODEL

OUTPUT_AGREE_LEVELS = 2  # 8-bit levels between the cv2.dnn and OpenVINO results (ab rounding, gamut edge)
BUNDLED_AB_AGREE = 0.5  # CIELAB units: bundled model, cv2.dnn vs OpenVINO fp32, max |delta ab|


def test_default_colorizer(models_dir):
    c = Colorizer()
    assert c.backend_name == "openvino" and c.precision == "fp32"
    assert c.model_path.parent.name == DEFAULT_MODEL and c.model_path.suffix == ".onnx"
    assert c.contract.name == DEFAULT_MODEL
    assert "openvino" in repr(c)


@pytest.mark.parametrize("backend", ["opencv", "openvino"])
def test_colorize_grey_photo(models_dir, backend):
    c = Colorizer(backend=backend)
    img = photo(120, 160)
    out = c.colorize(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert_l_kept(out, img)
    assert chroma(out).mean() > 5


@pytest.mark.parametrize("backend", ["opencv", "openvino"])
def test_colorize_file_matches_colorize(models_dir, tmp_path, backend):
    """The file path drops planes early for memory; the pixels must be what colorize() gives."""
    c = Colorizer(backend=backend)
    grey = photo(120, 160)[:, :, 0]
    src = tmp_path / "old.png"
    cv2.imwrite(str(src), grey)
    dst = tmp_path / "new" / "deeper" / "old.png"
    assert c.colorize_file(src, dst, make_folder=True) is False
    np.testing.assert_array_equal(cv2.imread(str(dst)), c.colorize(grey))
    assert sorted(p.name for p in dst.parent.iterdir()) == ["old.png"]  # no temporary left behind
    colour = photo(120, 160).copy()
    colour[..., 2] = 250
    cv2.imwrite(str(src), colour)
    assert c.colorize_file(src, tmp_path / "colour.png") is True


def test_colorize_file_failures_leave_nothing(models_dir, tmp_path):
    c = Colorizer()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(EdgecolorError, match="bad.jpg"):
        c.colorize_file(bad, tmp_path / "out" / "bad.jpg", make_folder=True)
    assert not (tmp_path / "out").exists()
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), photo(60, 80))
    with pytest.raises(EdgecolorError, match="does not exist"):  # without make_folder the folder must exist
        c.colorize_file(good, tmp_path / "missing" / "good.png")


def test_predicted_colour_is_the_models(models_dir):
    """A flat grey of L = 50 gets exactly the tiny model's ab for L = 50."""
    c = Colorizer()
    img = np.full((50, 70), 119, np.uint8)  # L = 50.0
    p = c.prepare(img)
    ab = c.predict_ab(p)
    assert ab.shape == (*p.ab_shape, 2) and ab.dtype == np.float32
    np.testing.assert_allclose(ab, np.broadcast_to(tiny_ab(np.float32(49.8)), ab.shape), atol=0.3)
    out = c.merge(p, ab)
    lab = cv2.cvtColor(out.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    np.testing.assert_allclose(lab[..., 1:].mean((0, 1)), tiny_ab(np.float32(50)), atol=1.0)


@pytest.mark.parametrize("kind", ["grey", "bgra", "grey16", "bgr16", "bgra16", "one_pixel"])
def test_colorize_kinds(models_dir, kind):
    bgr = photo(90, 120)
    img = {
        "grey": bgr[:, :, 0],
        "bgra": np.dstack([bgr, np.full((90, 120), 7, np.uint8)]),
        "grey16": bgr[:, :, 0].astype(np.uint16) * 257,
        "bgr16": bgr.astype(np.uint16) * 257,
        "bgra16": np.dstack([bgr.astype(np.uint16) * 257, np.full((90, 120), 999, np.uint16)]),
        "one_pixel": bgr[:1, :1],
    }[kind]
    out = Colorizer().colorize(img)
    assert out.dtype == img.dtype and out.shape[:2] == img.shape[:2]
    assert out.shape[2] == (4 if "bgra" in kind else 3)
    if "bgra" in kind:
        np.testing.assert_array_equal(out[:, :, 3], img[:, :, 3])


def test_size_and_saturation(models_dir):
    c = Colorizer(size=96)
    p = c.prepare(photo(480, 640))
    assert p.valid == (64, 96) and p.tensor.shape == (1, 1, 64, 96)  # 72 rounds to 64: no padding
    grey = Colorizer(saturation=0).colorize(photo())
    assert np.abs(grey.astype(int) - grey[:, :, :1]).max() <= 1
    for bad in ({"size": 0}, {"size": 2.5}, {"saturation": -0.5}, {"saturation": float("nan")}):
        with pytest.raises(EdgecolorError, match="size|saturation"):
            Colorizer(**bad)


def test_precision_variant_and_model_file(models_dir, model_files):
    c = Colorizer(precision="fp16")
    assert c.model_path.suffix == ".xml" and c.precision == "fp16"
    assert c.colorize(photo()).shape == (120, 160, 3)
    c = Colorizer(model=str(model_files["ir16"]))
    assert c.precision == "fp16" and c.model_path == model_files["ir16"]
    with pytest.raises(EdgecolorError, match="no fp16 variant the opencv backend can run"):
        Colorizer(backend="opencv", precision="fp16")


def test_backends_agree_on_colorize(models_dir):
    img = photo(150, 200, seed=3)
    a = Colorizer(backend="opencv").colorize(img)
    b = Colorizer(backend="openvino").colorize(img)
    assert np.abs(a.astype(int) - b).max() <= OUTPUT_AGREE_LEVELS


def test_colour_input_warns_once(models_dir):
    c = Colorizer()
    colour = photo()
    colour[:, :, 2] = 250
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c.colorize(photo())
        assert not caught
        out = c.colorize(colour)
        c.colorize(colour)
    assert [w.category for w in caught] == [ColourInputWarning]
    assert "colorized from its lightness" in str(caught[0].message)
    assert_l_kept(out, colour, 0.5)  # its L is kept


@pytest.mark.parametrize(
    ("image", "message"),
    [(np.zeros((8, 8), np.float64), "float64"), (np.zeros((8, 8, 2), np.uint8), "unsupported shape"),
     ("photo.jpg", "numpy array")],
)
def test_bad_input(models_dir, image, message):
    with pytest.raises(EdgecolorError, match=message):
        Colorizer().colorize(image)


@pytest.mark.parametrize(
    ("kind", "backend", "message"),
    [
        ("no_metadata", "auto", r"plain\.onnx: not an edgecolor model \(no 'edgecolor\.contract' metadata\)"),
        ("corrupt", "auto", r"corrupt\.onnx: corrupt or not a model file"),
        ("wrong_out", "opencv", r"wrong-out\.onnx: model input/output shape is 1x3x\?x\? for 'ab'"),
        ("wrong_in", "openvino", r"wrong-in\.onnx: model input/output shape is 1x3x\?x\? for 'L'"),
    ],
)
def test_bad_models_are_refused(model_files, kind, backend, message):
    with pytest.raises(EdgecolorError, match=message):
        Colorizer(model=str(model_files[kind]), backend=backend)


def test_wrong_output_stride_is_caught(model_files):
    c = Colorizer(model=str(model_files["wrong_stride"]), backend="openvino")
    with pytest.raises(EdgecolorError, match=r"model input/output shape gives 1x2x8x8 for a 1x1x64x64 input"):
        c.colorize(photo(64, 64))


def test_shared_between_threads(models_dir):
    c = Colorizer()
    images = [photo(60 + 10 * i, 80, seed=i) for i in range(6)]
    expected = [c.colorize(img) for img in images]
    results = [None] * len(images)

    def work(i):
        results[i] = c.colorize(images[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def _sample_photos() -> list[np.ndarray]:
    samples = sorted((Path(__file__).parents[1] / "samples").glob("*.jp*g"))
    images = [cv2.imread(str(p)) for p in samples[:2]]
    images = [cv2.resize(i, (640, 480 * i.shape[0] // max(i.shape[1], 1) or 1)) for i in images if i is not None]
    return images or [photo(480, 640)]


@needs_bundled_model
def test_bundled_model_colorizes():
    c = Colorizer(model=str(bundled_model()))
    for img in _sample_photos():
        grey = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        out = c.colorize(grey)
        assert out.shape == grey.shape and out.dtype == np.uint8
        assert chroma(out).mean() > 2.0, "the bundled model's output is grey"
        assert_l_kept(out, grey, 0.5)  # deep shadows clip even modest chroma


@needs_bundled_model
def test_bundled_model_backends_agree():
    path = str(bundled_model())
    ocv, ov = Colorizer(model=path, backend="opencv"), Colorizer(model=path, backend="openvino")
    for img in _sample_photos():
        p = ocv.prepare(img)
        a, b = ocv.predict_ab(p), ov.predict_ab(p)
        assert np.abs(a - b).max() < BUNDLED_AB_AGREE
        diff = np.abs(ocv.merge(p, a).astype(int) - ov.merge(p, b))
        assert np.percentile(diff, 99.9) <= OUTPUT_AGREE_LEVELS


def test_colorize_file_never_replaces_its_source(models_dir, tmp_path):
    """The same file as destination (same path, another spelling, a hard link) is refused; the photo stays."""
    c = Colorizer()
    src = tmp_path / "a.jpg"
    cv2.imwrite(str(src), photo(60, 80))
    before = src.read_bytes()
    link = tmp_path / "link.jpg"
    os.link(src, link)
    for dst in (src, str(src), tmp_path / "." / "a.jpg", link):
        with pytest.raises(EdgecolorError, match="is the input itself"):
            c.colorize_file(src, dst)
        assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "link.jpg"]


def test_bad_api_arguments_are_edgecolor_errors_of_the_right_kind(models_dir, tmp_path):
    """Issue 10 item 16: no cv2.error, ValueError, TypeError or AttributeError reaches the caller."""
    from edgecolor.errors import InputError, UsageError

    for kwargs in ({"size": 2**31}, {"size": 0}, {"size": "big"}, {"saturation": float("nan")}, {"max_pixels": 0}):
        with pytest.raises(UsageError):
            Colorizer(**kwargs)
    c = Colorizer()
    p = c.prepare(photo(40, 60))
    with pytest.raises(UsageError, match="predict_ab needs what prepare"):
        c.predict_ab(None)
    with pytest.raises(UsageError, match="ab must be"):
        c.merge(p, "x")
    with pytest.raises(UsageError, match="merge needs what prepare"):
        c.merge(None, np.zeros((4, 4, 2), np.float32))
    bgra = np.dstack([photo(40, 60).astype(np.float32) / 255, np.ones((40, 60), np.float32)])
    for bad in (np.nan, 1.5, -0.1):
        img = bgra.copy()
        img[3, 4, 3] = bad
        with pytest.raises(InputError, match="float32 values must be finite and within 0..1"):
            c.colorize(img)
    out = c.colorize(bgra)
    assert out.shape == (40, 60, 4) and np.isfinite(out).all()


@pytest.mark.parametrize("backend", ["opencv", "openvino"])
def test_a_model_giving_nan_is_a_model_error(model_files, tmp_path, backend):
    """A network whose weights are NaN (a broken conversion) must not turn into garbage photos with exit 0."""
    import onnx
    from onnx import numpy_helper

    from edgecolor.errors import ModelError

    model = onnx.load(str(model_files["onnx"]))
    for i, init in enumerate(model.graph.initializer):
        if init.name == "w":
            model.graph.initializer[i].CopyFrom(
                numpy_helper.from_array(np.full(numpy_helper.to_array(init).shape, np.nan, np.float32), "w"))
    onnx.save(model, str(tmp_path / "nan.onnx"))
    c = Colorizer(model=tmp_path / "nan.onnx", backend=backend)
    with pytest.raises(ModelError, match=r"nan\.onnx: the model gave NaN, infinite or out-of-range colour values"):
        c.colorize(photo())


def test_photo_quality_changes_nothing_for_a_mirror_symmetric_model(models_dir):
    """The tiny model is per-pixel (pool + 1x1 conv), so its mirrored pass is its own mirror: same output."""
    img = photo(96, 128)
    np.testing.assert_array_equal(Colorizer(quality="photo").colorize(img), Colorizer().colorize(img))


@needs_bundled_model
def test_photo_quality_averages_over_a_mirror(bundled):
    """With the preset, a mirror-symmetric input gives a mirror-symmetric output (one pass does not: the
    network's kernels are not symmetric), and mirroring a photo mirrors its colours."""
    half = photo(120, 80, seed=3)
    sym = np.ascontiguousarray(np.concatenate([half, half[:, ::-1]], axis=1))
    fast = Colorizer(model=bundled, backend="openvino")
    two = Colorizer(model=bundled, backend="openvino", quality="photo")
    assert np.abs(chroma(fast.colorize(sym)) - chroma(fast.colorize(sym))[:, ::-1]).max() > 3
    out = two.colorize(sym)
    assert np.abs(out.astype(int) - out[:, ::-1]).max() <= 1
    img = photo(120, 160, seed=4)
    mirrored = two.colorize(np.ascontiguousarray(img[:, ::-1]))
    assert np.abs(mirrored.astype(int) - two.colorize(img)[:, ::-1]).max() <= 1
    assert "quality='photo'" in repr(two)


def test_every_keyword_reaches_its_own_option(model_files):
    """Issue 24: Colorizer.__init__ hands its keywords to ColorizerOptions by name, not by position."""
    from edgecolor.options import ColorizerOptions

    kwargs = dict(model=model_files["onnx"], backend="openvino", precision="fp32", device="CPU", threads=1, size=64,
                  saturation=0.5, hint="THROUGHPUT", guided=False, max_pixels=1000, quality="photo")
    assert Colorizer(**kwargs).options == ColorizerOptions(**kwargs)
