"""Both backends on real model files: outputs, agreement, settings and every load error."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
from conftest import tiny_ab, tiny_contract

from edgecolor.backends import BACKENDS, Backend, available_backends, get_backend
from edgecolor.backends.base import register
from edgecolor.backends.openvino import cache_dir
from edgecolor.errors import EdgecolorError

CONTRACT = tiny_contract()
BOTH = ["opencv", "openvino"]
AGREE_ABS = 1e-4  # ab units: cv2.dnn vs OpenVINO f32 on the same ONNX file (float32 rounding only)


def load(name, path, **kw) -> Backend:
    return get_backend(name)(path, CONTRACT, **kw)


def tensor(h=64, w=96, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (1, 1, h, w)).astype(np.float32)


@pytest.mark.parametrize("name", BOTH)
def test_output_shape_and_values(model_files, name):
    b = load(name, model_files["onnx"])
    L = 62.5
    out = b.infer(np.full((1, 1, 64, 96), L * 0.02 - 1, np.float32))
    assert out.shape == (1, 2, 16, 24) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, 3, 5], tiny_ab(np.float32(L)), atol=1e-4)


def test_backends_agree(model_files):
    x = tensor(96, 128)
    a = load("opencv", model_files["onnx"]).infer(x)
    b = load("openvino", model_files["onnx"]).infer(x)
    assert np.abs(a - b).max() < AGREE_ABS


# Max |delta| to the f32 reference, by the type the runtime really computes in: f16 keeps 11 bits of
# mantissa, bf16 only 8 (about 8x coarser); the tiny model's outputs reach about 35.
RUNTIME_TOL = {"f32": 0.05, "f16": 0.1, "bf16": 0.5}


@pytest.mark.parametrize(("kind", "precision"), [("ir32", "fp32"), ("ir16", "fp32"), ("ir16", "fp16")])
def test_openvino_ir_and_precision(model_files, kind, precision):
    """fp32 runs in f32 everywhere (asked for explicitly); fp16 runs in the 16-bit float type the device
    offers: f16 where it has FP16 arithmetic, else bf16 (AVX-512 BF16, AMX) or f32. The backend reports
    the real one, as OpenVINO's own probe says, and the result is as close as that type allows."""
    from edgecolor.backends.openvino import precisions_that_run

    x = tensor()
    ref = load("opencv", model_files["onnx"]).infer(x)
    b = load("openvino", model_files[kind], precision=precision)
    runs = b.runtime_info()["inference_precision"]
    assert runs == precisions_that_run("CPU")[precision]
    assert runs == "f32" if precision == "fp32" else runs in ("f16", "bf16", "f32")
    tol = 1e-4 if kind == "ir32" else RUNTIME_TOL[runs]  # ir16: weights stored in f16 too
    assert np.abs(b.infer(x) - ref).max() < tol


def test_runtime_info_says_what_runs(model_files):
    import cv2

    cv = load("opencv", model_files["onnx"]).runtime_info()  # threads=N would set OpenCV's global count
    assert cv == {"inference_precision": "f32", "threads": cv2.getNumThreads(), "device": "CPU", "shape": "dynamic"}
    b = load("openvino", model_files["onnx"], threads=1)
    assert b.runtime_info() == {"inference_precision": "f32", "threads": 1, "device": "CPU", "shape": "dynamic"}
    for _ in range(b.SPECIALIZE_AFTER):
        b.infer(tensor())
    assert b.runtime_info()["shape"] == "static"


def test_openvino_settings(model_files):
    b = load("openvino", model_files["onnx"], threads=1, hint="throughput")
    compiled = b._dynamic.get_compiled_model()
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 1
    assert "THROUGHPUT" in str(compiled.get_property("PERFORMANCE_HINT"))
    assert b.infer(tensor()).shape == (1, 2, 16, 24)


