"""A tiny end-to-end run of the tools: train a few steps → export → convert → quantize → eval.

Runs on a handful of the real training photos (../shared/data), so it checks the real path a
retrain takes, only shorter. Needs the train and convert extras (torch, onnx, onnxsim, nncf).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("nncf")

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
NAME = "edgecolor-lite0"


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> tuple[Path, Path]:
    if not (SHARED / "train").is_dir():
        pytest.fail(f"training photos not found at {SHARED}")
    root = tmp_path_factory.mktemp("photos")
    train, val = root / "train", root / "val"
    for src in ("flowers5_kaggle128", "weather_mwd", "food101_mini10"):
        (train / src).mkdir(parents=True)
        for p in sorted((SHARED / "train" / src).rglob("*.jpg"))[:12]:
            shutil.copy(p, train / src / p.name)
    val.mkdir()
    for p in sorted((SHARED / "val").rglob("*.jpg"))[:4]:
        shutil.copy(p, val / p.name)
    return train, val


@pytest.fixture(scope="module")
def trained(photos, tmp_path_factory) -> Path:
    from tools import train

    train_dir, val_dir = photos
    out = tmp_path_factory.mktemp("run")
    train.main(["--train", str(train_dir), "--val", str(val_dir), "--out", str(out), "--epochs", "1",
                "--finetune-epochs", "0.5", "--batch", "8", "--cache", str(out / "cache"), "--seed", "1"])
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert any(r["event"] == "epoch" and "val_psnr" in r for r in log)
    assert (out / "final.pt").exists()
    return out / "final.pt"


@pytest.fixture(scope="module")
def model_dir(trained, photos, tmp_path_factory) -> Path:
    from tools import convert, export

    d = tmp_path_factory.mktemp("models") / NAME
    net = export.load_checkpoint(trained)
    err = export.export(net, d / f"{NAME}-fp32.onnx", export.contract_for("fp32"), check_folder=photos[1])
    assert err <= export.TOLERANCE
    convert.convert(d / f"{NAME}-fp32.onnx", "fp16")
    return d


def test_export_writes_contract_that_round_trips(model_dir):
    from edgecolor.contract import ModelContract, read_metadata
    from tools.export import contract_for

    got = ModelContract.from_metadata(read_metadata(model_dir / f"{NAME}-fp32.onnx"))
    assert got == contract_for("fp32")
    ir = ModelContract.from_metadata(read_metadata(model_dir / f"{NAME}-fp16.xml"))
    assert ir.precision == "fp16" and ir.working_size == got.working_size and ir.l_scale == got.l_scale


def test_export_matches_torch_on_random_weights(tmp_path):
    """The written ONNX, run by OpenVINO at f32 on an input export never saw, matches PyTorch."""
    import openvino as ov
    import torch

    from edgecolor.contract import ModelContract  # the contract beside the model, for C++ (examples/cpp)
    from tools import export
    from tools.net import ColorNet, ab_bin_centres

    torch.manual_seed(0)
    net = ColorNet(ab_bin_centres()[::2], pretrained=False).eval()
    export.export(net, tmp_path / "m.onnx", export.contract_for("fp32"))
    x = np.random.default_rng(7).uniform(-1, 1, (1, 1, 160, 96)).astype(np.float32)  # a shape export did not check
    compiled = ov.Core().compile_model(str(tmp_path / "m.onnx"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    with torch.no_grad():
        ref = export.Exported(net).eval()(torch.from_numpy(x)).numpy()
    got = compiled(x)[0]
    assert got.shape == ref.shape and np.abs(got - ref).max() <= export.TOLERANCE
    assert ModelContract(**json.loads((tmp_path / "m.json").read_text())) == export.contract_for("fp32")


def test_export_refuses_a_model_that_differs_from_torch(tmp_path):
    import torch

    from tools import export

    class TracedBranch(torch.nn.Module):
        """Tracing at width 256 freezes this Python branch: at other widths ONNX and PyTorch differ by 1."""

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return y if int(x.shape[-1]) == 256 else y + export.AB_SCALE

    with pytest.raises(SystemExit, match="ONNX differs from PyTorch"):
        export.export(TracedBranch().eval(), tmp_path / "m.onnx", export.contract_for("fp32"), simplify=False)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the JSON beside it


def test_quantize_writes_int8_and_refuses_a_lossy_model(model_dir, photos):
    from edgecolor.contract import read_metadata
    from tools import quantize

    train_dir, val_dir = photos
    src = model_dir / f"{NAME}-fp32.onnx"
    out = model_dir / f"{NAME}-int8.xml"
    # An impossible gate (INT8 must gain 50 dB) must refuse and leave nothing behind.
    rc = quantize.main([str(src), "--calib", str(train_dir), "--calib-size", "16", "--eval", str(val_dir),
                        "--max-drop", "-50"])
    assert rc == 3 and not out.exists() and not out.with_suffix(".bin").exists()
    rc = quantize.main([str(src), "--calib", str(train_dir), "--calib-size", "16", "--eval", str(val_dir),
                        "--max-drop", "50"])
    assert rc == 0 and out.exists()
    assert read_metadata(out)["edgecolor.precision"] == "int8"


def test_eval_command_on_the_trained_model(model_dir, photos):
    _, val_dir = photos
    cmd = [sys.executable, "-m", "edgecolor", "eval", str(val_dir), "--model", str(model_dir / f"{NAME}-fp32.onnx"),
           "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["photos"] == 4
    for k in ("psnr", "ssim", "auc", "colorfulness", "colorfulness_ratio", "grey_psnr", "psnr_gain"):
        assert np.isfinite(rep[k])
    assert rep["colorfulness"] > 0  # a trained model, even a tiny one, adds colour


def test_pack_then_finetune_from_a_checkpoint(trained, photos, tmp_path):
    """The GPU route: pack photos into one tar, unpack elsewhere, fine-tune the checkpoint on them.
    The fine-tune keeps the checkpoint's ab bins even though re-encoded photos hit other bins."""
    import tarfile

    import cv2
    import torch

    from tools import pack, train

    train_dir, val_dir = photos
    info = pack.pack(train_dir, tmp_path / "train.tar.gz", size=160, quality=60)
    assert info["photos"] > 0 and info["tar_bytes"] < sum(p.stat().st_size for p in train_dir.rglob("*.jpg"))
    with tarfile.open(tmp_path / "train.tar.gz") as tar:
        tar.extractall(tmp_path / "data", filter="data")
    crops = sorted((tmp_path / "data" / "train").rglob("*.webp"))
    assert len(crops) == info["photos"] and {p.parent.name for p in crops} == set(info["sources"])
    assert cv2.imread(str(crops[0])).shape == (160, 160, 3)
    out = tmp_path / "ft"
    train.main(["--train", str(tmp_path / "data" / "train"), "--val", str(val_dir), "--out", str(out),
                "--epochs", "0", "--finetune-epochs", "1", "--batch", "8", "--cache", str(out / "cache"),
                "--init", str(trained), "--no-pretrained", "--seed", "2"])
    before = torch.load(trained, weights_only=False)
    after = torch.load(out / "final.pt", weights_only=False)
    np.testing.assert_array_equal(np.asarray(after["centres"]), np.asarray(before["centres"]))
    moved = [k for k, v in after["model"].items() if v.is_floating_point() and not torch.equal(v, before["model"][k])]
    assert any(k.startswith("encoder.") for k in moved) and any(k.startswith("decoder.") for k in moved)


