"""StreamColorizer and the threaded run() loop, on real runtimes (tiny models); the stabilizer on its own is in
test_stabilizer.py."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from video_fixtures import colorize_clip, flicker, flicker_ab, flicker_pan, lag, smear, synthetic_clip

from edgecolor.colorizer import Colorizer
from edgecolor.errors import EdgecolorError, UsageError
from edgecolor.options import StreamOptions
from edgecolor.sinks import Sink
from edgecolor.sources import IterSource
from edgecolor.stream import FrameSink, Result, StreamColorizer, run


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(160, 120, shot=12)


@pytest.fixture(scope="module")
def colorizer(model_files):
    return Colorizer(model_files["onnx"], backend="openvino")


# -- StreamColorizer on a clip with a moving object, a pan and cuts ---------------------------------


def test_stabilized_clip_flickers_less_settles_fast_and_does_not_smear(colorizer, clip):
    raw, raw_ab = colorize_clip(colorizer, clip, stabilize=False)
    out, out_ab = colorize_clip(colorizer, clip, stabilize=True)
    assert flicker_ab(out_ab, clip) <= 0.5 * flicker_ab(raw_ab, clip)
    assert flicker_pan(out, clip) < flicker_pan(raw, clip)
    assert flicker(out, clip) < flicker(raw, clip)
    for cut in clip.cuts:
        assert lag(out, raw, clip, cut) <= 3
    assert smear(out, raw, clip) < 1.0  # ab units on the trail of the moving disc


def test_process_matches_colorize_without_stabilization_and_reset_forgets(colorizer, clip):
    stream = StreamColorizer(colorizer, stabilize=False)
    assert np.array_equal(stream.process(clip.frames[3]), colorizer.colorize(clip.frames[3]))
    stream = StreamColorizer(colorizer)
    first = stream.process(clip.frames[0])
    stream.process(clip.frames[1])
    stream.reset()
    assert np.array_equal(stream.process(clip.frames[0]), first)
    out = stream.process(clip.frames[1])
    assert out.shape == clip.frames[1].shape and out.dtype == np.uint8


# -- run() ------------------------------------------------------------------------------------------


def test_run_keeps_every_frame_in_order_with_two_workers(model_files, colorizer, clip):
    frames = clip.frames[:20]
    stream = StreamColorizer(colorizer)
    expected = [stream.process(f) for f in frames]
    got = []
    stats = run(frames, got.append, lambda: Colorizer(model_files["onnx"], backend="openvino"),
                StreamOptions(workers=2))
    assert stats.frames == len(frames) == len(got)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert not stats.interrupted and stats.fps > 0 and stats.latencies


def test_run_keeps_720p_frames_in_order_through_the_fast_merge(model_files, colorizer):
    """720p grey frames take the fast 8-bit merge (pipeline._merge_fast8) inside the threaded loop:
    every frame arrives, in order, equal to colorizing them one by one with the same state."""
    from edgecolor import pipeline

    frames = synthetic_clip(1280, 720, shot=3).frames  # 3 shots: cuts reset the stabilizer too
    p = colorizer.prepare(frames[0])
    assert p.lut is not None and pipeline._full_scale(p) > pipeline.FULL_GUIDE_SCALE
    stream = StreamColorizer(colorizer)
    expected = [stream.process(f) for f in frames]
    got = []
    stats = run(frames, got.append, lambda: Colorizer(model_files["onnx"], backend="openvino"),
                StreamOptions(workers=2))
    assert stats.frames == len(frames) == len(got) == 9
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_run_live_source_drops_stale_frames(colorizer, clip):
    frames = clip.frames * 10  # produced far faster than they are colorized
    got = []
    stats = run(IterSource(frames, live=True), got.append, colorizer)
    assert stats.dropped > 0
    assert stats.frames == len(got) < len(frames)


def test_run_stops_on_max_frames_stop_event_and_sink_false(colorizer, clip):
    got = []
    assert run(clip.frames, got.append, colorizer, max_frames=5).frames == 5
    stop = threading.Event()

    def sink(frame):
        got.append(frame)
        if len(got) >= 8:
            stop.set()

    got.clear()
    stats = run(clip.frames, sink, colorizer, stop=stop)
    assert stats.interrupted and 8 <= stats.frames < len(clip.frames)

    class Quitter:
        n = 0

        def write(self, frame):
            self.n += 1
            return self.n < 3

    q = Quitter()
    stats = run(clip.frames, q, colorizer)
    assert q.n == 3 and stats.interrupted


def test_run_surfaces_sink_errors(colorizer, clip):
    def broken(frame):
        raise EdgecolorError("out.mp4: disk full")

    with pytest.raises(EdgecolorError, match="disk full"):
        run(clip.frames, broken, colorizer)
    with pytest.raises(UsageError, match="a sink must be an edgecolor.sinks.Sink"):
        run(clip.frames, 42, colorizer)


def test_run_takes_a_colorizer_or_a_factory_and_one_stream_options(model_files, colorizer, clip):
    """Issue 24: run()'s dict form of ``colorizer`` is gone; stabilize/strength/workers come as one StreamOptions."""
    with pytest.raises(UsageError, match="colorizer must be a Colorizer, a function returning one, or None; got dict"):
        run(clip.frames, [].append, {"model": model_files["onnx"]})
    with pytest.raises(UsageError, match="workers > 1 needs a Colorizer factory"):
        run(clip.frames, [].append, colorizer, StreamOptions(workers=2))
    with pytest.raises(UsageError, match="stream_options must be a StreamOptions, got dict"):
        run(clip.frames, [].append, colorizer, {"workers": 2})
    raw, steady = [], []
    run(clip.frames, raw.append, colorizer, StreamOptions(stabilize=False))
    run(clip.frames, steady.append, colorizer)
    plain = StreamColorizer(colorizer, stabilize=False)
    assert all(np.array_equal(a, plain.process(f)) for a, f in zip(raw, clip.frames))
    assert not all(np.array_equal(a, b) for a, b in zip(raw, steady))  # the default stabilizes