@pytest.mark.parametrize(("cores", "expected"), [({0}, None), ({0, 1}, 1), ({0, 1, 2, 3}, 3), (set(range(16)), 15)])
def test_openvino_leaves_a_core_to_a_streams_merge(monkeypatch, cores, expected):
    """A stream's OpenVINO runs on one core fewer than the process may use (the runtime's choice on one
    core, and on devices other than the CPU); cv2.dnn cannot be held apart from OpenCV's merge: no advice."""
    from edgecolor.backends import openvino
    from edgecolor.backends.opencv import OpenCVBackend

    monkeypatch.setattr(openvino.os, "sched_getaffinity", lambda pid: cores, raising=False)
    assert openvino.OpenVINOBackend.stream_threads("CPU") == expected
    assert openvino.OpenVINOBackend.stream_threads("GPU") is None
    assert openvino.OpenVINOBackend.stream_threads("AUTO") is None
    assert OpenCVBackend.stream_threads("CPU") is None


def test_openvino_threads_reach_the_compiled_model(model_files):
    """Without ``threads`` the runtime chooses (photos: every core it wants); an explicit count is what
    the compiled model reports."""
    assert load("openvino", model_files["onnx"]).runtime_info()["threads"] >= 1
    assert load("openvino", model_files["onnx"], threads=1).runtime_info()["threads"] == 1
    assert load("openvino", model_files["onnx"], threads=2).runtime_info()["threads"] == 2


def test_openvino_specialises_repeated_shapes(model_files):
    b = load("openvino", model_files["onnx"])
    x, y = tensor(64, 96), tensor(96, 64, seed=1)
    first = b.infer(x)
    for _ in range(b.SPECIALIZE_AFTER):
        np.testing.assert_allclose(b.infer(x), first, atol=1e-5)
    assert b.specialized_shapes == [(1, 1, 64, 96)]
    assert b.infer(y).shape == (1, 2, 24, 16)  # a new shape runs on the dynamic model meanwhile


def test_static_ir_takes_other_sizes(model_files, tmp_path):
    import openvino as ov

    model = ov.Core().read_model(str(model_files["ir32"]))
    model.reshape({model.input(0): [1, 1, 64, 64]})
    ov.save_model(model, str(tmp_path / "static.xml"))
    b = load("openvino", tmp_path / "static.xml")
    assert b.infer(tensor(32, 96)).shape == (1, 2, 8, 24)


