"""`edgecolor video` keeps its promises on awkward files (issue 10): every decoded frame, the sound as
long as it was, stale temp files of killed runs swept (and nothing else), special files refused
before they are opened, one exit-code rule. Real clips made with ffmpeg, real runtimes (tiny model)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from video_fixtures import cli_env, errors, frames_of, invoke, synthetic_clip, write_clip

from edgecolor.atomic import host_tag
from edgecolor.ffmpeg import ffmpeg_probe, find_ffmpeg
from edgecolor.sources import FileSource

FFMPEG = find_ffmpeg()
pytestmark = pytest.mark.skipif(FFMPEG is None and not os.environ.get("CI"), reason="no ffmpeg (imageio-ffmpeg)")
FPS = 25.0
WARNING = "edgecolor: warning: "


def _ffmpeg(*args: str) -> None:
    done = subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def _ts(path: Path, size: str, frames: int) -> Path:
    _ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate=25", "-frames:v", str(frames), "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts", str(path))
    return path


def _joined(path: Path, *parts: Path) -> Path:
    path.write_bytes(b"".join(p.read_bytes() for p in parts))
    return path


def audio_seconds(path: Path) -> float:
    """Length of the first sound track, from its decoded samples (the container's duration is the longest stream)."""
    pcm = subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
                          "-f", "s16le", "-ac", "1", "-ar", "8000", "pipe:1"], capture_output=True, timeout=60).stdout
    return len(pcm) / 2 / 8000


def warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(WARNING)]


# -- item 3: never stop at the container's frame count ----------------------------------------------


