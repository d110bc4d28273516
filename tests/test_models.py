"""Bundled-model registry: folders, variants, precision choice per backend, and clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import build_onnx, bundled_model, needs_bundled_model

from edgecolor import models
from edgecolor.errors import EdgecolorError
from edgecolor.models import DEFAULT_MODEL, list_models, models_dir, read_contract, resolve


def test_models_dir_order(models_dir, monkeypatch, tmp_path):
    assert models.models_dir() == models_dir
    monkeypatch.setenv("EDGECOLOR_MODELS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(EdgecolorError, match="EDGECOLOR_MODELS_DIR=.*nowhere: not a folder"):
        models.models_dir()
    monkeypatch.delenv("EDGECOLOR_MODELS_DIR")
    package = Path(models.__file__).resolve().parent
    assert models.models_dir() in (package / "_models", package.parent / "models", None)


def test_list_models(models_dir):
    entries = {e.name: e for e in list_models()}
    assert sorted(entries) == [DEFAULT_MODEL, "other"]  # "empty" has no model file
    default = entries[DEFAULT_MODEL]
    assert [(v.precision, v.format, v.path.suffix) for v in default.variants] == [
        ("fp16", "ir", ".xml"), ("fp32", "onnx", ".onnx")]
    ir = default.variants[0]
    assert ir.size_bytes == ir.path.stat().st_size + ir.path.with_suffix(".bin").stat().st_size
    assert 0 < ir.size_mb < 1


def test_precision_from_metadata_then_file_name(tmp_path, monkeypatch, model_files):
    monkeypatch.setenv("EDGECOLOR_MODELS_DIR", str(tmp_path))
    (tmp_path / "m").mkdir()
    shutil.copy(model_files["onnx"], tmp_path / "m" / "m-int8.onnx")  # metadata says fp32
    shutil.copy(model_files["no_metadata"], tmp_path / "m" / "m-fp16.onnx")
    shutil.copy(model_files["no_metadata"], tmp_path / "m" / "m-weird.onnx")  # no clue: skipped
    (entry,) = list_models()
    assert sorted((v.precision, v.path.name) for v in entry.variants) == [("fp16", "m-fp16.onnx"),
                                                                         ("fp32", "m-int8.onnx")]


@pytest.mark.parametrize(
    ("model", "precision", "backend", "suffix"),
    [("default", "fp32", "opencv", ".onnx"), ("default", "fp32", "openvino", ".onnx"),
     (DEFAULT_MODEL, "fp16", "openvino", ".xml"), ("default", "fp32", "auto", ".onnx"),
     ("other", "fp32", "opencv", ".onnx")],
)
def test_resolve(models_dir, model, precision, backend, suffix):
    path = resolve(model, precision, backend)
    assert path.suffix == suffix and path.is_file()
    assert read_contract(path).precision == precision


def test_openvino_prefers_ir_for_fp32_only_without_onnx(tmp_path, monkeypatch, model_files):
    monkeypatch.setenv("EDGECOLOR_MODELS_DIR", str(tmp_path))
    (tmp_path / "m").mkdir()
    for f in ("tiny-fp32.xml", "tiny-fp32.bin"):
        shutil.copy(model_files["ir32"].parent / f, tmp_path / "m" / f.replace("tiny", "m"))
    assert resolve("m", "fp32", "openvino").suffix == ".xml"
    with pytest.raises(EdgecolorError, match="opencv backend can run"):
        resolve("m", "fp32", "opencv")


def test_missing_precision_lists_what_exists(models_dir):
    with pytest.raises(EdgecolorError, match=r"no fp16 variant the opencv backend can run \(\.onnx\); "
                                             r"it has: fp16 \(\.xml\), fp32 \(\.onnx\)"):
        resolve("default", "fp16", "opencv")
    with pytest.raises(EdgecolorError, match="no int8 variant the openvino backend"):
        resolve("default", "int8", "openvino")
    with pytest.raises(EdgecolorError, match="unknown precision 'fp64'"):
        resolve("default", "fp64", "openvino")


def test_unknown_model_lists_names(models_dir):
    with pytest.raises(EdgecolorError, match=f"unknown model 'nope'; bundled models: {DEFAULT_MODEL}, other"):
        resolve("nope")


def test_no_models_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECOLOR_MODELS_DIR", str(tmp_path))
    assert list_models() == []
    with pytest.raises(EdgecolorError, match="no bundled models found.*pass a model file"):
        resolve("default")


def test_model_file_paths(tmp_path, model_files):
    assert resolve(str(model_files["onnx"]), "int8", "opencv") == model_files["onnx"]  # used as is
    assert resolve(model_files["ir16"]) == model_files["ir16"]
    with pytest.raises(EdgecolorError, match="model file not found"):
        resolve(str(tmp_path / "missing.onnx"))
    with pytest.raises(EdgecolorError, match="is a folder"):
        resolve(tmp_path)
    (tmp_path / "m.pt").write_bytes(b"x")
    with pytest.raises(EdgecolorError, match=r"not a model file \(expected \.onnx"):
        resolve(str(tmp_path / "m.pt"))
    shutil.copy(model_files["ir16"], tmp_path / "lonely.xml")
    with pytest.raises(EdgecolorError, match=r"lonely\.xml: its weights file lonely\.bin is missing"):
        resolve(str(tmp_path / "lonely.xml"))


def test_unicode_model_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECOLOR_MODELS_DIR", str(tmp_path / "modèles"))
    build_onnx(tmp_path / "modèles" / "couleur" / "couleur-fp32.onnx")
    assert resolve("couleur").name == "couleur-fp32.onnx"


@needs_bundled_model
def test_bundled_default_model():
    path = bundled_model()
    c = read_contract(path)
    assert c.precision == "fp32" and c.name
    assert models_dir() is not None
    (entry,) = [e for e in list_models() if e.name == DEFAULT_MODEL]
    for v in entry.variants:  # every variant carries a contract that agrees with its file name
        assert read_contract(v.path).precision == v.precision
        assert v.path.stem.endswith(v.precision)


@needs_bundled_model
def test_ir_tail_metadata_matches_the_full_parse(tmp_path):
    """The fast tail read gives what OpenVINO itself reads; an IR without net-level rt_info falls back."""
    from edgecolor.contract import read_metadata
    from edgecolor.modelfile import _ir_tail_metadata, ir_metadata

    for xml in sorted(models_dir().glob("*/*.xml")):
        assert _ir_tail_metadata(xml) == read_metadata(xml) == ir_metadata(xml)
    plain = tmp_path / "plain.xml"
    plain.write_text('<?xml version="1.0"?>\n<net name="x"><layers><layer id="0"><rt_info><framework>'
                     '<edgecolor.precision value="fp32"/></framework></rt_info></layer></layers>\n</net>\n')
    assert _ir_tail_metadata(plain) == {}
