"""OpenCV and the libraries under it kept off stderr: one switch, ``quiet_opencv()``, for the backends, photo
reading and writing, frame sources and writers; and ``opencv_reason``, the one reader of OpenCV's errors.

edgecolor's errors and warnings say what went wrong in one line, so what the libraries print goes.
benchmarks/opencv_chatter.py measures three kinds: OpenCV's own log lines ([ WARN:0@...]: libtiff's
warnings, camera and file opening, the dnn engine ignoring a target), off by its log level; the ffmpeg
libraries' av_log lines ("moov atom not found"), off by OPENCV_FFMPEG_LOGLEVEL (set here, read when a
capture opens); and what libjpeg, libpng and OpenCV's ffmpeg writer print straight to file descriptor 2
("Corrupt JPEG data: ...", "libpng warning: ...", "OpenCV: FFMPEG: tag ... is not supported"), which
only capturing fd 2 keeps off: ``capture=True`` does (OpenCV's log lines with them, left on so that a
decode hears its reason), and hands those lines to the caller (a photo's damage, one warning naming it).

All of it is process-wide, so blocks share it and never wait for each other: the first block in takes
the level (and the capture), the last one out gives it back, and what others print meanwhile goes back
to stderr byte for byte. A captured line lands in the window of every capture open when it was printed,
so a block that overlapped another (``said.alone`` False) cannot tell whose a line is: its caller redoes
the work with ``alone=True``, which waits for the open captures to end and keeps new ones out meanwhile
(``files.decode_image`` does, for a damaged photo: the only case with lines).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

# the ffmpeg libraries' own log (demuxer chatter); OpenCV reads it when a capture or writer first opens
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

# what the libraries print on fd 2 that is theirs: OpenCV's log lines (its ffmpeg backend's too), libjpeg's and
# libpng's messages; the text after OpenCV's "[ WARN:0@0.1] global file.cpp:12 function" is kept
_OPENCV_LOG = re.compile(r"^\[\s*(?:WARN|ERROR|INFO)[^\]]*\]\s+\S+\s+\S+:\d+\s+\S+\s+(.*)$")
_LIBRARY_LINE = re.compile(
    r"^(libpng|libtiff|Corrupt JPEG|Premature end of JPEG|Invalid JPEG|Warning|TIFF|OpenCV: FFMPEG:)", re.I)
# a cv2.error's text: "OpenCV(5.1.0) file.cpp:12: error: (-215:Assertion failed) what in function 'f'"
_CV_ERROR = re.compile(r"error: \(-?\d+:([^)]*)\)\s*(.*?)(?: in function .*)?$")
# reading a capture without moving the file offset fd 2 writes at; without pread every capture is alone
_SHARED = hasattr(os, "pread")


class Said:
    """What the libraries printed during a ``quiet_opencv(capture=True)`` block, one line each; ``alone``: no
    other capture was open meanwhile, so the lines are this block's."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.alone = True


