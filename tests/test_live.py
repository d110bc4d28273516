"""`edgecolor live` and the MJPEG preview: file and HTTP MJPEG sources served from the test, a lost
source, bad input, and the preview page in headless Chromium. Loopback addresses only."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from video_fixtures import (
    MjpegSource,
    cli_env,
    closed_port,
    errors,
    frames_of,
    invoke,
    mean_chroma,
    synthetic_clip,
    write_clip,
)

from edgecolor.colorizer import Colorizer
from edgecolor.ffmpeg import find_ffmpeg
from edgecolor.live import live
from edgecolor.mjpeg import MjpegServer
from edgecolor.pipeline import decoded_grey
from edgecolor.sinks import Sink

FFMPEG = find_ffmpeg()


def as_grey(frame):
    grey = decoded_grey(frame)
    return frame if grey is None else grey


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> Path:
    if FFMPEG is None and not os.environ.get("CI"):
        pytest.skip("no ffmpeg (imageio-ffmpeg)")
    frames = synthetic_clip(160, 120, shot=12).frames
    return write_clip(tmp_path_factory.mktemp("live") / "clip.mp4", frames, 25.0, FFMPEG)


def test_live_file_source_plays_in_real_time_and_records(tmp_path, clip_file, model_files):
    rec = tmp_path / "rec.mp4"
    t0 = time.monotonic()
    result = invoke("live", "--source", clip_file, "--record", rec, "--model", model_files["onnx"])
    took = time.monotonic() - t0
    assert result.exit_code == 0, result.output
    assert took > 1.0  # 36 frames at 25 fps are paced like a camera, not read at once
    assert "fps" in result.output and "latency" in result.output and f"recorded {rec}" in result.output
    frames = frames_of(rec)
    assert 28 <= len(frames) <= 40  # real-time recording: about 36 frames at 25 fps
    assert frames[0].shape == (120, 160, 3)
    assert np.mean([mean_chroma(f) for f in frames]) > 5.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.mp4"]


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGHUP"])
def test_sigterm_finishes_the_recording_and_prints_the_report(tmp_path, clip_file, model_files, stop):
    """systemd / docker stop (SIGTERM) or a closed terminal (SIGHUP) mid-recording: the recording so far is
    a finished, playable file and the closing lines are printed, as after Ctrl-C; no traceback."""
    rec = tmp_path / "rec.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "edgecolor", "live", "--source", str(clip_file), "--loop",
                             "--record", str(rec), "--model", str(model_files["onnx"])], env=cli_env(), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # wait until frames are being recorded
        temps = list(tmp_path.glob(".rec.mp4.*"))
        if temps and max((t.stat().st_size for t in temps if t.exists()), default=0) > 2000:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "ended before it could be stopped"
    proc.send_signal(getattr(signal, stop))
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"no exit 60 s after {stop}: {stdout!r} {stderr!r}")
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    assert f"recorded {rec}" in stdout and "live: " in stderr and " frames in " in stderr
    assert len(frames_of(rec)) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.mp4"]


def test_frames_and_record_report_what_the_file_holds(tmp_path, clip_file, model_files):
    """--frames N --record: N frames colorized; the recording repeats a frame where the source's were dropped
    (real time), and the report's count is the file's own, through the API and the command line."""
    rec = tmp_path / "rec.mp4"
    report = live(str(clip_file), Colorizer(model_files["onnx"]), record=rec, max_frames=20, timeout=10)
    assert report.stats.frames == 20 and report.recorded == rec
    assert report.recorded_frames == len(frames_of(rec)) == 20 + report.recorded_repeats - report.recorded_skipped

    rec2 = tmp_path / "rec2.mp4"
    result = invoke("live", "--source", clip_file, "--frames", 12, "--record", rec2, "--model", model_files["onnx"])
    assert result.exit_code == 0, result.output
    assert "live: 12 frames in " in result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith(f"recorded {rec2}: "))
    assert int(line.split(": ", 1)[1].split()[0]) == len(frames_of(rec2)), line


def test_live_takes_stream_options_and_raises_typed_errors(tmp_path, clip_file, model_files):
    """Issue 24: stabilize/strength/workers reach live() as one StreamOptions; its failures are error kinds
    (the CLI's exit code comes from the type: a missing extra or a bad option is 2)."""
    from edgecolor.errors import BackendError, UsageError
    from edgecolor.live import check_gui, check_virtual_cam
    from edgecolor.options import StreamOptions

    c = Colorizer(model_files["onnx"])
    pairs = []

    class Both(Sink):
        def emit(self, result):
            pairs.append((result.source, result.frame))

    report = live(str(clip_file), c, sinks=[Both()], max_frames=6, timeout=10,
                  stream_options=StreamOptions(stabilize=False))
    assert report.stats.frames == len(pairs) == 6
    # no history: each frame on its own (a decoded grey frame as grey: pipeline.decoded_grey)
    assert all(np.array_equal(out, c.colorize(as_grey(src))) for src, out in pairs)
    with pytest.raises(UsageError, match="stream_options must be a StreamOptions"):
        live(str(clip_file), c, sinks=[Both()], max_frames=2, stream_options={"stabilize": False})
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        with pytest.raises(BackendError, match="pip install pyvirtualcam"):
            check_virtual_cam()
    if "NONE" in cv2.getBuildInformation().split("GUI:", 1)[1].split("\n", 1)[0]:
        with pytest.raises(BackendError, match="pip install opencv-python"):
            check_gui()
    assert list(tmp_path.iterdir()) == []


def test_recorder_counts_the_repeats_it_writes(tmp_path):
    """Frames captured 0.25 s apart recorded at 20 fps: each is written 5 times to keep real time (the first
    once); ``frames`` and ``repeats`` say what the file holds, whatever the CPU (the capture times are given)."""
    from edgecolor.live import Recorder
    from edgecolor.stream import Result

    rec = Recorder(tmp_path / "rec.mp4", 20.0)
    frame = np.full((48, 64, 3), 128, np.uint8)
    for i in range(10):
        rec.emit(Result(i, frame, frame, captured=100.0 + i * 0.25))
    assert rec.close() == tmp_path / "rec.mp4"
    assert rec.frames == 46 == len(frames_of(tmp_path / "rec.mp4")) and rec.repeats == 36 and rec.skipped == 0


def test_wildcard_host_prints_urls_other_machines_can_open():
    """--host 0.0.0.0: the line names the local URL and this machine's name and addresses (the Host check
    answers to each), and says it listens on all interfaces; a bound address is its URL alone."""
    import socket

    from edgecolor.mjpeg import default_hosts, listen_line, own_addresses

    line = listen_line("0.0.0.0", 8080)
    assert "\n" not in line and line.startswith("http://127.0.0.1:8080/ (listening on all interfaces")
    name = socket.gethostname().lower()
    assert f"http://{name}:8080/" in line and name in default_hosts("0.0.0.0")
    for address in own_addresses():
        assert f"http://{address}:8080/" in line and not address.startswith("127.")
    assert listen_line("127.0.0.1", 8080) == "http://127.0.0.1:8080/"
    assert listen_line("192.168.1.20", 80) == "http://192.168.1.20:80/"


def test_live_http_mjpeg_source_that_disappears(tmp_path, model_files):
    rec = tmp_path / "rec.mkv"
    with MjpegSource(frames=30) as cam:
        t0 = time.monotonic()
        result = invoke("live", "--source", cam.url, "--record", rec, "--serve", 0, "--timeout", 1.5,
                        "--model", model_files["onnx"])
        took = time.monotonic() - t0
    assert result.exit_code == 1, result.output
    assert errors(result.output) == [f"edgecolor: error: {cam.url}: no frames for 1.5 s (source lost); stopped"]
    assert "Traceback" not in result.output
    assert "preview: http://127.0.0.1:" in result.output
    assert took < 15
    frames = frames_of(rec)  # what was recorded before the loss is kept and playable
    assert len(frames) >= 10
    assert np.mean([mean_chroma(f) for f in frames]) > 5.0


def test_live_reconnects_to_a_flaky_source(tmp_path, model_files):
    with MjpegSource(per_connection=12) as cam:
        result = invoke("live", "--source", cam.url, "--record", tmp_path / "rec.mp4", "--frames", 30,
                        "--model", model_files["onnx"])
        connections = cam.connections
    assert result.exit_code == 0, result.output
    assert connections >= 3
    assert "source reopened" in result.output
    assert len(frames_of(tmp_path / "rec.mp4")) >= 20


def test_live_unreadable_url_fails_cleanly(tmp_path, model_files):
    rec = tmp_path / "rec.mp4"
    url = f"http://127.0.0.1:{closed_port()}/x"
    result = invoke("live", "--source", url, "--record", rec, "--timeout", 1, "--model", model_files["onnx"])
    assert result.exit_code == 1, result.output
    assert errors(result.output) == [f"edgecolor: error: {url}: cannot open this source (tried for 1 s)"]
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_live_bad_options_are_one_line_errors(tmp_path, clip_file, model_files):
    existing = tmp_path / "taken.mp4"
    existing.write_bytes(b"x")
    cases = [
        ([], "choose where frames go"),
        (["--record", existing, "--source", clip_file], "exists"),
        (["--record", tmp_path / "r.xyz", "--source", clip_file], "unknown video type"),
    ]
    if "NONE" in cv2.getBuildInformation().split("GUI:", 1)[1].split("\n", 1)[0]:
        cases.append((["--show", "--source", clip_file], "pip install opencv-python"))
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        cases.append((["--virtual-cam", "--source", clip_file], "pip install pyvirtualcam"))
    for args, reason in cases:
        result = invoke("live", *args, "--model", model_files["onnx"])
        assert result.exit_code == 2, (args, result.output)
        lines = errors(result.output)
        assert len(lines) == 1 and reason in lines[0], (args, result.output)
        assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.mp4"]


def test_mjpeg_server_endpoints():
    with MjpegServer(0) as server:
        page = urllib.request.urlopen(server.url, timeout=5).read().decode()
        assert "<img src='/stream.mjpg'" in page
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(server.url + "nope", timeout=5)
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:, :, 2] = 200
        server.write(frame)
        snap = urllib.request.urlopen(server.url + "snapshot.jpg", timeout=5).read()
        assert cv2.imdecode(np.frombuffer(snap, np.uint8), cv2.IMREAD_COLOR).shape == (48, 64, 3)
        stream = urllib.request.urlopen(server.url + "stream.mjpg", timeout=5)
        assert stream.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        assert stream.read(2).startswith(b"--")
        stream.close()


