"""sinks.Sink: the one interface stream.run sends frames to; the writers, MJPEG and RTSP servers are Sinks."""

from __future__ import annotations

import numpy as np
import pytest

from edgecolor.colorizer import Colorizer
from edgecolor.mjpeg import MjpegServer
from edgecolor.rtsp import RtspServer
from edgecolor.sinks import Sink
from edgecolor.sources import IterSource
from edgecolor.stream import run
from edgecolor.writers import Cv2Writer, FfmpegWriter, Writer


class _Keep(Sink):
    """Keeps the frames it is given; asks the run to stop after ``stop_after``."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.frames: list[np.ndarray] = []
        self.stop_after = stop_after

    def write(self, frame: np.ndarray) -> bool | None:
        self.frames.append(frame)
        return False if self.stop_after is not None and len(self.frames) >= self.stop_after else None


def _grey(n: int) -> list[np.ndarray]:
    return [np.full((48, 64, 3), 40 + 5 * (i % 30), np.uint8) for i in range(n)]


def test_the_sinks_of_edgecolor_are_sinks():
    for kind in (Writer, FfmpegWriter, Cv2Writer, MjpegServer, RtspServer):
        assert issubclass(kind, Sink), kind
    assert Sink.main_thread is False
    with pytest.raises(NotImplementedError):
        Sink().write(np.zeros((2, 2, 3), np.uint8))


def test_run_hands_every_frame_to_a_sink_and_false_stops_it(model_files):
    colorizer = Colorizer(model_files["onnx"], backend="openvino")
    every = _Keep()
    stats = run(IterSource(_grey(5)), every, colorizer)
    assert stats.frames == 5 and not stats.interrupted and len(every.frames) == 5
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in every.frames)
    two = _Keep(stop_after=2)
    stats = run(IterSource(_grey(30)), two, colorizer)
    assert len(two.frames) == 2 and stats.interrupted  # False from write() stopped the run
