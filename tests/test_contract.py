"""The model contract: metadata round trip, validation, and reading it from ONNX and IR files."""

from __future__ import annotations

import pytest
from conftest import tiny_contract

from edgecolor.contract import PREFIX, ModelContract, read_metadata
from edgecolor.errors import EdgecolorError
from edgecolor.models import read_contract, read_model_metadata


def test_metadata_round_trip():
    c = tiny_contract(ab_scale=110.0, l_shift=-50.0)
    meta = c.to_metadata()
    assert all(k.startswith(PREFIX) and isinstance(v, str) for k, v in meta.items())
    assert ModelContract.from_metadata(meta) == c


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
