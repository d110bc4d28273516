"""RTSP out (`edgecolor live --rtsp PORT`, edgecolor.rtsp.RtspServer) read by real clients: ffprobe and
ffmpeg pull 30 frames of H.264 from rtsp://127.0.0.1:PORT/edgecolor (an ephemeral port), loopback binding,
a busy port, and the live command stopped with Ctrl-C while a client watches.

Needs GStreamer's RTSP server and its introspection data (gir1.2-gst-rtsp-server-1.0), x264enc
(gstreamer1.0-plugins-ugly), python3-gi and ffmpeg; skipped, saying which is missing, without.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import default_sigint
from gst_support import missing
from video_fixtures import cli_env, errors, invoke, mean_chroma, synthetic_clip, write_clip

from edgecolor.errors import EdgecolorError
from edgecolor.ffmpeg import find_ffmpeg

MISSING = missing(
    ("ffmpeg", "ffprobe", "gst-inspect-1.0"), "ffmpeg, gstreamer1.0-tools", ("Gst", "GstRtspServer"),
    "GStreamer's RTSP server bindings are missing (python3-gi, gir1.2-gst-rtsp-server-1.0)",
    (("x264enc", "gstreamer1.0-plugins-ugly"), ("rtph264pay", "gstreamer1.0-plugins-good"),
     ("appsrc", "gstreamer1.0-plugins-base")))
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)


def colour_frame(i: int, width: int = 320, height: int = 240) -> np.ndarray:
    """Left half red, right half blue, a moving grey bar (BGR)."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, : width // 2] = (40, 40, 200)
    frame[:, width // 2:] = (200, 60, 40)
    x = (i * 8) % width
    frame[:, x:x + 8] = 128
    return frame


class Feeder:
    """Writes frames to a server at ``fps`` from a thread, like the live loop's sink thread."""

    def __init__(self, server, fps: float = 25.0) -> None:
        self.server, self.fps = server, fps
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            self.server.write(colour_frame(i))
            i += 1
            time.sleep(1.0 / self.fps)

    def __enter__(self) -> Feeder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def ffprobe(url: str) -> dict[str, str]:
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                        "-show_entries", "stream=codec_name,width,height", "-of", "default=nw=1", url],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return dict(line.split("=", 1) for line in r.stdout.split())


def ffmpeg_frames(url: str, out: Path, frames: int = 30, tcp: bool = False) -> list[np.ndarray]:
    """``frames`` frames read from the stream by ffmpeg, decoded back (OpenCV) from the file it wrote."""
    import cv2

    transport = ["-rtsp_transport", "tcp"] if tcp else []
    r = subprocess.run(["ffmpeg", "-v", "error", "-y", *transport, "-i", url, "-frames:v", str(frames), "-c:v",
                        "copy", str(out)], capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    cap = cv2.VideoCapture(str(out))
    decoded = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        decoded.append(frame)
    cap.release()
    return decoded


def test_ffprobe_and_ffmpeg_read_the_stream(tmp_path):
    from edgecolor.rtsp import RtspServer

    with RtspServer(0, fps=25.0) as server, Feeder(server):
        assert server.url == f"rtsp://127.0.0.1:{server.port}/edgecolor" and server.port > 0
        assert ffprobe(server.url) == {"codec_name": "h264", "width": "320", "height": "240"}
        frames = ffmpeg_frames(server.url, tmp_path / "udp.mkv")
        tcp_frames = ffmpeg_frames(server.url, tmp_path / "tcp.mkv", tcp=True)
    assert len(frames) == len(tcp_frames) == 30
    for frame in frames + tcp_frames:  # the colours sent, through H.264 (and a decoder's guess of the range)
        assert frame.shape == (240, 320, 3)
        left, right = frame[:, 20:140].reshape(-1, 3).mean(0), frame[:, 180:300].reshape(-1, 3).mean(0)
        assert np.abs(left - (40, 40, 200)).max() < 30 and np.abs(right - (200, 60, 40)).max() < 30


def test_binds_loopback_unless_told():
    from edgecolor.rtsp import RtspServer

    with RtspServer(0) as server:
        assert _listening_addresses(server.port) == {"127.0.0.1"}
    with RtspServer(0, host="0.0.0.0") as server:  # --host 0.0.0.0: every interface
        assert _listening_addresses(server.port) == {"0.0.0.0"}
        assert server.url == f"rtsp://127.0.0.1:{server.port}/edgecolor"


def _listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses listening on ``port`` (/proc/net/tcp: hex address little-endian, state 0A)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_a_busy_port_is_one_line(tmp_path, model_files):
    from edgecolor.rtsp import RtspServer

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EdgecolorError, match=f"--rtsp {port}: cannot listen on 127.0.0.1:{port}"):
            RtspServer(port)
        clip = write_clip(tmp_path / "clip.mp4", synthetic_clip(160, 120, shot=4).frames, 25.0, find_ffmpeg())
        result = invoke("live", "--source", clip, "--rtsp", port, "--model", model_files["onnx"])
    assert result.exit_code == 2, result.output
    assert len(errors(result.output)) == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_live_rtsp_watched_then_ctrl_c(tmp_path, model_files):
    """`edgecolor live --source FILE --loop --rtsp 0`: a client reads 30 colorized frames; Ctrl-C ends the
    run with its summary line and exit code 130."""
    clip = write_clip(tmp_path / "clip.mp4", synthetic_clip(160, 120, shot=12).frames, 25.0, find_ffmpeg())
    proc = subprocess.Popen([sys.executable, "-m", "edgecolor", "live", "--source", str(clip), "--loop", "--rtsp", "0",
                             "--model", str(model_files["onnx"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(), preexec_fn=default_sigint)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("rtsp: rtsp://127.0.0.1:") and line.endswith("/edgecolor"), line
        url = line.split(" ", 1)[1]
        assert ffprobe(url)["codec_name"] == "h264"
        frames = ffmpeg_frames(url, tmp_path / "watched.mkv")
        assert len(frames) == 30 and frames[0].shape == (120, 160, 3)
        assert np.mean([mean_chroma(f) for f in frames]) > 5.0  # colorized, not the grey clip
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "live: " in stderr and " frames in " in stderr and "Traceback" not in stderr
