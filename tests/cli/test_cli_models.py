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
    lite = [r for r in rows if r["model"] == "edgecolor-lite0"]
    assert all(r["default"] and r["gflops_256"] == 1.17 and r["colorfulness_ratio"] == 0.81 for r in lite)
    assert all(r["size_mb"] > 0 and r["working_size"] == 64 for r in lite)
    other = next(r for r in rows if r["model"] == "other")
    assert not other["default"] and other["gflops_256"] is None

    table = invoke("models")
    assert table.exit_code == 0, table.output
    line = next(line for line in table.stdout.splitlines() if "edgecolor-lite0" in line and "fp16" in line)
    assert "(default)" in line and "1.17" in line and "+0.42" in line and "0.81" in line
    other_line = next(line for line in table.stdout.splitlines() if "other" in line)
    assert other_line.count(" - ") >= 3  # no card: '-' for GFLOPs and quality


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