def test_joined_transport_streams_keep_every_frame_and_say_the_count_was_off(tmp_path, model_files):
    part = _ts(tmp_path / "a.ts", "160x120", 25)
    same3 = _joined(tmp_path / "same3.ts", part, part, part)  # `cat a.ts a.ts a.ts`: the container says 25
    out = tmp_path / "out.mp4"
    result = invoke("video", same3, "-o", out, "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    assert len(frames_of(out)) == 75
    assert f"wrote {out}: 75 frames" in result.output
    assert any("decoded 75 frames, the container said" in w for w in warnings(result.output)), result.output


def test_a_resolution_change_midway_is_scaled_to_the_first_size(tmp_path, model_files):
    small, large = _ts(tmp_path / "small.ts", "160x120", 20), _ts(tmp_path / "large.ts", "320x240", 20)
    mixed = _joined(tmp_path / "mixed.ts", small, large)
    out = tmp_path / "out.mkv"
    result = invoke("video", mixed, "-o", out, "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    frames = frames_of(out)
    assert len(frames) == 40
    assert {f.shape for f in frames} == {(120, 160, 3)}
    # the ffmpeg reader (for files OpenCV cannot open) does the same: every frame, first size
    src = FileSource(mixed, ffmpeg=FFMPEG, force_ffmpeg=True)
    got = []
    while (frame := src.read()) is not None:
        got.append(frame.shape)
    src.close()
    assert got == [(120, 160, 3)] * 40


def test_a_truncated_fast_start_mp4_is_reported(tmp_path, model_files):
    whole = tmp_path / "whole.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-frames:v", "200", "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index (at the start) still lists 200 frames
    out = tmp_path / "out.mp4"
    result = invoke("video", cut, "-o", out, "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    n = len(frames_of(out))
    assert 50 < n < 200
    lines = warnings(result.output)
    assert any(f"decoded {n} frames, the container said 200" in w and "truncated" in w for w in lines), result.output


# -- item 4: the picture is never cut to the sound ---------------------------------------------------


@pytest.mark.parametrize("sound_s", [2.5, 4.64])
def test_sound_shorter_than_the_picture_keeps_every_frame_and_all_the_sound(tmp_path, model_files, sound_s):
    frames = synthetic_clip(96, 64, shot=40).frames  # 120 frames: 4.8 s
    video = write_clip(tmp_path / "silent.mp4", frames, FPS, FFMPEG, audio=False)
    clip = tmp_path / "clip.mp4"
    _ffmpeg("-i", str(video), "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=22050:duration={sound_s}",
            "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", str(clip))
    assert audio_seconds(clip) == pytest.approx(sound_s, abs=0.1)
    out = tmp_path / "out.mp4"
    result = invoke("video", clip, "-o", out, "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    assert "exit code 0" not in result.output
    assert len(frames_of(out)) == 120
    assert audio_seconds(out) == pytest.approx(sound_s, abs=0.1)


def test_sound_longer_than_a_part_is_cut_to_the_picture(tmp_path, model_files):
    clip = write_clip(tmp_path / "clip.mkv", synthetic_clip(96, 64, shot=20).frames, FPS, FFMPEG)  # 2.4 s, sound
    out = tmp_path / "out.mkv"
    result = invoke("video", clip, "-o", out, "--model", model_files["onnx"], "--end", "1.0")
    assert result.exit_code == 0, result.output
    assert len(frames_of(out)) == 25
    assert audio_seconds(out) == pytest.approx(1.0, abs=0.1)


# -- item 6: leftovers of killed runs ---------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # reaped: no such process now (pids are not reused this fast)


@pytest.mark.slow
def test_kill_9_leftovers_are_removed_by_the_next_run_and_nothing_else(tmp_path, model_files):
    long = tmp_path / "long.mkv"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=60", "-c:v", "libx264", "-preset",
            "ultrafast", "-pix_fmt", "yuv420p", str(long))
    outdir = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "edgecolor", "video", str(long), "-o", str(outdir / "a.mkv"),
                             "--model", str(model_files["onnx"])], env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (outdir.exists() and list(outdir.glob(".*.tmp.*"))):
        time.sleep(0.05)
    time.sleep(0.5)
    proc.kill()  # kill -9: no cleanup runs
    proc.wait()
    time.sleep(1.0)  # its ffmpeg (own session) sees its input end and finishes by itself
    left = sorted(p.name for p in outdir.iterdir())
    assert left and all(".tmp." in name for name in left), left
    now = time.time()
    for name in left:  # a minute later (until then a dead writer's ffmpeg may still be finishing)
        os.utime(outdir / name, (now - 120, now - 120))

    host, alive, dead = host_tag(), os.getpid(), _dead_pid()
    other = f"{'0' if host[0] != '0' else '1'}{host[1:]}"
    keep = {
        f".b.mkv.ec{host}-{alive}-abcdef01.tmp.mkv": 0,  # a run still writing here (this process)
        f".c.mkv.ec{other}-{dead}-abcdef01.tmp.mkv": 0,  # another machine's run
        ".d.k3j_x9qa.partial.mkv": 0,  # an old-style name, recent: its writer may be running
        f".i.mkv.ec{host}-{dead}-abcdef01-video.tmp.mkv": 5,  # writer gone seconds ago: its ffmpeg may still write
        f".j.{host}ab-{dead}-abcdef.partial.mkv": 5,  # the same, under the name videos had before
        ".e.tmp": 3 * 86400,  # not our pattern
        "notes.partial.mkv": 3 * 86400,  # not hidden: a user's file
        ".f.partial.mkv": 3 * 86400,  # not our pattern
    }
    remove = {f".g.mkv.ec{host}-{dead}-abcdef01.tmp.mkv": 120, ".h.qqqq_zzz.partial.mkv": 3 * 86400,
              f".k.{host}ab-{dead}-abcdef.partial.mkv": 120, f".l.jpg.ec{host}-{dead}-abcdef01.tmp.jpg": 120}
    for name, age in {**keep, **remove}.items():
        (outdir / name).write_bytes(b"x")
        os.utime(outdir / name, (now - age, now - age))
    short = write_clip(tmp_path / "short.mkv", synthetic_clip(96, 64, shot=4).frames, FPS, FFMPEG, audio=False)
    result = invoke("video", short, "-o", outdir / "next.mkv", "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in outdir.iterdir()) == sorted([*keep, "next.mkv"])
    said = [w for w in warnings(result.output) if "removed" in w]
    assert len(said) == len(left) + len(remove), result.output
    assert all("left by an interrupted run" in w for w in said)


# -- item 7: special files are refused before they are opened ---------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_and_device_named_like_videos_are_refused_at_once(tmp_path, model_files):
    fifo = tmp_path / "f.mp4"
    os.mkfifo(fifo)
    zero = tmp_path / "z.mp4"
    zero.symlink_to("/dev/zero")
    env = cli_env()
    cases = [
        (["video", fifo, "-o", tmp_path / "o1.mp4"], "FIFO"),
        (["video", zero, "-o", tmp_path / "o2.mp4"], "not a regular file"),
        (["live", "--source", fifo, "--record", tmp_path / "r.mp4"], "FIFO"),
    ]
    for args, reason in cases:
        cmd = [sys.executable, "-m", "edgecolor", *map(str, args), "--model", str(model_files["onnx"])]
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{args}: hangs on a special file")
        assert done.returncode == 1, (args, done.stderr)
        lines = errors(done.stderr)
        assert len(lines) == 1 and reason in lines[0], (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.mp4", "z.mp4"]


# -- item 17: one exit-code rule --------------------------------------------------------------------


def test_exit_codes_missing_input_is_1_bad_option_is_2(tmp_path, model_files):
    clip = write_clip(tmp_path / "c.mp4", synthetic_clip(96, 64, shot=2).frames, FPS, FFMPEG, audio=False)
    missing = tmp_path / "missing.mp4"
    cases = [
        (["video", missing, "-o", tmp_path / "o.mp4"], 1, "no such file"),
        (["live", "--source", missing, "--record", tmp_path / "r.mp4"], 1, "no such file"),
        (["live", "--source", "99999999999999999999", "--record", tmp_path / "r.mp4"], 1, "not a camera index"),
        (["video", clip, "-o", tmp_path / "o.mp4", "--codec", "nosuchcodec"], 2, "--codec"),
        (["video", clip, "-o", tmp_path / "o.mp4", "--start", "1", "--end", "0.5"], 2, "must be after"),
        (["video", clip, "-o", tmp_path / "o.mp4", "--model", tmp_path / "nope.onnx"], 2, "model file not found"),
    ]
    for args, code, reason in cases:
        result = invoke(*args, *([] if "--model" in args else ["--model", model_files["onnx"]]))
        assert result.exit_code == code, (args, result.output)
        lines = errors(result.output)
        assert len(lines) == 1 and reason in lines[0], (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]


# -- issue 21 item 5: the pixel limit holds for video and live frames ------------------------------


def test_max_pixels_refuses_video_and_live_frames_in_one_line(tmp_path, model_files):
    clip = write_clip(tmp_path / "c.mp4", synthetic_clip(160, 120, shot=2).frames, FPS, FFMPEG, audio=False)
    reason = ("c.mp4: frames too large: 160x120 = 0.0192 megapixels, above the limit of 0.01 "
              "(raise it with --max-pixels)")
    for args in (["video", clip, "-o", tmp_path / "o.mp4"], ["live", "--source", clip, "--record", tmp_path / "r.mp4"]):
        result = invoke(*args, "--max-pixels", 10000, "--model", model_files["onnx"])
        assert result.exit_code == 1, (args, result.output)
        lines = errors(result.output)
        assert len(lines) == 1 and lines[0].endswith(reason), (args, result.output)
    assert invoke("video", clip, "-o", tmp_path / "o.mp4", "--max-pixels", 19200,
                  "--model", model_files["onnx"]).exit_code == 0  # at the limit: allowed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "o.mp4"]


def test_the_limit_is_checked_from_the_stated_size_before_any_frame_is_decoded(tmp_path):
    from edgecolor.errors import InputError
    from edgecolor.sources import LiveSource

    clip = write_clip(tmp_path / "c.avi", synthetic_clip(160, 120, shot=2).frames, FPS, FFMPEG, audio=False)
    for force_ffmpeg in (False, True):  # OpenCV's size, or ffmpeg's probe
        with pytest.raises(InputError, match="frames too large: 160x120"):
            FileSource(clip, ffmpeg=FFMPEG, force_ffmpeg=force_ffmpeg, max_pixels=19199)
        source = FileSource(clip, ffmpeg=FFMPEG, force_ffmpeg=force_ffmpeg, max_pixels=None)  # None: no limit
        assert source.read().shape == (120, 160, 3)
        source.close()
    with pytest.raises(InputError, match="frames too large: 160x120"):
        LiveSource(clip, max_pixels=100)


_PEAK = ("import atexit, runpy, sys\n"  # the child's own peak (VmHWM): ru_maxrss would include the forking parent's
         "atexit.register(lambda: print([ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0],"
         " file=sys.stderr))\n"
         "sys.argv = ['edgecolor', *sys.argv[1:]]\n"
         "runpy.run_module('edgecolor', run_name='__main__')\n")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory from /proc (Linux)")
def test_a_small_file_of_huge_frames_is_refused_without_decoding_one(tmp_path, model_files):
    """An MJPEG of 8000x8000 grey frames (under 1 MB): refused before a frame (192 MB as BGR) is decoded."""
    big = tmp_path / "big.avi"
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=8000x8000:r=5:d=0.4", "-c:v", "mjpeg", "-q:v", "31", str(big))
    assert big.stat().st_size < 3_000_000
    for args in (["video", big, "-o", tmp_path / "o.mp4"], ["live", "--source", big, "--record", tmp_path / "r.mp4"]):
        done = subprocess.run([sys.executable, "-c", _PEAK, *map(str, args), "--max-pixels", "50000000",
                               "--model", str(model_files["onnx"])], env=cli_env(), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 1, done.stderr
        assert errors(done.stderr) == [f"edgecolor: error: {big}: frames too large: 8000x8000 = 64 megapixels, "
                                       "above the limit of 50 (raise it with --max-pixels)"]
        peak_mb = int(done.stderr.split("VmHWM:")[1].split()[0]) / 1024
        assert peak_mb < 180, peak_mb  # one decoded frame alone is 192 MB
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.avi"]


# -- issue 21 item 9: a variable frame rate keeps each frame's time ----------------------------------


def _vfr(path: Path, sound: bool) -> Path:
    """1 s at 25 fps then 2 s at 5 fps (ffmpeg's concat filter, timestamps passed through): 35 frames, 3 s."""
    args = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1",
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=5:duration=2"]
    if sound:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:duration=3"]
    args += ["-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", *(["-map", "2:a"] if sound else []),
             "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    _ffmpeg(*args, *(["-c:a", "aac"] if sound else []), str(path))
    return path


def frame_times_ms(path: Path) -> list[float]:
    """When each frame is shown, as OpenCV's decoder says (not edgecolor's reading of the container)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    times = []
    while cap.read()[0]:
        times.append(cap.get(cv2.CAP_PROP_POS_MSEC))
    cap.release()
    return times


@pytest.mark.parametrize(("name", "sound"), [("out.mp4", True), ("out.mkv", False), ("out.webm", True)])
def test_variable_frame_rate_keeps_each_frames_time(tmp_path, model_files, name, sound):
    src = _vfr(tmp_path / "vfr.mp4", sound)
    given = frame_times_ms(src)
    assert len(given) == 35 and given[25] == pytest.approx(1000) and given[-1] == pytest.approx(2800)
    out = tmp_path / name
    result = invoke("video", src, "-o", out, "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    assert "truncated" not in result.output and "container said" not in result.output  # no false warning
    assert "wrote " in result.output and ": 35 frames" in result.output
    times = frame_times_ms(out)
    assert len(times) == 35
    assert max(abs(a - b) for a, b in zip(times, given, strict=True)) <= 2.0  # ms: each frame at its own time
    seconds = ffmpeg_probe(FFMPEG, out).duration
    assert seconds == pytest.approx(3.0, abs=0.2)  # within one frame (5 fps) of the input's 3 s
    if sound:
        assert audio_seconds(out) == pytest.approx(3.0, abs=0.1)  # all of it, in step with the picture


def test_variable_frame_rate_in_avi_repeats_frames_to_keep_their_times(tmp_path, model_files):
    src = _vfr(tmp_path / "vfr.mp4", False)
    out = tmp_path / "out.avi"  # AVI stores one rate: 25 fps here, the 5 fps frames shown five times each
    result = invoke("video", src, "-o", out, "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    times = frame_times_ms(out)
    assert times[:26] == pytest.approx([40.0 * i for i in range(26)]) and 2800 <= times[-1] <= 3000
    frames = frames_of(out)
    assert not np.array_equal(frames[24], frames[25])  # the first 5 fps frame at 1.0 s, shown 0.2 s (5 times)
    assert all(np.array_equal(frames[25], frames[i]) for i in range(26, 30))
    assert not np.array_equal(frames[25], frames[30])


def test_a_part_of_a_variable_frame_rate_video_says_it_is_re_timed(tmp_path, model_files):
    src = _vfr(tmp_path / "vfr.mp4", False)
    result = invoke("video", src, "-o", tmp_path / "part.mp4", "--start", "0.2", "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    assert f"{WARNING}{src}: has a variable frame rate; the part --start/--end is re-timed" in result.output


# -- issue 21 item 3: a file name that is not UTF-8 never reaches OpenCV (it would crash the process) --------


def _bytes_path(folder: Path, name: bytes) -> Path:
    """``folder/name`` for a name that is not UTF-8 (lone surrogates); skips where the file system refuses it."""
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))
    try:
        path.write_bytes(b"")
        path.unlink()
    except OSError as e:
        pytest.skip(f"this file system refuses names that are not UTF-8 ({e.strerror})")
    return path


@pytest.mark.slow
def test_video_with_a_name_that_is_not_utf8_is_colorized(tmp_path, model_files):
    src = _bytes_path(tmp_path, b"\xff clip.mp4")
    write_clip(src, synthetic_clip(96, 64, shot=4).frames, FPS, FFMPEG, audio=False)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "edgecolor", "video", os.fsencode(src), "-o", str(out),
                           "-m", str(model_files["onnx"]), "--backend", "opencv"],
                          capture_output=True, text=True, timeout=300, env=cli_env())
    assert done.returncode == 0, done.stderr
    assert "\\xff clip.mp4: 12 frames" in done.stdout  # the name as `ls -b` shows it, one printable line
    written = [os.fsencode(p.name) for p in out.iterdir()]
    assert written == [b"\xff clip.mp4"]
    info = ffmpeg_probe(FFMPEG, out / os.fsdecode(b"\xff clip.mp4"))
    assert info is not None and (info.width, info.height) == (96, 64)


@pytest.mark.slow
def test_opencv_paths_refuse_a_name_that_is_not_utf8_in_one_line(tmp_path):
    """Without ffmpeg the only reader and writer is OpenCV, whose binding segfaults on such names: refused first."""
    src = _bytes_path(tmp_path, b"\xfe clip.avi")
    write_clip(src, synthetic_clip(64, 48, shot=2).frames, FPS, FFMPEG, audio=False)
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from edgecolor.errors import InputError\n"
        "from edgecolor.sources import FileSource, LiveSource\n"
        "from edgecolor.writers import Cv2Writer\n"
        "src = Path(os.fsdecode(sys.argv[1]))\n"
        "for make in (lambda: FileSource(src, ffmpeg=None), lambda: LiveSource(str(src)),\n"
        "             lambda: Cv2Writer(src.with_name(src.name + '.out.avi'), (64, 48), 25.0, ['MJPG'])):\n"
        "    try:\n"
        "        make()\n"
        "    except InputError as e:\n"
        "        print('refused:', 'not valid UTF-8' in str(e))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, os.fsencode(src)], capture_output=True, text=True,
                          timeout=120, env=cli_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["refused: True"] * 3
