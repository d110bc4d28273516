"""One OpenCV switch (edgecolor.cvlog): the log silent inside, restored after, nested and across threads; fd 2
captured (capture=True) by blocks on several threads at once, none waiting for another unless alone; and the one
reader of OpenCV's errors (opencv_reason)."""

from __future__ import annotations

import os
import threading

import cv2
import numpy as np
import pytest

from edgecolor.cvlog import opencv_reason, quiet_opencv


def test_quiet_opencv_nests_and_restores_the_level():
    log = cv2.utils.logging
    before = log.getLogLevel()
    with quiet_opencv():
        assert log.getLogLevel() == log.LOG_LEVEL_SILENT
        inner_started, outer_may_end = threading.Event(), threading.Event()

        def other_thread():
            with quiet_opencv():
                inner_started.set()
                outer_may_end.wait(5)

        t = threading.Thread(target=other_thread)
        t.start()
        inner_started.wait(5)
    assert log.getLogLevel() == log.LOG_LEVEL_SILENT  # the other thread's block is still open
    outer_may_end.set()
    t.join(5)
    assert log.getLogLevel() == before


def test_loading_a_model_with_opencv_leaves_the_log_level_alone(model_files):
    from conftest import tiny_contract

    from edgecolor.backends import get_backend

    log = cv2.utils.logging
    before = log.getLogLevel()
    get_backend("opencv")(model_files["onnx"], tiny_contract())
    assert log.getLogLevel() == before


def test_opencv_reason_is_one_line_without_the_source_location():
    with pytest.raises(cv2.error) as e:
        cv2.resize(np.zeros((0, 0), np.uint8), (4, 4))
    assert opencv_reason(e.value) == "Assertion failed: !ssize.empty()"
    with pytest.raises(cv2.error) as e:
        cv2.dnn.readNetFromONNX(np.frombuffer(b"not a model" * 8, np.uint8))
    reason = opencv_reason(e.value)
    assert "\n" not in reason and ".cpp" not in reason and "in function" not in reason and len(reason) <= 300
    assert reason.startswith("Unsupported format") or "parse" in reason.lower(), reason


def test_opencv_reason_is_none_for_other_errors():
    """The batches' last resort asks it about any exception: only OpenCV's get a reason."""
    assert opencv_reason(ValueError("error: (-215:Assertion failed) x in function 'f'")) is None
    assert opencv_reason(KeyboardInterrupt()) is None


def test_what_others_write_to_stderr_meanwhile_goes_back_byte_for_byte(capfd):
    """A decode or encode captures fd 2; a progress bar's frames drawn meanwhile (carriage returns, escape
    sequences) came back split into lines, leaving stray bar lines on the terminal."""
    frames = b"\r\x1b[2Kcolorizing 1/3\r\x1b[2Kcolorizing 2/3"
    with quiet_opencv(capture=True) as said:
        os.write(2, frames[:20])
        os.write(2, b"libpng warning: iCCP: known incorrect sRGB profile\n")
        os.write(2, frames[20:])
    assert said.lines == ["libpng warning: iCCP: known incorrect sRGB profile"] and said.alone
    assert capfd.readouterr().err == frames.decode()


def test_captures_on_two_threads_run_at_once_and_know_they_were_not_alone(capfd):
    """No capture waits for another (the old global lock made every decode wait); a line printed while both were
    open is in both windows, and each says it was not alone; other lines go back to stderr once a line is whole."""
    first_open, second_done = threading.Event(), threading.Event()
    got = {}

    def first():
        with quiet_opencv(capture=True) as said:
            first_open.set()
            assert second_done.wait(5), "the second capture waited for the first"
            os.write(2, b"Corrupt JPEG data: 3 extraneous bytes before marker 0xd9\n")
        got["first"] = said

    t = threading.Thread(target=first)
    t.start()
    assert first_open.wait(5)
    with quiet_opencv(capture=True) as said:
        os.write(2, b"libpng warning: tEXt: CRC error\n")
        os.write(2, b"a line of someone else's\n")
    got["second"] = said
    assert capfd.readouterr().err == "a line of someone else's\n"  # passed on while the first is still open
    second_done.set()
    t.join(5)
    assert got["second"].lines == ["libpng warning: tEXt: CRC error"] and not got["second"].alone
    assert got["first"].lines == ["libpng warning: tEXt: CRC error",
                                  "Corrupt JPEG data: 3 extraneous bytes before marker 0xd9"]
    assert not got["first"].alone
    assert capfd.readouterr().err == ""


def test_an_alone_capture_waits_for_open_ones_and_keeps_new_ones_out():
    order = []
    first_open, alone_waiting = threading.Event(), threading.Event()

    def first():
        with quiet_opencv(capture=True):
            first_open.set()
            alone_waiting.wait(5)
            order.append("first ends")

    def alone():
        first_open.wait(5)
        alone_waiting.set()
        with quiet_opencv(capture=True, alone=True) as said:
            order.append("alone runs")
            os.write(2, b"libpng warning: mine\n")
        assert said.lines == ["libpng warning: mine"] and said.alone

    threads = [threading.Thread(target=first), threading.Thread(target=alone)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert order == ["first ends", "alone runs"]


def test_a_capture_leaves_the_log_level_and_fd_2_as_they_were():
    log = cv2.utils.logging
    before, fd2 = log.getLogLevel(), os.fstat(2)
    with quiet_opencv(capture=True):
        assert log.getLogLevel() == before  # OpenCV's log lines are captured (a TIFF's damage), not silenced
        assert (os.fstat(2).st_ino, os.fstat(2).st_dev) != (fd2.st_ino, fd2.st_dev)
    assert (os.fstat(2).st_ino, os.fstat(2).st_dev) == (fd2.st_ino, fd2.st_dev) and log.getLogLevel() == before


def test_many_threads_capturing_lose_no_line_repeat_none_and_leak_no_descriptor(capfd):
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None

    def work(i):
        for j in range(50):
            with quiet_opencv(capture=True) as said:
                os.write(2, f"line {i}-{j}\n".encode())
                if j % 10 == 0:
                    os.write(2, b"libpng warning: iCCP: known incorrect sRGB profile\n")
            assert all(line.startswith("libpng warning") for line in said.lines)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    err = capfd.readouterr().err.splitlines()
    assert sorted(err) == sorted(f"line {i}-{j}" for i in range(4) for j in range(50))
    for i in range(4):  # each thread's lines in its order
        assert [e for e in err if e.startswith(f"line {i}-")] == [f"line {i}-{j}" for j in range(50)]
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) <= fds  # (earlier tests may close some meanwhile)
