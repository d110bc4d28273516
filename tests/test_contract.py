"""The model contract: metadata round trip, validation, and reading it from ONNX and IR files."""

from __future__ import annotations

import re

import pytest
from conftest import tiny_contract

from edgecolor.contract import L_SCALE, L_SHIFT, MAX_SIZE_MULTIPLE, PREFIX, ModelContract, read_metadata
from edgecolor.errors import EdgecolorError, ModelError
from edgecolor.limits import MAX_SIZE
from edgecolor.models import read_contract, read_model_metadata


def test_metadata_round_trip():
    c = tiny_contract(ab_scale=110.0, l_shift=-50.0)
    meta = c.to_metadata()
    assert all(k.startswith(PREFIX) and isinstance(v, str) for k, v in meta.items())
    assert ModelContract.from_metadata(meta) == c


def test_the_l_scaling_is_defined_once_and_maps_l_to_minus_one_one():
    """L_SCALE / L_SHIFT are the contract's defaults and what the pipeline assumes when not told; the
    trained networks take L 0..100 as -1..1."""
    import numpy as np

    from edgecolor.pipeline import Prepared

    assert (0 * L_SCALE + L_SHIFT, 100 * L_SCALE + L_SHIFT) == (-1.0, 1.0)
    assert (ModelContract("m", "1", "fp32", "L", "ab").l_scale, ModelContract("m", "1", "fp32", "L", "ab").l_shift) \
        == (L_SCALE, L_SHIFT)
    t = np.array([[[[L_SHIFT, 50 * L_SCALE + L_SHIFT]]]], np.float32)
    p = Prepared(t, np.zeros((1, 2), np.uint8), None, None, np.dtype(np.uint8), 1, (1, 2), 1, 1.0)
    assert p.working_l().ravel().tolist() == pytest.approx([0.0, 50.0], abs=1e-4)


def test_defaults_fill_missing_optional_keys():
    meta = {k: v for k, v in tiny_contract().to_metadata().items() if k.endswith(("name", "version", "precision",
                                                                                      "contract"))}
    c = ModelContract.from_metadata(meta)
    assert c.size_multiple == 32 and c.output_stride == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({PREFIX + "contract": None}, "not an edgecolor model"),
        ({PREFIX + "input_name": None}, "lacks 'edgecolor.input_name'"),
        ({PREFIX + "size_multiple": "many"}, "bad value"),
        ({PREFIX + "contract": "99"}, "newer than this edgecolor"),
        ({PREFIX + "precision": "fp8"}, "unknown precision"),
        ({PREFIX + "input_layout": "NHWC"}, "NCHW only"),
        ({PREFIX + "size_multiple": "30"}, "multiple of output_stride"),
        ({PREFIX + "working_size": "8"}, "inconsistent sizes"),
    ],
)
def test_bad_metadata_is_a_clear_error(change, message):
    meta = tiny_contract().to_metadata()
    for k, v in change.items():
        if v is None:
            meta.pop(k)
        else:
            meta[k] = v
    with pytest.raises(EdgecolorError, match=message) as err:
        ModelContract.from_metadata(meta, source="m.onnx")
    assert str(err.value).startswith("m.onnx: ")


