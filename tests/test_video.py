"""`edgecolor video` end to end: real clips made with ffmpeg, real runtimes (tiny model), real encoders."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import default_sigint
from video_fixtures import cli_env, errors, flicker, frames_of, invoke, mean_chroma, synthetic_clip, write_clip

from edgecolor.ffmpeg import ffmpeg_probe, find_ffmpeg
from edgecolor.sources import FileSource

FFMPEG = find_ffmpeg()
pytestmark = pytest.mark.skipif(FFMPEG is None and not os.environ.get("CI"), reason="no ffmpeg (imageio-ffmpeg)")
FPS = 25.0


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(160, 120, shot=12, fps=FPS)


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory, clip) -> Path:
    """36 frames, 160x120, 25 fps, H.264 with a 440 Hz AAC sound track."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", clip.frames, FPS, FFMPEG)


def fps_of(path: Path) -> float:
    return cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS)


def audio_of(path: Path) -> list[str]:
    """Audio codecs, from `ffmpeg -i` (imageio-ffmpeg has no ffprobe)."""
    return ffmpeg_probe(FFMPEG, path).audio


def duration_of(path: Path) -> float:
    text = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_video_keeps_frames_size_fps_and_sound_and_adds_colour(tmp_path, clip_file, clip, model_files):
    out = tmp_path / "out.mp4"
    result = invoke("video", clip_file, "-o", out, "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 36 frames" in result.output and "sound copied" in result.output
    frames = frames_of(out)
    assert len(frames) == 36
    assert frames[0].shape == (120, 160, 3)
    assert fps_of(out) == pytest.approx(FPS)
    assert audio_of(out) == ["aac"]
    assert np.mean([mean_chroma(f) for f in frames]) > 5.0
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary file left

    plain = tmp_path / "plain.mp4"
    result = invoke("video", clip_file, "-o", plain, "--model", model_files["onnx"], "--no-stabilize")
    assert result.exit_code == 0, result.output
    assert flicker(frames, clip) < flicker(frames_of(plain), clip)


@pytest.mark.parametrize(
    ("name", "extra", "codec_seen"),
    [("out.mkv", [], "h264"), ("out.avi", [], "mjpeg"), ("out.mp4", ["--codec", "mp4v"], "mpeg4")],
)
def test_containers_codecs_and_a_part(tmp_path, clip_file, model_files, name, extra, codec_seen):
    out = tmp_path / name
    result = invoke("video", clip_file, "-o", out, "--model", model_files["onnx"], "--start", "0.4", "--end", "1.0",
                    *extra)
    assert result.exit_code == 0, result.output
    assert len(frames_of(out)) == 15
    text = subprocess.run([FFMPEG, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert f"Video: {codec_seen}" in text
    assert "Audio:" in text  # aac copied into mp4/mkv, re-encoded for avi
    assert duration_of(out) == pytest.approx(0.6, abs=0.1)


def test_without_ffmpeg_warns_and_writes_a_silent_video(tmp_path, clip_file, model_files, monkeypatch):
    monkeypatch.setenv("EDGECOLOR_FFMPEG", "none")
    out = tmp_path / "silent.avi"
    result = invoke("video", clip_file, "-o", out, "--model", model_files["onnx"], "--end", "0.4")
    assert result.exit_code == 0, result.output
    assert "no ffmpeg found" in result.output
    assert len(frames_of(out)) == 10
    monkeypatch.delenv("EDGECOLOR_FFMPEG")
    assert audio_of(out) == []


@pytest.mark.parametrize("name", ["quiet.mp4", "quiet.webm"])
def test_without_ffmpeg_one_warning_names_the_codec_written(tmp_path, clip_file, model_files, capfd, name):
    """The API with ffmpeg=None: one warning line naming the codec the file holds (checked with ffmpeg), and
    none of OpenCV's own lines on stderr (its ffmpeg backend complains about a fourcc a container refuses)."""
    from edgecolor.colorizer import Colorizer
    from edgecolor.video import colorize_video

    out, warnings = tmp_path / name, []
    capfd.readouterr()
    report = colorize_video(clip_file, out, Colorizer(model_files["onnx"]), end=0.4, ffmpeg=None,
                            warn=warnings.append)
    said = capfd.readouterr()
    assert said.err == "" and said.out == ""
    about = [w for w in warnings if "ffmpeg" in w]
    assert len(about) == 1, warnings
    m = re.fullmatch(rf"{re.escape(str(out))}: no ffmpeg found \(pip install imageio-ffmpeg\): OpenCV writes it as "
                     r"(.+) \((\w{4})\) video, without sound", about[0])
    assert m, about[0]
    assert report.frames == 10 and len(frames_of(out)) == 10
    seen = {"MPEG-4 Part 2": "mpeg4", "VP9": "vp9", "VP8": "vp8", "H.264": "h264", "Motion JPEG": "mjpeg"}[m[1]]
    text = subprocess.run([FFMPEG, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert f"Video: {seen}" in text, text


def test_batch_into_a_folder_goes_on_after_a_bad_input(tmp_path, clip_file, model_files):
    second = tmp_path / "second.mkv"
    write_clip(second, synthetic_clip(96, 64, shot=4).frames, FPS, FFMPEG, audio=False)
    outdir = tmp_path / "out"
    result = invoke("video", clip_file, tmp_path / "missing.mp4", second, "-o", outdir, "--model", model_files["onnx"])
    assert result.exit_code == 1
    assert errors(result.output) == [f"edgecolor: error: {tmp_path / 'missing.mp4'}: no such file"]
    assert sorted(p.name for p in outdir.iterdir()) == ["clip.mp4", "second.mkv"]
    assert len(frames_of(outdir / "second.mkv")) == 12
    again = invoke("video", clip_file, "-o", outdir, "--model", model_files["onnx"])
    assert again.exit_code == 0 and "exists (use --force" in again.output


def test_bad_inputs_give_one_line_and_leave_nothing(tmp_path, clip_file, model_files):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), np.full((32, 32, 3), 128, np.uint8))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    out = tmp_path / "out"
    cases = [
        ([tmp_path / "missing.mp4", "-o", out / "a.mp4"], 1, "no such file"),
        ([text, "-o", out / "b.mp4"], 1, "not a video"),
        ([photo, "-o", out / "c.mp4"], 1, "is a photo"),
        ([f"http://127.0.0.1:{closed}/x", "-o", out / "d.mp4"], 1, "cannot open"),
        ([clip_file, "-o", blocker / "e.mp4"], 1, "a file is in the way"),
        ([clip_file, "-o", out / "f.xyz"], 2, "unknown video type"),
        ([clip_file, "-o", out / "g.mp4", "--start", "9"], 1, "past the end"),
        ([clip_file, "-o", out / "h.mp4", "--start", "1", "--end", "0.5"], 2, "must be after"),
        ([clip_file, "-o", out / "i.mp4", "--model", tmp_path / "nope.onnx"], 2, "model file not found"),
    ]
    for args, code, reason in cases:  # the README's rule: an input that failed is 1, nothing could run is 2
        result = invoke("video", "--model", model_files["onnx"], *args)
        assert result.exit_code == code, (args, result.output)
        lines = errors(result.output)
        assert len(lines) == 1 and reason in lines[0], (args, result.output)
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists() or not list(out.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "notes.mp4", "photo.jpg"]


def test_ffmpeg_reader_gives_the_same_frames_as_opencv(tmp_path, clip):
    """The fallback for files OpenCV cannot open decodes through an ffmpeg pipe, range included."""
    path = write_clip(tmp_path / "clip.mkv", clip.frames[:20], FPS, FFMPEG, audio=False)
    got = {}
    for via_ffmpeg in (False, True):
        src = FileSource(path, start=0.2, end=0.6, ffmpeg=FFMPEG, force_ffmpeg=via_ffmpeg)
        frames = []
        while (frame := src.read()) is not None:
            frames.append(frame)
        src.close()
        assert src.size == (160, 120) and src.fps == pytest.approx(FPS)
        got[via_ffmpeg] = frames
    assert len(got[False]) == len(got[True]) == 10
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(got[False], got[True])) < 2.0


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """120 s of 640x480 with sound: long enough to be interrupted mid-way."""
    long = tmp_path_factory.mktemp("long") / "long.mp4"
    made = subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                           "testsrc=size=640x480:rate=25:duration=120", "-f", "lavfi", "-i", "sine=duration=120",
                           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                           "-shortest", str(long)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    return long


STOPS = [(signal.SIGINT, 1), (signal.SIGINT, 3)]
if hasattr(signal, "SIGTERM") and os.name == "posix":  # systemd / docker stop, a closed terminal: as Ctrl-C
    STOPS += [pytest.param(signal.SIGTERM, 1, marks=pytest.mark.slow),
              pytest.param(signal.SIGTERM, 2, marks=pytest.mark.slow),
              pytest.param(signal.SIGHUP, 1, marks=pytest.mark.slow)]


@pytest.mark.parametrize(("stop", "presses"), STOPS)
def test_ctrl_c_leaves_a_playable_partial_file(tmp_path, model_files, long_clip, stop, presses):
    """Any number of Ctrl-C (here 0.5 s apart, while the encoder is finishing), SIGTERM or SIGHUP keeps a
    playable partial file with its sound, no traceback, and the summary line."""
    out = tmp_path / "out" / "partial.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "edgecolor", "video", str(long_clip), "-o", str(out),
                             "--model", str(model_files["onnx"])], env=cli_env(), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # wait until frames are being written
        temps = list(out.parent.glob(f".{out.name}.*")) if out.parent.exists() else []  # atomic's temporaries
        if temps and max(t.stat().st_size for t in temps if t.exists()) > 20000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    for i in range(presses):
        if i:
            time.sleep(0.5)
        if proc.poll() is None:
            proc.send_signal(stop)
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"no exit 120 s after {stop.name}; stdout {stdout!r} stderr {stderr!r}")
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    assert "wrote partial" in stdout
    n = len(frames_of(out))
    assert 0 < n < 3000
    assert f"{n} of 3000 frames" in stdout
    assert "done 0, partial 1, skipped 0, failed 0 (interrupted)" in stdout  # the summary line
    assert audio_of(out) == ["aac"]
    assert duration_of(out) == pytest.approx(n / 25.0, abs=0.2)  # the sound stops with the picture
    assert [p.name for p in out.parent.iterdir()] == ["partial.mp4"]


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return kids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the ffmpeg child in /proc (Linux)")
def test_systemd_stop_signals_edgecolor_and_its_ffmpeg_at_once(tmp_path, model_files, long_clip):
    """systemd's stop sends SIGTERM to every process of the service: ffmpeg finishes the file itself (exit
    255) while edgecolor stops; the file is the playable partial output, not a failure."""
    out = tmp_path / "out" / "partial.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "edgecolor", "video", str(long_clip), "-o", str(out),
                             "--model", str(model_files["onnx"])], env=cli_env(), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        temps = list(out.parent.glob(f".{out.name}.*")) if out.parent.exists() else []
        if temps and max((t.stat().st_size for t in temps if t.exists()), default=0) > 20000:
            break
        time.sleep(0.05)
    kids = _children(proc.pid)
    assert proc.poll() is None and kids, "finished before it could be stopped"
    for pid in [proc.pid, *kids]:
        os.kill(pid, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr and "error" not in stderr
    assert "wrote partial" in stdout and "done 0, partial 1, skipped 0, failed 0 (interrupted)" in stdout
    n = len(frames_of(out))
    assert 0 < n < 3000
    assert [p.name for p in out.parent.iterdir()] == ["partial.mp4"]


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="a shell pipeline")
def test_a_closed_stdout_pipe_ends_the_batch_cleanly(tmp_path, model_files, long_clip):
    """`edgecolor video a b c | head -1`: the reader goes after the first line; the file being made when
    that is found is finished (playable), the batch stops, the summary goes to stderr; no traceback."""
    short = tmp_path / "short.mp4"
    cut = subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(long_clip), "-t", "2", "-c", "copy",
                          str(short)], capture_output=True, text=True, timeout=60)
    assert cut.returncode == 0, cut.stderr
    inputs = [short, short.with_name("b.mp4"), short.with_name("c.mp4")]
    for other in inputs[1:]:
        other.write_bytes(short.read_bytes())
    out = tmp_path / "out"
    cmd = " ".join(f"'{a}'" for a in [sys.executable, "-m", "edgecolor", "video", *inputs, long_clip, "-o", out,
                                      "--model", model_files["onnx"]])
    done = subprocess.run(["bash", "-c", f"{cmd} 2>'{tmp_path / 'err.txt'}' | head -1; echo rc=${{PIPESTATUS[0]}}"],
                          env=cli_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    stderr = (tmp_path / "err.txt").read_text()
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"wrote {out / 'short.mp4'}: ") and lines[1] == "rc=130", (
        done.stdout, stderr)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
    assert "edgecolor: note: stdout was closed; stopping" in stderr
    assert re.search(r"^done 2, skipped 0, failed 0 \(interrupted\)$", stderr, re.M), stderr  # the summary
    assert sorted(p.name for p in out.iterdir()) == ["b.mp4", "short.mp4"]  # long.mp4 never started
    assert len(frames_of(out / "b.mp4")) == len(frames_of(short)) > 0


def test_every_still_image_suffix_is_refused_as_video(tmp_path):
    """Photos edgecolor writes, and other stills OpenCV reads (.pgm), are never opened as a video."""
    from edgecolor.errors import EdgecolorError
    from edgecolor.files import IMAGE_SUFFIXES, STILL_SUFFIXES
    from edgecolor.sources import check_video_file

    assert set(IMAGE_SUFFIXES) < set(STILL_SUFFIXES)
    for suffix in (*STILL_SUFFIXES, ".PGM"):
        still = tmp_path / f"still{suffix}"
        still.write_bytes(b"x")
        with pytest.raises(EdgecolorError, match="is a photo, not a video"):
            check_video_file(still)
