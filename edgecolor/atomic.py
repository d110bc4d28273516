"""Outputs written under a temporary name beside the target and renamed when finished; stale ones swept.

A temporary file is named ``.<stem>.<host>-<pid>-<random>.partial<suffix>``: the writer's host and
process id are in the name, so a later run can tell a leftover of a killed run (kill -9, power cut)
from the file of a run still writing into the same folder. ``remove_stale`` removes only files of
this pattern whose writer is gone: same host, no such process and no change for a minute (an
ffmpeg child of a killed run may still be finishing the file), or untouched for a day (a writer
appends frames all the time, so a day without a change means nobody writes it).
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

KIND = "partial"
STALE_AFTER = 24 * 3600.0  # seconds without a change after which any temp file of ours counts as abandoned
QUIET_FOR = 60.0  # seconds without a change before a dead writer's file is removed (its ffmpeg may be finishing)
# .<stem>.<host>-<pid>-<random>.partial<.suffix>[.<part>]; <part> marks helper files of one writer
_NAME = re.compile(r"^\..+\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-z]{6}\.partial(\.[^.]+)+$")
# earlier versions: tempfile.mkstemp names, no host or pid (only the age tells)
_OLD_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.partial\.[^.]+$")


@functools.cache
def host_tag() -> str:
    """Six hex digits naming this machine (a shared network folder may hold temp files of another)."""
    return hashlib.sha1(socket.gethostname().encode(errors="replace")).hexdigest()[:6]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists, owned by someone else (or we cannot tell: keep it)
        return True
    return True


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
    if m is not None and m.group("host") == host_tag() and age > QUIET_FOR and not _alive(int(m.group("pid"))):
        return f"its writer, process {m.group('pid')}, is gone"
    if age > STALE_AFTER:
        return "unchanged for more than a day"
    return None


def remove_stale(folder: Path, note: Callable[[str], None] | None = None) -> list[Path]:
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
            remove_stale(parent, note)
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
