"""One OpenCV log switch (edgecolor.cvlog): silent inside, restored after, nested and across threads; and the one
reader of OpenCV's errors (opencv_reason)."""

from __future__ import annotations

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
