"""Live sources and outputs: cameras and streams in, a window, a recording, a browser preview or a
virtual camera out.

A live source is read by its own thread as fast as it delivers and only the newest frame is
colorized (see stream.run), so a slow CPU shows fewer frames rather than older ones. A source that
fails is reopened with exponential back-off; after ``timeout`` seconds without a frame the run
ends with a one-line reason. A file given as a live source plays at its own frame rate, like a
camera would. The source itself is sources.LiveSource; this module composes it with the outputs.
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
from typing import TYPE_CHECKING, Any

import numpy as np

from edgecolor.errors import BackendError, OutputError, UsageError
from edgecolor.options import StreamOptions
from edgecolor.sinks import Sink
from edgecolor.sources import LiveSource
from edgecolor.stream import ColorizerSpec, Result, RunStats, SinkSpec, run

if TYPE_CHECKING:
    from edgecolor.mjpeg import MjpegServer

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
        raise BackendError("--show needs OpenCV with a GUI: pip uninstall opencv-python-headless && "
                             "pip install opencv-python (or use --serve PORT to watch in a browser)")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UsageError("--show: no display here (DISPLAY is not set); use --serve PORT to watch in a browser")


class Window(Sink):
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


class Preview(Sink):
    """Frames to the MJPEG preview server, composed like the window when someone asks for one
    (a stream viewer or a ``/snapshot.jpg`` request: no viewer needed)."""

    def __init__(self, server: MjpegServer, meter: Meter, side_by_side: bool) -> None:
        self.server, self.meter, self.side_by_side = server, meter, side_by_side

    def emit(self, result: Result) -> None:
        self.server.write(lambda: compose(result, self.meter, self.side_by_side))


class Recorder(Sink):
    """A real-time recording: frames are repeated or skipped so playback speed matches the wall clock."""

    def __init__(self, path: Path, fps: float | Callable[[], float], codec: str | None = None,
                 note: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> None:
        """``fps`` may be a callable: a camera's rate is known only once it is open (first frame).
        ``note`` hears about stale temporary files removed from the folder, and without ffmpeg which codec OpenCV
        writes. ``stop``: the run's stop event
        (a SIGTERM that reached ffmpeg with us leaves its finished file, see video.FfmpegWriter)."""
        from edgecolor.atomic import AtomicFile
        from edgecolor.ffmpeg import choose_encoder, find_ffmpeg

        self.target = Path(path)
        self.fps, self.codec, self.stop, self.note = fps, codec, stop, note
        self._ffmpeg = find_ffmpeg()
        choose_encoder(self.target, codec, self._ffmpeg)  # unknown extension or codec: fail before opening anything
        self._file = AtomicFile(self.target, note=note)
        self._writer = None
        self._t0: float | None = None
        self.frames = 0  # written: what the file holds
        self.repeats = 0  # extra copies written (where the source's frames were dropped, or a gap)
        self.skipped = 0  # frames not written (early ones: the recording's clock had not moved on)

    def emit(self, result: Result) -> None:
        from edgecolor.writers import open_writer

        if self._writer is None:
            if callable(self.fps):
                self.fps = float(self.fps())
            size = (result.frame.shape[1], result.frame.shape[0])
            self._writer = open_writer(self._file.path, size, self.fps, self.codec, None, self._ffmpeg,
                                       target=self.target, stop=self.stop, warn=self.note)
            self._t0 = result.captured
        due = int((result.captured - self._t0) * self.fps) + 1
        repeats = min(max(0, due - self.frames), int(self.fps) + 1)  # a gap (reconnect) is at most a second
        for _ in range(repeats):
            self._writer.write(result.frame)
        self.frames += repeats
        self.repeats += max(0, repeats - 1)
        self.skipped += repeats == 0

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
        raise BackendError("--virtual-cam needs pyvirtualcam: pip install pyvirtualcam (and a virtual camera "
                             "device: v4l2loopback on Linux, OBS Virtual Camera on Windows and macOS)") from None
    return pyvirtualcam


class VirtualCam(Sink):
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
            except Exception as e:  # no loopback device, OBS camera not installed, ...: this output failed (exit 1)
                raise OutputError(f"--virtual-cam: {e}") from None
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
    recorded_frames: int = 0  # what the recording holds: the colorized frames + repeats - skipped (real time)
    recorded_repeats: int = 0
    recorded_skipped: int = 0


def live(
    source: str | int | LiveSource,
    colorizer: ColorizerSpec,
    *,
    show: bool = False,
    side_by_side: bool = False,
    record: Path | None = None,
    codec: str | None = None,
    serve: int | None = None,
    host: str = "127.0.0.1",
    allow_hosts: tuple[str, ...] = (),
    virtual_cam: bool = False,
    timeout: float = 10.0,
    loop: bool = False,
    stream_options: StreamOptions | None = None,
    max_frames: int | None = None,
    stop: threading.Event | None = None,
    sinks: list[SinkSpec] | None = None,
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
    src = source if isinstance(source, LiveSource) else LiveSource(source, timeout=timeout, loop=loop)
    outputs = _Outputs()
    stop = stop or threading.Event()
    try:
        outputs.open(src, show=show, side_by_side=side_by_side, record=record, codec=codec, serve=serve, host=host,
                     allow_hosts=allow_hosts, virtual_cam=virtual_cam, sinks=sinks, announce=announce, stop=stop)
        stats = run(src, outputs.sinks, colorizer, stream_options, live=True, stop=stop, max_frames=max_frames)
    except BaseException:
        outputs.abort_recording()
        raise
    finally:
        src.close()
        outputs.close()
    recorder = outputs.recorder
    recorded = recorder.close() if recorder else None
    user_stop = stats.interrupted and not src.lost
    return LiveReport(stats, src.name, "" if user_stop else src.ended, src.lost, recorded, src.reconnects,
                      *((recorder.frames, recorder.repeats, recorder.skipped) if recorded else ()))


class _Outputs:
    """The sinks of a live run, opened in order and closed whatever happens (the recording only on success)."""

    def __init__(self) -> None:
        self.meter = Meter()
        self.sinks: list[SinkSpec] = []
        self.recorder: Recorder | None = None
        self.server: MjpegServer | None = None
        self._closing: list[Window | VirtualCam] = []  # closed here whatever happens (the recording is not)

    def open(self, src: LiveSource, *, show: bool, side_by_side: bool, record: Path | None, codec: str | None,
             serve: int | None, host: str, allow_hosts: tuple[str, ...], virtual_cam: bool,
             sinks: list[SinkSpec] | None, announce: Callable[[str], None],
             stop: threading.Event | None = None) -> None:
        """Each output that was asked for; the meter first (it sees frames before slow sinks), the window last
        (it runs in the calling thread)."""

        def fps() -> float:  # a camera's rate is known once it is open
            return src.fps or 25.0

        if record is not None:
            self.recorder = Recorder(Path(record), fps, codec,
                                     note=lambda m: print(f"edgecolor: warning: {m}", file=sys.stderr, flush=True),
                                     stop=stop)
        if serve is not None:
            from edgecolor.mjpeg import MjpegServer

            self.server = MjpegServer(serve, host, allow_hosts=allow_hosts)
            announce(f"preview: {self.server.where}")
        self.sinks.append(_MeterSink(self.meter))
        if self.recorder:
            self.sinks.append(self.recorder)
        if self.server:
            self.sinks.append(Preview(self.server, self.meter, side_by_side))
        if virtual_cam:
            self._closing.append(VirtualCam(fps))
            self.sinks.append(self._closing[-1])
        self.sinks.extend(sinks or [])
        if show:
            self._closing.append(Window(f"edgecolor - {src.name}", self.meter, side_by_side))
            self.sinks.append(self._closing[-1])

    def abort_recording(self) -> None:
        if self.recorder:
            self.recorder.abort()

    def close(self) -> None:
        """Windows, virtual cameras and the preview server (the recording is finished or aborted by the caller)."""
        for out in self._closing:
            out.close()
        if self.server:
            self.server.close()


class _MeterSink(Sink):
    """Counts every frame for the overlay's fps and latency (first, so it sees frames before slow sinks)."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def emit(self, result: Result) -> None:
        self.meter.tick(result.captured)
