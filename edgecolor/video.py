"""Video files in and out: colorize a file into a new one with the input's sound, atomically.

Frames are written through an ffmpeg process (raw BGR on its stdin) when an ffmpeg binary is
found: the imageio-ffmpeg package's, or one on PATH. That gives real codecs (H.264 rather than
OpenCV's MPEG-4 part 2). The sound is added afterwards, in a second ffmpeg pass that copies the
colorized video stream (no re-encoding): the picture decides the output's length, so every
decoded frame is kept whatever the sound's length, and a partial file's sound ends with its picture.
Without ffmpeg, OpenCV's VideoWriter writes a silent video and one warning line says so, naming its codec.

The output is written under a temporary name in the target folder and renamed when finished, so
a failed run leaves nothing behind; Ctrl-C (any number of times) finishes a playable, shorter file.
Reading is sources.FileSource; ffmpeg probing and the codec tables are in ffmpeg.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecolor.atomic import AtomicFile
from edgecolor.cvlog import quiet_opencv
from edgecolor.errors import EdgecolorError, InputError
from edgecolor.ffmpeg import (
    CONTAINERS,
    ENCODER_OPTIONS,
    AudioPlan,
    Timeline,
    choose_encoder,
    container_of,
    ffmpeg_has_option,
    ffmpeg_probe,
    find_ffmpeg,
    fps_fraction,
    mux_audio,
    own_process_group,
    plan_audio,
    variable_timeline,
)
from edgecolor.limits import DEFAULT_MAX_PIXELS
from edgecolor.options import StreamOptions
from edgecolor.sources import FileSource
from edgecolor.stream import ColorizerSpec, RunStats, run

# Names that moved to ffmpeg.py, sources.py and atomic.py stay importable from here.
__all__ = ["CONTAINERS", "AtomicFile", "FileSource", "VideoReport", "colorize_video", "container_of",
           "default_output", "ffmpeg_probe", "find_ffmpeg", "open_writer"]


# -- writing --------------------------------------------------------------------------------------

FFMPEG_SIGNALLED = 255  # ffmpeg's exit code after SIGTERM or SIGINT (the file is finished all the same)


class Writer:
    """Write BGR frames of one size; ``close()`` finishes a playable file, ``abort()`` gives up."""

    audio_note = "none"

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        self.close()


class FfmpegWriter(Writer):
    """rawvideo bgr24 on ffmpeg's stdin -> encoder; with ``audio``, a second pass adds the sound.

    With sound, frames are encoded into ``scratch`` and ``close()`` copies that video stream into
    ``path`` together with the sound, cut at the picture's length (ffmpeg.mux_audio): the picture is
    never cut to the sound, and a partial file's sound ends where its picture does.
    ``timeline``: a variable-frame-rate input's frame times: each frame keeps its own (setpts, passed through).
    ``stop``: the run's stop event. systemd stops a service by sending SIGTERM to every process in it, so
    ffmpeg may get it with us: it then finishes the file itself and exits 255. When our own stop came too,
    that file is the partial output (frames sent after are dropped), not a failure.
    """

    def __init__(self, ffmpeg: str, path: Path, size: tuple[int, int], fps: float, muxer: str,
                 encoder: str, audio: AudioPlan | None, label: Path | None = None,
                 scratch: Path | None = None, timeline: Timeline | None = None,
                 stop: threading.Event | None = None) -> None:
        self.ffmpeg, self.path, self.size, self.label = ffmpeg, path, size, label or path
        self.fps, self.muxer, self.audio, self.timeline = fps, muxer, audio, timeline
        self.stop = stop
        self.stopped_with_us = False  # ffmpeg got the SIGTERM we got and finished the file itself
        self.frames = 0
        self.interrupted = False  # Ctrl-C came while ffmpeg was finishing (the file was finished anyway)
        if audio is not None and scratch is None:
            scratch = path.with_name(path.name + ".video" + path.suffix)
        self._video = scratch if audio is not None else path
        w, h = size
        rate = fps_fraction(fps)
        cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", f"{rate.numerator}/{rate.denominator}",
               "-i", "pipe:0", "-map", "0:v:0", "-c:v", encoder, *ENCODER_OPTIONS.get(encoder, [])]
        if timeline is not None:  # frame N at its own time, not N / fps
            if muxer == "avi":  # one rate per file: frames are repeated at the fastest rate so each shows on time
                fastest = fps_fraction(timeline.fastest)
                rate_text = f"{fastest.numerator}/{fastest.denominator}"
                cmd += ["-vf", f"settb=1/90000,{timeline.setpts()},fps={rate_text}", "-r", rate_text]
            else:
                cmd += ["-vf", f"settb=1/90000,{timeline.setpts()}", "-fps_mode", "passthrough",
                        "-enc_time_base", "1/90000"]
        if encoder in ("libx264", "libx265", "mpeg4", "libvpx-vp9") and w % 2 == 0 and h % 2 == 0:
            cmd += ["-pix_fmt", "yuv420p"]  # what every player decodes (odd sizes: ffmpeg picks a 4:4:4 format)
        elif encoder == "mjpeg":
            cmd += ["-pix_fmt", "yuvj420p" if w % 2 == 0 and h % 2 == 0 else "yuvj444p"]
        if encoder == "libx264" and muxer in ("mp4", "mov"):
            cmd += ["-tag:v", "avc1"]
        if muxer in ("mp4", "mov") and audio is None:
            cmd += ["-movflags", "+faststart"]  # with sound, the second pass does it
        cmd += ["-f", muxer, str(self._video)]
        if audio is not None:
            self.audio_note = "copied" if audio.codec == "copy" else f"re-encoded ({audio.codec})"
        self._log = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._log, **own_process_group())
        except OSError as e:
            raise EdgecolorError(f"cannot run ffmpeg ({ffmpeg}): {e.strerror or e}") from None
        self._closed = False
        self._lock = threading.Lock()

    def write(self, frame: np.ndarray) -> None:
        if self.stopped_with_us:
            return
        frame = _bgr8_of_size(frame, self.size)
        try:
            self._proc.stdin.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
        except (BrokenPipeError, ValueError, OSError):
            self._proc.wait()
            if self._proc.returncode == FFMPEG_SIGNALLED and self.stop is not None and self.stop.wait(2.0):
                self.stopped_with_us = True
                return
            raise EdgecolorError(f"{self.label}: ffmpeg stopped reading frames: {self._message()}") from None
        self.frames += 1

    def close(self) -> None:
        """Close stdin and let ffmpeg finish the file (moov atom, index), then add the sound.

        A Ctrl-C meanwhile does not stop it (``interrupted`` says one came): the file is finished.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        while True:
            try:
                code = self._proc.wait()
                break
            except KeyboardInterrupt:
                self.interrupted = True
        if code == FFMPEG_SIGNALLED and self.stop is not None and self.stop.is_set():
            self.stopped_with_us = True  # it finished the file when the SIGTERM we got reached it too
        elif code != 0:
            raise EdgecolorError(f"{self.label}: ffmpeg failed: {self._message()}")
        if self.audio is None:
            return
        try:
            problem = mux_audio(self.ffmpeg, self._video, self.audio, self.seconds, self.muxer, self.path)
        except KeyboardInterrupt:
            self.interrupted, problem = True, "interrupted"
        if problem is not None:  # keep the colorized picture; say the sound is missing
            os.replace(self._video, self.path)
            self.audio_note = f"not added ({problem})"
        else:
            with contextlib.suppress(OSError):
                os.unlink(self._video)

    @property
    def seconds(self) -> float:
        """How long the frames written so far play."""
        return self.timeline.seconds(self.frames) if self.timeline else self.frames / self.fps

    def abort(self) -> None:
        with self._lock:
            self._closed = True
        self._proc.kill()
        self._proc.wait()
        if self._video != self.path:
            with contextlib.suppress(OSError):
                os.unlink(self._video)

    def _message(self) -> str:
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()]
        if lines:
            return lines[-1]
        code = self._proc.returncode
        return "it ended early without an error" if code == 0 else f"exit code {code}"


