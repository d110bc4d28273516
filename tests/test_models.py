"""Bundled-model registry: folders, variants, precision choice per backend, and clear errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import build_onnx, bundled_model, needs_bundled_model

from edgecolor import models
from edgecolor.errors import EdgecolorError, ModelError
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


posix_only = pytest.mark.skipif(os.name == "nt", reason="FIFOs are POSIX")


def _user_model_with_fifo(root: Path, model_files) -> Path:
    """A user-folder model "piped" (fp16 IR) whose .bin is a FIFO: loading it would block for ever."""
    folder = root / "piped"
    folder.mkdir(parents=True)
    shutil.copy(model_files["ir16"], folder / "piped-fp16.xml")
    os.mkfifo(folder / "piped-fp16.bin")
    return folder


@posix_only
def test_a_fifo_in_a_user_model_is_refused_before_loading(tmp_path, monkeypatch, models_dir, model_files):
    """By name the .bin was never checked (given as a path it was): OpenVINO then blocked on the FIFO."""
    monkeypatch.setenv(models.ENV_USER_MODELS, str(tmp_path / "user"))
    folder = _user_model_with_fifo(tmp_path / "user", model_files)
    for model in ("piped", folder / "piped-fp16.xml"):
        with pytest.raises(ModelError, match=r"piped-fp16\.bin: not a regular file \(a FIFO\); refused"):
            resolve(model, "fp16", "openvino")


@posix_only
def test_a_fifo_given_as_the_model_is_called_a_fifo_not_missing(tmp_path):
    os.mkfifo(tmp_path / "m.onnx")
    with pytest.raises(ModelError, match=r"m\.onnx: not a regular file \(a FIFO\)"):
        resolve(str(tmp_path / "m.onnx"))
    assert read_model_metadata_refuses(tmp_path / "m.onnx")


def read_model_metadata_refuses(path: Path) -> bool:
    """The metadata reader (listing, `models`) opens without blocking and refuses what is not a regular file."""
    from edgecolor.modelfile import read_model_metadata

    with pytest.raises(ModelError, match="cannot read model file .*not a regular file"):
        read_model_metadata(path)
    return True


def test_a_model_file_larger_than_any_model_is_refused_unread(tmp_path, model_files):
    """A sparse 3 GiB .bin (no disk used) beside a real IR: refused from its size, before OpenVINO maps it."""
    from edgecolor.modelfile import MAX_BYTES

    shutil.copy(model_files["ir16"], tmp_path / "big.xml")
    with open(tmp_path / "big.bin", "wb") as f:
        f.truncate(MAX_BYTES[".bin"] + 1)
    with pytest.raises(ModelError, match=r"big\.bin: 4096 MiB, larger than any \.bin file edgecolor reads"):
        resolve(tmp_path / "big.xml")

