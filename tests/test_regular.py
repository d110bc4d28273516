"""regular.open_regular: the one opener of photos, model files and imported weights refuses what is not a
regular file on the open descriptor, without blocking on a FIFO; stat_regular is the same test without opening."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from edgecolor.regular import NotRegular, open_regular, stat_regular


def test_a_regular_file_is_read(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc")
    with open_regular(tmp_path / "a.bin") as f:
        assert f.read() == b"abc"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_at_once_and_says_so(tmp_path):
    os.mkfifo(tmp_path / "pipe")  # no writer: a blocking open would hang this test
    with pytest.raises(NotRegular) as caught:
        open_regular(tmp_path / "pipe")
    assert stat.S_ISFIFO(caught.value.mode) and str(caught.value) == "not a regular file (a FIFO)"


def test_a_folder_and_a_missing_file(tmp_path):
    with pytest.raises(NotRegular, match=r"\(a folder\)"):
        open_regular(tmp_path)
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "missing")


def test_no_descriptor_is_left_open_by_a_refusal(tmp_path):
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    for _ in range(20):
        with pytest.raises(NotRegular):
            open_regular(tmp_path)
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_stat_regular_decides_without_opening(tmp_path):
    """A batch's plan refuses a FIFO before anything opens it: a FIFO's atime stays, a writer never sees a reader."""
    (tmp_path / "a.jpg").write_bytes(b"abcd")
    assert stat_regular(tmp_path / "a.jpg").st_size == 4
    os.mkfifo(tmp_path / "pipe.jpg")
    with pytest.raises(NotRegular) as caught:
        stat_regular(tmp_path / "pipe.jpg")
    assert str(caught.value) == "not a regular file (a FIFO)" and caught.value.path == str(tmp_path / "pipe.jpg")
    with pytest.raises(NotRegular, match=r"\(a folder\)"):
        stat_regular(tmp_path)
    (tmp_path / "link.jpg").symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(FileNotFoundError):
        stat_regular(tmp_path / "link.jpg")
    with pytest.raises(OSError) as no_reader:  # a writer opening without blocking finds no reader: nothing opened it
        os.open(tmp_path / "pipe.jpg", os.O_WRONLY | os.O_NONBLOCK)
    assert no_reader.value.errno == errno.ENXIO
