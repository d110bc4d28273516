"""Live sources and outputs: cameras and streams in, a window, a recording, a browser preview or a
virtual camera out.

A live source is read by its own thread as fast as it delivers and only the newest frame is
colorized (see stream.run), so a slow CPU shows fewer frames rather than older ones. A source that
fails is reopened with exponential back-off; after ``timeout`` seconds without a frame the run
ends with a one-line reason. A file given as a live source plays at its own frame rate, like a
camera would.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecolor.errors import EdgecolorError
from edgecolor.stream import DEFAULT_STRENGTH, Result, RunStats, Source, run

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

BACKOFF_FIRST = 0.25  # seconds before the first reopen; doubles up to BACKOFF_MAX
BACKOFF_MAX = 4.0


def parse_source(spec: str | int | os.PathLike) -> tuple[str, Any]:
    """("camera", index) | ("url", str) | ("file", Path)."""
    if isinstance(spec, int):
        return "camera", spec
    text = os.fspath(spec)
    if text.strip().isdigit():
        return "camera", int(text)
    if "://" in text:
        return "url", text
    return "file", Path(text)


def open_source(spec: str | int | os.PathLike, live: bool | None = None, timeout: float = 10.0,
                loop: bool = False) -> Source:
    """A Source for a camera index, URL or file. Files are read in full unless ``live`` is True."""
    kind, target = parse_source(spec)
    if kind == "file" and not live:
        from edgecolor.video import FileSource

        return FileSource(target)
    return LiveSource(spec, timeout=timeout, loop=loop)


class LiveSource(Source):
    """A camera, stream URL or file read in real time, reopened with back-off when it fails.

    ``read()`` returns None when a file ends (not ``loop``), when ``cancel()`` is called, or after
    ``timeout`` seconds without a frame; ``ended`` then says why and ``lost`` is True for a failure.
    """

    live = True

    def __init__(self, spec: str | int | os.PathLike, timeout: float = 10.0, loop: bool = False) -> None:
        self.kind, self.target = parse_source(spec)
        self.name = str(spec)
        if self.kind == "file":
            if not Path(self.target).exists():
                raise EdgecolorError(f"{spec}: no such file")
            if Path(self.target).is_dir():
                raise EdgecolorError(f"{spec}: is a folder, not a video")
        if timeout <= 0:
            raise EdgecolorError(f"--timeout must be > 0 seconds, got {timeout}")
        self.timeout, self.loop = float(timeout), loop
        self.ended, self.lost = "", False
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
                raise EdgecolorError(f"{spec}: not a video this edgecolor can read")

    def _open(self) -> bool:
        import cv2

        if self.kind == "camera":
            cap = cv2.VideoCapture(self.target)
        elif self.kind == "url":
            ms = int(min(self.timeout, 5.0) * 1000)
            cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        else:
            cap = cv2.VideoCapture(str(self.target))
        if not cap.isOpened():
            cap.release()
            return False
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
            ok, frame = self._cap.read()
            if ok and frame is not None:
                self._last_frame, self._ever = time.monotonic(), True
                if self.kind == "file":
                    self._pace()
                return frame
            self._cap.release()
            self._cap = None
            if self.kind == "file" and not self.loop:
                self.ended = "end of file"
                return None
            if self.kind != "file":
                self.reconnects += 1
            if self._gave_up():
                return None
        self.ended = self.ended or "stopped"
        return None

    def _silent(self) -> float:
        return time.monotonic() - self._last_frame

    def _gave_up(self) -> bool:
        if self._silent() < self.timeout:
            return False
        self.lost = True
        if self._ever:
            self.ended = f"{self.name}: no frames for {self.timeout:g} s (source lost); stopped"
        else:
            self.ended = f"{self.name}: cannot open this source (tried for {self.timeout:g} s)"
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


# -- outputs --------------------------------------------------------------------------------------


class Meter:
    """Rolling fps and latency over the last second, for the on-frame overlay."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        self.latency = 0.0

    def tick(self, captured: float) -> None:
        now = time.perf_counter()
        self._times.append(now)
        while self._times and now - self._times[0] > 1.0:
            self._times.popleft()
        self.latency = now - captured

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


