"""eval's arithmetic on known answers: a perfect output and the greyscale baseline."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgecolor import metrics
from edgecolor.errors import EdgecolorError
from edgecolor.evaluate import evaluate_arrays
from edgecolor.files import image_paths


def _photos() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for h, w in ((48, 64), (40, 40), (33, 71)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out.append(cv2.GaussianBlur(img, (5, 5), 0))
    return out


def test_perfect_output_scores_cap_ratio_one_auc_one():
    photos = _photos()
    by_grey = {metrics.to_grey_bgr(p).tobytes(): p for p in photos}
    res = evaluate_arrays(lambda g: by_grey[g.tobytes()], photos)
    assert res["psnr"] == metrics.PSNR_CAP
    assert res["colorfulness_ratio"] == pytest.approx(1.0)
    assert res["auc"] == pytest.approx(1.0)
    assert res["ssim"] == pytest.approx(1.0)


def test_grey_output_equals_the_baseline_and_has_no_colour():
    photos = _photos()
    res = evaluate_arrays(lambda g: g, photos)
    assert res["psnr"] == pytest.approx(res["grey_psnr"])
    assert res["psnr_gain"] == pytest.approx(0.0)
    assert res["colorfulness_ratio"] < 0.05
    assert res["auc"] == pytest.approx(res["grey_auc"])
    assert res["auc"] < 1.0


def test_grey_baseline_keeps_lightness():
    img = _photos()[0]
    grey = metrics.to_grey_bgr(img)
    L = cv2.cvtColor(img, cv2.COLOR_BGR2Lab)[..., 0].astype(int)
    Lg = cv2.cvtColor(grey, cv2.COLOR_BGR2Lab)[..., 0].astype(int)
    assert np.abs(L - Lg).max() <= 2
    assert np.ptp(grey.astype(int), axis=2).max() <= 1


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(EdgecolorError, match="no images"):
        image_paths(tmp_path)
    with pytest.raises(EdgecolorError, match="not a folder"):
        image_paths(tmp_path / "nope")


def test_eval_and_colorize_offer_the_same_precisions(tmp_path):
    """`eval --precision` takes its choices from the one list in the contract, like every other command."""
    from typer.testing import CliRunner

    from edgecolor.cli import app
    from edgecolor.contract import PRECISIONS

    for command in ("eval", "colorize"):
        res = CliRunner().invoke(app, [command, str(tmp_path), "--precision", "fp64"])
        assert res.exit_code == 2 and all(p in res.output for p in PRECISIONS), res.output


def _colourful(n: int = 4, seed: int = 1) -> list[np.ndarray]:
    """Smooth photos of moderate chroma (far from the gamut edge, so scaling chroma is exact enough)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lab = np.zeros((48, 64, 3), np.float32)
        lab[..., 0] = cv2.resize(rng.uniform(35, 75, (4, 5)).astype(np.float32), (64, 48))
        lab[..., 1:] = cv2.resize(rng.uniform(-18, 18, (4, 5, 2)).astype(np.float32), (64, 48))
        out.append(np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2BGR) * 255 + 0.5, 0, 255).astype(np.uint8))
    return out


def _model(photos: list[np.ndarray], vivid: float):
    """A colorizer that knows the answers but paints them wrong (part of the hue swapped, muted), then times vivid."""
    by_grey = {metrics.to_grey_bgr(p).tobytes(): p for p in photos}

    def colorize(grey: np.ndarray) -> np.ndarray:
        return metrics.with_ab(by_grey[grey.tobytes()], lambda ab: (0.45 * ab + 0.25 * ab[..., ::-1]) * vivid)
    return colorize


def test_a_model_that_is_only_more_vivid_scores_the_same_at_a_fixed_ratio():
    photos = _colourful()
    dull = evaluate_arrays(_model(photos, 1.0), photos, at_ratio=0.6)
    vivid = evaluate_arrays(_model(photos, 1.4), photos, at_ratio=0.6)
    assert vivid["colorfulness_ratio"] > dull["colorfulness_ratio"] + 0.15  # the plain numbers differ...
    assert abs(vivid["psnr_gain"] - dull["psnr_gain"]) > 0.1
    assert vivid["psnr_gain_at_ratio"] == pytest.approx(dull["psnr_gain_at_ratio"], abs=0.02)  # ...the measure not
    assert dull["chroma_scale_at_ratio"] / vivid["chroma_scale_at_ratio"] == pytest.approx(1.4, rel=0.02)


def test_at_its_own_ratio_the_measure_is_the_plain_gain():
    photos = _colourful()
    res = evaluate_arrays(_model(photos, 1.0), photos)
    at = evaluate_arrays(_model(photos, 1.0), photos, at_ratio=res["colorfulness_ratio"])
    assert at["psnr_gain_at_ratio"] == pytest.approx(res["psnr_gain"], abs=0.01)
    assert at["chroma_scale_at_ratio"] == pytest.approx(1.0, abs=0.01)
    # a better colorizer (the right hue) scores higher at the same ratio
    by_grey = {metrics.to_grey_bgr(p).tobytes(): p for p in photos}
    right = evaluate_arrays(lambda g: metrics.with_ab(by_grey[g.tobytes()], lambda ab: 0.7 * ab), photos,
                            at_ratio=res["colorfulness_ratio"])
    assert right["psnr_gain_at_ratio"] > at["psnr_gain_at_ratio"] + 0.5


def test_a_grey_model_cannot_reach_a_ratio():
    photos = _colourful()
    res = evaluate_arrays(lambda g: g, photos, at_ratio=0.8)
    assert res["psnr_gain_at_ratio"] is None and res["chroma_scale_at_ratio"] is None


def _write(folder, photos) -> None:
    folder.mkdir(parents=True)
    for i, p in enumerate(photos):
        cv2.imwrite(str(folder / f"{i}.png"), p)


