"""Colorize frame streams: ``StreamColorizer`` (a Colorizer with temporal state) and ``run()``, the threaded
capture -> colorize -> sink loop for any ``sources.Source``.

``StreamColorizer`` wraps a Colorizer with a ``stabilizer.Stabilizer`` (steady colour over time:
``process(frame)`` / ``reset()``); ``run()`` overlaps capture, inference and output in threads, with
one StreamColorizer per inference worker and the stabilizer's state kept in frame order.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

import numpy as np

from edgecolor import pipeline
from edgecolor.errors import EdgecolorError, UsageError
from edgecolor.options import DEFAULT_STRENGTH, ColorizerOptions, StreamOptions
from edgecolor.sinks import Sink
from edgecolor.sources import Source, as_source
from edgecolor.stabilizer import Stabilizer, low_res_luma

if TYPE_CHECKING:
    from edgecolor.colorizer import Colorizer
    from edgecolor.pipeline import Prepared

# What run(), video.colorize_video and live.live take as ``colorizer``: one Colorizer, a factory that makes
# one per inference worker, or None for the default model.
ColorizerSpec: TypeAlias = "Colorizer | Callable[[], Colorizer] | None"


class StreamColorizer:
    """A Colorizer for a sequence of frames, with the temporal state inside.

    >>> stream = StreamColorizer(Colorizer())          # doctest: +SKIP
    >>> for frame in frames: out = stream.process(frame)

    ``stabilize=False`` colorizes every frame independently (same as ``Colorizer.colorize``).
    """

    def __init__(self, colorizer: Colorizer | None = None, stabilize: bool = True,
                 strength: float = DEFAULT_STRENGTH) -> None:
        if colorizer is None:
            from edgecolor.colorizer import Colorizer

            colorizer = Colorizer()
        self.colorizer = colorizer
        self.stabilizer = Stabilizer(strength) if stabilize else None

    def analyze(self, frame: np.ndarray) -> tuple[Prepared, np.ndarray, np.ndarray | None]:
        """Network half of ``process``: (prepared, raw ab, low-res L). Safe to run ahead in another thread.
        A decoded black-and-white frame (grey but for a few levels of chroma coding noise) goes on as grey:
        ``pipeline.decoded_grey``, decided by the one grey test of ``prepare``."""
        c = self.colorizer
        prepared = pipeline.prepare(frame, c.contract, c.size, grey_tolerance=pipeline.DECODED_GREY_TOLERANCE)
        ab = self.colorizer.predict_ab(prepared)
        luma = low_res_luma(prepared, ab.shape[:2]) if self.stabilizer else None
        return prepared, ab, luma

    def finish(self, prepared: Prepared, ab: np.ndarray, luma: np.ndarray | None) -> np.ndarray:
        """Stateful half of ``process``: stabilize (in frame order) and merge at full resolution."""
        if self.stabilizer is not None:
            ab = self.stabilizer.update(ab, luma)
        return self.colorizer.merge(prepared, ab)

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Colorize the next frame of the stream (BGR/grey, uint8 or uint16) -> BGR frame of the same size."""
        return self.finish(*self.analyze(frame))

    def reset(self) -> None:
        """Start a new, unrelated stream (the stabilizer forgets its history)."""
        if self.stabilizer is not None:
            self.stabilizer.reset()


# -- the threaded loop ---------------------------------------------------------------------------


@dataclass
class Result:
    """One colorized frame on its way to the sinks."""

    index: int
    frame: np.ndarray  # colorized, BGR
    source: np.ndarray  # the input frame
    captured: float  # time.perf_counter() when the frame was read


