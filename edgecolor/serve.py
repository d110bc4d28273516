"""`edgecolor serve`: colorize photos over HTTP, an API and a page to drop photos on (extra ``serve``).

FastAPI on uvicorn: a well-kept ASGI stack that reads uploads asynchronously (a slow client holds a
connection, never a worker) and describes the API as OpenAPI (``/openapi.json``). The model loads
once (one ``Colorizer``); photos run on a bounded thread pool (decode, prepare, merge and encode in
parallel; inference is serialised by the backend's lock), and a full queue answers 503 at once.

The steps are ``Colorizer.colorize_file``'s on bytes: the header is read first (pixel limit before
decoding, ``files.decode_image``), the result is encoded in the input's format with the same rules
(``files.encode_image``), so a response is byte for byte the file ``edgecolor colorize`` writes.
Uploads stay in memory (at most ``max_bytes`` each, ``max_connections`` at once); nothing is written
to disk. Safe by default: loopback only, a Host-header check against DNS rebinding (as ``mjpeg``),
and an optional bearer token. Errors are JSON ``{"error": "<name>: <reason>", "status": N}``.

(No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations, whose types
are imported inside ``make_app`` so that the framework stays an optional extra.)
"""

import asyncio
import concurrent.futures
import contextlib
import hmac
import math
import re
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import PurePath
from typing import Any

from edgecolor.cvlog import opencv_reason
from edgecolor.errors import BackendError, EdgecolorError, InputError, OutputError, UsageError
from edgecolor.mjpeg import default_hosts, host_name
from edgecolor.options import ColorizerOptions, check_saturation, check_size

DEFAULT_PORT = 7000
DEFAULT_WORKERS = 2  # photos worked on at once: decode/encode of one overlaps inference of another
DEFAULT_QUEUE = 8  # photos waiting for a worker; one more gets 503
DEFAULT_MAX_BYTES = 100 * 2**20  # one upload; a 12 MP JPEG is ~5 MB, a 12 MP 16-bit RGB TIFF 72 MB
DEFAULT_MAX_CONNECTIONS = 32  # uploads in memory at once (uvicorn answers 503 beyond): memory <= this x max_bytes
UPLOAD_IDLE_TIMEOUT = 30.0  # seconds an upload may send nothing before it is dropped (408)
INSTALL = "pip install 'edgecolor[serve]'"

# What is taken, by the sniffed format: the suffix the result is encoded with and its media type (the
# photo formats `colorize` reads and writes); any other recognised image is 415.
FORMATS = {
    "JPEG": (".jpg", "image/jpeg"),
    "PNG": (".png", "image/png"),
    "TIFF": (".tif", "image/tiff"),
    "BMP": (".bmp", "image/bmp"),
    "WebP": (".webp", "image/webp"),
}


class HttpError(Exception):
    """A request's failure: the status and the one-line reason (the CLI's, where the CLI has one)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, " ".join(message.split()), headers or {}


def require_framework() -> None:
    """The serve extra is installed, or one line saying how to install it (a UsageError: exit 2)."""
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401  (form uploads)
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise UsageError(f"edgecolor serve needs the 'serve' extra ({e.name} is missing): {INSTALL}") from None


def upload_name(filename: str | None) -> str:
    """A client's file name fit for messages and a download name: the last part, printable, short."""
    name = PurePath((filename or "").replace("\\", "/")).name
    name = re.sub(r"[^\w .()+,-]", "_", name)[:120].strip(" .")
    return name or "upload"


@dataclass
class Colorized:
    """One response: the encoded result and what to say about it."""

    body: bytes
    media_type: str
    filename: str
    colour_input: bool
    seconds: float
    warnings: tuple[str, ...] = ()


@dataclass
class Counts:
    done: int = 0
    failed: int = 0
    busy: int = 0  # answered 503
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)

    def line(self) -> str:
        return f"served {self.done} photos, {self.failed} failed, {self.busy} turned away (queue full)"