def test_sinks_take_the_result_the_frame_or_are_plain_callables(colorizer, clip):
    """A Sink gets the whole Result (emit; False stops the run), a FrameSink the frame (write), a callable the
    frame; all of them the same frames, in order."""
    class Results(Sink):
        def __init__(self):
            self.got = []

        def emit(self, result):
            self.got.append(result)
            return len(self.got) < 4

    class Frames:
        def __init__(self):
            self.got = []

        def write(self, frame):
            self.got.append(frame)

    results, frames, called = Results(), Frames(), []
    assert isinstance(frames, FrameSink) and not isinstance(frames, Sink)
    stats = run(clip.frames, [results, frames, called.append], colorizer)
    assert stats.frames == 4 and stats.interrupted
    assert [r.index for r in results.got] == [0, 1, 2, 3] and all(isinstance(r, Result) for r in results.got)
    assert all(np.array_equal(r.source, f) for r, f in zip(results.got, clip.frames))
    assert all(np.array_equal(r.frame, a) and np.array_equal(a, b)
               for r, a, b in zip(results.got, frames.got, called, strict=True))


def test_streams_leave_a_core_to_the_merge_photos_keep_the_runtimes_choice(model_files):
    """for_streams: what `video`, `live` and run()'s default model load. Without threads, OpenVINO gets its
    stream_threads (one core fewer); explicit threads and cv2.dnn are left alone; the loaded network reports
    the count."""
    from edgecolor.backends.openvino import OpenVINOBackend
    from edgecolor.options import ColorizerOptions
    from edgecolor.stream import for_streams
    from edgecolor.video_batch import ColorizerPool

    want = OpenVINOBackend.stream_threads("CPU")
    options = ColorizerOptions(model=model_files["onnx"], backend="openvino")
    assert for_streams(options).threads == want
    assert for_streams(ColorizerOptions(model=model_files["onnx"], backend="openvino", threads=2)).threads == 2
    assert for_streams(ColorizerOptions(model=model_files["onnx"], backend="opencv")).threads is None
    assert for_streams(ColorizerOptions(model=model_files["onnx"], backend="nosuch")).backend == "nosuch"
    assert options.threads is None  # the photo side's options are not changed
    if want is not None:  # one core: the runtime's choice either way
        assert ColorizerPool(options)().backend.runtime_info()["threads"] == want
