"""Writing a file so no reader and no crash ever sees it half-written, and tidying what a killed writer left.

A file is written to a hidden temporary beside its target,
``.<name>.ec<host>-<pid>-<random>[-<tag>].tmp<suffix>`` (the suffix tells an encoder the format; a tag
names a further file of the same writer, such as a video stream before its sound is added), then
renamed onto it (``os.replace``, atomic on one file system). Photos go through ``write_with`` /
``write_bytes``, videos through ``AtomicFile``; ``remove_stale`` sweeps both.

The name says which host and process wrote it, so a later run can prove its writer is gone (no such
process on this host) and remove it; a temporary of a writer that may still run (another host, a live
process) is removed only once it is a day old. Names of earlier versions (no writer recorded, or the
videos' ``.partial`` names) are recognised too. Nothing else is touched.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path

from edgecolor.errors import OutputError

STALE_AFTER_S = 24 * 3600  # a temporary this old is stale whoever wrote it
QUIET_FOR = 60.0  # a video writer's ffmpeg may still be finishing its file for a while after the writer died
# ours: .<name>.ec<host>-<pid>-<8 hex>[-<tag>].tmp[<suffix>]
_OURS = re.compile(r"^\..+\.ec(?P<host>[0-9a-f]{4})-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})(-[a-z0-9]{1,16})?"
                   r"\.tmp(\.[A-Za-z0-9]{1,5})?$")
_RETIRED = (  # earlier versions' names, so their leftovers go too
    re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$"),  # edgecolor 0.1 photos: no writer recorded
    re.compile(r"^\..+\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-z]{6}\.partial(\.[^.]+)+$"),  # videos
    re.compile(r"^\..+\.[a-z0-9_]{8}\.partial\.[^.]+$"),  # videos before that (tempfile.mkstemp): no writer
)


class CannotCreateError(OSError):
    """The temporary could not even be created: the folder is not writable (read-only, full, missing)."""


@functools.cache
def host_tag() -> str:
    """Four hex digits naming this machine (a shared network folder may hold temporaries of another)."""
    return hashlib.sha1(socket.gethostname().encode(errors="replace")).hexdigest()[:4]


def temp_path(target: Path, token: str | None = None, tag: str = "") -> Path:
    """A temporary name beside ``target`` that records this host and process, ending in its suffix.

    ``token`` (8 hex digits, fresh by default) and ``tag`` let one writer name several files alike.
    """
    token = token or secrets.token_hex(4)
    tag = f"-{tag}" if tag else ""
    return target.parent / f".{target.name}.ec{host_tag()}-{os.getpid()}-{token}{tag}.tmp{target.suffix}"


def create_temp(target: Path) -> Path:
    """Create a fresh, empty temporary for ``target`` (exclusively, so it is ours); CannotCreateError if not."""
    for _ in range(100):
        tmp = temp_path(target)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
            return tmp
        except FileExistsError:  # another writer drew the same token: draw again
            continue
        except OSError as e:
            raise CannotCreateError(e.errno, e.strerror, str(tmp)) from None
    raise CannotCreateError(f"cannot create a temporary file in {target.parent}")


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
    tmp = create_temp(target)
    try:
        if not write(tmp):
            tmp.unlink(missing_ok=True)
            return False
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def make_folder(path: Path) -> list[Path]:
    """Create the folder ``path`` is to be written into (with parents); a clear ``OutputError`` when it
    cannot be. Returns the folders it made, outermost first, so a failed write can remove them again."""
    folder = path.parent
    if folder.is_dir():
        return []
    made = [p for p in [folder, *folder.parents] if not p.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (NotADirectoryError, FileExistsError):
        raise OutputError(f"{path}: cannot create output folder {folder} (a file is in the way)") from None
    except OSError as e:
        raise OutputError(f"{path}: cannot create output folder {folder} ({e.strerror or e})") from None
    return made


def stale_reason(path: Path, now: float | None = None, quiet_for: float = 0.0) -> str | None:
    """Why ``path`` is an abandoned temporary of edgecolor's, or None when it is not one (or may be in use).

    A writer proved gone counts once the file is unchanged for ``quiet_for`` seconds (QUIET_FOR where a
    child process of the writer, such as ffmpeg, may outlive it); any writer's counts after a day.
    """
    name = path.name
    m = _OURS.match(name) or next((m for r in _RETIRED if (m := r.match(name))), None)
    if m is None:
        return None  # not ours: never touched
    try:
        st = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    age = (now if now is not None else time.time()) - st.st_mtime
    writer = m.groupdict()
    if ("pid" in writer and writer["host"][:4] == host_tag() and (not quiet_for or age > quiet_for)
            and not _process_exists(int(writer["pid"]))):
        return f"its writer, process {writer['pid']}, is gone"
    if age > STALE_AFTER_S:
        return "unchanged for more than a day"
    return None


def is_stale(path: Path, now: float | None = None, quiet_for: float = 0.0) -> bool:
    """True for an edgecolor temporary whose writer is provably gone, or that is a day old."""
    return stale_reason(path, now, quiet_for) is not None


def remove_stale(folder: Path, note: Callable[[str], None] | None = None, quiet_for: float = 0.0) -> list[Path]:
    """Remove the stale edgecolor temporaries directly in ``folder`` (not its subfolders); the ones removed,
    sorted. ``note`` hears each one and why."""
    removed = []
    try:
        names = sorted(name for name in os.listdir(folder) if name.startswith("."))
    except OSError:
        return removed
    now = time.time()
    for name in names:
        path = folder / name
        why = stale_reason(path, now, quiet_for)
        if why is None:
            continue
        try:
            path.unlink()
        except OSError:  # gone meanwhile, or not ours to remove: leave it
            continue
        removed.append(path)
        if note:
            note(f"removed {path}: a temporary file left by an interrupted run ({why})")
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


class AtomicFile:
    """A temporary file beside ``target``, renamed onto it by ``commit()`` and removed by ``discard()``.

    ``helper(tag)`` names a further temporary file of the same writer (e.g. a video stream before
    its sound is added): swept like the main one, and removed by ``discard()``. Creating it sweeps
    the folder's stale temporaries first (``remove_stale``, telling ``note``), waiting QUIET_FOR after
    a dead writer.
    """

    def __init__(self, target: Path, note: Callable[[str], None] | None = None) -> None:
        self.target = target
        self._helpers: list[Path] = []
        # folders made for this file are removed again by discard(): a failed run leaves nothing
        self._made = make_folder(target)  # OutputError: this file failed, a batch goes on
        if not self._made:
            remove_stale(target.parent, note, quiet_for=QUIET_FOR)
        try:
            self.path = create_temp(target)
        except CannotCreateError as e:
            self.discard()
            raise OutputError(f"{target}: cannot write here ({e.strerror or e})") from None

    def helper(self, tag: str) -> Path:
        path = temp_path(self.target, _OURS.match(self.path.name)["token"], tag)
        self._helpers.append(path)
        return path

    def commit(self) -> None:
        try:
            os.replace(self.path, self.target)
        except OSError as e:
            self.discard()
            raise OutputError(f"{self.target}: cannot write ({e.strerror or e})") from None
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
        for path in self._helpers:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
