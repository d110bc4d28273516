"""Atomic writes and tidying the temporaries a killed writer leaves (issue 10 item 6)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from edgecolor import atomic
from edgecolor.errors import OutputError


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped): no process has it now."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def _temp_of(folder, name: str, pid: int):
    path = atomic.temp_path(folder / name)
    path = path.with_name(path.name.replace(f"-{os.getpid()}-", f"-{pid}-"))
    path.write_bytes(b"partial")
    return path


@pytest.mark.skipif(os.name == "nt", reason="no process probe on Windows: the age rule alone applies")
def test_only_temporaries_of_gone_writers_are_removed(tmp_path):
    dead = _temp_of(tmp_path, "a.jpg", _dead_pid())
    live = _temp_of(tmp_path, "b.jpg", os.getpid())  # a writer still running (this test)
    parent = _temp_of(tmp_path, "c.png", os.getppid())
    old_style = tmp_path / ".d.jpg.0123abcd.tmp"  # edgecolor 0.1's name: no writer recorded
    old_style.write_bytes(b"x")
    stale_old_style = tmp_path / ".e.jpg.89abcdef.tmp"
    stale_old_style.write_bytes(b"x")
    day_ago = time.time() - atomic.STALE_AFTER_S - 60
    os.utime(stale_old_style, (day_ago, day_ago))
    others = [tmp_path / n for n in (".notes.tmp", "photo.jpg", ".f.jpg.ec0000-1-zzzz.tmp", "g.tmp")]
    for path in others:
        path.write_bytes(b"user data")
    old_other = others[0]
    os.utime(old_other, (day_ago, day_ago))
    removed = atomic.remove_stale(tmp_path)
    assert removed == sorted([dead, stale_old_style])
    for kept in (live, parent, old_style, *others):
        assert kept.exists(), kept


def test_a_day_old_temporary_is_stale_whoever_wrote_it(tmp_path):
    live = _temp_of(tmp_path, "a.jpg", os.getpid())
    assert not atomic.is_stale(live)
    assert atomic.is_stale(live, now=time.time() + atomic.STALE_AFTER_S + 60)


def test_temp_name_records_host_and_process_and_keeps_the_suffix(tmp_path):
    path = atomic.temp_path(tmp_path / "photo.tif")
    assert path.parent == tmp_path and path.name.startswith(".photo.tif.ec") and path.suffix == ".tif"
    assert f"-{os.getpid()}-" in path.name


@pytest.mark.skipif(os.name == "nt", reason="kill -9 is POSIX")
def test_killed_writer_leaves_a_temporary_that_the_next_write_cleans(tmp_path):
    """kill -9 in the middle of a write: the temporary stays; remove_stale takes it once the writer is gone."""
    code = (
        "import os, sys, pathlib\n"
        "from edgecolor import atomic\n"
        "def write(tmp):\n"
        "    tmp.write_bytes(b'half')\n"
        "    print(tmp, flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
        "atomic.write_with(pathlib.Path(sys.argv[1]), write)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out.jpg")], capture_output=True, text=True,
                          env=env, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == -9, proc.stderr
    left = [p for p in tmp_path.iterdir()]
    assert [str(p) for p in left] == [proc.stdout.strip()]
    assert atomic.remove_stale(tmp_path) == left and not list(tmp_path.iterdir())


@pytest.mark.skipif(os.name == "nt", reason="no process probe on Windows: the age rule alone applies")
def test_one_sweep_for_photo_and_video_temporaries_with_a_quiet_time_for_video_writers(tmp_path):
    """Video writers (AtomicFile) name their files like photos, helpers included; their sweep waits QUIET_FOR."""
    dead = _dead_pid()
    video = _temp_of(tmp_path, "a.mkv", dead)
    helper = atomic.temp_path(tmp_path / "a.mkv", atomic._OURS.match(video.name)["token"], "video")
    helper = helper.with_name(helper.name.replace(f"-{os.getpid()}-", f"-{dead}-"))
    helper.write_bytes(b"partial")
    assert atomic.remove_stale(tmp_path, quiet_for=atomic.QUIET_FOR) == []  # its ffmpeg may still be finishing
    minute_ago = time.time() - atomic.QUIET_FOR - 5
    for path in (video, helper):
        os.utime(path, (minute_ago, minute_ago))
    said = []
    assert atomic.remove_stale(tmp_path, said.append, quiet_for=atomic.QUIET_FOR) == sorted([video, helper])
    assert said == [f"removed {p}: a temporary file left by an interrupted run (its writer, process {dead}, is gone)"
                    for p in sorted([video, helper])]


def test_atomic_file_commits_or_leaves_nothing_not_even_its_folders(tmp_path):
    target = tmp_path / "new" / "deeper" / "v.mkv"
    out = atomic.AtomicFile(target)
    helper = out.helper("video")
    helper.write_bytes(b"x")
    assert out.path.parent == target.parent and atomic.is_stale(out.path, now=time.time() + 2 * atomic.STALE_AFTER_S)
    assert atomic.stale_reason(helper) is None  # ours, but its writer (this process) is alive
    out.discard()
    assert not list(tmp_path.iterdir())
    out = atomic.AtomicFile(target)
    out.path.write_bytes(b"video")
    out.commit()
    assert [p.name for p in target.parent.iterdir()] == ["v.mkv"] and target.read_bytes() == b"video"


def test_an_atomic_file_that_cannot_be_made_is_an_output_error(tmp_path):
    """This file failed (a batch counts it and goes on, exit 1), not "nothing can run"."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match=r"file/sub \(a file is in the way\)$"):
        atomic.AtomicFile(blocker / "sub" / "v.mp4")


def test_make_folder_says_what_is_in_the_way_and_returns_what_it_made(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match=r"cannot create output folder .*file/sub \(a file is in the way\)$"):
        atomic.make_folder(blocker / "sub" / "x.png")
    with pytest.raises(OutputError, match="a file is in the way"):  # a video's output: this file failed (exit 1)
        atomic.AtomicFile(blocker / "sub" / "v.mkv")
    assert atomic.make_folder(tmp_path / "a" / "b" / "x.png") == [tmp_path / "a", tmp_path / "a" / "b"]
    assert atomic.make_folder(tmp_path / "a" / "b" / "y.png") == []
