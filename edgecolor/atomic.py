"""Writing a file so no reader and no crash ever sees it half-written, and tidying what a killed writer left.

A result is written to a hidden temporary beside its target,
``.<name>.ec<host>-<pid>-<random>.tmp<suffix>`` (the suffix tells an encoder the format), then
renamed onto it (``os.replace``, atomic on one file system). A process killed mid-write (kill -9,
power cut) leaves that temporary behind; the name says which host and process wrote it, so a later
run can prove its writer is gone (no such process on this host) and remove it. A temporary of a
writer that may still run (another host, a live process) is removed only once it is a day old.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path

STALE_AFTER_S = 24 * 3600  # a temporary this old is stale whoever wrote it
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:4]
# ours: .<name>.ec<host>-<pid>-<hex>.tmp<suffix> ; edgecolor 0.1's: .<name>.<8 hex>.tmp (no writer recorded)
_OURS = re.compile(r"^\..+\.ec(?P<host>[0-9a-f]{4})-(?P<pid>\d+)-[0-9a-f]{8}\.tmp(\.[A-Za-z0-9]{1,5})?$")
_OLD = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")


class CannotCreateError(OSError):
    """The temporary could not even be created: the folder is not writable (read-only, full, missing)."""


def temp_path(target: Path) -> Path:
    """A fresh temporary name beside ``target`` that records this host and process, ending in its suffix."""
    return target.parent / f".{target.name}.ec{_HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp{target.suffix}"


def write_bytes(target: Path, data) -> None:
    """Write ``data`` (bytes or a buffer such as a numpy array) to ``target`` through a temporary + rename.

    Raises OSError (the caller words it); the temporary never outlives a failure or an interrupt.
    No fsync: a power cut may lose the newest file, never leave a torn one in its place.
    """

    def write(tmp: Path) -> bool:
        with open(tmp, "wb") as f:
            f.write(data)  # the buffer itself: a bytes copy would add the file's size to the peak
        return True

    write_with(target, write)


def write_with(target: Path, write: Callable[[Path], bool]) -> bool:
    """Let ``write(temporary)`` create the file (e.g. an encoder writing as it goes), then rename it onto
    ``target``; False (and no file) when ``write`` returns False. The temporary is created first
    (exclusively, so it is ours) and never outlives a failure or an interrupt."""
    tmp = temp_path(target)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    except OSError as e:
        raise CannotCreateError(e.errno, e.strerror, str(tmp)) from None
    try:
        if not write(tmp):
            tmp.unlink(missing_ok=True)
            return False
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    """True for an edgecolor photo temporary whose writer is provably gone, or that is a day old."""
    ours = _OURS.match(path.name)
    if not ours and not _OLD.match(path.name):
        return False  # not ours: never touched
    try:
        st = path.lstat()
    except OSError:
        return False
    if not (st.st_mode & 0o170000) == 0o100000:  # a regular file only
        return False
    if (now if now is not None else time.time()) - st.st_mtime > STALE_AFTER_S:
        return True
    return bool(ours) and ours["host"] == _HOST and not _process_exists(int(ours["pid"]))


def remove_stale(folder: Path) -> list[Path]:
    """Remove the stale edgecolor temporaries directly in ``folder``; the ones removed, sorted."""
    removed = []
    try:
        candidates = [folder / name for name in os.listdir(folder) if name.startswith(".") and ".tmp" in name]
    except OSError:
        return removed
    now = time.time()
    for path in sorted(candidates):
        if is_stale(path, now):
            try:
                path.unlink()
                removed.append(path)
            except OSError:  # gone meanwhile, or not ours to remove: leave it
                pass
    return removed


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # no signal 0 there; the age rule alone applies
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists under another user, or cannot tell: keep the file
    return True