def test_recover_the_exported_model_then_finetune_its_late_stages(model_dir, photos, tmp_path):
    """tools.from_onnx gets the trained weights back from the (BatchNorm-folded, simplified) ONNX file,
    and tools.finetune trains only the blocks after the stride-8 tap and the decoder on them."""
    import torch

    from tools import finetune, from_onnx
    from tools.net import ENCODER_TAPS

    train_dir, val_dir = photos
    s8 = ENCODER_TAPS["lite0"]["s8"]  # the shipped network's encoder
    ckpt = tmp_path / "recovered.pt"
    from_onnx.main([str(model_dir / f"{NAME}-fp32.onnx"), str(ckpt)])  # refuses anything over 1e-4 off
    out = tmp_path / "ft"
    finetune.main(["--init", str(ckpt), "--train", str(train_dir), "--val", str(val_dir), "--out", str(out),
                   "--epochs", "1", "--batch", "8", "--cache", str(out / "cache"), "--val-every", "2",
                   "--holdout", "weather_mwd", "--seed", "4"])
    before = torch.load(ckpt, weights_only=False)["model"]
    after = torch.load(out / "final.pt", weights_only=False)["model"]
    moved = {k for k, v in after.items() if v.is_floating_point() and not torch.equal(v, before[k])}
    head = ("encoder.stem.", "encoder.bn0.", *(f"encoder.blocks.{i}." for i in range(s8 + 1)))
    assert moved and not any(k.startswith(head) for k in moved)
    assert any(k.startswith(f"encoder.blocks.{s8 + 1}.") for k in moved)
    assert any(k.startswith("decoder.") for k in moved)
    assert (out / "head-train.npz").exists()  # cached for a resume