@pytest.mark.parametrize("key", ["l_scale", "ab_scale"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-0.02", "0", "1e30"])
def test_scales_must_be_finite_and_positive(key, value):
    """NaN or inf gave garbage colour with exit 0, 0 a ZeroDivisionError on every photo: refused at load."""
    meta = {**tiny_contract().to_metadata(), PREFIX + key: value}
    with pytest.raises(ModelError, match=rf"^m\.onnx: model metadata 'edgecolor\.{key}' is .*; it must be a positive"):
        ModelContract.from_metadata(meta, source="m.onnx")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1e9"])
def test_l_shift_must_be_finite(value):
    meta = {**tiny_contract().to_metadata(), PREFIX + "l_shift": value}
    with pytest.raises(ModelError, match=r"'edgecolor\.l_shift' is .*; it must be a number within"):
        ModelContract.from_metadata(meta, source="m.onnx")


def test_sane_numbers_still_load():
    """ECCV16's own normalisation (L/100 - 0.5, ab x 110) and a negative shift are fine."""
    c = ModelContract.from_metadata({**tiny_contract(l_scale=0.01, l_shift=-0.5, ab_scale=110.0).to_metadata()})
    assert (c.l_scale, c.l_shift, c.ab_scale) == (0.01, -0.5, 110.0)
    edge = tiny_contract(working_size=MAX_SIZE, size_multiple=MAX_SIZE_MULTIPLE, output_stride=4)
    assert ModelContract.from_metadata(edge.to_metadata()) == edge


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"size_multiple": 2048, "working_size": 2048}, "'edgecolor.size_multiple' is 2048, above the limit of 256"),
        ({"size_multiple": 16384, "working_size": 16384}, "'edgecolor.size_multiple' is 16384"),
        ({"working_size": 16000}, "'edgecolor.working_size' is 16000, above the limit of 2048"),
    ],
)
def test_sizes_that_would_allocate_gigabytes_are_refused(fields, message):
    """size_multiple=2048 made a 160x120 photo a 4096x4096+ network input (10 GB): the input is bounded by
    MAX_SIZE² pixels for any photo through these two limits."""
    with pytest.raises(ModelError, match=re.escape(message)):
        ModelContract.from_metadata(tiny_contract(**fields).to_metadata(), source="m.onnx")


def test_the_bounds_keep_every_network_input_within_max_size_squared():
    """network_size's worst cases (square, panorama, a strip of one pixel) at the largest contract allowed."""
    from edgecolor.pipeline import network_size

    for h, w in [(1, 1), (120, 160), (5000, 5000), (1, 100000), (100000, 1), (300, 9000), (2, 3)]:
        nh, nw = network_size(h, w, MAX_SIZE, MAX_SIZE_MULTIPLE)
        assert nh * nw <= MAX_SIZE * MAX_SIZE, (h, w, nh, nw)


@pytest.mark.parametrize("kind", ["onnx", "ir16", "ir32"])
def test_own_reader_agrees_with_openvino(model_files, kind):
    path = model_files[kind]
    assert read_model_metadata(path) == read_metadata(path)
    c = read_contract(path)
    assert c.name == "tiny" and c.input_name == "L" and c.output_name == "ab"
    assert c.precision == {"onnx": "fp32", "ir16": "fp16", "ir32": "fp32"}[kind]


def test_ir_conversion_keeps_metadata(model_files):
    """Everything but the precision survives the ONNX -> IR conversion."""
    onnx_meta = read_metadata(model_files["onnx"])
    ir_meta = read_metadata(model_files["ir16"])
    assert {k: v for k, v in ir_meta.items() if not k.endswith("precision")} == {
        k: v for k, v in onnx_meta.items() if not k.endswith("precision")
    }


def test_model_without_metadata_is_refused(model_files):
    with pytest.raises(EdgecolorError, match=r"plain\.onnx: not an edgecolor model"):
        read_contract(model_files["no_metadata"])


@pytest.mark.parametrize("kind", ["corrupt", "truncated"])
def test_corrupt_model_file(model_files, kind):
    with pytest.raises(EdgecolorError, match=rf"{kind}\.onnx: corrupt or not a model file"):
        read_contract(model_files[kind])


def test_missing_model_file(tmp_path):
    with pytest.raises(EdgecolorError, match="cannot read model file"):
        read_contract(tmp_path / "nope.onnx")


def test_corrupt_ir(tmp_path):
    xml = tmp_path / "m.xml"
    xml.write_text("<net><layers><layer")
    with pytest.raises(EdgecolorError, match=r"m\.xml: corrupt"):
        read_contract(xml)
    xml.write_text("<html></html>")
    with pytest.raises(EdgecolorError, match="not an OpenVINO IR"):
        read_contract(xml)
