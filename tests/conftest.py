"""Tiny real models (built with the onnx helper API, no torch) and test images.

The tiny network honours the model contract: input 'L' 1x1xHxW (H, W dynamic) -> AveragePool
stride 4 -> 1x1 Conv to 2 channels 'ab', so ab depends on L and is never all zero. Its
working size is 64 to keep tests fast. Broken variants cover the error paths.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecolor.contract import ModelContract

TINY_WORKING_SIZE = 64
# ab = w * (L * l_scale + l_shift) + b, per channel: a spans -25..35, b spans 30..-10 over L 0..100
TINY_WEIGHTS = (30.0, -20.0)
TINY_BIAS = (5.0, 10.0)


def tiny_contract(**changes) -> ModelContract:
    fields = dict(
        name="tiny", version="0.0", precision="fp32", input_name="L", output_name="ab",
        working_size=TINY_WORKING_SIZE, size_multiple=32, output_stride=4,
    )
    fields.update(changes)
    return ModelContract(**fields)


def build_onnx(
    path: Path,
    contract: ModelContract | None = None,
    in_channels: int = 1,
    out_channels: int = 2,
    stride: int = 4,
    output_name: str = "ab",
    metadata: bool = True,
) -> Path:
    """Write a tiny contract-shaped ONNX model; the arguments break it on purpose."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    contract = contract or tiny_contract()
    weights = np.array((TINY_WEIGHTS * 2)[:out_channels], np.float32).reshape(out_channels, 1, 1, 1)
    weights = np.repeat(weights, in_channels, axis=1)
    bias = np.array((TINY_BIAS * 2)[:out_channels], np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["L"], ["pooled"], kernel_shape=[stride, stride], strides=[stride, stride]),
            helper.make_node("Conv", ["pooled", "w", "b"], [output_name], kernel_shape=[1, 1]),
        ],
        "tiny",
        [helper.make_tensor_value_info("L", TensorProto.FLOAT, [1, in_channels, "H", "W"])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, out_channels, None, None])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgecolor-tests")
    model.ir_version = 8  # readable by OpenCV 5 and OpenVINO alike
    if metadata:
        helper.set_model_props(model, contract.to_metadata())
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def build_ir(onnx_path: Path, xml_path: Path, precision: str = "fp16") -> Path:
    """Convert to OpenVINO IR; fp16 compresses the weights. The contract metadata travels along
    (rt_info 'framework'); only its precision is updated, as the conversion tool does."""
    import openvino as ov

    from edgecolor.contract import PREFIX, RT_INFO_SECTION

    model = ov.convert_model(str(onnx_path))
    model.set_rt_info(precision, [RT_INFO_SECTION, PREFIX + "precision"])
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(xml_path), compress_to_fp16=precision == "fp16")
    return xml_path


