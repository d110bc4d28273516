"""OpenCV's own log lines off for a while: one switch for the backends, frame sources and writers.

OpenCV logs to stderr on its own ([ WARN:0@...] on camera open, on probing, when the dnn engine
ignores a target); edgecolor's errors already say what went wrong, in one line. The level is
process-wide, so nested and concurrent blocks share one counter and the last one out restores it.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading

_log_lock = threading.Lock()
_log_depth = 0
_log_saved: int | None = None


@contextlib.contextmanager
def quiet_opencv():
    """OpenCV's own log lines ([ WARN:0@...] on camera open, probing) off inside the block; our errors say it."""
    global _log_depth, _log_saved
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    with _log_lock:
        if _log_depth == 0:
            _log_saved = logging.getLogLevel()
            logging.setLogLevel(logging.LOG_LEVEL_SILENT)
        _log_depth += 1
    try:
        yield
    finally:
        with _log_lock:
            _log_depth -= 1
            if _log_depth == 0 and _log_saved is not None:
                logging.setLogLevel(_log_saved)


_CV_ERROR = re.compile(r"error: \(-?\d+:([^)]*)\)\s*(.*?)(?: in function .*)?$")


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
