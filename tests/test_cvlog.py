"""One OpenCV log switch (edgecolor.cvlog): silent inside, restored after, nested and across threads."""

from __future__ import annotations

import threading

import cv2

from edgecolor.cvlog import quiet_opencv


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
