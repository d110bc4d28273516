"""A tiny MJPEG preview server: watch a headless device's live colorization in any browser.

``/`` is a page with one ``<img src="/stream.mjpg">``; ``/stream.mjpg`` is a
``multipart/x-mixed-replace`` stream of JPEG frames (what IP cameras send, so browsers, VLC and
OpenCV all play it); ``/snapshot.jpg`` is the latest frame. Each frame is JPEG-encoded once, and
only while someone is watching. Standard library only (http.server), bound to 127.0.0.1 unless
told otherwise.
"""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from edgecolor.errors import EdgecolorError

BOUNDARY = "edgecolorframe"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one response per connection: the stream ends when the client goes

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        hub = self.server.hub
        if path in ("/", "/index.html"):
            body = hub.page().encode()
            self._headers(200, "text/html; charset=utf-8", len(body))
            self.wfile.write(body)
        elif path == "/stream.mjpg":
            self._stream(hub)
        elif path == "/snapshot.jpg":
            jpeg = hub.jpeg(hub.wait(-1, 5.0))
            if jpeg is None:
                self.send_error(503, "no frame yet")
                return
            self._headers(200, "image/jpeg", len(jpeg))
            self.wfile.write(jpeg)
        else:
            self.send_error(404)

    def _headers(self, code: int, ctype: str, length: int | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache, no-store, must-revalidate")
        self.send_header("Pragma", "no-cache")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _stream(self, hub: Hub) -> None:
        self._headers(200, f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        seq = -1
        hub.watchers_changed(+1)
        try:
            while not hub.closed:
                seq = hub.wait(seq, 1.0)
                jpeg = hub.jpeg(seq)
                if jpeg is None:
                    continue
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg + b"\r\n"
                )
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            pass
        finally:
            hub.watchers_changed(-1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: a preview is not a web server log
        pass


class Hub:
    """The newest frame, and its JPEG encoded once for all watchers."""

    def __init__(self, quality: int, title: str) -> None:
        self.quality, self.title = quality, title
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = -1
        self._jpeg: tuple[int, bytes] | None = None
        self.watchers = 0
        self.closed = False

    def publish(self, frame: np.ndarray) -> None:
        with self._cond:
            self._frame = frame
            self._seq += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """The newest sequence number after ``seen`` (or ``seen`` again on timeout)."""
        with self._cond:
            if self._seq <= seen and not self.closed:
                self._cond.wait(timeout)
            return self._seq

    def jpeg(self, seq: int) -> bytes | None:
        import cv2

        with self._cond:
            if self._frame is None or seq < 0:
                return None
            if self._jpeg is not None and self._jpeg[0] == self._seq:
                return self._jpeg[1]
            frame, current = self._frame, self._seq
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return None
        data = buf.tobytes()
        with self._cond:
            self._jpeg = (current, data)
        return data

    def watchers_changed(self, delta: int) -> None:
        with self._cond:
            self.watchers += delta

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def page(self) -> str:
        title = html.escape(self.title)
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{title}</title><style>html,body{{margin:0;height:100%;background:#111}}"
            "img{display:block;width:100%;height:100%;object-fit:contain}</style></head>"
            f"<body><img src='/stream.mjpg' alt='{title}'></body></html>"
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hub: Hub


class MjpegServer:
    """Serve frames on http://host:port/ ; ``write(frame)`` publishes one (a sink for ``stream.run``).

    ``port=0`` picks a free port (see ``.port``). Use as a context manager, or call ``close()``.
    """

    def __init__(self, port: int = 8080, host: str = "127.0.0.1", quality: int = 80,
                 title: str = "edgecolor live") -> None:
        self.hub = Hub(quality, title)
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as e:
            raise EdgecolorError(f"--serve {port}: cannot listen on {host}:{port} ({e.strerror or e})") from None
        self._server.hub = self.hub
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="edgecolor-mjpeg", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}/"

    @property
    def watchers(self) -> int:
        return self.hub.watchers

    def write(self, frame: np.ndarray) -> None:
        self.hub.publish(frame)

    def close(self) -> None:
        self.hub.close()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MjpegServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
