"""Opening a file only if it is a regular one: the one way photos, model files and imported weights are opened.

A FIFO blocks its reader until a writer comes and a device (/dev/zero) never ends, so the file is opened
without blocking and its type checked on the open descriptor: nothing can be swapped in between a check
and the read. ``stat_regular`` is the same test without opening, for a plan or a listing made before
anything is read (the open is checked again). Callers turn ``NotRegular`` into their own error kind and wording.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegular(OSError):
    """The path is a folder, FIFO, device or socket; ``mode`` says which (``errors.file_kind`` in words)."""

    def __init__(self, path: str | os.PathLike, mode: int) -> None:
        from edgecolor.errors import file_kind

        super().__init__(f"not a regular file ({file_kind(mode)})")
        self.path = os.fspath(path)
        self.mode = mode


def open_regular(path: str | os.PathLike | Path) -> BinaryIO:
    """``path`` opened for binary reading (blocking again once checked); NotRegular if it is not a regular
    file, the open's own OSError (FileNotFoundError, PermissionError...) if it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def stat_regular(path: str | os.PathLike | Path) -> os.stat_result:
    """``os.stat(path)`` of a regular file, decided without opening it (a batch's plan refuses a FIFO or a device
    before anything is read; ``open_regular`` checks the open file again): NotRegular if it is not one, the
    stat's own OSError (FileNotFoundError for a broken link...) if it cannot be looked at."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegular(path, st.st_mode)
    return st
