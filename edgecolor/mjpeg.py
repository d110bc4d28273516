"""A tiny MJPEG preview server: watch a headless device's live colorization in any browser.

``/`` is a page with one ``<img src="/stream.mjpg">``; ``/stream.mjpg`` is a
``multipart/x-mixed-replace`` stream of JPEG frames (what IP cameras send, so browsers, VLC and
OpenCV all play it); ``/snapshot.jpg`` is the latest frame. Each frame is JPEG-encoded once, and
only when someone asks for it. Standard library only (http.server), bound to 127.0.0.1 unless
told otherwise.

Guarded like a local service that a web page must not reach: requests whose ``Host`` header is not
a name the server was bound for (localhost names, the bound address, this machine's name, or what
``allow_hosts`` adds) get 403, so a page cannot read the camera through DNS rebinding. Clients that
go away are not errors (no tracebacks), idle connections are closed after ``idle_timeout`` seconds,
and at most ``max_clients`` connections are served at once (the rest get 503).

Slow senders (slowloris) cannot hold the slots: a request's headers must all arrive within
``header_timeout`` seconds of connecting (a deadline for the whole request, not per read), and
viewers come first: when every slot is taken, a new connection takes back the slot of the oldest
client still sending its request headers; only clients being served count against the cap.
"""

from __future__ import annotations

import html
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from edgecolor.errors import UsageError
from edgecolor.sinks import Sink

BOUNDARY = "edgecolorframe"
MAX_CLIENTS = 8  # connections served at once; a preview is for a few people
IDLE_TIMEOUT = 10.0  # seconds a connection may send nothing (request) or take nothing (stream)
HEADER_TIMEOUT = 10.0  # seconds from connecting to the end of the request headers, however they trickle in
_REFUSED = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n"
            b"Connection: close\r\n\r\ntoo many viewers\n")


def host_name(header: str) -> str:
    """The host part of a Host header, lower case: 'Cam.local:8080' -> 'cam.local', '[::1]:80' -> '::1'."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text.rstrip(".")


def default_hosts(bound: str) -> set[str]:
    """Host names a server bound to ``bound`` answers to without being told: localhost names, the
    bound address, and this machine's own name (none of them a name a web page could rebind)."""
    names = {"localhost", "127.0.0.1", "::1"}
    wildcard = bound in ("", "0.0.0.0", "::")
    if not wildcard:
        names.add(host_name(bound))
    if wildcard or not _is_loopback(bound):
        machine = socket.gethostname().lower()
        names |= {machine, machine + ".local", machine.split(".", 1)[0]}
    return names


