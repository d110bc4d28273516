"""Frame sources: video files, cameras, stream URLs and iterables, all behind one ``Source`` interface.

Below the stream loop (stream.py runs any Source) and above ffmpeg.py; video.py and live.py compose
these. Inputs are checked before they are opened: only regular files are read as video files (a
FIFO or /dev/zero named ``x.mp4`` would block or never end); a live source may also be a device.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import stat
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgecolor.cvlog import quiet_opencv
from edgecolor.errors import InputError, UsageError
from edgecolor.ffmpeg import ffmpeg_probe, own_process_group
from edgecolor.limits import DEFAULT_MAX_PIXELS
from edgecolor.regular import NotRegular, open_regular

URL_TIMEOUT_MS = 5000
MAX_CAMERA_INDEX = 9999  # cv2.VideoCapture(index) takes an int; larger numbers are typos, not cameras
BACKOFF_FIRST = 0.25  # seconds before the first reopen of a live source; doubles up to BACKOFF_MAX
BACKOFF_MAX = 4.0
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")  # a scheme (RFC 3986), two letters or more

@functools.cache
def _image_suffixes() -> frozenset[str]:
    from edgecolor.files import STILL_SUFFIXES  # late: files imports cv2 and numpy

    return frozenset(STILL_SUFFIXES)


def is_url(text: str | os.PathLike | int) -> bool:
    """Whether a user's input names a stream URL (``rtsp://cam/live``, ``http://host/x.mp4``) rather than a
    file or a camera: a string starting with a scheme of two or more letters and "://" (``C://x`` is a drive)."""
    return isinstance(text, str) and _URL.match(text) is not None


def check_range(start: float | None, end: float | None) -> None:
    """The one check of --start/--end (seconds), for planning a batch and for each FileSource: UsageError."""
    if start is not None and start < 0:
        raise UsageError(f"--start must be >= 0 seconds, got {start}")
    if end is not None and end <= (start or 0.0):
        raise UsageError(f"--end ({end}) must be after --start ({start or 0.0})")


def check_video_file(path: str | os.PathLike, devices: bool = False) -> Path:
    """``path`` if it is a video file edgecolor may open; else InputError, before anything reads it.

    ``devices``: character devices (/dev/video0) are allowed too, for live sources. FIFOs, sockets and
    other special files never are: opening one blocks until a writer comes, or reads without end. The
    check is regular.open_regular's (no blocking, the type taken from the open file).
    """
    path = Path(path)
    try:
        with open_regular(path):
            pass
    except NotRegular as e:
        if devices and stat.S_ISCHR(e.mode):
            return path
        raise _not_regular(path, e.mode) from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as e:
        if e.errno == errno.ENXIO:  # a socket cannot be opened at all: its type, for the message only
            with contextlib.suppress(OSError):
                mode = os.stat(path).st_mode
                if not stat.S_ISREG(mode):
                    raise _not_regular(path, mode) from None
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if path.suffix.lower() in _image_suffixes():
        raise InputError(f"{path}: is a photo, not a video (use `edgecolor colorize` for photos)")
    return path


def _not_regular(path: Path, mode: int) -> InputError:
    if stat.S_ISDIR(mode):
        return InputError(f"{path}: is a folder, not a video")
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else (
        "a socket" if stat.S_ISSOCK(mode) else "a device or other special file")
    return InputError(f"{path}: is {kind}, not a regular file; edgecolor reads only regular video files")


def _opencv_can_name(path: str | os.PathLike) -> bool:
    """files.opencv_can_name, imported late: files pulls in cv2, which this module loads only when a source opens."""
    from edgecolor.files import opencv_can_name

    return opencv_can_name(path)


def check_frame_size(name: str, width: int, height: int, max_pixels: int | None) -> None:
    """The photo limit (``--max-pixels``) for video and live frames, from the size a container or a camera
    states before frames are decoded at that size: a 2.6 MB MJPEG of 15000x15000 frames is refused, not
    decoded into gigabytes. InputError (this input failed)."""
    if max_pixels is not None and width * height > max_pixels:
        raise InputError(f"{name}: frames too large: {width}x{height} = {width * height / 1e6:.3g} megapixels, "
                         f"above the limit of {max_pixels / 1e6:.3g} (raise it with --max-pixels)")


def open_url(url: str, timeout_ms: int) -> Any:
    """A cv2.VideoCapture of a stream URL that gives up on opening and on each read after ``timeout_ms``."""
    import cv2

    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
                                                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])