class _Capture:
    """fd 2 redirected into a temporary file until the last capture ends; ``handled``: bytes already sorted."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        try:
            self.saved = os.dup(2)
        except OSError:  # no fd 2 (a windowed app): nothing to capture
            self.file.close()
            raise
        os.dup2(self.file.fileno(), 2)
        self.handled = 0

    def size(self) -> int:
        return os.fstat(self.file.fileno()).st_size

    def read(self, start: int, stop: int) -> bytes:
        if _SHARED:
            return os.pread(self.file.fileno(), stop - start, start)
        self.file.seek(start)  # alone: nothing writes meanwhile; the offset is put back for fd 2
        data = self.file.read(stop - start)
        self.file.seek(0, os.SEEK_END)
        return data

    def pass_on(self, stop: int, last: bool) -> None:
        """Write back to the real stderr what is not the libraries' (a progress bar's frames, other threads'
        lines), byte for byte; up to the last complete line unless this is the last block out."""
        data = self.read(self.handled, stop)
        if not last:
            data = data[:data.rfind(b"\n") + 1]
        self.handled += len(data)
        kept = [raw for raw in data.splitlines(keepends=True) if library_line(raw) is None and raw.strip(b" \t\n")]
        _write_all(self.saved, b"".join(kept))  # blank lines (OpenCV ends its messages with one) go; a bare \r stays

    def restore(self) -> None:
        """fd 2 back where it was; what was captured is still read and passed on after this, then ``close``."""
        os.dup2(self.saved, 2)

    def close(self) -> None:
        os.close(self.saved)
        self.file.close()


_cond = threading.Condition()
_level_depth = 0
_level_saved: int | None = None
_capture: _Capture | None = None
_open = 0  # capture blocks open now
_entered = 0  # capture blocks entered so far: one that saw no other enter, and none open, was alone
_alone_wanted = 0  # alone=True blocks waiting or open: new blocks wait for them
_thread = threading.local()  # .open: capture blocks this thread has open


@contextlib.contextmanager
def quiet_opencv(capture: bool = False, alone: bool = False) -> Iterator[Said]:
    """OpenCV's log off inside the block (and the ffmpeg libraries' always). With ``capture``, everything printed
    on fd 2 is kept off instead, OpenCV's log lines included (a damaged TIFF's reason is one): the libraries'
    lines are collected in the ``Said`` it gives, the rest goes back to stderr (see the module's docstring).
    ``alone`` (with ``capture``): wait until no other capture is open and keep new ones out, so the lines are
    surely this block's."""
    said = Said()
    if not capture:
        _level_enter()
        try:
            yield said
        finally:
            _level_exit()
        return
    alone = alone or not _SHARED
    token = _capture_enter(alone)
    try:
        yield said
    finally:
        _capture_exit(token, said, alone)


def library_line(raw: bytes) -> str | None:
    """The message of one line a library printed (OpenCV's without its "[ WARN...] file:line function" head), or
    None when the line is not theirs."""
    line = raw.decode("utf-8", "replace").strip()
    m = _OPENCV_LOG.match(line)
    if m:
        return m[1].strip()
    if line.startswith("OpenCV(") and (m := _CV_ERROR.search(line)):  # an exception OpenCV logged, on its own line
        return f"{m[1]}: {m[2]}".strip(": ")
    return line if _LIBRARY_LINE.match(line) else None


def _level_enter() -> None:
    global _level_depth, _level_saved
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    with _cond:
        if _level_depth == 0 and logging is not None:
            _level_saved = logging.getLogLevel()
            logging.setLogLevel(logging.LOG_LEVEL_SILENT)
        _level_depth += 1


def _level_exit() -> None:
    global _level_depth
    import cv2

    with _cond:
        _level_depth -= 1
        if _level_depth == 0 and _level_saved is not None:
            cv2.utils.logging.setLogLevel(_level_saved)


def _capture_enter(alone: bool) -> tuple[int, int] | None:
    """(start offset, entries so far) of a new capture block; None when there is no fd 2 (a windowed app)."""
    global _capture, _open, _entered, _alone_wanted
    mine = getattr(_thread, "open", 0)  # this thread's own open blocks (nested): never waited for
    with _cond:
        if alone:
            _alone_wanted += 1
            try:
                _cond.wait_for(lambda: _open == mine)
            except BaseException:  # Ctrl-C while waiting: the others must not wait for this block any more
                _alone_wanted -= 1
                _cond.notify_all()
                raise
        elif not mine:
            _cond.wait_for(lambda: _alone_wanted == 0)
        if _capture is None:
            try:
                _capture = _Capture()
            except OSError:
                if alone:
                    _alone_wanted -= 1
                    _cond.notify_all()
                return None
        _open += 1
        _entered += 1
        _thread.open = mine + 1
        start = _capture.size()
        return start, (_entered if _open == 1 else -1)


def _capture_exit(token: tuple[int, int] | None, said: Said, alone: bool) -> None:
    global _capture, _open, _alone_wanted
    if token is None:
        return
    start, entered = token
    with _cond:
        cap = _capture
        stop = cap.size()
        said.alone = entered == _entered  # nobody was open when it began, nobody entered since
        _open -= 1
        _thread.open -= 1
        last = _open == 0
        if last:  # stderr back first, whatever comes next (a Ctrl-C among the lines below)
            _capture = None
            cap.restore()
        if alone:
            _alone_wanted -= 1
        _cond.notify_all()
        try:
            said.lines = [m for raw in cap.read(start, stop).splitlines() if (m := library_line(raw))]
            cap.pass_on(cap.size() if last else stop, last)
        finally:
            if last:
                cap.close()


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:  # stderr closed: nowhere to say it
        pass



def opencv_reason(e: BaseException) -> str | None:
    """What a cv2.error says, in one line without OpenCV's source location ("OpenCV(5.1.0) file:line: error:
    (-215:Assertion failed) what in function 'f'" -> "Assertion failed: what"); None when ``e`` is no cv2.error.
    The one reader of OpenCV's errors: the backend, photo reading and writing, and the batches' last resort."""
    cv2 = sys.modules.get("cv2")  # not loaded: not one of its errors (and no import for asking)
    if cv2 is None or not isinstance(e, cv2.error):
        return None
    text = " ".join(str(e).split())
    m = _CV_ERROR.search(text)
    return (f"{m[1]}: {m[2]}".strip(": ") if m else text)[:300]