def test_finetune_whole_trains_the_early_stages_too_and_caches_nothing(model_dir, photos, tmp_path):
    """--whole trains every layer, the stem included, on fresh crops whose L is re-compressed per step."""
    import torch

    from tools import finetune, from_onnx

    train_dir, val_dir = photos
    ckpt = tmp_path / "recovered.pt"
    from_onnx.main([str(model_dir / f"{NAME}-fp32.onnx"), str(ckpt)])
    out = tmp_path / "whole"
    finetune.main(["--init", str(ckpt), "--train", str(train_dir), "--val", str(val_dir), "--out", str(out),
                   "--whole", "--epochs", "1", "--batch", "8", "--cache", str(out / "cache"), "--val-every", "2",
                   "--jpeg-prob", "1", "--seed", "4"])
    before = torch.load(ckpt, weights_only=False)["model"]
    after = torch.load(out / "final.pt", weights_only=False)["model"]
    moved = {k for k, v in after.items() if v.is_floating_point() and not torch.equal(v, before[k])}
    assert any(k.startswith("encoder.stem.") for k in moved)
    assert any(k.startswith("encoder.blocks.0.") for k in moved)
    assert any(k.startswith("decoder.") for k in moved)
    assert not (out / "head-train.npz").exists()


def test_whole_batch_recompresses_l_and_keeps_the_colour_targets():
    """The network input is the crop's L after a JPEG round trip (so it differs from the plain L), while
    the Lab crop the targets come from is untouched; a flip mirrors both."""
    from argparse import Namespace

    from tools.data import PhotoSet
    from tools.finetune import whole_batch

    rng = np.random.default_rng(0)
    lab = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    photos = PhotoSet(lab, np.zeros(3, int), ["s"], ["a", "b", "c"])
    args = Namespace(jpeg_prob=1.0, jpeg_min=30, jpeg_max=30)
    x, crop = whole_batch(photos, np.array([0, 2]), 8, 4, 32, True, rng, args)
    assert x.shape == (2, 1, 32, 32) and crop.shape == (2, 3, 32, 32)
    plain = lab[[0, 2], 8:40, 4:36, 0][..., ::-1].astype(np.float32) * (100.0 / 255.0)
    np.testing.assert_allclose(crop[:, 0].numpy(), plain, atol=1e-4)  # targets: the photo itself, mirrored
    seen = (x[:, 0].numpy() + 1.0) / 0.02
    assert np.abs(seen - plain).mean() > 1.0  # noise through JPEG q30 is not passed on unchanged
    x2, _ = whole_batch(photos, np.array([0, 2]), 8, 4, 32, True, rng, Namespace(jpeg_prob=0.0, jpeg_min=30,
                                                                                   jpeg_max=30))
    np.testing.assert_allclose((x2[:, 0].numpy() + 1.0) / 0.02, plain, atol=1e-3)