class Service:
    """The model, loaded once, and the bounded pool that colorizes uploads with it (no HTTP here)."""

    def __init__(self, options: ColorizerOptions, workers: int = DEFAULT_WORKERS, queue: int = DEFAULT_QUEUE) -> None:
        from edgecolor.colorizer import Colorizer

        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise UsageError(f"workers must be an integer >= 1, got {workers!r}")
        if not isinstance(queue, int) or isinstance(queue, bool) or queue < 0:
            raise UsageError(f"queue must be an integer >= 0, got {queue!r}")
        self.colorizer = Colorizer.from_options(options)
        self.workers, self.queue = workers, queue
        self.counts = Counts()
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="edgecolor-serve")
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        """Photos being colorized or waiting for a worker."""
        return self._in_flight

    def submit(self, data: bytes, name: str, saturation: float | None = None,
               size: int | None = None) -> concurrent.futures.Future[Colorized]:
        """Queue one photo; HttpError 503 at once when ``workers + queue`` photos are already in."""
        if not self._slots.acquire(blocking=False):
            self.counts.add("busy")
            raise HttpError(503, f"{name}: busy: {self.workers + self.queue} photos are in the queue; try again "
                                 "shortly", {"Retry-After": "1"})
        with self._lock:
            self._in_flight += 1
        try:
            future = self._pool.submit(self.colorize_bytes, data, name, saturation, size)
        except RuntimeError:  # the pool is shut down: the server is stopping
            self._release()
            raise HttpError(503, f"{name}: the server is stopping") from None
        future.add_done_callback(lambda _: self._release())
        return future

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
        self._slots.release()

    def colorize_bytes(self, data: bytes, name: str, saturation: float | None = None,
                       size: int | None = None) -> Colorized:
        """One upload -> the colorized photo in its own format; every failure an HttpError with one line."""
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:  # said in a header, not printed
                warnings.simplefilter("always")
                result = self._colorize(data, name, saturation, size)
        except HttpError:
            self.counts.add("failed")
            raise
        except InputError as e:  # OutputError too: the encoder refused this image
            self.counts.add("failed")
            raise HttpError(500 if isinstance(e, OutputError) else 400, str(e)) from None
        except EdgecolorError as e:  # the model or the runtime failed: not the client's fault
            self.counts.add("failed")
            raise HttpError(500, str(e)) from None
        except MemoryError:
            self.counts.add("failed")
            raise HttpError(503, f"{name}: out of memory; try a smaller photo or fewer at once") from None
        except Exception as e:  # noqa: BLE001 - one odd photo must not take the server down
            self.counts.add("failed")
            reason = opencv_reason(e)
            if reason is not None:
                raise HttpError(400, f"{name}: OpenCV cannot process this image ({reason})") from None
            print(f"edgecolor: warning: serve: {name}: unexpected {type(e).__name__}: {e}", file=sys.stderr)
            raise HttpError(500, f"{name}: unexpected {type(e).__name__}: {e}") from None
        result.seconds = time.perf_counter() - t0
        result.warnings = tuple(" ".join(str(w.message).split()) for w in caught)
        self.counts.add("done")
        return result

    def _colorize(self, data: bytes, name: str, saturation: float | None, size: int | None) -> Colorized:
        from edgecolor import files, imageheader, pipeline

        c = self.colorizer
        kind = files.sniff(data)
        if not data:
            raise HttpError(400, f"{name}: empty upload (0 bytes)")
        if kind is None:
            raise HttpError(400, f"{name}: not an image file (unrecognised content)")
        if kind not in FORMATS:
            raise HttpError(415, f"{name}: {kind} images are not supported (send {', '.join(FORMATS)})")
        suffix, media_type = FORMATS[kind]
        dims = imageheader.size(data, kind)
        limit = c.max_pixels
        too_many = limit is not None and dims is not None and dims[0] * dims[1] > limit
        try:
            image = files.decode_image(data, name, limit)  # the pixel limit is checked from the header first
        except InputError as e:
            raise HttpError(413 if too_many else 400, str(e)) from None
        del data
        prepared = pipeline.prepare(image, c.contract, c.size if size is None else size)
        del image
        out = pipeline.merge(prepared, c.predict_ab(prepared), c.saturation if saturation is None else saturation,
                             c.guided)
        colour = prepared.chroma > pipeline.COLOUR_CHROMA
        del prepared
        body = files.encode_image(out, suffix, files.JPEG_QUALITY)
        stem = PurePath(name).stem if PurePath(name).suffix else name
        return Colorized(body, media_type, f"{stem}-colorized{suffix}", colour, 0.0)

    def info(self) -> dict[str, Any]:
        """What the server runs: like ``edgecolor info --json`` for the one loaded model."""
        from edgecolor import __version__

        c = self.colorizer
        try:
            runtime = c.backend.runtime_info()
        except Exception:  # noqa: BLE001 - a runtime without the properties: leave them out
            runtime = {}
        return {
            "edgecolor": __version__,
            "backend": c.backend_name,
            "runtime": {k: v for k, v in runtime.items() if isinstance(v, (str, int, float, bool)) or v is None},
            "precision": c.precision,
            "model": {"name": c.contract.name, "path": str(c.model_path), "working_size": c.contract.working_size},
            "options": {"size": c.size, "saturation": c.saturation, "guided": c.guided, "max_pixels": c.max_pixels},
            "workers": self.workers,
            "queue": self.queue,
            "formats": {kind: media for kind, (_s, media) in FORMATS.items()},
        }

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# -- HTTP ----------------------------------------------------------------------------------------


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": " ".join(str(message).split()), "status": status}