def test_several_folders_give_one_row_per_kind_and_all_pooled(models_dir, tmp_path):
    from edgecolor.colorizer import Colorizer
    from edgecolor.evaluate import evaluate, evaluate_folders

    _write(tmp_path / "streets", _colourful(3, seed=2))
    _write(tmp_path / "cars", _colourful(2, seed=3))
    c = Colorizer()
    reports = evaluate_folders([tmp_path / "streets", tmp_path / "cars"], c, at_ratio=0.3)
    assert [(r.name, r.photos) for r in reports] == [("streets", 3), ("cars", 2), ("all", 5)]
    alone = evaluate(tmp_path / "cars", c, at_ratio=0.3)
    assert alone.psnr_gain_at_ratio == pytest.approx(reports[1].psnr_gain_at_ratio)
    pooled_grey = (3 * reports[0].grey_psnr + 2 * reports[1].grey_psnr) / 5
    assert reports[2].grey_psnr == pytest.approx(pooled_grey)


def test_eval_command_at_ratio_per_kind(models_dir, tmp_path):
    import json

    from typer.testing import CliRunner

    from edgecolor.cli import app

    _write(tmp_path / "a", _colourful(2, seed=4))
    _write(tmp_path / "b", _colourful(2, seed=5))
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "a"), str(tmp_path / "b"), "--at-ratio", "0.3", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert [k["name"] for k in got["kinds"]] == ["a", "b"] and got["all"]["photos"] == 4
    assert got["all"]["at_ratio"] == 0.3 and got["all"]["psnr_gain_at_ratio"] is not None
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "a"), "--at-ratio", "0.3"])
    assert res.exit_code == 0 and "PSNR gain at colourfulness ratio 0.30" in res.output, res.output
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "a"), "--at-ratio", "0"])
    assert res.exit_code == 2


def _grey_photos(n: int = 3) -> list[np.ndarray]:
    """Grey photos as a user's folder holds them: three equal channels, with JPEG-like chroma noise of +-1."""
    rng = np.random.default_rng(9)
    out = []
    for p in _colourful(n, seed=6):
        grey = metrics.to_grey_bgr(p).astype(np.int16) + rng.integers(-1, 2, p.shape, dtype=np.int16)
        out.append(np.clip(grey, 0, 255).astype(np.uint8))
    return out


def test_only_photos_with_colour_can_be_scored(tmp_path):
    from edgecolor.errors import InputError
    from edgecolor.evaluate import MIN_COLOURFULNESS, check_colourful

    with pytest.raises(InputError, match=r"^greys: .*no colour"):
        check_colourful("greys", _grey_photos())
    with pytest.raises(InputError, match="no colour"):
        check_colourful("greys", [metrics.to_grey_bgr(p) for p in _colourful(2)])
    check_colourful("colour", _colourful(2))  # no error
    sepia = [metrics.with_ab(metrics.to_grey_bgr(p), lambda ab: ab + np.float32([6, 14])) for p in _colourful(2)]
    assert metrics.colorfulness(sepia[0]) > MIN_COLOURFULNESS  # toned prints still count as colour
    check_colourful("sepia", sepia)


def test_eval_refuses_a_folder_of_grey_photos_before_colorizing(models_dir, tmp_path):
    """It printed "PSNR gain -75 dB, ratio 1.00": the grey baseline equals grey originals (PSNR 99)."""
    from typer.testing import CliRunner

    from edgecolor.cli import app

    _write(tmp_path / "colour", _colourful(2, seed=4))
    _write(tmp_path / "greys", _grey_photos())
    cv2.imwrite(str(tmp_path / "greys" / "one-channel.png"), _grey_photos(1)[0][..., 0])
    for args in (["greys"], ["colour", "greys"]):
        res = CliRunner().invoke(app, ["eval", *[str(tmp_path / a) for a in args]])
        assert res.exit_code == 1, res.output  # an InputError, by the README's exit-code rule
        lines = res.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"edgecolor: error: {tmp_path / 'greys'}: "), res.stderr
        assert "no colour" in lines[0] and res.stdout == "" and "Traceback" not in res.output


def test_progress_is_reported_per_photo_across_folders(models_dir, tmp_path):
    from edgecolor.colorizer import Colorizer
    from edgecolor.evaluate import evaluate_folders

    _write(tmp_path / "streets", _colourful(3, seed=2))
    _write(tmp_path / "cars", _colourful(2, seed=3))
    calls = []
    evaluate_folders([tmp_path / "streets", tmp_path / "cars"], Colorizer(),
                     on_photo=lambda *a: calls.append(a))
    assert calls == [("streets", 1, 5), ("streets", 2, 5), ("streets", 3, 5), ("cars", 4, 5), ("cars", 5, 5)]


def test_eval_draws_a_bar_on_a_terminal_only(models_dir, tmp_path, monkeypatch):
    """The bar goes to stderr when it is a terminal (FORCE_COLOR makes rich treat it as one); in a pipe
    stderr stays empty and stdout is the JSON alone."""
    import json

    from typer.testing import CliRunner

    from edgecolor.cli import app

    _write(tmp_path / "a", _colourful(2, seed=4))
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    piped = CliRunner().invoke(app, ["eval", str(tmp_path / "a"), "--json"])
    assert piped.exit_code == 0 and piped.stderr == "" and json.loads(piped.stdout)["photos"] == 2
    monkeypatch.setenv("FORCE_COLOR", "1")
    tty = CliRunner().invoke(app, ["eval", str(tmp_path / "a"), "--json"])
    assert tty.exit_code == 0 and "eval a" in tty.stderr and "2/2" in tty.stderr
    assert json.loads(tty.stdout)["photos"] == 2