def compose(result: Result, meter: Meter, side_by_side: bool, overlay: bool = True) -> np.ndarray:
    """The frame people look at: colorized (or input | colorized), with fps and latency drawn on it."""
    import cv2

    frame = result.frame
    if side_by_side:
        src = result.source
        if src.ndim == 2:
            src = cv2.cvtColor(src, cv2.COLOR_GRAY2BGR)
        if src.shape[:2] != frame.shape[:2]:
            src = cv2.resize(src, (frame.shape[1], frame.shape[0]))
        frame = np.hstack([src[:, :, :3], frame[:, :, :3]])
    elif overlay:
        frame = frame.copy()
    if overlay:
        text = f"{meter.fps:.1f} fps  {meter.latency * 1000:.0f} ms"
        scale = max(0.4, frame.shape[0] / 720.0)
        org = (int(8 * scale) + 2, int(24 * scale) + 4)
        thick = max(1, int(round(2 * scale)))
        cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return frame


def check_gui() -> None:
    """--show needs an OpenCV built with a GUI, and a display to open a window on."""
    import cv2

    info = cv2.getBuildInformation()
    gui = ""
    for line in info.splitlines():
        if line.strip().startswith("GUI:"):
            gui = line.split(":", 1)[1].strip()
    if gui.upper() in ("NONE", ""):
        raise EdgecolorError("--show needs OpenCV with a GUI: pip uninstall opencv-python-headless && "
                             "pip install opencv-python (or use --serve PORT to watch in a browser)")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise EdgecolorError("--show: no display here (DISPLAY is not set); use --serve PORT to watch in a browser")


class Window:
    """cv2.imshow in the calling thread (GUI toolkits insist); q or Esc quits, as does closing the window."""

    main_thread = True

    def __init__(self, title: str, meter: Meter, side_by_side: bool) -> None:
        check_gui()
        self.title, self.meter, self.side_by_side = title, meter, side_by_side
        self._shown = False
        self._seen_visible = False  # some GUI backends report a new window invisible for a moment

    def emit(self, result: Result) -> bool:
        import cv2

        cv2.imshow(self.title, compose(result, self.meter, self.side_by_side))
        self._shown = True
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), ord("Q"), 27):
            return False
        try:
            visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            visible = False
        if visible:
            self._seen_visible = True
        return visible or not self._seen_visible  # closed by the user: stop

    def close(self) -> None:
        import cv2

        if self._shown:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)


class Preview:
    """Frames to the MJPEG preview server, composed like the window (only while someone watches)."""

    def __init__(self, server: Any, meter: Meter, side_by_side: bool) -> None:
        self.server, self.meter, self.side_by_side = server, meter, side_by_side

    def emit(self, result: Result) -> None:
        if self.server.watchers > 0:
            self.server.write(compose(result, self.meter, self.side_by_side))


class Recorder:
    """A real-time recording: frames are repeated or skipped so playback speed matches the wall clock."""

    def __init__(self, path: Path, fps: float | Callable[[], float], codec: str | None = None) -> None:
        """``fps`` may be a callable: a camera's rate is known only once it is open (first frame)."""
        from edgecolor.video import AtomicFile, container_of, find_ffmpeg

        self.target = Path(path)
        container_of(self.target)  # unknown extension: fail before opening anything
        self.fps, self.codec = fps, codec
        self._ffmpeg = find_ffmpeg()
        self._file = AtomicFile(self.target)
        self._writer = None
        self._t0: float | None = None
        self.frames = 0

    def emit(self, result: Result) -> None:
        from edgecolor.video import open_writer

        if self._writer is None:
            if callable(self.fps):
                self.fps = float(self.fps())
            size = (result.frame.shape[1], result.frame.shape[0])
            self._writer = open_writer(self._file.path, size, self.fps, self.codec, None, self._ffmpeg,
                                       target=self.target)
            self._t0 = result.captured
        due = int((result.captured - self._t0) * self.fps) + 1
        repeats = min(max(0, due - self.frames), int(self.fps) + 1)  # a gap (reconnect) is at most a second
        for _ in range(repeats):
            self._writer.write(result.frame)
        self.frames += repeats

    def close(self) -> Path | None:
        """Finish the file; None when nothing was recorded (no empty file is left)."""
        if self._writer is None or self.frames == 0:
            if self._writer is not None:
                self._writer.abort()
            self._file.discard()
            return None
        try:
            self._writer.close()
        except BaseException:
            self._file.discard()
            raise
        self._file.commit()
        return self.target

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
        self._file.discard()


