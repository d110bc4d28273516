"""The live preview server and live sources as an attacker or an unlucky user meets them (issue 10):
Host-header check (DNS rebinding), quiet disconnects, idle timeout, a cap on clients, a snapshot
without a stream viewer, and no OpenCV log lines or tracebacks from cameras. Loopback addresses only."""

from __future__ import annotations

import http.client
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from video_fixtures import cli_env, errors, synthetic_clip, write_clip

from edgecolor.colorizer import Colorizer
from edgecolor.ffmpeg import find_ffmpeg
from edgecolor.live import live
from edgecolor.mjpeg import MjpegServer

FFMPEG = find_ffmpeg()


def _get(port: int, path: str, host: str | None, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.putrequest("GET", path, skip_host=True)
    if host is not None:
        conn.putheader("Host", host)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read() if path != "/stream.mjpg" or resp.status != 200 else resp.read(2)
    conn.close()
    return resp.status, body


def _frame() -> np.ndarray:
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :, 2] = 200
    return frame


def test_only_the_names_it_was_bound_for_get_frames():
    with MjpegServer(0) as server:
        server.write(_frame())
        port = server.port
        for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.nip.io", "evil.localhost.example",
                     None):
            for path in ("/", "/snapshot.jpg", "/stream.mjpg"):
                status, body = _get(port, path, host)
                assert status == 403, (host, path)
                assert not body.startswith(b"\xff\xd8")
        for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}", "LOCALHOST.", "cam.localhost"):
            status, body = _get(port, "/snapshot.jpg", host)
            assert status == 200 and body.startswith(b"\xff\xd8"), host
    with MjpegServer(0, allow_hosts=["cam.example"]) as server:
        server.write(_frame())
        assert _get(server.port, "/snapshot.jpg", "cam.example:1234")[0] == 200
        assert _get(server.port, "/snapshot.jpg", "other.example")[0] == 403
    with MjpegServer(0, allow_hosts=["*"]) as server:
        server.write(_frame())
        assert _get(server.port, "/snapshot.jpg", "anything.example")[0] == 200


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): what a browser tab or a crashed client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_clients_that_hang_up_are_not_errors(capfd):
    with MjpegServer(0) as server:
        server.write(_frame())
        for i in range(30):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            path = ("/", "/snapshot.jpg", "/stream.mjpg")[i % 3]
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode() if i % 2 else b"GET / HT")
            _reset(s)
        time.sleep(0.5)
        assert _get(server.port, "/snapshot.jpg", "localhost")[0] == 200  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Error" not in err, err


def _watch(port: int) -> socket.socket:
    """A viewer of the stream that has its first bytes (its request is done: it holds a slot for good)."""
    watcher = socket.create_connection(("127.0.0.1", port), timeout=5)
    watcher.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert watcher.recv(64).startswith(b"HTTP/1.0 200")
    return watcher


def test_idle_connections_are_closed_and_viewers_are_capped():
    with MjpegServer(0, idle_timeout=2.0, max_clients=2) as server:
        server.write(_frame())
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(2)]
        time.sleep(0.2)
        t0 = time.monotonic()
        for s in idle:  # the server hangs up on clients that send nothing
            assert s.recv(1024) == b""
            s.close()
        assert time.monotonic() - t0 < 6.0
        time.sleep(0.2)
        assert _get(server.port, "/snapshot.jpg", "localhost")[0] == 200  # slots free again
        watchers = [_watch(server.port) for _ in range(2)]
        status, body = _get(server.port, "/snapshot.jpg", "localhost")  # a third client: over the cap
        assert status == 503 and body == b"too many viewers\n"
        for w in watchers:
            w.close()
        time.sleep(2.5)  # a stream's thread sees its viewer gone at its next frame (at least one a second)
        assert _get(server.port, "/snapshot.jpg", "localhost")[0] == 200


