"""edgecolor.video_batch: the video batch policy (outputs planned first, skip unless --force, per-file errors
counted, a model that cannot load stops the batch), without the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_fixtures import synthetic_clip, write_clip

from edgecolor.errors import ModelError, UsageError
from edgecolor.ffmpeg import find_ffmpeg
from edgecolor.options import ColorizerOptions, StreamOptions
from edgecolor.video_batch import VideoEvents, VideoPlan, VideoSummary, plan_outputs, plan_videos, run_videos

NO_MODEL = ColorizerOptions(model="/nowhere/model.onnx")  # fails only if something tries to load it


class Heard(VideoEvents):
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def skipped(self, message: str) -> None:
        self.lines.append(("skipped", message))

    def failed(self, message: str) -> None:
        self.lines.append(("failed", message))

    def wrote(self, report) -> None:
        self.lines.append(("wrote", report.line()))


def test_output_names(tmp_path):
    one = tmp_path / "a.mp4"
    assert plan_outputs([str(one)], None) == [(str(one), tmp_path / "colorized" / "a.mp4")]
    assert plan_outputs([str(one)], tmp_path / "x.mkv") == [(str(one), tmp_path / "x.mkv")]
    assert plan_outputs([str(one), "b.avi"], tmp_path / "out") == [(str(one), tmp_path / "out" / "a.mp4"),
                                                                  ("b.avi", tmp_path / "out" / "b.avi")]
    assert plan_outputs(["rtsp://cam/live?x=1"], None) == [("rtsp://cam/live?x=1", Path("colorized/live.mp4"))]
    with pytest.raises(UsageError, match="unknown video type .xyz"):
        plan_outputs([str(one)], tmp_path / "o.xyz")
    with pytest.raises(UsageError, match="several inputs need an output folder"):
        plan_outputs([str(one), "b.mp4"], tmp_path / "o.mp4")


def test_option_errors_come_before_any_work(tmp_path):
    """Bad options are UsageErrors (nothing can run: exit 2), raised while planning."""
    with pytest.raises(UsageError, match=r"--end \(0.5\) must be after --start \(1.0\)"):
        plan_videos([str(tmp_path / "a.mp4")], None, start=1.0, end=0.5)
    with pytest.raises(UsageError, match="codec"):
        plan_videos([str(tmp_path / "a.mp4")], tmp_path / "o.mp4", codec="nonsense-codec")


def test_existing_outputs_are_skipped_without_loading_the_model(tmp_path):
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"already here")
    heard = Heard()
    summary = run_videos(VideoPlan([(str(tmp_path / "in.mp4"), dst)], False), NO_MODEL, events=heard)
    assert summary == VideoSummary(files=1, skipped=1)
    assert heard.lines == [("skipped", f"{dst}: exists (use --force to overwrite)")]
    assert dst.read_bytes() == b"already here"


def test_a_failed_file_is_counted_and_the_batch_goes_on(tmp_path):
    heard = Heard()
    pairs = [(str(tmp_path / f"missing{i}.mp4"), tmp_path / f"out{i}.mp4") for i in range(2)]
    summary = run_videos(VideoPlan(pairs, False), NO_MODEL, events=heard)
    assert summary.failed == 2 and summary.done == 0 and not summary.interrupted
    assert [kind for kind, _ in heard.lines] == ["failed", "failed"]
    assert "missing0.mp4" in heard.lines[0][1] and "\n" not in heard.lines[0][1]
    assert summary.line() == "done 0, skipped 0, failed 2"


@pytest.mark.skipif(find_ffmpeg() is None, reason="no ffmpeg (imageio-ffmpeg)")
def test_a_model_that_cannot_load_stops_the_batch(tmp_path, model_files):
    clip = write_clip(tmp_path / "clip.mp4", synthetic_clip(64, 48, shot=3, fps=10.0).frames[:3], 10.0, find_ffmpeg(),
                      audio=False)
    heard = Heard()
    two = VideoPlan([(str(clip), tmp_path / "a.mp4"), (str(clip), tmp_path / "b.mp4")], find_ffmpeg())
    with pytest.raises(ModelError, match="model file not found"):
        run_videos(two, NO_MODEL, events=heard)
    assert heard.lines == [] and not (tmp_path / "a.mp4").exists()
    summary = run_videos(two, ColorizerOptions(model=model_files["onnx"]), events=heard,
                         stream_options=StreamOptions(workers=2))
    assert summary == VideoSummary(files=2, done=2)
    assert [kind for kind, _ in heard.lines] == ["wrote", "wrote"] and "3 frames" in heard.lines[0][1]


def test_one_per_file_policy_decides_by_type(tmp_path):
    """batch.file_failure, shared with photo batches: this file's failure is one line, the rest is raised."""
    from edgecolor.batch import file_failure
    from edgecolor.errors import BackendError, InputError, OutputError

    src = str(tmp_path / "a.mp4")
    assert file_failure(InputError(f"{src}: not a video"), src) == f"{src}: not a video"
    assert file_failure(OutputError(f"{src}: cannot write"), src) == f"{src}: cannot write"
    assert file_failure(PermissionError(13, "Permission denied"), src) == f"{src}: Permission denied"
    odd = file_failure(RuntimeError("two\nlines"), src, "video")
    assert odd == f"{src}: unexpected RuntimeError: two lines (set EDGECOLOR_DEBUG=1 for a traceback)"
    for fatal in (ModelError("m.onnx: model file not found"), BackendError("no openvino"), UsageError("--size 0")):
        with pytest.raises(type(fatal)):
            file_failure(fatal, src)


@pytest.mark.skipif(find_ffmpeg() is None, reason="no ffmpeg (imageio-ffmpeg)")
def test_a_file_that_fails_mid_batch_is_counted_by_its_kind(tmp_path, model_files):
    """A file that is no video and an output that cannot be made are InputErrors: counted, the batch goes on."""
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    clip = write_clip(tmp_path / "clip.mp4", synthetic_clip(64, 48, shot=3, fps=10.0).frames[:3], 10.0, find_ffmpeg(),
                      audio=False)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    heard = Heard()
    plan = VideoPlan([(str(text), tmp_path / "a.mp4"), (str(clip), blocker / "b.mp4"), (str(clip), tmp_path / "c.mp4")],
                     find_ffmpeg())
    summary = run_videos(plan, ColorizerOptions(model=model_files["onnx"]), events=heard)
    assert summary == VideoSummary(files=3, done=1, failed=2)
    assert [kind for kind, _ in heard.lines] == ["failed", "failed", "wrote"]
    assert "not a video" in heard.lines[0][1] and "a file is in the way" in heard.lines[1][1]