# What OpenCV's fourccs are called, for the warning that says what was written without ffmpeg.
FOURCC_NAMES = {"mp4v": "MPEG-4 Part 2", "fmp4": "MPEG-4 Part 2", "divx": "MPEG-4 Part 2", "xvid": "MPEG-4 Part 2",
                "mjpg": "Motion JPEG", "vp90": "VP9", "vp09": "VP9", "vp80": "VP8", "avc1": "H.264", "h264": "H.264",
                "x264": "H.264", "hvc1": "H.265", "hev1": "H.265", "hevc": "H.265", "h265": "H.265"}


class Cv2Writer(Writer):
    """OpenCV's VideoWriter: the fallback without ffmpeg (no sound). ``fourcc``: the one that opened."""

    audio_note = "not copied (no ffmpeg)"

    def __init__(self, path: Path, size: tuple[int, int], fps: float, fourccs: list[str],
                 label: Path | None = None) -> None:
        import cv2

        from edgecolor.files import opencv_can_name, quiet_stderr

        self.path, self.size = path, size
        if not opencv_can_name(path):  # OpenCV's writer crashes the process on such a name; ffmpeg's does not
            raise InputError(f"{label or path}: OpenCV cannot write a file whose name is not valid UTF-8: "
                             "choose another name, or install ffmpeg (pip install 'edgecolor[video]')")
        # quiet_stderr: OpenCV's ffmpeg backend prints its own lines ("OpenCV: FFMPEG: tag ... is not supported")
        # straight to fd 2 when a fourcc does not fit the container; the warning below says what was written.
        with quiet_opencv(), quiet_stderr():
            for fourcc in fourccs:
                self._w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc[:4].ljust(4)), fps, size)
                if self._w.isOpened():
                    self.fourcc = fourcc
                    break
            else:
                raise EdgecolorError(f"{label or path}: OpenCV cannot write {'/'.join(fourccs)} video here "
                                     "(install imageio-ffmpeg for more codecs)")

    @property
    def codec_name(self) -> str:
        """'MPEG-4 Part 2 (mp4v)': what the file holds, for people."""
        name = FOURCC_NAMES.get(self.fourcc.lower())
        return f"{name} ({self.fourcc})" if name else self.fourcc

    def write(self, frame: np.ndarray) -> None:
        self._w.write(_bgr8_of_size(frame, self.size))

    def close(self) -> None:
        self._w.release()


