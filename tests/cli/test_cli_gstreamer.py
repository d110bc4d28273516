"""`edgecolor gstreamer`: the plugin folder (the one GStreamer's Python loader reads python/ in) and the
lines to paste into a shell."""

from __future__ import annotations

from pathlib import Path

from cli_support import run_cli

REPO_PLUGIN = Path(__file__).resolve().parents[2] / "edgecolor" / "gst"


def test_plugin_path_is_the_folder_holding_the_plugin_file(tmp_path):
    proc = run_cli("gstreamer", "--plugin-path", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip())
    assert folder == REPO_PLUGIN and (folder / "python" / "edgecolor_gst.py").is_file()


def test_without_options_it_prints_the_shell_lines(tmp_path):
    proc = run_cli("gstreamer", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"export GST_PLUGIN_PATH={REPO_PLUGIN}" in proc.stdout
    assert "gst-inspect-1.0 edgecolor" in proc.stdout and "! edgecolor !" in proc.stdout
    assert "sudo apt install" in proc.stderr and "gstreamer1.0-python3-plugin-loader" in proc.stderr
