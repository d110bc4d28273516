"""`edgecolor import`: published-layout weight files in, a model that computes the paper's network out.

The files are random-weight stand-ins in the real layouts and key / layer names (tests cannot
download the real weights); the output of the imported model (run by OpenVINO, FP32) is compared
with a float64 reference forward written from the layer tables in tests/import_support.py, within
1e-4 on the colorizers' output scale (ab / 110). Most tests use a network of the same table at
1/8 width; the full-shaped ones are marked slow.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxsim")
torch = pytest.importorskip("torch")

import import_support as S  # noqa: E402

from edgecolor.errors import ModelError, OutputError, UsageError  # noqa: E402
from edgecolor.importers.importer import import_model  # noqa: E402
from edgecolor.models import read_contract  # noqa: E402

TOL = 1e-4  # on ab / 110
DIV = 8  # 1/8 of the published widths: the same table, fast
REPO = Path(__file__).resolve().parents[1]


def net_ab(path: Path, L: np.ndarray, backend: str = "openvino") -> np.ndarray:
    """The imported network's ab (CIELAB units) for L in 0..100, fed as its contract says."""
    import cv2
    import openvino as ov

    c = read_contract(path)
    x = (L * np.float32(c.l_scale) + np.float32(c.l_shift)).astype(np.float32)
    if backend == "openvino":
        y = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
    else:
        net = cv2.dnn.readNetFromONNX(str(path))
        net.setInput(x)
        y = net.forward()
    return y * c.ab_scale


def assert_close(got: np.ndarray, ref: np.ndarray) -> None:
    assert got.shape == ref.shape
    err = float(np.abs(got - ref).max()) / 110.0
    assert err <= TOL, f"max |edgecolor - reference| = {err:.2e} (on ab / 110)"
    assert np.abs(ref).max() > 1.0  # the comparison is not between two near-zero outputs


def L_input(h: int = 64, w: int = 96, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 100, (1, 1, h, w)).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, object]:
    """Small-width files in every layout, written once."""
    d = tmp_path_factory.mktemp("weights")
    eccv = S.eccv16_state(DIV)
    eccv_caffe = S.eccv16_state(DIV, seed=2, affine_bn=False)
    sig = S.siggraph17_state(DIV)
    return {
        "eccv": eccv, "eccv_caffe": eccv_caffe, "sig": sig,
        "pth": S.write_pth(eccv, d / "colorization_release_v2-9b330a0b.pth"),
        "sig_legacy": S.write_pth(sig, d / "siggraph17-df00044c.pth", legacy=True),
        "caffe": S.write_caffemodel(eccv_caffe, d / "colorization_release_v2.caffemodel"),
        "caffe_v1": S.write_caffemodel(eccv_caffe, d / "v1.caffemodel", v1=True),
        "caffe_nohull": S.write_caffemodel(eccv_caffe, d / "nohull.caffemodel", hull_in_model=False),
        "onnx": S.write_third_party_onnx(eccv, d / "colorizer.onnx"),
        "dir": d,
    }


# -- equivalence with the papers' layer tables -----------------------------------------------------


def test_pth_state_dict_reads_like_torch_load(files):
    from edgecolor.importers.pth import read_state_dict

    for key in ("pth", "sig_legacy"):
        got = read_state_dict(files[key])
        ref = torch.load(files[key], weights_only=True)
        assert set(got) == set(ref)
        for k, v in ref.items():
            assert np.array_equal(got[k], v.numpy()), k


def test_eccv16_pth_equals_reference_and_writes_fp16_ir(files, tmp_path):
    r = import_model("eccv16", files["pth"], dest=tmp_path)
    fp32 = r.folder / "eccv16-fp32.onnx"
    assert sorted(p.name for p in r.folder.iterdir()) == ["card.json", "eccv16-fp16.bin", "eccv16-fp16.xml",
                                                          "eccv16-fp32.onnx"]
    c = read_contract(fp32)
    assert (c.l_scale, c.l_shift, c.ab_scale, c.output_stride, c.size_multiple) == (0.01, -0.5, 110.0, 4, 8)
    assert read_contract(r.folder / "eccv16-fp16.xml").precision == "fp16"
    L = L_input()
    ref = S.eccv16_ab(files["eccv"], L)
    assert_close(net_ab(fp32, L), ref)
    assert_close(net_ab(fp32, L, "opencv"), ref)  # cv2.dnn runs the same graph
    card = json.loads((r.folder / "card.json").read_text())
    assert card["format"] == "pth" and len(card["sha256"]) == 64
    assert card["gflops_256"] > 0  # shown by `edgecolor models`