def test_cache_dir(model_files, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECOLOR_CACHE_DIR", str(tmp_path / "cache"))
    b = load("openvino", model_files["onnx"])
    assert b.cache_dir == tmp_path / "cache" and any((tmp_path / "cache").iterdir())
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("EDGECOLOR_CACHE_DIR", str(tmp_path / "file" / "cache"))  # cannot be created
    assert cache_dir() is None
    assert load("openvino", model_files["onnx"]).infer(tensor()).shape == (1, 2, 16, 24)
    monkeypatch.setenv("EDGECOLOR_CACHE_DIR", "")
    assert cache_dir() is None


@pytest.mark.parametrize("name", BOTH)
def test_one_backend_shared_by_threads(model_files, name):
    b = load(name, model_files["onnx"])
    inputs = [tensor(64, 64 + 32 * (i % 3), seed=i) for i in range(12)]
    expected = [b.infer(x) for x in inputs]
    results: dict[int, np.ndarray] = {}

    def work(i):
        results[i] = b.infer(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, want in enumerate(expected):
        np.testing.assert_allclose(results[i], want, atol=1e-5)


@pytest.mark.parametrize("name", BOTH)
def test_non_ascii_model_path(model_files, tmp_path, name):
    path = tmp_path / "модель-ü" / "tiny-fp32.onnx"
    path.parent.mkdir()
    shutil.copy(model_files["onnx"], path)
    assert load(name, path).infer(tensor()).shape == (1, 2, 16, 24)


@pytest.mark.parametrize("name", BOTH)
@pytest.mark.parametrize("kind", ["corrupt", "truncated"])
def test_corrupt_model(model_files, name, kind):
    with pytest.raises(EdgecolorError, match=rf"{kind}\.onnx: .*cannot (load|read) this model"):
        load(name, model_files[kind])


@pytest.mark.parametrize("name", BOTH)
@pytest.mark.parametrize("kind", ["wrong_out", "wrong_in", "wrong_name"])
def test_wrong_shapes(model_files, name, kind):
    with pytest.raises(EdgecolorError, match=r"\.onnx: model input/output shape .*expected input 'L' 1x1xHxW"):
        load(name, model_files[kind])


def test_opencv_checks_output_stride(model_files):
    with pytest.raises(EdgecolorError, match="model input/output shape gives 1x2x4x4 for a 1x1x32x32 input"):
        load("opencv", model_files["wrong_stride"])


def test_opencv_reads_onnx_only(model_files):
    with pytest.raises(EdgecolorError, match=r"tiny-fp16\.xml: the opencv backend reads \.onnx models only"):
        load("opencv", model_files["ir16"])
    with pytest.raises(EdgecolorError, match="CPU only"):
        load("opencv", model_files["onnx"], device="GPU")


def test_missing_openvino_device(model_files):
    with pytest.raises(EdgecolorError, match=r"device 'NPU' is not available here \(available: .*CPU"):
        load("openvino", model_files["onnx"], device="npu")


@pytest.mark.parametrize(("kw", "message"), [({"threads": 0}, "threads"), ({"hint": "FAST"}, "hint"),
                                              ({"precision": "fp64"}, "precision")])
def test_bad_settings(model_files, kw, message):
    with pytest.raises(EdgecolorError, match=message):
        load("opencv", model_files["onnx"], **kw)


def test_registry():
    assert set(BACKENDS) >= {"opencv", "openvino"}
    from edgecolor import bench

    assert set(bench.BACKENDS) == set(BACKENDS)  # bench times every registered backend, from the one list
    assert get_backend("auto").name == "openvino"  # preferred when it imports
    assert get_backend("OpenCV").name == "opencv"
    assert set(available_backends()) >= {"opencv", "openvino"}
    with pytest.raises(EdgecolorError, match="unknown backend 'tensorrt'"):
        get_backend("tensorrt")


def test_backend_not_installed():
    @register
    class Missing(Backend):
        name = "missing"
        library = "edgecolor_no_such_runtime"
        install = "pip install no-such-runtime"

        def infer(self, x):
            return x

    try:
        assert not Missing.available()
        with pytest.raises(EdgecolorError, match=r"backend 'missing' is not installed \(pip install no-such-runtime\)"):
            get_backend("missing")
    finally:
        BACKENDS.pop("missing")


@pytest.mark.parametrize(("shape", "size"), [((400, 4000), None), ((4000, 400), None), ((30, 900), None),
                                             ((480, 640), 40), ((100, 100), 16), ((321, 481), None)])
def test_backends_agree_on_every_shape(shape, size):
    """The bundled model through cv2.dnn and OpenVINO (f32) on panoramas and tiny working sizes: with a
    32-px network side cv2.dnn read uninitialised memory (docs/opencv-dnn-resize-height1.md)."""
    from edgecolor.colorizer import Colorizer

    img = np.random.default_rng(1).integers(0, 256, shape, np.uint8)
    p = None
    abs_ = []
    for backend in ("opencv", "openvino"):
        c = Colorizer(backend=backend, size=size)
        p = c.prepare(img)
        assert min(p.tensor.shape[2:]) >= 64
        abs_.append(c.predict_ab(p))
    assert np.abs(abs_[0] - abs_[1]).max() < 1.0  # ab units (-128..127)


def test_loading_on_several_threads_keeps_the_process_locale(model_files):
    """OpenVINO's model reading sets the locale and restores it: several loads at once (stream workers,
    serve's pool) used to leave LC_CTYPE at "C", and Python then decoded text as ASCII in the whole process."""
    import locale

    before = locale.setlocale(locale.LC_CTYPE, None)
    for _ in range(4):
        threads = [threading.Thread(target=load, args=("openvino", model_files["onnx"])) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert locale.setlocale(locale.LC_CTYPE, None) == before