def _screenshot(url: str, path: Path, profile: Path) -> np.ndarray:
    cmd = ["/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium"),
           "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--screenshot={path}", "--window-size=320,240", "--timeout=4000",
           "--hide-scrollbars", url]
    subprocess.run(cmd, capture_output=True, timeout=90, check=False)
    image = cv2.imread(str(path))
    assert image is not None, "chromium wrote no screenshot"
    return image


def test_preview_page_shows_moving_colour_frames_in_chromium(tmp_path, model_files):
    if not (os.path.exists("/usr/bin/chromium") or shutil.which("chromium")):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI (scripts/test.sh installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    stop = threading.Event()
    urls: list[str] = []
    outcome: dict = {}
    with MjpegSource() as cam:
        def worker():
            try:
                outcome["report"] = live(cam.url, Colorizer(model_files["onnx"]), serve=0, stop=stop,
                                         timeout=10, announce=urls.append)
            except BaseException as e:  # surfaced below
                outcome["error"] = e

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not urls and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.05)
        assert urls, outcome
        url = urls[0].split("preview: ", 1)[1]
        try:
            first = _screenshot(url, tmp_path / "a.png", tmp_path / "profile-a")
            time.sleep(1.0)
            second = _screenshot(url, tmp_path / "b.png", tmp_path / "profile-b")
        finally:
            stop.set()
            thread.join(30)
    assert "error" not in outcome, outcome
    assert outcome["report"].stats.frames > 5
    for shot in (first, second):
        assert mean_chroma(shot) > 5.0  # colorized, not the grey source
    assert float(np.abs(first.astype(int) - second).mean()) > 1.0  # the picture moves