def test_uncertainty_fallback_mutes_a_two_mode_prediction_and_keeps_a_peaked_one(tmp_path):
    """Known answer: modes at ab (60, 20) and (20, 60) with equal weight have mean (40, 40) and variance
    800; with v0 = 800 the output is halved to (20, 20). One peaked mode at (40, 40) keeps its colour.
    The same holds in the exported ONNX, run by OpenVINO."""
    import openvino as ov
    import torch

    from tools import export
    from tools.net import AnnealedMean, ColorNet

    centres = np.array([[60, 20], [20, 60], [40, 40], [0, 0]], np.float32)
    dec = AnnealedMean(centres, temperature=1.0, fallback=800.0)
    two_modes = torch.tensor([50.0, 50.0, -50.0, -50.0]).reshape(1, 4, 1, 1)
    peaked = torch.tensor([-50.0, -50.0, 50.0, -50.0]).reshape(1, 4, 1, 1)
    np.testing.assert_allclose(dec(two_modes).flatten().numpy(), [20.0, 20.0], atol=1e-3)
    np.testing.assert_allclose(dec(peaked).flatten().numpy(), [40.0, 40.0], atol=1e-3)
    dec.fallback = 0.0
    np.testing.assert_allclose(dec(two_modes).flatten().numpy(), [40.0, 40.0], atol=1e-3)

    torch.manual_seed(0)
    from tools.net import ab_bin_centres

    plain = ColorNet(ab_bin_centres()[::2], pretrained=False).eval()
    muted = ColorNet(ab_bin_centres()[::2], pretrained=False, fallback=400.0).eval()
    muted.load_state_dict(plain.state_dict())
    export.export(muted, tmp_path / "muted.onnx", export.contract_for("fp32"))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, 64, 96)).astype(np.float32)
    got = ov.Core().compile_model(str(tmp_path / "muted.onnx"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
    with torch.no_grad():
        loud = plain(torch.from_numpy(x)).numpy() / 128
    assert np.abs(got).mean() < np.abs(loud).mean()  # muted where unsure, never louder
    assert np.all(np.abs(got) <= np.abs(loud) + 1e-5)


def test_gain_scales_the_colour_exactly():
    """Known answer: the chroma gain multiplies the decoded ab, with and without the fallback."""
    import torch

    from tools.net import AnnealedMean

    centres = np.array([[60, 20], [20, 60], [40, 40], [0, 0]], np.float32)
    logits = torch.tensor([50.0, 50.0, -50.0, -50.0]).reshape(1, 4, 1, 1)
    for v0, plain in ((0.0, [40.0, 40.0]), (800.0, [20.0, 20.0])):
        np.testing.assert_allclose(AnnealedMean(centres, 1.0, v0, gain=1.5)(logits).flatten().numpy(),
                                   np.array(plain) * 1.5, atol=1e-3)


def test_recover_a_model_exported_with_the_fallback(tmp_path):
    """tools.from_onnx reads T and v0 back from a model with the fallback in its graph (there the
    exporter's 1/ab_scale stays a last Mul instead of being folded into the decode), so a shipped
    1.1 model can be fine-tuned again."""
    import torch

    from tools import export, from_onnx
    from tools.net import ColorNet, ab_bin_centres

    torch.manual_seed(1)
    net = ColorNet(ab_bin_centres()[::2], pretrained=False, temperature=0.5, fallback=900.0, gain=1.25).eval()
    export.export(net, tmp_path / "fb.onnx", export.contract_for("fp32"))
    from_onnx.main([str(tmp_path / "fb.onnx"), str(tmp_path / "fb.pt")])  # refuses anything over 1e-4 off
    ckpt = torch.load(tmp_path / "fb.pt", weights_only=False)
    assert (ckpt["temperature"], ckpt["fallback"], ckpt["gain"]) == (0.5, 900.0, 1.25)
    np.testing.assert_allclose(ckpt["centres"], ab_bin_centres()[::2], atol=1e-4)


def test_finetune_a_new_lite1_network_from_imagenet_then_export_and_recover_it(photos, tmp_path):
    """Without --init, tools.finetune starts from the ImageNet EfficientNet-Lite1 encoder and a new decoder;
    the cached head ends at Lite1's stride-8 tap (block 6, not Lite0's 4), the exported file is named
    after its encoder, and tools.from_onnx tells the encoder from the graph."""
    import torch

    from tools import export, finetune, from_onnx
    from tools.net import ENCODER_TAPS, ColorNet

    train_dir, val_dir = photos
    out = tmp_path / "l1"
    finetune.main(["--encoder", "lite1", "--train", str(train_dir), "--val", str(val_dir), "--out", str(out),
                   "--epochs", "1", "--batch", "8", "--cache", str(out / "cache"), "--val-every", "2",
                   "--lr", "1e-3", "--encoder-lr-scale", "0.1", "--seed", "4"])
    z = torch.load(out / "final.pt", weights_only=False)
    assert z["variant"] == "lite1"
    imagenet = ColorNet(z["centres"], pretrained=True, variant="lite1").state_dict()
    moved = {k for k, v in z["model"].items() if v.is_floating_point() and not torch.equal(v, imagenet[k])}
    s8 = ENCODER_TAPS["lite1"]["s8"]
    head = ("encoder.stem.", "encoder.bn0.", *(f"encoder.blocks.{i}." for i in range(s8 + 1)))
    assert not any(k.startswith(head) for k in moved)
    assert any(k.startswith(f"encoder.blocks.{s8 + 1}.") for k in moved)
    assert any(k.startswith("decoder.") and k.endswith("running_mean") for k in moved)  # a new decoder's BN learns

    onnx_path = tmp_path / "edgecolor-lite1-fp32.onnx"
    export.main([str(out / "final.pt"), str(onnx_path), "--temperature", "0.5", "--fallback", "2500"])
    assert json.loads(onnx_path.with_suffix(".json").read_text())["name"] == "edgecolor-lite1"
    from_onnx.main([str(onnx_path), str(tmp_path / "back.pt")])  # refuses anything over 1e-4 off
    back = torch.load(tmp_path / "back.pt", weights_only=False)
    assert (back["variant"], back["temperature"], back["fallback"]) == ("lite1", 0.5, 2500.0)


def test_train_builds_the_encoder_it_is_asked_for(photos, tmp_path):
    """tools.train --encoder lite1 (whole-network training, e.g. on a GPU) keeps the encoder in its checkpoint,
    so export and resume rebuild the same network."""
    import torch

    from tools import export, train
    from tools.net import ENCODER_TAPS

    train_dir, val_dir = photos
    out = tmp_path / "run"
    train.main(["--train", str(train_dir), "--val", str(val_dir), "--out", str(out), "--epochs", "1",
                "--finetune-epochs", "0.3", "--batch", "8", "--cache", str(out / "cache"), "--seed", "1",
                "--encoder", "lite1", "--no-pretrained"])
    z = torch.load(out / "final.pt", weights_only=False)
    assert z["variant"] == "lite1"
    deepest = max(int(k.split(".")[2]) for k in z["model"] if k.startswith("encoder.blocks."))
    assert deepest == ENCODER_TAPS["lite1"]["s32"]
    assert export.load_checkpoint(out / "final.pt").encoder.variant == "lite1"


def test_finetune_whole_on_large_crops_with_weights_and_held_out_photos(photos, tmp_path):
    """--large-sources decodes those sources again at --large-size for larger crops; --holdout name:frac keeps
    a fixed part of a source unseen, listed in holdout.txt and linked by source under heldout/."""
    from tools import finetune

    train_dir, val_dir = photos
    out = tmp_path / "large"
    finetune.main(["--train", str(train_dir), "--val", str(val_dir), "--out", str(out), "--whole", "--size", "64",
                   "--crop", "32", "--batch", "4", "--epochs", "0.3", "--large-sources", "weather_mwd",
                   "--large-size", "128", "--large-crop", "96", "--large-batch", "2", "--large-share", "0.5",
                   "--holdout", "flowers5_kaggle128:0.5", "--source-weights", "food101_mini10=3",
                   "--cache", str(out / "cache"), "--val-every", "100", "--seed", "2"])
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    data = next(r for r in log if r["event"] == "data")
    assert data["large"] == 12 and 0 < data["held_out"] < 12
    held = (out / "holdout.txt").read_text().split()
    assert len(held) == data["held_out"] and all(n.startswith("flowers5_kaggle128/") for n in held)
    assert sorted(p.name for p in (out / "heldout" / "flowers5_kaggle128").iterdir()) == sorted(
        n.split("/")[1] for n in held)
    assert (out / "final.pt").exists()


def test_tune_at_ratio_picks_by_the_measure_and_its_gain_reaches_the_ratio(trained, photos, tmp_path, capsys):
    """tools.tune --at-ratio: every setting scored at the same colourfulness ratio; the chosen gain is the
    chroma scale that reaches it, so the model exported with it runs at that ratio on those photos."""
    from edgecolor.colorizer import Colorizer
    from edgecolor.evaluate import evaluate_arrays
    from tools import export, tune

    train_dir, _ = photos
    tune.main([str(trained), "--photos", str(train_dir / "weather_mwd"), "--n", "6", "--temperatures", "0.5,0.9",
               "--fallbacks", "0", "--at-ratio", "0.5"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    rows, chosen = lines[:-1], lines[-1]["chosen"]
    assert len(rows) == 2 and chosen["psnr_gain_at_ratio"] == max(r["psnr_gain_at_ratio"] for r in rows)
    export.export(export.load_checkpoint(str(trained), chosen["temperature"], chosen["fallback"], chosen["gain"]),
                  tmp_path / "m.onnx", export.contract_for("fp32"), simplify=False)
    got = evaluate_arrays(Colorizer(model=str(tmp_path / "m.onnx"), backend="openvino").colorize,
                          tune.sample_photos([str(train_dir / "weather_mwd")], 6, 0))
    assert got["colorfulness_ratio"] == pytest.approx(0.5, abs=0.03)