@dataclass
class RunStats:
    """What a run did; ``latencies`` are capture -> sink seconds of the last frames."""

    frames: int = 0
    dropped: int = 0  # live sources: frames replaced by a newer one before inference took them
    seconds: float = 0.0
    interrupted: bool = False  # stopped before the source ended: Ctrl-C, a `stop` event, or a sink
    ctrl_c: bool = False  # ... by Ctrl-C
    ended: str = ""  # why the source stopped ("" = it ran out of frames)
    latencies: deque = field(default_factory=lambda: deque(maxlen=5000))

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self, q: float = 0.5) -> float:
        if not self.latencies:
            return 0.0
        data = sorted(self.latencies)
        return 1000.0 * data[min(len(data) - 1, int(q * len(data)))]

    def line(self) -> str:
        text = f"{self.frames} frames in {self.seconds:.1f} s, {self.fps:.1f} fps"
        if self.latencies:
            text += f", latency {self.latency_ms(0.5):.0f} ms median, {self.latency_ms(0.95):.0f} ms p95"
        if self.dropped:
            text += f", {self.dropped} stale frames dropped"
        return text


_END = object()


class _Feed:
    """Frames from the reader to the inference workers: all in order (files) or only the newest (live)."""

    def __init__(self, live: bool, depth: int) -> None:
        self.live = live
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, float] | None = None
        self._ended = False
        self._next = 0
        self.dropped = 0

    def put(self, frame: np.ndarray, captured: float, stop: threading.Event) -> None:
        if self.live:
            with self._cond:
                if self._latest is not None:
                    self.dropped += 1
                self._latest = (frame, captured)
                self._cond.notify()
            return
        while not stop.is_set():
            try:
                self._q.put((frame, captured), timeout=0.1)
                return
            except queue.Full:
                continue

    def end(self, stop: threading.Event) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()
        if not self.live:
            while True:  # workers drain the queue until they see the sentinel or stop
                try:
                    self._q.put(_END, timeout=0.1)
                    return
                except queue.Full:
                    if stop.is_set():
                        return

    def get(self, timeout: float) -> tuple[int, np.ndarray, float] | object | None:
        """(index, frame, captured), _END, or None on timeout. Indexes are dense in the order taken."""
        if self.live:
            with self._cond:
                if self._latest is None and not self._ended:
                    self._cond.wait(timeout)
                if self._latest is None:
                    return _END if self._ended else None
                frame, captured = self._latest
                self._latest = None
                index, self._next = self._next, self._next + 1
                return index, frame, captured
        with self._cond:  # one taker at a time keeps the indexes in read order
            try:
                item = self._q.get(timeout=timeout)
            except queue.Empty:
                return None
            if item is _END:
                self._q.put(_END)  # let the other workers see it too
                return _END
            index, self._next = self._next, self._next + 1
            return (index, *item)