@pytest.mark.parametrize("key", ["caffe", "caffe_v1"])
def test_eccv16_caffemodel_equals_reference_with_annealed_mean(files, tmp_path, key):
    r = import_model("eccv16", files[key], dest=tmp_path)
    fp32 = r.folder / "eccv16-fp32.onnx"
    c = read_contract(fp32)
    assert (c.l_scale, c.l_shift, c.ab_scale, c.working_size) == (1.0, -50.0, 1.0, 224)
    L = L_input()
    assert_close(net_ab(fp32, L), S.eccv16_ab(files["eccv_caffe"], L, caffe=True))


def test_caffemodel_without_bin_centres_needs_hull(files, tmp_path):
    with pytest.raises(ModelError, match="class8_ab has no bin centres.*--hull"):
        import_model("eccv16", files["caffe_nohull"], dest=tmp_path)
    assert not any(tmp_path.iterdir())
    hull = files["dir"] / "pts_in_hull.npy"
    np.save(hull, (files["eccv_caffe"]["model_out.weight"].numpy() * 110).reshape(2, 313).T)
    r = import_model("eccv16", files["caffe_nohull"], hull=hull, dest=tmp_path)
    L = L_input()
    assert_close(net_ab(r.folder / "eccv16-fp32.onnx", L), S.eccv16_ab(files["eccv_caffe"], L, caffe=True))


def test_siggraph17_legacy_pth_equals_reference_in_automatic_mode(files, tmp_path):
    r = import_model("siggraph17", files["sig_legacy"], dest=tmp_path)
    fp32 = r.folder / "siggraph17-fp32.onnx"
    c = read_contract(fp32)
    assert (c.output_stride, c.ab_scale, c.hints) == (1, 110.0, "ab/110+mask:empty")
    L = L_input()
    ref = S.siggraph17_ab(files["sig"], L)
    assert_close(net_ab(fp32, L), ref)
    assert_close(net_ab(fp32, L, "opencv"), ref)


def test_siggraph17_hint_inputs_equal_reference(files, tmp_path):
    """The graph with the hint inputs (for a later user-hint feature) computes the paper's network too."""
    import onnx
    import openvino as ov

    from edgecolor.importers import nets, pth

    w, names = pth.canonical_weights("siggraph17", pth.read_state_dict(files["sig_legacy"]), "sig")
    nets.check_weights("siggraph17", w, "sig", names)
    path = tmp_path / "hints.onnx"
    onnx.save(nets.build_siggraph17(w, hints=True), str(path))
    rng = np.random.default_rng(3)
    L = L_input()
    ab = rng.uniform(-80, 80, (1, 2, 64, 96)).astype(np.float32)
    mask = (rng.uniform(0, 1, (1, 1, 64, 96)) < 0.05).astype(np.float32)
    got = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(
        {"L": (L - 50) / 100, "hint_ab": ab * mask / 110, "hint_mask": mask})[0] * 110
    assert_close(got, S.siggraph17_ab(files["sig"], L, ab * mask, mask))


def test_third_party_onnx_freed_and_equals_reference(files, tmp_path):
    r = import_model("eccv16", files["onnx"], dest=tmp_path)
    fp32 = r.folder / "eccv16-fp32.onnx"
    c = read_contract(fp32)
    assert (c.input_name, c.l_scale, c.l_shift, c.output_stride) == ("input", 1.0, 0.0, 4)
    L = L_input(72, 120)  # not the export's fixed 256x256
    ref = S.eccv16_ab(files["eccv"], L)
    assert_close(net_ab(fp32, L), ref)
    assert_close(net_ab(fp32, L, "opencv"), ref)


# -- bad input: one clear line, nothing written ---------------------------------------------------


def _expect_refused(tmp_path, weights, match, arch="eccv16", kind=ModelError, **kw):
    """A bad weights, prototxt or hull file is a ModelError (exit 2, as README's import section says)."""
    dest = tmp_path / "models"
    with pytest.raises(kind, match=match) as e:
        import_model(arch, weights, dest=dest, **kw)
    assert "\n" not in str(e.value)
    assert not dest.exists() or not any(dest.iterdir()), list(dest.iterdir())


