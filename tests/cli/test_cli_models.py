"""`edgecolor models`: every bundled variant with its size, and card.json numbers or '-'."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_support import invoke


@pytest.fixture
def models_copy(models_tree, tmp_path, monkeypatch):
    """A private copy of the tiny models folder, so a test can add a model card to it."""
    root = tmp_path / "models"
    shutil.copytree(models_tree, root)
    monkeypatch.setenv("EDGECOLOR_MODELS_DIR", str(root))
    return root


def test_lists_every_variant_with_card_numbers(models_copy):
    card = {"gflops_256": 1.17, "psnr_gain_db": 0.42, "colorfulness_ratio": 0.81, "notes": "ignored"}
    (models_copy / "edgecolor-lite0" / "card.json").write_text(json.dumps(card))
    result = invoke("models", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    got = {(r["model"], r["precision"], r["format"]) for r in rows}
    assert got == {
        ("edgecolor-lite0", "fp32", "ONNX"),
        ("edgecolor-lite0", "fp16", "OpenVINO IR"),
        ("other", "fp32", "ONNX"),
    }
    lite = {r["precision"]: r for r in rows if r["model"] == "edgecolor-lite0"}
    assert all(r["default"] and r["gflops_256"] == 1.17 for r in lite.values())
    assert lite["fp32"]["colorfulness_ratio"] == 0.81 and lite["fp16"]["colorfulness_ratio"] is None
    lite = lite.values()
    assert all(r["size_mb"] > 0 and r["working_size"] == 64 for r in lite)
    other = next(r for r in rows if r["model"] == "other")
    assert not other["default"] and other["gflops_256"] is None

    table = invoke("models")
    assert table.exit_code == 0, table.output
    line = next(line for line in table.stdout.splitlines() if "edgecolor-lite0" in line and "fp32" in line)
    assert "(default)" in line and "1.17" in line and "+0.42" in line and "0.81" in line
    other_line = next(line for line in table.stdout.splitlines() if "other" in line)
    assert other_line.count(" - ") >= 3  # no card: '-' for GFLOPs and quality


def test_each_variant_shows_its_own_quality_never_another_variants(models_copy):
    """It showed the fp32 numbers on every variant. Per-variant numbers come from the card's "variants";
    the top-level ones (older cards) are fp32's; a variant the card says nothing about gets '-'."""
    card = {"gflops_256": 1.17, "psnr_gain_db": 0.42, "colorfulness_ratio": 0.81,
            "variants": {"fp16": {"psnr_gain_db": 0.37, "colorfulness_ratio": 0.79}}}
    (models_copy / "edgecolor-lite0" / "card.json").write_text(json.dumps(card))
    rows = {r["precision"]: r for r in json.loads(invoke("models", "--json").stdout) if r["model"] == "edgecolor-lite0"}
    assert (rows["fp32"]["psnr_gain_db"], rows["fp32"]["colorfulness_ratio"]) == (0.42, 0.81)
    assert (rows["fp16"]["psnr_gain_db"], rows["fp16"]["colorfulness_ratio"]) == (0.37, 0.79)
    assert rows["fp16"]["gflops_256"] == 1.17  # one network: the same cost for every variant

    card = {"gflops_256": 1.17, "psnr_gain_db": 0.42, "colorfulness_ratio": 0.81}  # quality for fp32 only
    (models_copy / "edgecolor-lite0" / "card.json").write_text(json.dumps(card))
    table = invoke("models")
    fp16 = next(line for line in table.stdout.splitlines() if "edgecolor-lite0" in line and "fp16" in line)
    assert "1.17" in fp16 and "0.42" not in fp16 and "0.81" not in fp16 and fp16.count(" - ") >= 2


def test_shipped_card_gives_every_shipped_variant_its_own_numbers():
    from pathlib import Path

    from edgecolor.cli.models import read_card, variant_numbers
    from edgecolor.models import FORMATS

    folder = Path(__file__).resolve().parents[2] / "models" / "edgecolor-lite0"
    card = read_card(folder)
    shipped = {p.stem.rsplit("-", 1)[1] for p in folder.iterdir() if p.suffix in FORMATS}
    numbers = {p: variant_numbers(card, p) for p in shipped}
    assert shipped == {"fp32", "fp16", "int8"}
    assert all(set(n) == {"gflops_256", "psnr_gain_db", "colorfulness_ratio"} for n in numbers.values())
    assert numbers["int8"]["psnr_gain_db"] < numbers["fp32"]["psnr_gain_db"]  # its own, not fp32's


def test_broken_card_warns_and_still_lists(models_copy):
    (models_copy / "other" / "card.json").write_text("{not json")
    result = invoke("models")
    assert result.exit_code == 0
    assert "edgecolor: warning:" in result.stderr and "card.json" in result.stderr
    assert "other" in result.stdout


def test_no_models(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECOLOR_MODELS_DIR", str(tmp_path))
    result = invoke("models")
    assert result.exit_code == 0 and "no bundled models found" in result.stdout
    assert invoke("models", "--json").stdout.strip() == "[]"


def _without_root_override() -> list[str]:
    """A command prefix under which a mode-000 folder is unreadable: nothing for a normal user; for root
    (tests often run as root, who reads anything) setpriv drops the two capabilities that let root past
    file permissions. Skips where neither works."""
    import os
    import subprocess

    if os.name == "nt":
        pytest.skip("POSIX permissions")
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    try:
        ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        pytest.skip("running as root without setpriv: cannot make a folder unreadable")
    return prefix


@pytest.mark.slow
@pytest.mark.parametrize("locked", ["user", "user/broken"])
def test_an_unreadable_user_model_folder_is_skipped_with_one_warning(models_dir, model_files, tmp_path, locked):
    """A PermissionError traceback (exit 1) from `models` and from every `colorize`, even with the bundled model."""
    import os
    import subprocess
    import sys

    from cli_support import REPO, write_image
    from conftest import photo

    user = tmp_path / "user"
    for name in ("fine", "broken"):
        (user / name).mkdir(parents=True)
        shutil.copy(model_files["onnx"], user / name / f"{name}-fp32.onnx")
    src = write_image(tmp_path / "a.png", photo())
    env = dict(os.environ, EDGECOLOR_MODELS=str(user),
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    (tmp_path / locked).chmod(0)
    try:
        runs = {args[0]: subprocess.run([*_without_root_override(), sys.executable, "-m", "edgecolor", *args],
                                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
                for args in (["models", "--json"], ["colorize", str(src)])}
    finally:
        (tmp_path / locked).chmod(0o755)
    warning = f"edgecolor: warning: {tmp_path / locked}: cannot read this models folder (Permission denied); skipped"
    for proc in runs.values():
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.splitlines() == [warning]
    listed = {r["model"] for r in json.loads(runs["models"].stdout)}
    assert listed == {"edgecolor-lite0", "other"} | ({"fine"} if locked == "user/broken" else set())
    assert (tmp_path / "colorized" / "a.png").is_file()


def test_a_model_named_with_a_newline_is_listed_on_one_line(models_copy, model_files, tmp_path, monkeypatch):
    user = tmp_path / "user"
    (user / "two\nlines").mkdir(parents=True)
    shutil.copy(model_files["onnx"], user / "two\nlines" / "two\nlines-fp32.onnx")
    monkeypatch.setenv("EDGECOLOR_MODELS", str(user))
    result = invoke("models")
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if "two" in line or "lines" in line] == [
        next(line for line in result.stdout.splitlines() if "two\\nlines (imported)" in line)]