def tiny_ab(L: np.ndarray) -> np.ndarray:
    """What the tiny model predicts for a (constant) L in 0..100: (a, b)."""
    x = L * 0.02 - 1.0
    return np.array([TINY_WEIGHTS[0] * x + TINY_BIAS[0], TINY_WEIGHTS[1] * x + TINY_BIAS[1]], np.float32)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Keep OpenVINO's compiled-model cache out of the user's home during tests."""
    old = os.environ.get("EDGECOLOR_CACHE_DIR")
    os.environ["EDGECOLOR_CACHE_DIR"] = str(tmp_path_factory.mktemp("ov-cache"))
    yield
    if old is None:
        os.environ.pop("EDGECOLOR_CACHE_DIR", None)
    else:
        os.environ["EDGECOLOR_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def model_files(tmp_path_factory) -> dict[str, Path]:
    """Every tiny model, good and broken, built once per session."""
    root = tmp_path_factory.mktemp("tiny-models")
    files = {
        "onnx": build_onnx(root / "tiny-fp32.onnx"),
        "no_metadata": build_onnx(root / "plain.onnx", metadata=False),
        "wrong_out": build_onnx(root / "wrong-out.onnx", out_channels=3),
        "wrong_in": build_onnx(root / "wrong-in.onnx", in_channels=3),
        "wrong_name": build_onnx(root / "wrong-name.onnx", output_name="colour"),
        "wrong_stride": build_onnx(root / "wrong-stride.onnx", stride=8),
    }
    files["ir16"] = build_ir(files["onnx"], root / "ir" / "tiny-fp16.xml", "fp16")
    files["ir32"] = build_ir(files["onnx"], root / "ir" / "tiny-fp32.xml", "fp32")
    corrupt = root / "corrupt.onnx"
    corrupt.write_bytes(os.urandom(3000))
    files["corrupt"] = corrupt
    truncated = root / "truncated.onnx"
    truncated.write_bytes(files["onnx"].read_bytes()[:300])
    files["truncated"] = truncated
    return files


@pytest.fixture(scope="session")
def models_tree(tmp_path_factory, model_files) -> Path:
    """A models folder like the bundled one: the default model (fp32 ONNX + fp16 IR) and a second one."""
    import shutil

    from edgecolor.models import DEFAULT_MODEL

    root = tmp_path_factory.mktemp("models")
    name = DEFAULT_MODEL
    build_onnx(root / name / f"{name}-fp32.onnx", tiny_contract(name=name))
    build_ir(root / name / f"{name}-fp32.onnx", root / name / f"{name}-fp16.xml", "fp16")
    (root / name / "README.md").write_text("model card\n")
    other = root / "other"
    other.mkdir()
    shutil.copy(model_files["onnx"], other / "other-fp32.onnx")
    (root / "empty").mkdir()
    return root


@pytest.fixture
def models_dir(models_tree, monkeypatch) -> Path:
    monkeypatch.setenv("EDGECOLOR_MODELS_DIR", str(models_tree))
    return models_tree


def bundled_model() -> Path | None:
    """The real bundled default model, when it has landed in the package or repo models folder."""
    from edgecolor import models

    old = os.environ.pop(models.ENV_MODELS_DIR, None)
    try:
        for entry in models.list_models():
            if entry.name == models.DEFAULT_MODEL:
                for v in entry.variants:
                    if v.precision == "fp32" and v.format == "onnx":
                        return v.path
    except Exception:  # noqa: BLE001
        return None
    finally:
        if old is not None:
            os.environ[models.ENV_MODELS_DIR] = old
    return None


@pytest.fixture
def bundled() -> Path:
    """The shipped default model; it is part of the repo, so its absence fails rather than skips."""
    path = bundled_model()
    assert path is not None, "models/edgecolor-lite0/edgecolor-lite0-fp32.onnx is missing"
    return path


needs_bundled_model = pytest.mark.usefixtures("bundled")


def photo(height: int = 120, width: int = 160, seed: int = 0) -> np.ndarray:
    """A smooth grey test photo (8-bit BGR with R = G = B), L spanning roughly 10..90."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (max(2, height // 8), max(2, width // 8)), dtype=np.uint8)
    grey = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    grey = cv2.normalize(grey, None, 30, 225, cv2.NORM_MINMAX)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def lab_l8(bgr: np.ndarray) -> np.ndarray:
    """L on OpenCV's 8-bit scale (0..255) of an 8-bit BGR(A) or grey image."""
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(np.ascontiguousarray(bgr[:, :, :3]), cv2.COLOR_BGR2Lab)[:, :, 0]


def chroma(bgr: np.ndarray) -> np.ndarray:
    """Per-pixel CIELAB chroma of an 8-bit or 16-bit BGR image."""
    top = 255.0 if bgr.dtype == np.uint8 else 65535.0
    lab = cv2.cvtColor(np.ascontiguousarray(bgr[:, :, :3]).astype(np.float32) / top, cv2.COLOR_BGR2Lab)
    return np.hypot(lab[:, :, 1], lab[:, :, 2])


def assert_l_kept(out: np.ndarray, reference: np.ndarray, min_in_gamut: float = 0.8) -> None:
    """The output's L equals the input's within one 8-bit level wherever the colour is inside the
    sRGB gamut (a clipped channel changes L; the pipeline does no gamut mapping)."""
    rgb = out[:, :, :3]
    # 2 levels of margin: a channel that rounds to 1 or 254 may have been clipped before rounding.
    in_gamut = (rgb.min(axis=2) > 1) & (rgb.max(axis=2) < 254)
    assert in_gamut.mean() >= min_in_gamut
    diff = np.abs(lab_l8(out).astype(int) - lab_l8(reference).astype(int))
    # 8-bit RGB rounding of a saturated colour can move L by 2 levels in rare pixels (seen: 1 in 243k).
    assert diff[in_gamut].max() <= 2
    assert (diff[in_gamut] <= 1).mean() >= 0.9999


def default_sigint() -> None:
    """preexec_fn for a child that must see Ctrl-C: a shell starts background jobs with SIGINT ignored,
    and exec keeps that; the default disposition lets Python install its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
