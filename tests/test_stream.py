"""The temporal stabilizer, StreamColorizer and the threaded run() loop, on real runtimes (tiny models)."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from video_fixtures import colorize_clip, flicker, flicker_ab, flicker_pan, lag, smear, synthetic_clip

from edgecolor.colorizer import Colorizer
from edgecolor.errors import EdgecolorError, UsageError
from edgecolor.options import StreamOptions
from edgecolor.stream import IterSource, Stabilizer, StreamColorizer, run


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(160, 120, shot=12)


@pytest.fixture(scope="module")
def colorizer(model_files):
    return Colorizer(model_files["onnx"], backend="openvino")


# -- Stabilizer on its own --------------------------------------------------------------------------


def _noisy_ab(rng, n=30, shape=(12, 16)):
    base = np.stack([np.full(shape, 20.0), np.full(shape, -10.0)], -1).astype(np.float32)
    return [base + rng.normal(0, 2.0, base.shape).astype(np.float32) for _ in range(n)]


def test_still_scene_flicker_drops_by_more_than_half():
    rng = np.random.default_rng(0)
    abs_ = _noisy_ab(rng)
    luma = np.full((12, 16), 50.0, np.float32)
    st = Stabilizer(0.6)
    out = [st.update(ab, luma + rng.normal(0, 0.3, luma.shape).astype(np.float32)) for ab in abs_]
    raw = np.mean([np.abs(abs_[i] - abs_[i - 1]).mean() for i in range(1, len(abs_))])
    smooth = np.mean([np.abs(out[i] - out[i - 1]).mean() for i in range(1, len(out))])
    assert smooth < 0.5 * raw


def test_moving_pixels_take_the_new_colour_and_exposure_changes_do_not_count():
    st = Stabilizer(0.6)
    luma = np.full((12, 16), 40.0, np.float32)
    st.update(np.zeros((12, 16, 2), np.float32), luma)
    moved = luma + 3.0  # the whole frame 3 L units brighter: exposure, not motion
    moved[4:8, 4:8] = 90.0  # an object arrives here
    new = np.full((12, 16, 2), 30.0, np.float32)
    out = st.update(new, moved)
    assert np.allclose(out[5:7, 5:7], 30.0)  # no history where the object is
    assert np.allclose(out[0, 0], 30.0 * 0.4, atol=0.5)  # still pixels blend 60 % history


def test_a_pan_keeps_its_history_shifted_with_the_camera():
    """The camera pans 2 low-res pixels a frame over a textured scene whose colour is tied to it, with
    colour noise per frame: the history follows the pan (colour error well below the raw noise); without
    following it the whole frame counts as motion and keeps the raw noise."""
    rng = np.random.default_rng(3)
    scene = cv2.GaussianBlur(rng.uniform(0, 100, (40, 160)).astype(np.float32), (0, 0), 1.0)
    colour = np.stack([scene - 50, 50 - scene], -1)  # colour that belongs to the content
    st = Stabilizer(0.75)
    errors, raw_errors = [], []
    for t in range(30):
        luma = scene[:, 2 * t:2 * t + 64] + rng.normal(0, 0.3, (40, 64)).astype(np.float32)
        truth = colour[:, 2 * t:2 * t + 64]
        noisy = truth + rng.normal(0, 3.0, truth.shape).astype(np.float32)
        out = st.update(noisy, luma)
        if t >= 5:
            inner = (slice(4, -4), slice(4, -8))  # away from where the pan brings new content in
            errors.append(np.abs(out - truth)[inner].mean())
            raw_errors.append(np.abs(noisy - truth)[inner].mean())
    assert np.mean(errors) < 0.75 * np.mean(raw_errors)
    assert st.cuts == 0


def test_scene_cut_resets_history():
    st = Stabilizer(0.9)
    st.update(np.zeros((12, 16, 2), np.float32), np.full((12, 16), 20.0, np.float32))
    new = np.full((12, 16, 2), 25.0, np.float32)
    cut_luma = np.full((12, 16), 10.0, np.float32)  # another shot: bright left half, dark right half
    cut_luma[:, :8] = 90.0
    assert np.array_equal(st.update(new, cut_luma), new)
    assert st.cuts == 1


def test_strength_zero_is_identity_and_bad_strength_is_refused():
    st = Stabilizer(0.0)
    luma = np.full((4, 4), 50.0, np.float32)
    a, b = np.zeros((4, 4, 2), np.float32), np.ones((4, 4, 2), np.float32)
    st.update(a, luma)
    assert np.array_equal(st.update(b, luma), b)
    for bad in (-0.1, 0.99, float("nan"), "x"):
        with pytest.raises(EdgecolorError):
            Stabilizer(bad)


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
    with pytest.raises(UsageError, match="a sink must be callable"):
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
