"""Colorizing a batch of video files (`edgecolor video`): plan every output first, then one file at a time.

The policy lives here, the command only parses and prints: ``plan_videos`` names each output (-o is a
file for one input, a folder for several) and refuses bad options before any work; ``run_videos``
skips existing outputs unless ``force``, turns a per-file failure into a "failed" count (the batch goes
on) while a model that cannot load stops the batch, and on Ctrl-C finishes the current file as a
playable partial one and stops. The work on one file is ``video.colorize_video``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgecolor.batch import colorizer_factory, file_failure
from edgecolor.errors import UsageError
from edgecolor.options import ColorizerOptions, StreamOptions

if TYPE_CHECKING:
    from edgecolor.colorizer import Colorizer
    from edgecolor.ctrlc import CtrlC


@dataclass
class VideoPlan:
    """(input, output file) pairs and the ffmpeg to use (False: none, OpenCV's silent writer)."""

    pairs: list[tuple[str, Path]]
    ffmpeg: str | bool


def plan_videos(inputs: list[str], output: Path | None, start: float | None = None, end: float | None = None,
                codec: str | None = None) -> VideoPlan:
    """Outputs for every input, and the option errors (bad -o, --end before --start, an unknown --codec
    for an output type) before any work: all of them mean nothing can run."""
    from edgecolor.ffmpeg import choose_encoder, find_ffmpeg
    from edgecolor.sources import check_range

    pairs = plan_outputs(inputs, output)
    ffmpeg = find_ffmpeg() or False
    check_range(start, end)
    for _, dst in pairs:
        choose_encoder(dst, codec, ffmpeg or None)
    return VideoPlan(pairs, ffmpeg)


def plan_outputs(inputs: list[str], output: Path | None) -> list[tuple[str, Path]]:
    """(input, output file) pairs: -o is a file for one input, a folder for several (or when it is one)."""
    from edgecolor.ffmpeg import CONTAINERS
    from edgecolor.sources import is_url
    from edgecolor.video import default_output

    if output is not None and output.suffix and not output.is_dir() and output.suffix.lower() not in CONTAINERS:
        raise UsageError(f"-o {output}: unknown video type {output.suffix}; use one of {', '.join(CONTAINERS)}")
    as_folder = output is not None and (len(inputs) > 1 or output.is_dir() or not output.suffix)
    if output is not None and len(inputs) > 1 and output.suffix.lower() in CONTAINERS and not output.is_dir():
        raise UsageError(f"-o {output}: several inputs need an output folder, not a file name")
    pairs = []
    for item in inputs:
        url = is_url(item)
        src = Path(_url_name(item)) if url else Path(item)
        if output is None:
            dst = default_output(src, Path("colorized")) if url else default_output(src, None)
        elif as_folder:
            dst = default_output(src, output)
        else:
            dst = output
        pairs.append((item, dst))
    return pairs


def _url_name(url: str) -> str:
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name if "." in name else (name or "stream") + ".mp4"


class ColorizerPool:
    """Hands colorize_video the same Colorizers for every video of a batch (one per worker), made on first need."""

    def __init__(self, options: ColorizerOptions, workers: int = 1) -> None:
        self.workers = workers
        self._options = options
        self._make: Callable[[], Colorizer] | None = None
        self._made: list = []
        self._calls = 0

    def __call__(self) -> Colorizer:
        i = self._calls % self.workers
        self._calls += 1
        if i == len(self._made):  # a model that cannot load raises its ModelError/BackendError: the batch stops
            if self._make is None:  # here, not before: nothing loads (not even a runtime) when all are skipped
                from edgecolor.stream import for_streams  # a stream's threads: the merge overlaps the network

                self._make = colorizer_factory(for_streams(self._options))
            self._made.append(self._make())
        return self._made[i]


class VideoEvents:
    """What a video batch tells its caller as it goes; these defaults say nothing (the CLI prints)."""

    def skipped(self, message: str) -> None:
        """An output exists and ``force`` is off: "<output>: exists (...)"."""

    def failed(self, message: str) -> None:
        """One file failed (one line, "<file>: <reason>"); the batch goes on."""

    def wrote(self, report: Any) -> None:
        """One file is done (``video.VideoReport``, partial after Ctrl-C)."""

    def warn(self, message: str) -> None:
        """Something the user should know (no sound, a colour input, a frame count that differs)."""

    def progress(self, name: str, done: int, total: int | None, stats: Any) -> None:
        """Frames done of one file (``total``: the container's estimate, None when unknown or exceeded)."""

    def file_ended(self) -> None:
        """One file's work ended, before its result is told (e.g. to take a progress bar down)."""


@dataclass
class VideoSummary:
    """Counts of a video batch. ``stopped``: files Ctrl-C ended before their first frame (not failures)."""

    files: int = 0
    done: int = 0
    partial: int = 0
    skipped: int = 0
    failed: int = 0
    stopped: int = 0
    interrupted: bool = False

    def line(self) -> str:
        parts = [f"done {self.done}"] + ([f"partial {self.partial}"] if self.partial else [])
        parts += [f"skipped {self.skipped}", f"failed {self.failed}"]
        return ", ".join(parts) + (" (interrupted)" if self.interrupted else "")


def run_videos(plan: VideoPlan, options: ColorizerOptions, *, force: bool = False, events: VideoEvents | None = None,
               exiting: bool = False, start: float | None = None, end: float | None = None, codec: str | None = None,
               stream_options: StreamOptions | None = None) -> VideoSummary:
    """Colorize every planned video with one pool of Colorizers (loaded once, on the first file that needs them).

    Ctrl-C (any number of times) finishes the current file cleanly and stops the batch
    (``interrupted``); ``exiting``: the program ends afterwards (see ``ctrlc.ctrl_c_sets``). A model
    that cannot load is raised; every other failure is one file's. ``stream_options``: default StreamOptions().
    """
    from edgecolor.ctrlc import ctrl_c_sets

    events = events or VideoEvents()
    stream_options = stream_options or StreamOptions()
    pool = ColorizerPool(options, stream_options.workers)
    settings = dict(start=start, end=end, codec=codec, stream_options=stream_options,
                    ffmpeg=plan.ffmpeg, max_pixels=options.max_pixels)
    summary = VideoSummary(files=len(plan.pairs))
    with ctrl_c_sets(note=events.warn, exiting=exiting) as ctrl:  # Ctrl-C: the current file is finished
        for src, dst in plan.pairs:
            if ctrl.presses:
                break
            if dst.exists() and not force:
                summary.skipped += 1
                events.skipped(f"{dst}: exists (use --force to overwrite)")
                continue
            outcome = _one(src, dst, pool, ctrl, events, settings)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
    summary.interrupted = ctrl.presses > 0
    return summary


def _one(src: str, dst: Path, pool: ColorizerPool, ctrl: CtrlC, events: VideoEvents, settings: dict) -> str:
    """Colorize one video of the batch: 'done', 'partial', 'failed' or 'stopped'.

    A per-file problem is told to ``events.failed`` and is 'failed' (the batch goes on); what means
    nothing can run (a model that cannot load, a bad option) raises: batch.file_failure, by type.
    """
    from edgecolor.video import colorize_video

    ctrl.stop = threading.Event()  # Ctrl-C sets this one: the file is finished as a partial one
    name = Path(src).name

    def progress(done: int, total: int | None, stats: Any) -> None:
        events.progress(name, done, None if total is not None and done > total else total, stats)  # an estimate

    try:
        try:
            report = colorize_video(src, dst, pool, warn=events.warn, stop=ctrl.stop, progress=progress, **settings)
        finally:
            events.file_ended()
    except KeyboardInterrupt:  # only when someone else's SIGINT handler was in place
        ctrl.presses += 1
        return "stopped"
    except Exception as e:  # one odd file must not end a batch
        message = file_failure(e, src, "video")
        if ctrl.presses:  # Ctrl-C before the first frame: nothing written, not a failure
            return "stopped"
        events.failed(message)
        return "failed"
    events.wrote(report)
    return "partial" if report.partial else "done"
