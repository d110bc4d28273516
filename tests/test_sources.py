"""sources.py: the input checks (URL or file, --start/--end, regular files only) and the Source interface
(``ended``, ``cancel()``), on real files, FIFOs, sockets and devices."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from video_fixtures import synthetic_clip, write_clip

from edgecolor.errors import InputError, UsageError
from edgecolor.ffmpeg import find_ffmpeg
from edgecolor.sources import (
    CaptureSource,
    FileSource,
    IterSource,
    LiveSource,
    Source,
    check_range,
    check_video_file,
    is_url,
    parse_source,
)

posix_only = pytest.mark.skipif(os.name == "nt", reason="FIFOs, sockets and /dev are POSIX")


def test_is_url_is_a_scheme_and_two_slashes():
    for url in ("rtsp://cam/live", "http://127.0.0.1:8080/x.mp4", "https://h/a?b=1", "udp://@:1234", "srt+x://h"):
        assert is_url(url), url
    for not_url in ("clip.mp4", "folder/a://b.mp4", "C://video.mp4", "://x", "0", "", Path("rtsp:/cam")):
        assert not is_url(not_url), not_url
    assert not is_url(3)
    assert parse_source("rtsp://cam/live") == ("url", "rtsp://cam/live")
    assert parse_source("folder/a://b.mp4") == ("file", Path("folder/a://b.mp4"))
    assert parse_source(" 2 ") == ("camera", 2)


def test_check_range_is_the_one_start_end_check():
    check_range(None, None)
    check_range(0.0, 0.5)
    check_range(2.0, None)
    with pytest.raises(UsageError, match=r"^--end \(0.5\) must be after --start \(1.0\)$"):
        check_range(1.0, 0.5)
    with pytest.raises(UsageError, match=r"^--end \(0.0\) must be after --start \(0.0\)$"):
        check_range(None, 0.0)
    with pytest.raises(UsageError, match=r"^--start must be >= 0 seconds, got -1.0$"):
        check_range(-1.0, None)


def test_check_video_file_accepts_a_regular_file(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 16)
    assert check_video_file(str(clip)) == clip


def test_check_video_file_refuses_what_is_no_video_file(tmp_path):
    (tmp_path / "folder.mp4").mkdir()
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    cases = {
        tmp_path / "missing.mp4": "no such file",
        tmp_path / "folder.mp4": "is a folder, not a video",
        tmp_path / "photo.jpg": "is a photo, not a video (use `edgecolor colorize` for photos)",
    }
    for path, reason in cases.items():
        with pytest.raises(InputError) as caught:
            check_video_file(path)
        assert str(caught.value) == f"{path}: {reason}"


@posix_only
def test_special_files_are_refused_without_blocking(tmp_path):
    """A FIFO with no writer would block a reader for ever, /dev/zero never ends: both refused at once."""
    fifo = tmp_path / "f.mp4"
    os.mkfifo(fifo)
    zero = tmp_path / "z.mp4"
    zero.symlink_to("/dev/zero")
    sock_path = tmp_path / "s.mp4"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        expected = {
            fifo: "is a FIFO (named pipe), not a regular file",
            zero: "is a device or other special file, not a regular file",
            sock_path: "is a socket, not a regular file",
        }
        for path, reason in expected.items():
            t0 = time.monotonic()
            with pytest.raises(InputError, match="edgecolor reads only regular video files") as caught:
                check_video_file(path)
            assert str(caught.value).startswith(f"{path}: {reason}")
            assert time.monotonic() - t0 < 5
    assert check_video_file(zero, devices=True) == zero  # live sources may be devices (/dev/video0)
    with pytest.raises(InputError, match="FIFO"):
        check_video_file(fifo, devices=True)


def _frames(n: int) -> list[np.ndarray]:
    return [np.full((8, 8, 3), i, np.uint8) for i in range(n)]


def test_ended_says_the_source_is_over_only_once_it_is():
    for source in (IterSource(_frames(2)), CaptureSource(_Capture(_frames(2)))):
        assert isinstance(source, Source) and not source.ended
        assert source.read() is not None and source.read() is not None
        assert not source.ended  # it has given every frame, but has not said so yet
        assert source.read() is None
        assert source.ended
        source.cancel()  # nothing to wait on: a no-op
        source.close()


def test_cancel_ends_a_live_source_that_waits_to_reconnect():
    """A camera that is not there is retried with back-off until --timeout; cancel() ends the wait at once."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    live = LiveSource(f"rtsp://127.0.0.1:{closed}/none", timeout=60.0)
    got: list = []
    reader = threading.Thread(target=lambda: got.append(live.read()))
    reader.start()
    time.sleep(0.5)
    assert not live.ended  # still trying: paused, not ended
    t0 = time.monotonic()
    live.cancel()
    reader.join(timeout=10)
    assert not reader.is_alive() and time.monotonic() - t0 < 10
    assert got == [None] and live.ended == "stopped" and not live.lost
    live.close()


class _Capture:
    """A VideoCapture-like object: read() -> (ok, frame)."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self._frames = list(frames)

    def read(self):
        return (True, self._frames.pop(0)) if self._frames else (False, None)


@pytest.mark.skipif(find_ffmpeg() is None, reason="no ffmpeg (imageio-ffmpeg)")
def test_a_file_source_says_why_it_ended(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", synthetic_clip(64, 48, shot=2, fps=10.0).frames, 10.0, find_ffmpeg(),
                      audio=False)
    for end, count, why in ((None, 6, "end of file"), (0.3, 3, "end of the chosen part (--end)")):
        source = FileSource(clip, end=end)
        frames = []
        while not source.ended:
            frame = source.read()
            if frame is not None:
                frames.append(frame)
        assert len(frames) == count and source.ended == why
        source.close()


def test_a_source_of_ones_own_says_why_it_ended():
    """The interface for new sources: read() until None, ``ended`` set by the subclass (or left "")."""

    class Countdown(Source):
        def __init__(self, n: int) -> None:
            self.n = n

        def read(self):
            if self.n == 0:
                self.ended = "lift-off"
                return None
            self.n -= 1
            return np.zeros((2, 2, 3), np.uint8)

    source = Countdown(2)
    got = [source.read(), source.read()]
    assert all(f is not None for f in got) and not source.ended
    assert source.read() is None and source.ended == "lift-off"
