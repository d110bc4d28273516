"""Writing a file so no reader and no crash ever sees it half-written, and tidying what a killed writer left.

Photos: a result is written to a hidden temporary beside its target,
``.<name>.ec<host>-<pid>-<random>.tmp<suffix>`` (the suffix tells an encoder the format), then
renamed onto it (``os.replace``, atomic on one file system); ``remove_stale`` sweeps those.
Videos: ``AtomicFile`` writes ``.<stem>.<host>-<pid>-<random>.partial<suffix>`` and renames it when
finished; ``remove_stale_partials`` sweeps those, waiting a minute after a dead writer (an ffmpeg
child of a killed run may still be finishing the file).

Either way the name says which host and process wrote it, so a later run can prove its writer is
gone (no such process on this host) and remove it; a temporary of a writer that may still run
(another host, a live process) is removed only once it is a day old. Nothing else is touched.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path

from edgecolor.errors import EdgecolorError

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
    if pid <= 0:
        return False
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


# -- videos: AtomicFile and its .partial temporaries ----------------------------------------

KIND = "partial"
QUIET_FOR = 60.0  # seconds without a change before a dead writer's file is removed (its ffmpeg may be finishing)
# .<stem>.<host>-<pid>-<random>.partial<.suffix>[.<part>]; <part> marks helper files of one writer
_NAME = re.compile(r"^\..+\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-z]{6}\.partial(\.[^.]+)+$")
# earlier versions: tempfile.mkstemp names, no host or pid (only the age tells)
_OLD_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.partial\.[^.]+$")


@functools.cache
def host_tag() -> str:
    """Six hex digits naming this machine (a shared network folder may hold temp files of another)."""
    return hashlib.sha1(socket.gethostname().encode(errors="replace")).hexdigest()[:6]


def stale_reason(path: Path, now: float | None = None) -> str | None:
    """Why ``path`` is an abandoned temp file of ours, or None when it is not one (or may be in use)."""
    name = path.name
    m = _NAME.match(name)
    if m is None and _OLD_NAME.match(name) is None:
        return None
    try:
        st = path.lstat()
    except OSError:
        return None
    import stat

    if not stat.S_ISREG(st.st_mode):
        return None
    age = (now if now is not None else time.time()) - st.st_mtime
    if m is not None and m.group("host") == host_tag() and age > QUIET_FOR and not _process_exists(int(m.group("pid"))):
        return f"its writer, process {m.group('pid')}, is gone"
    if age > STALE_AFTER_S:
        return "unchanged for more than a day"
    return None


def remove_stale_partials(folder: Path, note: Callable[[str], None] | None = None) -> list[Path]:
    """Remove this kind of abandoned temp file from ``folder`` (not its subfolders); say which, and why."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(".") or f".{KIND}." not in entry.name:
            continue
        path = Path(entry.path)
        why = stale_reason(path, now)
        if why is None:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
        if note:
            note(f"removed {path}: a temporary file left by an interrupted run ({why})")
    return removed


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AtomicFile:
    """A temporary file beside ``target``, renamed onto it by ``commit()`` and removed by ``discard()``.

    ``helper(tag)`` names a further temporary file of the same writer (e.g. a video stream before
    its sound is added): swept like the main one, and removed by ``discard()``.
    """

    def __init__(self, target: Path, note: Callable[[str], None] | None = None) -> None:
        self.target = target
        parent = target.parent
        # folders made for this file are removed again by discard(): a failed run leaves nothing
        self._made = [p for p in [parent, *parent.parents] if not p.exists()][::-1]
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (NotADirectoryError, FileExistsError):
            raise EdgecolorError(f"{target}: cannot create folder {parent} (a file is in the way)") from None
        except OSError as e:
            raise EdgecolorError(f"{target}: cannot write here ({e.strerror or e})") from None
        if not self._made:
            remove_stale_partials(parent, note)
        stem = f".{target.stem}.{host_tag()}-{os.getpid()}-"
        for _ in range(100):
            name = parent / f"{stem}{''.join(secrets.choice('0123456789abcdefghijklmnopqrstuvwxyz') for _ in range(6))}"
            self.path = name.with_name(name.name + f".{KIND}{target.suffix}")
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~_umask())
                break
            except FileExistsError:
                continue
            except OSError as e:
                self.discard()
                raise EdgecolorError(f"{target}: cannot write here ({e.strerror or e})") from None
        else:
            raise EdgecolorError(f"{target}: cannot create a temporary file in {parent}")
        os.close(fd)
        self._helpers: list[Path] = []

    def helper(self, tag: str) -> Path:
        path = self.path.with_name(f"{self.path.name}.{tag}{self.target.suffix}")
        self._helpers.append(path)
        return path

    def commit(self) -> None:
        try:
            os.replace(self.path, self.target)
        except OSError as e:
            self.discard()
            raise EdgecolorError(f"{self.target}: cannot write ({e.strerror or e})") from None
        self._remove_helpers()

    def discard(self) -> None:
        self._remove_helpers()
        try:
            self.path.unlink()
        except (FileNotFoundError, AttributeError):
            pass
        for folder in reversed(self._made):
            try:
                folder.rmdir()
            except OSError:  # not empty (something else was written there) or already gone
                break

    def _remove_helpers(self) -> None:
        for path in getattr(self, "_helpers", []):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