def own_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, as far as can be told without sending anything: its name's
    addresses, and the one a route to the outside would leave from (a UDP connect() picks it, sends nothing)."""
    found: set[str] = set()
    try:
        found |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, no route means no address
            found.add(probe.getsockname()[0])
    except OSError:
        pass
    usable = [ipaddress.ip_address(a) for a in found]
    return sorted(str(a) for a in usable if not (a.is_loopback or a.is_unspecified))


def listen_line(host: str, port: int) -> str:
    """Where to open a server bound to ``host``: its URL, or for a wildcard (0.0.0.0, ::) the local URL and the
    URLs other machines can use (this machine's name and addresses, which the Host check answers to)."""
    if host not in ("", "0.0.0.0", "::"):
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    others = [f"http://{a}:{port}/" for a in [socket.gethostname().lower(), *own_addresses()]]
    return f"http://127.0.0.1:{port}/ (listening on all interfaces; from other machines: {', '.join(others)})"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one response per connection: the stream ends when the client goes

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout  # StreamRequestHandler applies it to the socket
        super().setup()

    def parse_request(self) -> bool:
        """Reads the headers; from here on this client is a viewer (its slot is no longer taken back)."""
        try:
            return super().parse_request()
        finally:
            self.server.headers_done(self.request)

    def _host_allowed(self) -> bool:
        header = self.headers.get("Host")
        if header is None:
            return False
        name = host_name(header)
        allowed = self.server.allowed_hosts
        if "*" in allowed or name in allowed or name.endswith(".localhost"):
            return True
        try:  # the address this connection came in on, written as an address: no name to rebind
            return name == host_name(self.connection.getsockname()[0])
        except OSError:
            return False

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if not self._host_allowed():
            self.send_error(403, "host not allowed", "Start edgecolor with --allow-host NAME to watch under this name.")
            return
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

    def publish(self, frame: np.ndarray | Callable[[], np.ndarray]) -> None:
        """A new frame, or a function making it (called only if someone asks for this frame)."""
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
        if callable(frame):
            frame = frame()
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
    allowed_hosts: set[str]
    idle_timeout: float = IDLE_TIMEOUT
    max_clients: int = MAX_CLIENTS

    header_timeout: float = HEADER_TIMEOUT

    def server_activate(self) -> None:
        self.clients = 0
        self._clients_lock = threading.Lock()
        self._reading: dict[Any, float] = {}  # connections still sending their request headers -> when they came
        self._taken_back: set[Any] = set()  # ... whose slot went to someone else (counted already)
        self._closing = threading.Event()
        super().server_activate()
        threading.Thread(target=self._reap, name="edgecolor-mjpeg-deadline", daemon=True).start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, up to ``max_clients``; beyond that, the slot of a client still
        sending its headers (the oldest), or else a quick 503 and close."""
        with self._clients_lock:
            if self.clients >= self.max_clients and self._reading:
                self._take_back(min(self._reading, key=self._reading.__getitem__))
            full = self.clients >= self.max_clients
            if not full:
                self.clients += 1
                self._reading[request] = time.monotonic()
        if not full:
            try:
                return super().process_request(request, client_address)
            except BaseException:
                self._client_gone(request)
                raise
        try:
            request.setblocking(False)
            try:  # take what the client already sent, so closing does not reset the connection
                request.recv(65536)
            except OSError:
                pass
            request.setblocking(True)
            request.settimeout(1.0)
            request.sendall(_REFUSED)
        except OSError:
            pass
        self.shutdown_request(request)

    def headers_done(self, request: Any) -> None:
        with self._clients_lock:
            self._reading.pop(request, None)

    def _take_back(self, request: Any) -> None:
        """Free the slot of a client that has not finished its request (lock held): its thread sees the
        connection end and goes; the slot is counted free now."""
        del self._reading[request]
        self._taken_back.add(request)
        self.clients -= 1
        try:
            request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _reap(self) -> None:
        """The whole-request deadline: a client still sending headers ``header_timeout`` s after it came goes."""
        while not self._closing.wait(min(0.25, self.header_timeout / 4)):
            late = time.monotonic() - self.header_timeout
            with self._clients_lock:
                for request in [r for r, came in self._reading.items() if came <= late]:
                    self._take_back(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._client_gone(request)

    def _client_gone(self, request: Any) -> None:
        with self._clients_lock:
            self._reading.pop(request, None)
            if request in self._taken_back:
                self._taken_back.discard(request)
            else:
                self.clients -= 1

    def server_close(self) -> None:
        self._closing.set()
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A viewer that hangs up or times out is normal: no traceback. Anything else: one line."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        print(f"edgecolor: warning: preview: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


class MjpegServer(Sink):
    """Serve frames on http://host:port/ ; ``write(frame)`` publishes one (a sink for ``stream.run``).

    ``port=0`` picks a free port (see ``.port``). Use as a context manager, or call ``close()``.
    """

    def __init__(self, port: int = 8080, host: str = "127.0.0.1", quality: int = 80,
                 title: str = "edgecolor live", *, allow_hosts: Iterable[str] = (),
                 max_clients: int = MAX_CLIENTS, idle_timeout: float = IDLE_TIMEOUT,
                 header_timeout: float = HEADER_TIMEOUT) -> None:
        """``allow_hosts``: more Host names to answer to ("*": any, as before DNS rebinding was a thing).
        ``header_timeout``: seconds a client has, from connecting, to send its whole request."""
        if max_clients < 1:
            raise UsageError(f"max_clients must be >= 1, got {max_clients}")
        if not idle_timeout > 0:
            raise UsageError(f"idle_timeout must be > 0 seconds, got {idle_timeout}")
        if not header_timeout > 0:
            raise UsageError(f"header_timeout must be > 0 seconds, got {header_timeout}")
        self.hub = Hub(quality, title)
        try:
            self._server = _Server((host, port), _Handler)
        except (OSError, OverflowError) as e:
            raise UsageError(f"--serve {port}: cannot listen on {host}:{port} ({getattr(e, 'strerror', None) or e})"
                             ) from None
        self._server.hub = self.hub
        self._server.allowed_hosts = default_hosts(host) | {host_name(h) if h != "*" else "*" for h in allow_hosts}
        self._server.max_clients = max_clients
        self._server.idle_timeout = float(idle_timeout)
        self._server.header_timeout = float(header_timeout)
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
    def where(self) -> str:
        """One line for people: the URL, plus the network URLs when listening on all interfaces."""
        return listen_line(self.host, self.port)

    @property
    def watchers(self) -> int:
        return self.hub.watchers

    def write(self, frame: np.ndarray | Callable[[], np.ndarray]) -> None:
        self.hub.publish(frame)

    def close(self) -> None:
        self.hub.close()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MjpegServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