class Source:
    """A frame source for ``stream.run``: ``read()`` returns the next frame, or None when the stream ended.

    ``live`` sources are read as fast as they deliver and only the newest frame is colorized;
    the others are read in order, all frames kept. ``ended`` says whether (and why) the source is over;
    ``cancel()`` ends a read that waits (a live source reconnecting), from another thread.
    """

    live = False
    fps: float | None = None
    _ended = ""

    @property
    def ended(self) -> str:
        """Why the source has ended ("end of file", "stopped", a lost camera's one line); "" while it may still
        give frames, a live source waiting to reconnect included. Set once ``read()`` has returned None."""
        return self._ended

    @ended.setter
    def ended(self, why: str) -> None:  # a subclass says why it ended (as sources did before this was a property)
        self._ended = why

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Make a ``read()`` that waits return None soon (stream.run calls it when it stops). Here nothing waits."""

    def close(self) -> None:
        pass


class IterSource(Source):
    """Frames from any iterable of arrays."""

    def __init__(self, frames: Iterable[np.ndarray], live: bool = False) -> None:
        self._it: Iterator[np.ndarray] = iter(frames)
        self.live = live

    def read(self) -> np.ndarray | None:
        frame = next(self._it, None)
        if frame is None:
            self._ended = "end of frames"
        return frame


class CaptureSource(Source):
    """A cv2.VideoCapture (or anything with ``read() -> (ok, frame)``)."""

    def __init__(self, capture: Any, live: bool = False) -> None:
        self.capture = capture
        self.live = live

    def read(self) -> np.ndarray | None:
        ok, frame = self.capture.read()
        if not ok:
            self._ended = "end of capture"
            return None
        return frame

    def close(self) -> None:
        release = getattr(self.capture, "release", None)
        if release:
            release()


class FileSource(Source):
    """Frames of a video file in order, optionally from ``start`` to ``end`` seconds, until the decoder ends.

    OpenCV reads it when it can; otherwise (or with ``force_ffmpeg``) ffmpeg decodes it to raw
    frames through a pipe. The container's frame count is only an estimate (``estimate``):
    concatenated streams and truncated files have more or fewer frames, so reading never stops at
    it. Every frame comes at the first frame's size (a stream that changes resolution is scaled).
    """

    def __init__(self, path: str | Path, start: float | None = None, end: float | None = None,
                 ffmpeg: str | None = None, force_ffmpeg: bool = False,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
        self.name = str(path)
        self.max_pixels = max_pixels
        self.url = is_url(path)
        self.path = Path(path)
        self.live = False
        self._proc: subprocess.Popen | None = None
        self._cap = None
        self._io = threading.Lock()  # close() must not free the capture under a read in another thread
        self._closed = False
        if not self.url:
            check_video_file(self.path)
        check_range(start, end)
        self._open(ffmpeg, force_ffmpeg)
        try:
            check_frame_size(self.name, *self.size, max_pixels)
        except InputError:
            self.close()
            raise
        if self.fps <= 0 or self.fps > 1000 or self.fps != self.fps:
            self.fps = 25.0  # some containers (raw streams) do not say: play at a common rate
        self.first = round((start or 0.0) * self.fps)
        # frames to read: only --end limits it; None = until the decoder ends
        self.count = None if end is None else round(end * self.fps) - self.first
        # what the container says is left from `first` (for progress and the final check)
        self.estimate = max(0, self.total - self.first) if self.total else None
        if self.count is not None and self.estimate is not None:
            self.estimate = min(self.estimate, self.count)
        elif self.count is not None:
            self.estimate = self.count
        self._seek(start)
        self._read = 0
        self._pending: np.ndarray | None = self._first_frame(start)

    # OpenCV first, ffmpeg second
    def _open(self, ffmpeg: str | None, force_ffmpeg: bool = False) -> None:
        import cv2

        if force_ffmpeg and ffmpeg and not self.url:
            return self._open_ffmpeg(ffmpeg)
        if not self.url and not _opencv_can_name(self.name):  # OpenCV would crash on it: ffmpeg takes bytes
            if not ffmpeg:
                raise InputError(f"{self.name}: OpenCV cannot open a file whose name is not valid UTF-8: "
                                 "rename it, or install ffmpeg (pip install 'edgecolor[video]')")
            return self._open_ffmpeg(ffmpeg)
        with quiet_opencv():
            if self.url:
                cap = open_url(self.name, URL_TIMEOUT_MS)
            else:
                cap = cv2.VideoCapture(self.name)
        if cap.isOpened():
            self._cap = cap
            self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.total = n if n > 0 else None
            self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            return
        if self.url:
            raise InputError(f"{self.name}: cannot open this stream")
        self._open_ffmpeg(ffmpeg)

    def _open_ffmpeg(self, ffmpeg: str | None) -> None:
        info = ffmpeg_probe(ffmpeg, self.path) if ffmpeg else None
        if info is None or not info.width:
            raise InputError(f"{self.name}: not a video this edgecolor can read")
        self._ffmpeg = ffmpeg
        self.fps = info.fps
        self.size = (info.width, info.height)
        self.total = round(info.duration * info.fps) if info.duration and info.fps else None

    def _seek(self, start: float | None) -> None:
        import cv2

        if self._cap is not None:
            if self.first:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, self.first)
            return
        w, h = self.size
        cmd = [self._ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin"]
        if start:
            cmd += ["-ss", f"{start:.6f}"]
        # scale: a stream whose resolution changes midway still gives frames of the first size
        cmd += ["-i", str(self.path), "-map", "0:v:0", "-vf", f"scale={w}:{h}", "-f", "rawvideo",
                "-pix_fmt", "bgr24", "pipe:1"]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, **own_process_group())

    def _first_frame(self, start: float | None) -> np.ndarray:
        frame = self._next()
        if frame is None:
            self.close()
            if start:
                length = f" (about {self.total / self.fps:.1f} s)" if self.total else ""
                raise InputError(f"{self.name}: --start {start:g} s is past the end of the video{length}")
            raise InputError(f"{self.name}: no video frames could be decoded")
        self.size = (frame.shape[1], frame.shape[0])
        try:  # a container that did not state its size
            check_frame_size(self.name, *self.size, self.max_pixels)
        except InputError:
            self.close()
            raise
        return frame

    def _next(self) -> np.ndarray | None:
        if self._cap is not None:
            ok, frame = self._cap.read()
            if not ok:
                return None
            if self._read and (frame.shape[1], frame.shape[0]) != self.size:
                check_frame_size(f"{self.name}: frame {self._read + 1}", frame.shape[1], frame.shape[0],
                                 self.max_pixels)
                import cv2

                frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
            return frame
        w, h = self.size
        data = self._proc.stdout.read(w * h * 3)
        if len(data) < w * h * 3:
            return None
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)

    @property
    def first_frame(self) -> np.ndarray | None:
        """The first frame, before it is read (to look at it: colour or not, size)."""
        return self._pending

    def read(self) -> np.ndarray | None:
        with self._io:
            if self._closed:
                self._ended = self._ended or "closed"
                return None
            if self.count is not None and self._read >= self.count:
                self._ended = "end of the chosen part (--end)"
                return None
            if self._pending is not None:
                frame, self._pending = self._pending, None
            else:
                frame = self._next()
            if frame is None:
                self._ended = "end of file"
                return None
            self._read += 1
            return frame

    def close(self) -> None:
        if self._proc is not None:  # unblocks a read waiting on the pipe
            self._proc.kill()
        if not self._io.acquire(timeout=10):
            return  # a read is stuck in a network stream; its thread is a daemon
        try:
            self._closed = True
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            if self._proc is not None:
                self._proc.wait()
        finally:
            self._io.release()


def parse_source(spec: str | int | os.PathLike) -> tuple[str, Any]:
    """("camera", index) | ("url", str) | ("file", Path); a camera index out of range is an error."""
    if isinstance(spec, int):
        index = spec
    else:
        text = os.fspath(spec)
        if is_url(text):
            return "url", text
        if not text.strip().isdigit():
            return "file", Path(text)
        index = int(text)
    if not 0 <= index <= MAX_CAMERA_INDEX:
        raise InputError(f"{spec}: not a camera index (0 to {MAX_CAMERA_INDEX}), a file or a URL")
    return "camera", index


def open_source(spec: str | int | os.PathLike, live: bool | None = None, timeout: float = 10.0,
                loop: bool = False) -> Source:
    """A Source for a camera index, URL or file. Files are read in full unless ``live`` is True."""
    kind, target = parse_source(spec)
    if kind == "file" and not live:
        return FileSource(target)
    return LiveSource(spec, timeout=timeout, loop=loop)


def as_source(source: Any, live: bool | None = None) -> Source:
    """Accept a Source, a path / URL / camera index, a VideoCapture-like object or an iterable of frames."""
    if isinstance(source, Source):
        if live is not None:
            source.live = live
        return source
    if isinstance(source, (str, int)) or hasattr(source, "__fspath__"):
        return open_source(source, live=live)
    if hasattr(source, "read"):
        return CaptureSource(source, live=bool(live))
    if isinstance(source, Iterable):
        return IterSource(source, live=bool(live))
    raise UsageError(f"cannot read frames from a {type(source).__name__}")


class LiveSource(Source):
    """A camera, stream URL or file read in real time, reopened with back-off when it fails.

    ``read()`` returns None when a file ends (not ``loop``), when ``cancel()`` is called, or after
    ``timeout`` seconds without a frame; ``ended`` then says why and ``lost`` is True for a failure.
    While it reconnects it has not ended (``ended`` is ""): it is waiting.
    OpenCV's own warnings on open and reopen are silenced: the one-line reason says it.
    """

    live = True

    def __init__(self, spec: str | int | os.PathLike, timeout: float = 10.0, loop: bool = False,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
        self.kind, self.target = parse_source(spec)
        self.name = str(spec)
        self.max_pixels = max_pixels
        if self.kind == "file":
            check_video_file(self.target, devices=True)
        if timeout <= 0:
            raise UsageError(f"--timeout must be > 0 seconds, got {timeout}")
        self.timeout, self.loop = float(timeout), loop
        self.lost = False
        self.reconnects = 0
        self.fps: float | None = None
        self._cap = None
        self._cancel = threading.Event()
        self._io = threading.Lock()  # held while a read may be inside the capture: close() must not free it
        self._last_frame = time.monotonic()
        self._ever = False
        self._pace_t0 = 0.0
        self._pace_n = 0
        if self.kind == "file":  # a file that cannot be read is an error now, not a reconnect loop
            if not self._open():
                raise InputError(f"{spec}: not a video this edgecolor can read")

    def _open(self) -> bool:
        import cv2

        ms = int(min(self.timeout, 5.0) * 1000)
        with quiet_opencv():
            if self.kind == "camera":
                cap = cv2.VideoCapture(self.target)
            elif self.kind == "url":
                cap = open_url(self.target, ms)
            else:
                if not _opencv_can_name(self.target):  # OpenCV crashes on such a name
                    raise InputError(f"{self.name}: OpenCV cannot open a file whose name is not valid UTF-8: "
                                     "rename it")
                cap = cv2.VideoCapture(str(self.target))
            if not cap.isOpened():
                cap.release()
                return False
        try:  # what a camera or stream states, before its frames are decoded at that size
            check_frame_size(self.name, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
                             int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0), self.max_pixels)
        except InputError:
            cap.release()
            raise
        self._cap = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps <= 240 else (self.fps or 25.0)
        self._pace_t0, self._pace_n = time.monotonic(), 0
        return True

    def cancel(self) -> None:
        """Make a waiting ``read()`` return None soon (called by run() when it stops)."""
        self._cancel.set()

    def read(self) -> np.ndarray | None:
        with self._io:
            frame = self._read()
            if self._cancel.is_set() and self._cap is not None:  # closed while we were reading
                self._cap.release()
                self._cap = None
            return frame

    def _read(self) -> np.ndarray | None:
        backoff = BACKOFF_FIRST
        while not self._cancel.is_set():
            if self._cap is None and not self._open():
                if self._gave_up():
                    return None
                self._cancel.wait(min(backoff, max(0.0, self.timeout - self._silent())))
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            if self.kind == "file":
                ok, frame = self._cap.read()
            else:  # a camera or stream that drops logs a warning per failed read
                with quiet_opencv():
                    ok, frame = self._cap.read()
            if ok and frame is not None:
                check_frame_size(self.name, frame.shape[1], frame.shape[0], self.max_pixels)  # changed midway
                self._last_frame, self._ever = time.monotonic(), True
                if self.kind == "file":
                    self._pace()
                return frame
            with quiet_opencv():
                self._cap.release()
            self._cap = None
            if self.kind == "file" and not self.loop:
                self._ended = "end of file"
                return None
            if self.kind != "file":
                self.reconnects += 1
            if self._gave_up():
                return None
        self._ended = self._ended or "stopped"
        return None

    def _silent(self) -> float:
        return time.monotonic() - self._last_frame

    def _gave_up(self) -> bool:
        if self._silent() < self.timeout:
            return False
        self.lost = True
        if self._ever:
            self._ended = f"{self.name}: no frames for {self.timeout:g} s (source lost); stopped"
        else:
            self._ended = f"{self.name}: cannot open this source (tried for {self.timeout:g} s)"
        return True

    def _pace(self) -> None:
        """Deliver a file's frames at its frame rate, like a camera."""
        self._pace_n += 1
        due = self._pace_t0 + self._pace_n / (self.fps or 25.0)
        delay = due - time.monotonic()
        if delay > 0:
            self._cancel.wait(delay)
        elif delay < -1.0:  # far behind (a slow start): do not rush to catch up
            self._pace_t0, self._pace_n = time.monotonic(), 0

    def close(self) -> None:
        """Cancel, and free the capture unless a read is still inside it (that read frees it)."""
        self.cancel()
        if self._io.acquire(timeout=0.5):
            try:
                if self._cap is not None:
                    self._cap.release()
                    self._cap = None
            finally:
                self._io.release()