def check_virtual_cam() -> Any:
    try:
        import pyvirtualcam
    except ImportError:
        raise EdgecolorError("--virtual-cam needs pyvirtualcam: pip install pyvirtualcam (and a virtual camera "
                             "device: v4l2loopback on Linux, OBS Virtual Camera on Windows and macOS)") from None
    return pyvirtualcam


class VirtualCam:
    """Frames to a virtual camera (pyvirtualcam), for video-call software."""

    def __init__(self, fps: float | Callable[[], float], device: str | None = None) -> None:
        self._module = check_virtual_cam()
        self.fps, self.device = fps, device
        self._cam = None

    def emit(self, result: Result) -> None:
        frame = result.frame[:, :, :3]
        if self._cam is None:
            if callable(self.fps):
                self.fps = float(self.fps())
            try:
                self._cam = self._module.Camera(width=frame.shape[1], height=frame.shape[0], fps=self.fps,
                                                fmt=self._module.PixelFormat.BGR, device=self.device)
            except Exception as e:  # no loopback device, OBS camera not installed, ...
                raise EdgecolorError(f"--virtual-cam: {e}") from None
            print(f"virtual camera: {self._cam.device}", file=sys.stderr)
        self._cam.send(np.ascontiguousarray(frame))

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()


# -- the live command -----------------------------------------------------------------------------


@dataclass
class LiveReport:
    stats: RunStats
    source: str
    ended: str  # why the source stopped ("" when the user stopped it)
    lost: bool  # the source failed (exit code non-zero)
    recorded: Path | None
    reconnects: int


def live(
    source: str | int,
    colorizer: Any,
    *,
    show: bool = False,
    side_by_side: bool = False,
    record: Path | None = None,
    codec: str | None = None,
    serve: int | None = None,
    host: str = "127.0.0.1",
    virtual_cam: bool = False,
    timeout: float = 10.0,
    loop: bool = False,
    stabilize: bool = True,
    strength: float = DEFAULT_STRENGTH,
    workers: int = 1,
    max_frames: int | None = None,
    stop: threading.Event | None = None,
    sinks: list | None = None,
    announce: Callable[[str], None] | None = None,
) -> LiveReport:
    """Colorize a live source until it ends, fails for ``timeout`` s, q/Esc, ``stop`` or Ctrl-C.

    What can fail on the user's input (GUI, pyvirtualcam, output path, port, a file source) is
    checked before the model loads; cameras and URLs are opened (and reopened) by the reader.
    """
    announce = announce or (lambda m: print(m, file=sys.stderr, flush=True))
    if show:
        check_gui()
    if virtual_cam:
        check_virtual_cam()
    src = LiveSource(source, timeout=timeout, loop=loop)
    meter = Meter()
    outputs: list = []
    recorder = server = None

    def fps() -> float:  # a camera's rate is known once it is open
        return src.fps or 25.0

    try:
        if record is not None:
            recorder = Recorder(Path(record), fps, codec)
        if serve is not None:
            from edgecolor.mjpeg import MjpegServer

            server = MjpegServer(serve, host)
            announce(f"preview: {server.url}")
        outputs.append(_MeterSink(meter))
        if recorder:
            outputs.append(recorder)
        if server:
            outputs.append(Preview(server, meter, side_by_side))
        if virtual_cam:
            outputs.append(VirtualCam(fps))
        outputs.extend(sinks or [])
        if show:
            outputs.append(Window(f"edgecolor - {source}", meter, side_by_side))
        stats = run(src, outputs, colorizer, stabilize=stabilize, strength=strength, live=True, workers=workers,
                    stop=stop, max_frames=max_frames)
    except BaseException:
        if recorder:
            recorder.abort()
        raise
    finally:
        src.close()
        for out in outputs:
            if isinstance(out, (Window, VirtualCam)):
                out.close()
        if server:
            server.close()
    recorded = recorder.close() if recorder else None
    user_stop = stats.interrupted and not src.lost
    return LiveReport(stats, str(source), "" if user_stop else src.ended, src.lost, recorded, src.reconnects)


class _MeterSink:
    """Counts every frame for the overlay's fps and latency (first, so it sees frames before slow sinks)."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def emit(self, result: Result) -> None:
        self.meter.tick(result.captured)
