"""Video files in and out: colorize a file into a new one with the input's sound, atomically.

Frames are written through an ffmpeg process (raw BGR on its stdin) when an ffmpeg binary is
found: the imageio-ffmpeg package's, or one on PATH. That gives real codecs (H.264 rather than
OpenCV's MPEG-4 part 2). The sound is added afterwards, in a second ffmpeg pass that copies the
colorized video stream (no re-encoding): the picture decides the output's length, so every
decoded frame is kept whatever the sound's length, and a partial file's sound ends with its picture.
Without ffmpeg, OpenCV's VideoWriter writes a silent video and one warning line says so, naming its codec.
The writers are in writers.py, Ctrl-C handling in ctrlc.py.

The output is written under a temporary name in the target folder and renamed when finished, so
a failed run leaves nothing behind; Ctrl-C (any number of times) finishes a playable, shorter file.
Reading is sources.FileSource; ffmpeg probing and the codec tables are in ffmpeg.py.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecolor.atomic import AtomicFile
from edgecolor.ctrlc import CtrlC, ctrl_c_sets
from edgecolor.errors import InputError
from edgecolor.ffmpeg import (
    CONTAINERS,
    AudioPlan,
    Timeline,
    choose_encoder,
    ffmpeg_has_option,
    find_ffmpeg,
    plan_audio,
    variable_timeline,
)
from edgecolor.limits import DEFAULT_MAX_PIXELS
from edgecolor.options import StreamOptions
from edgecolor.sources import FileSource, is_url
from edgecolor.stream import ColorizerSpec, RunStats, run
from edgecolor.writers import Writer, open_writer

# -- file to file ---------------------------------------------------------------------------------


@dataclass
class VideoReport:
    """The outcome of one colorized video. ``expected``: the frame count the container gave (an estimate)."""

    src: Path | str
    dst: Path
    frames: int
    expected: int | None
    stats: RunStats
    audio: str
    partial: bool

    def line(self) -> str:
        state = "wrote partial" if self.partial else "wrote"
        of = f" of {self.expected}" if self.partial and self.expected else ""
        return (f"{state} {self.dst}: {self.frames}{of} frames, {self.stats.fps:.1f} fps, "
                f"sound {self.audio}")


def count_mismatch(decoded: int, expected: int | None) -> str | None:
    """A note when the decoder gave a different number of frames than the container said (None: about equal)."""
    if expected is None or abs(decoded - expected) <= max(2, expected // 100):
        return None
    if decoded > expected:
        return f"decoded {decoded} frames, the container said {expected} (joined or re-timed streams); all were kept"
    return f"decoded {decoded} frames, the container said {expected}: the file is truncated or damaged"


def colorize_video(
    src: str | Path,
    dst: str | Path,
    colorizer: ColorizerSpec,
    *,
    start: float | None = None,
    end: float | None = None,
    codec: str | None = None,
    stream_options: StreamOptions | None = None,
    ffmpeg: str | None | bool = True,
    progress: Callable[[int, int | None, RunStats], None] | None = None,
    warn: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> VideoReport:
    """Colorize the video ``src`` into ``dst`` (same size and frame rate, every decoded frame, sound copied).

    ``colorizer``: a Colorizer, a factory returning one (one per worker), or None for the default.
    ``stream_options``: stabilization and workers (``options.StreamOptions``; default: its defaults).
    ``ffmpeg``: True to find one, a path, or False/None for OpenCV's writer (silent video).
    Ctrl-C (any number of times, in the main thread) or ``stop`` keeps the frames done so far in a
    playable file: the report says ``partial``. A frame count other than the container's is a warning.
    ``max_pixels``: frames larger than this (the size the file states) are refused before decoding.
    """
    src, dst = (src if is_url(src) else Path(src)), Path(dst)
    warn = warn or (lambda m: print(f"edgecolor: warning: {m}", file=sys.stderr))
    exe = find_ffmpeg() if ffmpeg is True else (ffmpeg or None)
    stop = stop or threading.Event()
    with ctrl_c_sets(stop, warn) as ctrl:
        source = FileSource(src, start, end, ffmpeg=exe, max_pixels=max_pixels)
        try:
            audio = _plan_output(src, dst, source, codec, exe, start, end, warn)
            timeline = _timeline(src, source, exe, start, end, warn)
            out = AtomicFile(dst, note=warn)
            try:
                writer = open_writer(out.path, source.size, source.fps, codec, audio, exe, target=dst,
                                     scratch=out.helper("video") if audio else None, timeline=timeline, stop=stop,
                                     warn=warn)
            except BaseException:
                out.discard()
                raise
            expected = timeline.frames if timeline else source.estimate
            on_frame = (lambda s: progress(s.frames, expected, s)) if progress else None
            stats = _encode(src, source, writer, out, colorizer, ctrl, on_frame, stream_options=stream_options,
                            stop=stop)
        finally:
            source.close()
    if not stats.interrupted and (note := count_mismatch(stats.frames, expected)):
        warn(f"{src}: {note}")
    return VideoReport(src, dst, stats.frames, expected, stats, writer.audio_note, stats.interrupted)


def _plan_output(src: Path | str, dst: Path, source: FileSource, codec: str | None, exe: str | None,
                 start: float | None, end: float | None, warn: Callable[[str], None]) -> AudioPlan | None:
    """Refuse writing onto the input and an unknown codec before anything is written; the sound's plan
    (None without ffmpeg or sound), and a warning for a colour input."""
    from edgecolor.files import same_file  # late: files imports cv2

    if isinstance(src, Path) and same_file(src, dst):
        raise InputError(f"{dst}: output would overwrite the input")
    muxer = choose_encoder(dst, codec, exe)[0]
    audio = plan_audio(exe, src, muxer, start, end) if exe else None  # without ffmpeg open_writer warns
    if source.first_frame is not None and _is_colour(source.first_frame):
        warn(f"{src}: is a colour video; it is colorized from its lightness, its own colours are replaced")
    return audio


def _timeline(src: Path | str, source: FileSource, exe: str | None, start: float | None, end: float | None,
              warn: Callable[[str], None]) -> Timeline | None:
    """A variable-frame-rate input's frame times (each frame keeps its own), or None for a constant rate.

    A part (--start/--end) of such a video is cut by frame counts at the container's rate and re-timed
    to that constant rate: a warning says so. Without ffmpeg nothing is known and the rate is constant.
    """
    if not exe or not isinstance(src, Path):
        return None
    timeline = variable_timeline(exe, src)
    if timeline is not None and not (ffmpeg_has_option(exe, "fps_mode") and ffmpeg_has_option(exe, "enc_time_base")):
        warn(f"{src}: has a variable frame rate; this ffmpeg ({exe}) is too old to keep each frame's time "
             f"(5.1 or later can): re-timed to a constant {source.fps:g} fps")
        return None
    if timeline is not None and (start or end is not None):
        warn(f"{src}: has a variable frame rate; the part --start/--end is re-timed to a constant "
             f"{source.fps:g} fps (the whole video keeps each frame's time)")
        return None
    return timeline


def _encode(src: Path | str, source: FileSource, writer: Writer, out: AtomicFile, colorizer: Any, ctrl: CtrlC,
            on_frame: Callable[[RunStats], None] | None, **options: Any) -> RunStats:
    """Run the frames through ``writer`` and rename the finished file onto its target; on any failure
    (no frames, an error, Ctrl-C before the first frame) nothing is left behind."""
    try:
        stats = run(source, writer, colorizer, live=False, on_frame=on_frame, **options)
        stats.ctrl_c = stats.ctrl_c or ctrl.presses > 0
        if stats.frames == 0:
            if stats.ctrl_c:
                raise KeyboardInterrupt
            why = "stopped before the first frame" if stats.interrupted else "no frames in the chosen range"
            raise InputError(f"{src}: {why}")
        writer.close()
    except BaseException:  # nothing usable: no partial file left behind
        writer.abort()
        out.discard()
        raise
    out.commit()
    return stats


def _is_colour(frame: np.ndarray) -> bool:
    from edgecolor.pipeline import is_colour

    return is_colour(frame)


def default_output(src: Path, outdir: Path | None) -> Path:
    """Same name in ``outdir`` (default: a 'colorized' folder beside the input); unknown types become .mp4."""
    name = src.name if src.suffix.lower() in CONTAINERS else src.stem + ".mp4"
    return (outdir or src.parent / "colorized") / name