class _Ordered:
    """Worker results, handed out in frame order."""

    def __init__(self, workers: int) -> None:
        self._cond = threading.Condition()
        self._items: dict[int, tuple] = {}
        self._next = 0
        self._running = workers

    def put(self, index: int, item: tuple) -> None:
        with self._cond:
            self._items[index] = item
            self._cond.notify_all()

    def worker_done(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def get(self, timeout: float) -> tuple | object | None:
        with self._cond:
            if self._next not in self._items and self._running > 0:
                self._cond.wait(timeout)
            if self._next in self._items:
                item = self._items.pop(self._next)
                self._next += 1
                return item
            if self._running == 0:
                if self._items:  # a gap cannot fill any more (a worker skipped a frame): move on
                    self._next = min(self._items)
                    return self.get(0)
                return _END
            return None


@runtime_checkable
class FrameSink(Protocol):
    """Someone else's object with ``write(frame)`` (a cv2.VideoWriter): taken as a sink of the colorized frame.
    edgecolor's own sinks subclass ``sinks.Sink``."""

    def write(self, frame: np.ndarray) -> bool | None: ...


# What run() accepts as ``sink``: a Sink, a FrameSink, a plain callable taking the frame, or several of them.
SinkSpec: TypeAlias = "Sink | FrameSink | Callable[[np.ndarray], Any]"


def _sink_call(sink: SinkSpec) -> tuple[Callable[[Result], Any], bool]:
    """(call taking a Result, must run in the calling thread) for one sink."""
    main = bool(getattr(sink, "main_thread", False))
    if isinstance(sink, Sink):
        return sink.emit, main
    if isinstance(sink, FrameSink):  # checked before callable: a writer object may be callable too
        return (lambda r: sink.write(r.frame)), main
    if callable(sink):
        return (lambda r: sink(r.frame)), main
    raise UsageError(f"a sink must be an edgecolor.sinks.Sink, have write(frame) or be callable; "
                     f"got {type(sink).__name__}")


def run(
    source: Any,
    sink: SinkSpec | Sequence[SinkSpec],
    colorizer: ColorizerSpec = None,
    stream_options: StreamOptions | None = None,
    *,
    live: bool | None = None,
    stop: threading.Event | None = None,
    max_frames: int | None = None,
    on_frame: Callable[[RunStats], None] | None = None,
) -> RunStats:
    """Capture -> colorize -> sink until the source ends, a sink returns False, ``stop`` is set or Ctrl-C.

    ``source``: a path, URL (rtsp://, http://), camera index, cv2.VideoCapture, Source, or iterable of
    frames. ``sink``: a ``sinks.Sink`` (``emit(result)``), an object with ``write(frame)`` (``FrameSink``,
    e.g. a cv2.VideoWriter), a callable taking
    each colorized frame, or a list of those. ``colorizer``: a Colorizer, a zero-argument factory returning
    one (needed for ``stream_options.workers`` > 1: one Colorizer per inference thread), or None for the
    default model.
    ``stream_options``: stabilization and workers (default: ``StreamOptions()``).
    Capture, inference and output run in separate threads; with a live source only the newest
    frame is colorized, so latency stays about one frame. Ctrl-C ends the run cleanly
    (``stats.interrupted``); the frames colorized so far have all reached the sinks.
    """
    stream_options = StreamOptions() if stream_options is None else stream_options
    if not isinstance(stream_options, StreamOptions):
        raise UsageError(f"stream_options must be a StreamOptions, got {type(stream_options).__name__}")
    workers = stream_options.workers
    sinks = [_sink_call(s) for s in (sink if isinstance(sink, (list, tuple)) else [sink])]
    if max_frames is not None and max_frames <= 0:
        return RunStats()
    factory = _colorizer_factory(colorizer, workers)

    src = as_source(source, live)
    opened = isinstance(source, (str, int)) or hasattr(source, "__fspath__")  # ours to close
    try:
        colorizers = [factory() for _ in range(workers)]
        streams = [StreamColorizer(c, stabilize=stream_options.stabilize, strength=stream_options.strength)
                   for c in colorizers]
        return _Loop(src, sinks, streams, stop or threading.Event(), max_frames, on_frame).run()
    finally:
        if opened:
            src.close()


def for_streams(options: ColorizerOptions) -> ColorizerOptions:
    """The colorizer settings a stream loads (`video`, `live`, ``run`` with the default model): without
    ``threads``, the backend's ``stream_threads`` (OpenVINO on one core fewer, the merge overlapping the
    network); photos keep the runtime's choice. Explicit threads, and backends that cannot say, are kept."""
    if options.threads is not None:
        return options
    from edgecolor.backends.base import get_backend

    try:
        threads = get_backend(options.backend, check=False).stream_threads(options.device)
    except EdgecolorError:  # an unknown or missing backend: loading it says so
        return options
    return options if threads is None else dataclasses.replace(options, threads=threads)


def _colorizer_factory(colorizer: ColorizerSpec, workers: int) -> Callable[[], Colorizer]:
    """What makes each inference thread's Colorizer: the default model, the caller's factory, or its one instance."""
    from edgecolor.colorizer import Colorizer

    if colorizer is None:
        return lambda: Colorizer.from_options(for_streams(ColorizerOptions()))
    if isinstance(colorizer, Colorizer):
        if workers > 1:
            raise UsageError("workers > 1 needs a Colorizer factory (one Colorizer per inference thread)")
        return lambda: colorizer
    if callable(colorizer):
        return colorizer
    raise UsageError(f"colorizer must be a Colorizer, a function returning one, or None; "
                     f"got {type(colorizer).__name__}")


class _Loop:
    """The threads of one run: reader -> workers (analyze) -> this thread (stabilize, merge) -> writer."""

    def __init__(self, src: Source, sinks: list[tuple[Callable[[Result], Any], bool]], streams: list[StreamColorizer],
                 stop: threading.Event, max_frames: int | None, on_frame: Callable[[RunStats], None] | None) -> None:
        self.src, self.streams, self.stop = src, streams, stop
        self.inline = [call for call, main in sinks if main]  # GUI sinks: called in the calling thread
        self.threaded = [call for call, main in sinks if not main]
        self.max_frames, self.on_frame = max_frames, on_frame
        self.feed = _Feed(src.live, depth=2 * len(streams) + 2)
        self.ordered = _Ordered(len(streams))
        self.out: queue.Queue = queue.Queue(maxsize=4)
        self.errors: list[BaseException] = []
        self.stats = RunStats()
        self.sink_stop = threading.Event()
        self.start = time.perf_counter()

    def run(self) -> RunStats:
        threads = [threading.Thread(target=self._read, name="edgecolor-read", daemon=True)]
        threads += [threading.Thread(target=self._work, args=(s,), name=f"edgecolor-infer{i}", daemon=True)
                    for i, s in enumerate(self.streams)]
        writer = threading.Thread(target=self._write, name="edgecolor-write", daemon=True)
        for t in threads + [writer]:
            t.start()
        start = self.start = time.perf_counter()
        try:
            self._post(start)
        except KeyboardInterrupt:
            self.stats.interrupted = self.stats.ctrl_c = True
        finally:
            self.stop.set()
            cancel = getattr(self.src, "cancel", None)
            if cancel:  # a live source may be waiting to reconnect
                cancel()
            self.out.put(_END)
            writer.join()
            for t in threads:
                t.join(timeout=2.0)
            self.stats.seconds = time.perf_counter() - start
            self.stats.dropped = self.feed.dropped
        if self.errors:
            raise self.errors[0]
        if self.sink_stop.is_set():
            self.stats.interrupted = True
        return self.stats

    def _read(self) -> None:
        count = 0
        try:
            while not self.stop.is_set() and (self.max_frames is None or count < self.max_frames or self.src.live):
                frame = self.src.read()
                if frame is None:
                    break
                self.feed.put(frame, time.perf_counter(), self.stop)
                count += 1
        except BaseException as e:  # surfaced in the calling thread
            self.errors.append(e)
        finally:
            self.stats.ended = getattr(self.src, "ended", "")
            self.feed.end(self.stop)

    def _work(self, stream: StreamColorizer) -> None:
        try:
            while not self.stop.is_set():
                item = self.feed.get(0.1)
                if item is None:
                    continue
                if item is _END:
                    break
                index, frame, captured = item
                self.ordered.put(index, (index, frame, captured, *stream.analyze(frame)))
        except BaseException as e:
            self.errors.append(e)
            self.stop.set()
        finally:
            self.ordered.worker_done()

    def _post(self, start: float) -> None:
        finisher = self.streams[0]
        while True:
            if self.stop.is_set():
                self.stats.interrupted = True  # stopped from outside (a `stop` event, a sink, Ctrl-C)
                return
            if self.errors:
                return
            item = self.ordered.get(0.1)
            if item is None:
                continue
            if item is _END:
                return
            index, frame, captured, prepared, ab, luma = item
            result = Result(index, finisher.finish(prepared, ab, luma), frame, captured)
            for call in self.inline:  # sinks that must run here (GUI windows)
                if call(result) is False:
                    self.sink_stop.set()
                    return
            while not self.stop.is_set():
                try:
                    self.out.put(result, timeout=0.1)
                    break
                except queue.Full:
                    if self.errors:
                        return
            if self.max_frames is not None and index + 1 >= self.max_frames:
                return

    def _write(self) -> None:
        done = False  # a sink failed or asked to stop: drain the queue without writing
        while True:
            result = self.out.get()
            if result is _END:
                return
            if done:
                continue
            try:
                for call in self.threaded:
                    if call(result) is False:
                        self.sink_stop.set()
                        self.stop.set()
                        done = True
                now = time.perf_counter()
                self.stats.seconds = now - self.start  # so fps is right while running (progress bars)
                self.stats.frames += 1
                self.stats.latencies.append(now - result.captured)
                if self.on_frame:
                    self.on_frame(self.stats)
            except BaseException as e:
                self.errors.append(e)
                self.stop.set()
                done = True
