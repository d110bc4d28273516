"""`edgecolor demo`: the bundled samples colorized into a folder, plus the before/after sheet."""

from __future__ import annotations

import numpy as np
from cli_support import invoke, mean_chroma, read

from edgecolor.cli.demo import SHEET_NAME
from edgecolor.sheets import before_after_sheet, samples_dir


def test_demo_colorizes_every_sample_and_writes_the_sheet(models_dir, tmp_path):
    samples = sorted(p.name for p in samples_dir().glob("*.jpg"))
    assert len(samples) == 5
    out = tmp_path / "demo"
    result = invoke("demo", "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([*samples, SHEET_NAME])
    for name in samples:
        before, after = read(samples_dir() / name), read(out / name)
        assert after.shape[:2] == before.shape[:2] and mean_chroma(after) > 5
    sheet = read(out / SHEET_NAME)
    assert sheet.shape[1] == 1600 and sheet.shape[0] > 5 * 200
    assert f"wrote {out / SHEET_NAME}" in result.stdout

    stamp = (out / SHEET_NAME).stat().st_mtime_ns
    again = invoke("demo", "-o", out)  # nothing new: everything skipped, the sheet left alone
    assert again.exit_code == 0 and "done 0, skipped 5, failed 0" in again.stdout
    assert (out / SHEET_NAME).stat().st_mtime_ns == stamp
    forced = invoke("demo", "-o", out, "--force", "--backend", "opencv")
    assert forced.exit_code == 0 and "done 5, skipped 0, failed 0" in forced.stdout
    assert (out / SHEET_NAME).stat().st_mtime_ns != stamp


def test_sheet_puts_grey_left_and_colour_right():
    grey = np.full((50, 100, 3), 128, np.uint8)
    colour = grey.copy()
    colour[..., 2] = 220
    sheet = before_after_sheet([(grey, colour), (grey, colour)], width=224, gap=8)  # halves of 100 px
    assert sheet.shape == (40 + 2 * (50 + 8), 224, 3)
    row = sheet[40:90]
    assert mean_chroma(row[:, 8:108]) < 1 and mean_chroma(row[:, 116:216]) > 20


def test_demo_with_a_bad_model_is_one_error_line(model_files, tmp_path):
    result = invoke("demo", "-o", tmp_path / "d", "--model", model_files["no_metadata"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"edgecolor: error: {model_files['no_metadata']}: not an edgecolor model "
                                          "(no 'edgecolor.contract' metadata)"]
    assert not (tmp_path / "d").exists()