def test_truncated_and_foreign_files_are_refused(files, tmp_path):
    data = files["pth"].read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    _expect_refused(tmp_path, tmp_path / "cut.pth", "truncated or not a PyTorch state dict")
    legacy = files["sig_legacy"].read_bytes()
    (tmp_path / "cut_legacy.pth").write_bytes(legacy[: len(legacy) - 1000])
    _expect_refused(tmp_path, tmp_path / "cut_legacy.pth", "truncated|ends inside", arch="siggraph17")
    caffe = files["caffe"].read_bytes()
    (tmp_path / "cut.caffemodel").write_bytes(caffe[: len(caffe) // 2])
    _expect_refused(tmp_path, tmp_path / "cut.caffemodel", "truncated or not")
    shutil.copy(REPO / "samples" / "detroit_1915.jpg", tmp_path / "photo.caffemodel")
    _expect_refused(tmp_path, tmp_path / "photo.caffemodel", "not a .caffemodel, .pth|truncated or not a model")
    (tmp_path / "deploy.caffemodel").write_text('name: "LtoAB"\nlayer { name: "conv1_1" type: "Convolution" }\n')
    _expect_refused(tmp_path, tmp_path / "deploy.caffemodel", "text prototxt")
    (tmp_path / "empty.pth").write_bytes(b"")
    _expect_refused(tmp_path, tmp_path / "empty.pth", "empty file")
    _expect_refused(tmp_path, tmp_path / "missing.pth", "not found")
    # a tiny ONNX that is not ECCV16 (conftest's contract-shaped toy has no fixed size to free, but 1 input/output)
    from conftest import build_onnx

    _expect_refused(tmp_path, build_onnx(tmp_path / "toy.onnx", metadata=False), "siggraph17 is imported",
                    arch="siggraph17")


def test_state_dict_with_missing_extra_or_misshapen_keys_is_refused(files, tmp_path):
    sd = dict(files["eccv"])
    del sd["model5.2.weight"]
    _expect_refused(tmp_path, S.write_pth(sd, tmp_path / "missing.pth"), r"missing conv5_2\.weight|model5\.2\.weight")
    sd = dict(files["eccv"], **{"model9.0.weight": torch.zeros(3)})
    _expect_refused(tmp_path, S.write_pth(sd, tmp_path / "extra.pth"), r"unexpected keys model9\.0\.weight")
    sd = dict(files["eccv"], **{"model8.0.weight": files["eccv"]["model8.0.weight"].transpose(0, 1).contiguous()})
    _expect_refused(tmp_path, S.write_pth(sd, tmp_path / "shape.pth"), r"model8\.0\.weight has shape")
    # the ECCV16 state dict is not SIGGRAPH17
    _expect_refused(tmp_path, files["pth"], r"this is the colorizers eccv16 state dict, not siggraph17",
                    arch="siggraph17")


def test_prototxt_override_is_checked(files, tmp_path):
    from google.protobuf import text_format

    from edgecolor.importers.caffe import messages
    from edgecolor.importers.nets import eccv16_table

    net = messages()["NetParameter"](name="LtoAB")
    for c in eccv16_table()[0]:
        layer = net.layer.add(name="class8_ab" if c.name == "decode" else c.name,
                              type="Deconvolution" if c.transposed else "Convolution")
        p = layer.convolution_param
        p.num_output = c.cout
        p.kernel_size.append(c.k)
        p.stride.append(2 if c.transposed else c.stride)
        p.pad.append(c.pad)
        if c.dil > 1:
            p.dilation.append(c.dil)
    rh = net.layer.add(name="conv8_313_rh", type="Scale")
    rh.scale_param.filler.value = 2.606
    good = tmp_path / "deploy.prototxt"
    good.write_text(text_format.MessageToString(net) + 'layer { name: "x" type: "Silence" include { phase: TEST } }\n')
    r = import_model("eccv16", files["caffe"], prototxt=good, dest=tmp_path / "ok")
    assert (r.folder / "eccv16-fp32.onnx").is_file()
    next(lay for lay in net.layer if lay.name == "conv5_2").convolution_param.dilation[0] = 1
    bad = tmp_path / "other.prototxt"
    bad.write_text(text_format.MessageToString(net))
    _expect_refused(tmp_path, files["caffe"], "layer conv5_2 has dilation 1", prototxt=bad)


def test_bad_options_are_usage_errors_and_an_unwritable_folder_an_output_error(files, tmp_path):
    _expect_refused(tmp_path, files["pth"], "--prototxt applies to a .caffemodel", kind=UsageError,
                    prototxt=files["pth"])
    _expect_refused(tmp_path, files["pth"], "not a usable model name", kind=UsageError, name="../x")
    _expect_refused(tmp_path, files["pth"], "--int8 needs --calib", kind=UsageError, int8=True)
    _expect_refused(tmp_path, files["pth"], "unknown network", arch="eccv17", kind=UsageError)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write the model folder"):
        import_model("eccv16", files["pth"], dest=blocker)


def test_existing_import_needs_force(files, tmp_path):
    import_model("eccv16", files["pth"], dest=tmp_path)
    with pytest.raises(UsageError, match="already imported; use --force"):
        import_model("eccv16", files["pth"], dest=tmp_path)
    r = import_model("eccv16", files["caffe"], dest=tmp_path, force=True)
    assert json.loads((r.folder / "card.json").read_text())["format"] == "caffe"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eccv16"]  # no staging or old folder left


def test_int8_goes_through_the_quality_gate(files, tmp_path):
    pytest.importorskip("nncf")
    calib = REPO / "samples"
    r = import_model("eccv16", files["pth"], dest=tmp_path, int8=True, calib=calib, calib_size=3, eval_limit=2)
    g = r.gate
    assert set(g) >= {"fp32", "int8", "psnr_drop_db", "max_drop_db", "passed"}
    assert g["fp32"]["photos"] == 2 and np.isfinite(g["psnr_drop_db"])
    assert (r.folder / "eccv16-int8.xml").exists() == g["passed"]
    assert json.loads((r.folder / "card.json").read_text())["int8_gate"]["passed"] == g["passed"]


# -- full-shaped networks (the published sizes) ---------------------------------------------------


@pytest.mark.slow
def test_full_eccv16_caffemodel_equals_reference(tmp_path):
    sd = S.eccv16_state(1, affine_bn=False)
    path = S.write_caffemodel(sd, tmp_path / "colorization_release_v2.caffemodel")
    assert path.stat().st_size > 125e6  # the published file is 129 MB
    r = import_model("eccv16", path, dest=tmp_path / "m")
    L = L_input(64, 64)
    assert_close(net_ab(r.folder / "eccv16-fp32.onnx", L), S.eccv16_ab(sd, L, caffe=True))


@pytest.mark.slow
def test_full_siggraph17_pth_equals_reference(tmp_path):
    sd = S.siggraph17_state(1)
    r = import_model("siggraph17", S.write_pth(sd, tmp_path / "siggraph17-df00044c.pth"), dest=tmp_path / "m")
    L = L_input(64, 64)
    assert_close(net_ab(r.folder / "siggraph17-fp32.onnx", L), S.siggraph17_ab(sd, L))


# -- the command line --------------------------------------------------------------------------------


def test_cli_import_then_use_by_name_everywhere(files, tmp_path, monkeypatch):
    from cli.cli_support import ERROR, invoke

    monkeypatch.setenv("EDGECOLOR_MODELS", str(tmp_path / "user"))
    res = invoke("import", "eccv16", files["pth"])
    assert res.exit_code == 0, res.output
    assert "imported eccv16" in res.output and "eccv16-fp32.onnx" in res.output
    listed = json.loads(invoke("models", "--json").output)
    assert {r["model"] for r in listed} >= {"eccv16"}
    photo = tmp_path / "old.jpg"
    shutil.copy(REPO / "samples" / "detroit_1915.jpg", photo)
    for backend in ("openvino", "opencv"):
        res = invoke("colorize", photo, "-m", "eccv16", "-b", backend, "-o", tmp_path / backend)
        assert res.exit_code == 0, res.output
        assert (tmp_path / backend / "old.jpg").is_file()
    res = invoke("colorize", photo, "-m", tmp_path / "user" / "eccv16" / "eccv16-fp32.onnx", "-o", tmp_path / "p")
    assert res.exit_code == 0, res.output
    res = invoke("eval", REPO / "samples", "-m", "eccv16", "-p", "fp16", "--limit", "1", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["photos"] == 1
    res = invoke("bench", "-m", "eccv16", "-b", "openvino", "-p", "fp16", "--frames", "2", "--warmup", "0",
                 "--size", "160x120", "--json")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output[res.output.index("["):])
    assert rec[0]["status"] == "ok" and rec[0]["precision"] == "fp16"
    res = invoke("import", "eccv16", files["pth"])  # again, without --force
    assert res.exit_code == 2 and res.output.count(ERROR) == 1 and "already imported" in res.output


def test_cli_without_convert_extra_is_one_line(files, tmp_path, monkeypatch):
    from cli.cli_support import errors, run_python

    monkeypatch.setenv("EDGECOLOR_MODELS", str(tmp_path / "user"))
    code = "import sys\nsys.modules['onnx'] = None\nfrom edgecolor.cli import main\nmain(sys.argv[1:])\n"
    res = run_python(code, "import", "eccv16", files["pth"], cwd=tmp_path, timeout=120)
    assert res.returncode == 2
    assert errors(res.stderr) == ["edgecolor: error: edgecolor import needs the convert extra: pip install "
                                  "'edgecolor[convert]' (onnx, onnxsim, nncf)"]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "user").exists()