def _page() -> bytes:
    return resources.files("edgecolor").joinpath("_static", "serve.html").read_bytes()


def make_app(service: Service, *, token: str | None = None, allow_hosts: Iterable[str] = (), bound: str = "127.0.0.1",
             max_bytes: int = DEFAULT_MAX_BYTES, upload_timeout: float = UPLOAD_IDLE_TIMEOUT):
    """The ASGI app: ``/`` (the page), ``POST /colorize``, ``GET /health``, ``GET /info``, ``/openapi.json``."""
    from fastapi import Depends, FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from starlette.datastructures import Headers, UploadFile
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.formparsers import MultiPartException, MultiPartParser
    from starlette.requests import ClientDisconnect

    from edgecolor import __version__

    allowed = default_hosts(bound) | {host_name(h) if h != "*" else "*" for h in allow_hosts}
    page = _page()

    class _InMemoryParser(MultiPartParser):
        """Starlette's multipart parser with the file part kept in memory (the body is bounded already)."""

        spool_max_size = max_bytes + 1

    app = FastAPI(
        title="edgecolor", version=__version__, docs_url=None, redoc_url=None,  # the docs pages load from a CDN
        description="Colorize black-and-white photos. POST a photo to /colorize; the result comes back in its format.",
    )

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(_error_body(status, message), status, headers=headers)

    @app.middleware("http")
    async def check_host(request: Request, call_next):
        """403 unless the Host header names this server (a web page cannot reach it by DNS rebinding)."""
        name = host_name(request.headers.get("host", ""))
        local = request.scope.get("server") or ("",)
        if not ("*" in allowed or name in allowed or name.endswith(".localhost") or name == host_name(str(local[0]))):
            return error(403, f"host not allowed: {name or '(none)'} (start edgecolor serve with --allow-host {name})")
        try:
            return await call_next(request)
        except ClientDisconnect:  # the client went away mid-upload: nobody to answer
            return error(400, "upload: the client went away before the upload ended")
        except Exception as e:  # noqa: BLE001 - one line on stderr and in the answer, never a traceback
            print(f"edgecolor: warning: serve: {request.url.path}: {type(e).__name__}: {e}", file=sys.stderr)
            return error(500, f"{request.url.path}: unexpected {type(e).__name__}")

    @app.exception_handler(HttpError)
    async def on_http_error(_request: Request, e: HttpError):
        return error(e.status, e.message, e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def on_framework_error(request: Request, e: StarletteHTTPException):
        return error(e.status_code, f"{request.url.path}: {e.detail}", dict(e.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def on_bad_query(_request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return error(400, f"{where}: {first.get('msg', 'invalid value')}")

    def authorised(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if not header or scheme.lower() != "bearer":
            raise HttpError(401, "a bearer token is needed (Authorization: Bearer TOKEN)",
                            {"WWW-Authenticate": 'Bearer realm="edgecolor"'})
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise HttpError(403, "wrong token", {"WWW-Authenticate": 'Bearer realm="edgecolor", error="invalid_token"'})

    async def read_body(request: Request, name: str) -> bytes:
        """The whole body, refused past ``max_bytes`` (from Content-Length before reading, else while reading)."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            raise HttpError(413, too_big(name, int(length)))
        chunks, got = [], 0
        stream = request.stream().__aiter__()
        while True:
            try:
                chunk = await asyncio.wait_for(stream.__anext__(), upload_timeout)
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:
                raise HttpError(408, f"{name}: the upload stalled for {upload_timeout:.0f} s") from None
            got += len(chunk)
            if got > max_bytes:
                raise HttpError(413, too_big(name, got, at_least=True))
            chunks.append(chunk)
        return b"".join(chunks)

    def too_big(name: str, size: int, at_least: bool = False) -> str:
        more = "more than " if at_least else ""
        return (f"{name}: upload too large: {more}{size / 2**20:.1f} MB, above the limit of {max_bytes / 2**20:.1f} MB "
                "(raise it with --max-bytes)")

    async def upload(request: Request) -> tuple[bytes, str]:
        """The photo of a request: multipart field ``file``, or the raw body (name from ?name= or 'upload')."""
        ctype = request.headers.get("content-type", "")
        body = await read_body(request, upload_name(request.query_params.get("name")))
        if not ctype.lower().startswith("multipart/form-data"):
            return body, upload_name(request.query_params.get("name"))

        async def replay():
            yield body

        parser = _InMemoryParser(Headers(raw=[(b"content-type", ctype.encode("latin-1"))]), replay(),
                                 max_files=4, max_fields=16, max_part_size=max_bytes)
        try:
            form = await parser.parse()
        except MultiPartException as e:
            raise HttpError(400, f"upload: bad multipart form ({e.message})") from None
        try:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise HttpError(400, "upload: no file in the form field 'file'")
            part.file.seek(0)
            return part.file.read(), upload_name(part.filename)
        finally:
            await form.close()

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    @app.get("/health", summary="The server is up")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "in_flight": service.in_flight, "capacity": service.workers + service.queue}

    @app.get("/info", summary="Backend, precision and model in use", dependencies=[Depends(authorised)])
    async def info() -> dict[str, Any]:
        return service.info() | {"max_bytes": max_bytes}

    @app.post(
        "/colorize", summary="Colorize one photo", dependencies=[Depends(authorised)],
        response_class=Response,
        responses={200: {"content": {m: {} for _s, m in FORMATS.values()},
                         "description": "The colorized photo, in the input's format"},
                   **{code: {"description": why} for code, why in (
                       (400, "not an image, damaged, or a bad parameter"), (401, "token needed"), (403, "wrong token"),
                       (413, "too many bytes or pixels"), (415, "an image format edgecolor does not take"),
                       (503, "the queue is full: try again"))}},
        openapi_extra={"requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        }}},
    )
    async def colorize(
        request: Request,
        saturation: float | None = Query(None, ge=0, description="Chroma gain (default: the server's)"),
        size: int | None = Query(None, ge=16, description="Network input long side, px (default: the server's)"),
        name: str | None = Query(None, description="The photo's name, for a raw body (messages, download name)"),
    ) -> Response:
        if saturation is not None and not math.isfinite(saturation):
            raise HttpError(400, f"saturation must be a number >= 0, got {saturation!r}")
        try:
            check_saturation(saturation if saturation is not None else 1.0)
            check_size(size)
        except UsageError as e:
            raise HttpError(400, str(e)) from None
        data, filename = await upload(request)
        result = await asyncio.wrap_future(service.submit(data, filename, saturation, size))
        headers = {
            "Content-Disposition": f'attachment; filename="{result.filename}"',
            "X-Edgecolor-Seconds": f"{result.seconds:.3f}",
            "X-Edgecolor-Colour-Input": "1" if result.colour_input else "0",
            "Cache-Control": "no-store",
        }
        if result.warnings:
            headers["X-Edgecolor-Warning"] = result.warnings[0].encode("ascii", "replace").decode()
        return Response(result.body, media_type=result.media_type, headers=headers)

    return app


def _uvicorn_server(config):
    """uvicorn's Server, stopped by Ctrl-C or SIGTERM, saying which (uvicorn would raise the signal again
    after its graceful stop, killing the process before edgecolor's summary line)."""
    import uvicorn

    class Server(uvicorn.Server):
        stopped_by: int | None = None

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            before = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in before.items():
                    signal.signal(sig, handler)

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.stopped_by is None:
                self.stopped_by = sig
            super().handle_exit(sig, frame)

    return Server(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one); an address in use is a one-line UsageError."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _name, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, OverflowError) as e:
        raise UsageError(f"--host {host}: cannot listen there ({getattr(e, 'strerror', None) or e})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(128)
    except (OSError, OverflowError) as e:
        sock.close()
        raise UsageError(f"--port {port}: cannot listen on {host}:{port} ({getattr(e, 'strerror', None) or e})"
                         ) from None
    sock.set_inheritable(True)
    return sock


class PhotoServer:
    """A running ``edgecolor serve``: ``run()`` in the foreground (Ctrl-C / SIGTERM stop it), or ``start()``
    in a thread and ``close()``. The socket is bound when made, so ``port=0`` has its ``port`` and ``url`` now."""

    def __init__(self, options: ColorizerOptions, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                 workers: int = DEFAULT_WORKERS, queue: int = DEFAULT_QUEUE, token: str | None = None,
                 allow_hosts: Iterable[str] = (), max_bytes: int = DEFAULT_MAX_BYTES,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS, upload_timeout: float = UPLOAD_IDLE_TIMEOUT) -> None:
        require_framework()
        import uvicorn

        if not isinstance(max_bytes, int) or max_bytes < 1:
            raise UsageError(f"max_bytes must be a positive integer, got {max_bytes!r}")
        if not isinstance(max_connections, int) or max_connections < 1:
            raise UsageError(f"max_connections must be a positive integer, got {max_connections!r}")
        if token is not None and not token.strip():
            raise UsageError("--token: an empty token would let anyone in")
        self.service = Service(options, workers, queue)  # the model loads (and fails) before anything listens
        try:
            self._sock = bind(host, port)
        except BaseException:
            self.service.close()
            raise
        self.host, self.port = host, self._sock.getsockname()[1]
        app = make_app(self.service, token=token, allow_hosts=allow_hosts, bound=host, max_bytes=max_bytes,
                       upload_timeout=upload_timeout)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                limit_concurrency=max_connections, timeout_keep_alive=5, server_header=False)
        self._server = _uvicorn_server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else "[::1]" if self.host == "::" else self.host
        return f"http://[{host}]:{self.port}/" if ":" in host and not host.startswith("[") else f"http://{host}:{self.port}/"

    @property
    def stopped_by(self) -> int | None:
        """The signal that stopped ``run()`` (SIGINT, SIGTERM), or None."""
        return self._server.stopped_by

    def run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._sock.close()
            self.service.close()

    def start(self, timeout: float = 30.0) -> "PhotoServer":
        self._thread = threading.Thread(target=self.run, name="edgecolor-serve-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise BackendError(f"serve: the server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def close(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)

    def __enter__(self) -> "PhotoServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(options: ColorizerOptions, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          on_ready: Callable[["PhotoServer"], None] | None = None, **settings: Any) -> "PhotoServer":
    """Serve until Ctrl-C or SIGTERM; the stopped server (its counts, ``stopped_by``) is returned."""
    server = PhotoServer(options, host, port, **settings)
    if on_ready is not None:
        on_ready(server)
    server.run()
    return server
