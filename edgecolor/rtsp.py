"""RTSP out: the colorized frames as an H.264 stream at rtsp://HOST:PORT/edgecolor, for NVRs, VLC and ffmpeg.

GStreamer's own RTSP server (gst-rtsp-server, through gi) does the protocol: sessions, RTP over
UDP or TCP, several clients on one shared encoder. Frames go in with ``write(frame)`` (a sink of
stream.run / live), through ``appsrc ! videoconvert ! x264enc (zero latency) ! rtph264pay``. The
appsrc keeps at most two frames and drops the oldest when the encoder falls behind, so a slow
client or CPU never holds the colorizer up; with no client connected, frames are simply not
encoded. Bound to 127.0.0.1 unless told otherwise (``host``), like the MJPEG preview.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from edgecolor.errors import UsageError
from edgecolor.sinks import Sink

PATH = "/edgecolor"
FIRST_FRAME_WAIT = 20.0  # seconds a client that connects before the first frame is kept waiting
# Zero-latency x264 (no B-frames, no lookahead), a key frame every 30 frames, the stream's SPS/PPS with
# every key frame (config-interval=-1) so a client that joins late can decode at once.
_LAUNCH = ("( appsrc name=edgecolor is-live=true format=time do-timestamp=true max-buffers=2 leaky-type=downstream "
           "! videoconvert ! video/x-raw,format=I420,colorimetry=bt601 "
           "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
           "! rtph264pay name=pay0 pt=96 config-interval=-1 )")


class RtspServer(Sink):
    """Serves the frames given to ``write`` at ``url`` (H.264 over RTSP) until ``close``."""

    def __init__(self, port: int = 8554, host: str = "127.0.0.1", fps: float | Callable[[], float] = 25.0) -> None:
        """``port`` 0 picks a free one (``self.port``). ``fps`` may be a callable: a camera's rate is known
        once it is open (first frame). Raised here, before anything else starts: a busy port (UsageError),
        missing GStreamer packages (gstlib's BackendError)."""
        from edgecolor.gstlib import load_gi

        gi = load_gi("GstRtspServer", "GstApp")
        self._Gst, self._GLib = gi["Gst"], gi["GLib"]
        self._rtsp = rtsp = gi["GstRtspServer"]
        self.host, self.fps = host, fps
        self._lock = threading.Lock()
        self._sources: list[Any] = []  # one appsrc per prepared media (shared: one for all clients)
        self._caps: Any = None
        self._size: tuple[int, int] | None = None
        self._period = 0
        self._ready = threading.Event()  # the first frame came: the stream's size is known
        self._closed = False

        self._server = rtsp.RTSPServer.new()
        self._server.set_address(host)
        self._server.set_service(str(port))
        self._factory = rtsp.RTSPMediaFactory.new()
        self._factory.set_shared(True)
        self._factory.set_launch(_LAUNCH)
        self._factory.connect("media-configure", self._configure)
        self._server.get_mount_points().add_factory(PATH, self._factory)
        self._context = self._GLib.MainContext.new()
        try:  # binds and listens now, so a busy port is an error before anything else starts
            self._source = self._server.create_source(None)
        except self._GLib.Error as e:
            raise UsageError(f"--rtsp {port}: cannot listen on {host}:{port} ({e.message})") from None
        self._source.attach(self._context)
        self.port = self._server.get_bound_port()
        self._thread = threading.Thread(target=self._serve, name="edgecolor-rtsp", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"rtsp://{host}:{self.port}{PATH}"

    # -- the server's thread -----------------------------------------------------------------------

    def _serve(self) -> None:
        """The server's own main context (not the default one an application may run), iterated until close."""
        while not self._closed:
            self._context.iteration(True)

    def _configure(self, factory: Any, media: Any) -> None:
        """A client asked for the stream: its encoder pipeline is made; remember its appsrc until it ends.

        A client that comes before the first frame (the model still loading) waits for it here, up to
        FIRST_FRAME_WAIT seconds: the stream description needs the frame size."""
        self._ready.wait(FIRST_FRAME_WAIT)
        src = media.get_element().get_by_name("edgecolor")
        media.connect("unprepared", self._forget, src)
        with self._lock:
            if self._caps is not None:
                src.set_property("caps", self._caps)
            self._sources.append(src)

    def _forget(self, media: Any, src: Any) -> None:
        with self._lock:
            if src in self._sources:
                self._sources.remove(src)

    # -- the sink ----------------------------------------------------------------------------------

    def write(self, frame: np.ndarray) -> None:
        """One colorized BGR frame; resized to the stream's size if the source changed size (a reconnect)."""
        Gst = self._Gst
        frame = np.ascontiguousarray(frame[:, :, :3] if frame.ndim == 3 else np.dstack([frame] * 3))
        if self._size is None:
            self._start(frame)
        elif (frame.shape[1], frame.shape[0]) != self._size:
            import cv2

            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        with self._lock:
            sources = list(self._sources)
        if not sources:
            return
        data = frame.tobytes()
        for src in sources:
            buf = Gst.Buffer.new_wrapped(data)
            buf.duration = self._period
            src.emit("push-buffer", buf)

    def _start(self, frame: np.ndarray) -> None:
        """The stream's caps, from the first frame and the source's rate."""
        Gst = self._Gst
        fps = float(self.fps()) if callable(self.fps) else float(self.fps)
        fps = fps if 0 < fps <= 240 else 25.0
        num, den = Gst.util_double_to_fraction(fps)
        height, width = frame.shape[:2]
        self._size = (width, height)
        self._period = Gst.util_uint64_scale(Gst.SECOND, den, num)
        caps = Gst.Caps.from_string(f"video/x-raw,format=BGR,width={width},height={height},framerate={num}/{den}")
        with self._lock:
            self._caps = caps
            self._ready.set()
            for src in self._sources:  # a client that came before the first frame
                src.set_property("caps", caps)

    def close(self) -> None:
        """End the stream for its clients (EOS, then their connections) and stop serving."""
        if self._closed:
            return
        self._closed = True
        self._ready.set()  # a client still waiting for a first frame: let the server's thread go
        with self._lock:
            sources, self._sources = list(self._sources), []
        for src in sources:
            src.emit("end-of-stream")
        remove = self._rtsp.RTSPFilterResult.REMOVE
        self._server.client_filter(lambda server, client: remove)
        self._context.wakeup()
        self._thread.join(timeout=5.0)
        self._source.destroy()

    def __enter__(self) -> RtspServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