def _drip(sock: socket.socket, every: float, until: float) -> float | None:
    """Send one header line every ``every`` s (slowloris) until the server hangs up: when it did (None: never)."""
    t0 = time.monotonic()
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\n")
    sock.settimeout(every)
    while time.monotonic() - t0 < until:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - t0
        except TimeoutError:
            pass
        except OSError:
            return time.monotonic() - t0
        try:
            sock.sendall(b"X-Slow: 1\r\n")
        except OSError:
            return time.monotonic() - t0
    return None


def test_slow_header_senders_cannot_hold_the_slots():
    """Slowloris: clients that send a header line every 0.2 s (each read well inside the idle timeout)
    are cut at the whole-request deadline, and a viewer arriving while they hold every slot is served."""
    with MjpegServer(0, idle_timeout=5.0, header_timeout=1.0, max_clients=2) as server:
        server.write(_frame())
        slow = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(2)]
        for s in slow:
            s.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(0.2)
        status, body = _get(server.port, "/snapshot.jpg", "localhost")  # both slots held by slow senders
        assert status == 200 and body.startswith(b"\xff\xd8")
        watcher = _watch(server.port)  # a viewer: its slot is not taken back
        dripping = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(3)]
        ended: list[float | None] = [None] * 3
        threads = [threading.Thread(target=lambda i=i: ended.__setitem__(i, _drip(dripping[i], 0.2, 6.0)))
                   for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert all(e is not None and e < 3.0 for e in ended), ended  # cut at the 1 s deadline (or taken back)
        assert watcher.recv(4096)  # the viewer kept its slot and still gets frames
        server.write(_frame())
        watcher.close()
        for s in slow + dripping:
            s.close()
        deadline = time.monotonic() + 5
        while server._server.clients and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server._server.clients == 0  # every slot accounted for


def test_idle_socket_gets_closed_without_sending_anything():
    with MjpegServer(0, idle_timeout=0.5) as server:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        t0 = time.monotonic()
        try:
            data = s.recv(1024)
        except TimeoutError:
            pytest.fail("an idle connection is held open")
        finally:
            s.close()
        assert time.monotonic() - t0 < 4.0 and b"image/jpeg" not in data


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> Path:
    if FFMPEG is None and not os.environ.get("CI"):
        pytest.skip("no ffmpeg (imageio-ffmpeg)")
    return write_clip(tmp_path_factory.mktemp("snap") / "clip.mp4", synthetic_clip(160, 120, shot=12).frames, 25.0,
                      FFMPEG, audio=False)


def test_snapshot_works_without_a_stream_viewer(clip_file, model_files):
    urls: list[str] = []
    stop = threading.Event()
    done: list = []

    def target():
        done.append(live(str(clip_file), Colorizer(model=model_files["onnx"]), serve=0, loop=True, stop=stop,
                         announce=urls.append))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not urls and time.monotonic() < deadline:
            time.sleep(0.05)
        port = int(urls[0].rstrip("/").rsplit(":", 1)[1])
        time.sleep(0.5)  # frames are flowing, nobody watches the stream
        t0 = time.monotonic()
        status, body = _get(port, "/snapshot.jpg", "127.0.0.1")
        assert status == 200
        snap = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert snap.shape == (120, 160, 3)
        assert time.monotonic() - t0 < 4.0  # the newest frame at once, not a wait for a viewer
    finally:
        stop.set()
        thread.join(30)
    assert done and not done[0].lost


@pytest.mark.slow
def test_camera_that_is_not_there_and_bad_index_give_one_line(tmp_path, model_files):
    """No `[ WARN:0@...]` lines from OpenCV on open or on each reopen, no traceback for a huge index."""
    base = [sys.executable, "-m", "edgecolor", "live", "--record", str(tmp_path / "r.mp4"),
            "--model", str(model_files["onnx"]), "--timeout", "1.5"]
    for source, reason in (("9876", "cannot open this source"), ("99999999999999999999", "not a camera index")):
        done = subprocess.run([*base, "--source", source], env=cli_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        assert "WARN" not in done.stderr and "[ERROR" not in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        lines = errors(done.stderr)
        assert len(lines) == 1 and reason in lines[0], done.stderr
    assert list(tmp_path.iterdir()) == []