def _bgr8_of_size(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A BGR uint8 frame of exactly ``size`` (streams may change size mid-way; encoders cannot)."""
    import cv2

    if frame.dtype != np.uint8:
        frame = (frame >> 8).astype(np.uint8) if frame.dtype == np.uint16 else np.clip(frame * 255, 0, 255).astype(
            np.uint8)
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.shape[2] == 4:
        frame = frame[:, :, :3]
    if (frame.shape[1], frame.shape[0]) != size:
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return frame


def open_writer(path: Path, size: tuple[int, int], fps: float, codec: str | None = None,
                audio: AudioPlan | None = None, ffmpeg: str | None = None, target: Path | None = None,
                scratch: Path | None = None, timeline: Timeline | None = None,
                stop: threading.Event | None = None, warn: Callable[[str], None] | None = None) -> Writer:
    """An encoder for ``path`` chosen by ``target``'s extension (``path`` may be a temporary name).

    ``scratch``: where the video stream goes before the sound is added (default: beside ``path``).
    ``timeline``: each frame's time for a variable frame rate (ffmpeg only; OpenCV writes ``fps``).
    ``warn``: without ffmpeg, hears one line saying which codec OpenCV writes (and that there is no sound).
    """
    muxer, encoder, fourcc = choose_encoder(target or path, codec, ffmpeg)
    if ffmpeg:
        return FfmpegWriter(ffmpeg, path, size, fps, muxer, encoder, audio, label=target, scratch=scratch,
                            timeline=timeline, stop=stop)
    fourccs = [fourcc] + (["mp4v"] if fourcc != "mp4v" and muxer != "avi" else [])
    writer = Cv2Writer(path, size, fps, fourccs, label=target)
    if warn:
        warn(f"{target or path}: no ffmpeg found (pip install imageio-ffmpeg): OpenCV writes it as "
             f"{writer.codec_name} video, without sound")
    return writer


# -- Ctrl-C ---------------------------------------------------------------------------------------


class CtrlC:
    """Ctrl-C presses seen inside ``ctrl_c_sets``; each sets the event in ``stop`` (replace it per job)."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.presses = 0
        self.stop = stop or threading.Event()


def _stop_signals() -> list[int]:
    """The signals ``ctrl_c_sets`` takes over: SIGINT, plus SIGTERM and SIGHUP where the command line made
    them act as Ctrl-C (cli.app.stop_signals; a library caller's own handling of them is left alone)."""
    sigs = [signal.SIGINT]
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and getattr(signal.getsignal(sig), "stops_like_ctrl_c", False):
            sigs.append(sig)
    return sigs


@contextlib.contextmanager
def ctrl_c_sets(stop: threading.Event | None = None, note: Callable[[str], None] | None = None,
                exiting: bool = False) -> Iterator[CtrlC]:
    """Inside the block, Ctrl-C sets an event (``CtrlC.stop``) instead of raising KeyboardInterrupt.

    ``exiting``: the program ends after the block (a command): once Ctrl-C was pressed, further
    presses are ignored until then, so none lands in the interpreter's shutdown as a traceback.
    On the command line SIGTERM (systemd, docker stop) and SIGHUP count as Ctrl-C presses too.

    A KeyboardInterrupt can land anywhere (in a thread join, between writing and renaming) and lose
    a finished file; a flag cannot. Only in the main thread, and only when Python's own handler is
    in place (someone else's handler, e.g. an outer ``ctrl_c_sets``, is left alone).
    """
    ctrl = CtrlC(stop)
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) not in (signal.default_int_handler, signal.SIG_IGN)):
        yield ctrl
        return
    sigs = _stop_signals()
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # a background job: Ctrl-C cannot reach it, SIGTERM can
        sigs.remove(signal.SIGINT)
    if not sigs:
        yield ctrl
        return

    def on_stop(signum: int, frame: Any) -> None:
        ctrl.presses += 1
        ctrl.stop.set()
        if ctrl.presses == 2 and note:
            note("finishing the partial file, please wait (it stays playable)")

    before = {sig: signal.getsignal(sig) for sig in sigs}
    for sig in sigs:
        signal.signal(sig, on_stop)
    try:
        yield ctrl
    finally:
        for sig in sigs:
            signal.signal(sig, signal.SIG_IGN if exiting and ctrl.presses else before[sig])


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
    name = str(src)
    src, dst = (name if "://" in name else Path(src)), Path(dst)
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
        raise EdgecolorError(f"{dst}: output would overwrite the input")
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
            raise EdgecolorError(f"{src}: {why}")
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
