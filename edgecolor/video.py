"""Video files in and out: read frames, write a colorized copy with the input's sound, atomically.

Frames are written through an ffmpeg process (raw BGR on its stdin) when an ffmpeg binary is
found: the imageio-ffmpeg package's, or one on PATH. That gives real codecs (H.264 rather than
OpenCV's MPEG-4 part 2) and lets the same process copy the audio track from the input. Without
ffmpeg, OpenCV's VideoWriter writes a silent video and a warning says so.

The output is written under a temporary name in the target folder and renamed when finished, so
a failed run leaves nothing behind; Ctrl-C closes the encoder cleanly and keeps what was done.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from edgecolor.errors import EdgecolorError
from edgecolor.stream import DEFAULT_STRENGTH, RunStats, Source, run

# OpenCV's ffmpeg prints demuxer chatter ("moov atom not found") on stderr; our errors say it in one line.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

# container -> (ffmpeg muxer, default encoder, OpenCV fourcc for the fallback writer)
CONTAINERS = {
    ".mp4": ("mp4", "libx264", "mp4v"),
    ".m4v": ("mp4", "libx264", "mp4v"),
    ".mov": ("mov", "libx264", "mp4v"),
    ".mkv": ("matroska", "libx264", "mp4v"),
    ".avi": ("avi", "mjpeg", "MJPG"),
    ".webm": ("webm", "libvpx-vp9", "VP90"),
}
VIDEO_SUFFIXES = frozenset(CONTAINERS) | {".mpg", ".mpeg", ".ts", ".m2ts", ".flv", ".wmv", ".ogv", ".3gp", ".gif"}
# OpenCV fourcc (lower case) -> ffmpeg encoder, so --codec takes either spelling.
FOURCC_ENCODERS = {
    "avc1": "libx264", "h264": "libx264", "x264": "libx264",
    "mp4v": "mpeg4", "fmp4": "mpeg4", "divx": "mpeg4", "xvid": "mpeg4",
    "mjpg": "mjpeg", "vp90": "libvpx-vp9", "vp09": "libvpx-vp9",
    "hevc": "libx265", "hvc1": "libx265", "hev1": "libx265", "h265": "libx265",
}
ENCODER_FOURCC = {"libx264": "avc1", "mpeg4": "mp4v", "mjpeg": "MJPG", "libvpx-vp9": "VP90", "libx265": "hvc1"}
ENCODER_OPTIONS = {
    "libx264": ["-preset", "veryfast", "-crf", "18"],
    "libx265": ["-preset", "veryfast", "-crf", "22"],
    "mpeg4": ["-q:v", "3"],
    "mjpeg": ["-q:v", "3"],
    "libvpx-vp9": ["-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-crf", "32", "-b:v", "0"],
}
# Audio codecs each container takes as they are; others are re-encoded (AUDIO_FALLBACK).
AUDIO_COPY = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
    "matroska": None,  # Matroska takes anything
    "avi": {"mp3", "mp2", "ac3", "pcm_s16le", "pcm_u8", "pcm_s24le"},
    "webm": {"opus", "vorbis"},
}
URL_TIMEOUT_MS = 5000
AUDIO_FALLBACK = {"mp4": "aac", "mov": "aac", "matroska": "aac", "avi": "libmp3lame", "webm": "libopus"}


# -- ffmpeg ---------------------------------------------------------------------------------------


def find_ffmpeg() -> str | None:
    """The ffmpeg binary to use: $EDGECOLOR_FFMPEG ('none' turns ffmpeg off), imageio-ffmpeg's, or PATH's."""
    env = os.environ.get("EDGECOLOR_FFMPEG")
    if env is not None:
        return None if env.strip().lower() in ("", "none", "0", "off") else env
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        if exe and os.path.isfile(exe):
            return exe
    except Exception:  # not installed, or its binary is missing for this platform
        pass
    return shutil.which("ffmpeg")


@functools.cache
def ffmpeg_encoders(ffmpeg: str) -> frozenset[str]:
    """Names of the video and audio encoders this ffmpeg build has."""
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(m.group(1) for m in re.finditer(r"^\s*[VAS][A-Z.]{5}\s+(\S+)", out, re.M))


@dataclass
class StreamInfo:
    """What `ffmpeg -i` says about a file: its first video stream and its audio codecs."""

    width: int = 0
    height: int = 0
    fps: float = 0.0
    duration: float | None = None
    audio: list[str] = field(default_factory=list)


def ffmpeg_probe(ffmpeg: str, path: str | Path) -> StreamInfo | None:
    """Parse `ffmpeg -i` (no ffprobe in imageio-ffmpeg); None when ffmpeg cannot read the file."""
    try:
        proc = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)],
                              capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    text = proc.stderr
    if "Stream #" not in text:
        return None
    info = StreamInfo()
    m = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    if m:
        info.duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    for line in text.splitlines():
        if "Stream #" not in line:
            continue
        if ": Audio: " in line:
            info.audio.append(line.split(": Audio: ", 1)[1].split()[0].rstrip(","))
        elif ": Video: " in line and not info.width:
            size = re.search(r"[ ,](\d{2,5})x(\d{2,5})[ ,\[]", line)
            rate = re.search(r"([\d.]+)(k?) (?:fps|tbr)", line)
            if size:
                info.width, info.height = int(size.group(1)), int(size.group(2))
            if rate:
                info.fps = float(rate.group(1)) * (1000 if rate.group(2) else 1)
    return info


def fps_fraction(fps: float) -> Fraction:
    """29.97002997 -> 30000/1001: the rational rate containers store."""
    return Fraction(fps).limit_denominator(1001)


# -- reading --------------------------------------------------------------------------------------


def _quiet_cv2():
    """OpenCV's own warnings off while probing files (they would break our one-line errors)."""
    import cv2

    try:
        return cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except Exception:
        return None


class FileSource(Source):
    """Frames of a video file in order, optionally from ``start`` to ``end`` seconds.

    OpenCV reads it when it can; otherwise (or with ``force_ffmpeg``) ffmpeg decodes it to raw
    frames through a pipe.
    """

    def __init__(self, path: str | Path, start: float | None = None, end: float | None = None,
                 ffmpeg: str | None = None, force_ffmpeg: bool = False) -> None:
        self.name = str(path)
        self.url = "://" in self.name
        self.path = Path(path)
        self.live = False
        self.ended = ""
        self._proc: subprocess.Popen | None = None
        self._cap = None
        self._io = threading.Lock()  # close() must not free the capture under a read in another thread
        self._closed = False
        if not self.url:
            if not self.path.exists():
                raise EdgecolorError(f"{path}: no such file")
            if self.path.is_dir():
                raise EdgecolorError(f"{path}: is a folder, not a video")
            if self.path.suffix.lower() in _image_suffixes():
                raise EdgecolorError(f"{path}: is a photo, not a video (use `edgecolor colorize` for photos)")
        if start is not None and start < 0:
            raise EdgecolorError(f"--start must be >= 0 seconds, got {start}")
        if end is not None and end <= (start or 0.0):
            raise EdgecolorError(f"--end ({end}) must be after --start ({start or 0.0})")
        self._open(ffmpeg, force_ffmpeg)
        if self.fps <= 0 or self.fps > 1000 or self.fps != self.fps:
            self.fps = 25.0  # some containers (raw streams) do not say: play at a common rate
        self.first = round((start or 0.0) * self.fps)
        last = round(end * self.fps) if end is not None else None
        if self.total is not None and self.first >= self.total > 0:
            raise EdgecolorError(f"{self.name}: --start {start} s is past the end of the video "
                                 f"({self.total / self.fps:.1f} s)")
        self.count = None if last is None else last - self.first  # frames to read; None = to the end
        if self.total and self.total > 0:
            avail = self.total - self.first
            self.count = avail if self.count is None else min(self.count, avail)
        self._seek(start)
        self._read = 0
        self._pending: np.ndarray | None = self._first_frame()

    # OpenCV first, ffmpeg second
    def _open(self, ffmpeg: str | None, force_ffmpeg: bool = False) -> None:
        import cv2

        if force_ffmpeg and ffmpeg and not self.url:
            return self._open_ffmpeg(ffmpeg)
        old = _quiet_cv2()
        try:
            if self.url:
                cap = cv2.VideoCapture(self.name, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, URL_TIMEOUT_MS,
                                                                   cv2.CAP_PROP_READ_TIMEOUT_MSEC, URL_TIMEOUT_MS])
            else:
                cap = cv2.VideoCapture(self.name)
        finally:
            if old is not None:
                cv2.utils.logging.setLogLevel(old)
        if cap.isOpened():
            self._cap = cap
            self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.total = n if n > 0 else None
            self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            return
        if self.url:
            raise EdgecolorError(f"{self.name}: cannot open this stream")
        self._open_ffmpeg(ffmpeg)

    def _open_ffmpeg(self, ffmpeg: str | None) -> None:
        info = ffmpeg_probe(ffmpeg, self.path) if ffmpeg else None
        if info is None or not info.width:
            raise EdgecolorError(f"{self.name}: not a video this edgecolor can read")
        self._ffmpeg = ffmpeg
        self.fps = info.fps
        self.size = (info.width, info.height)
        self.total = round(info.duration * info.fps) if info.duration and info.fps else None

    def _seek(self, start: float | None) -> None:
        import cv2

        if self._cap is not None:
            if self.first:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, self.first)
            return
        cmd = [self._ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin"]
        if start:
            cmd += ["-ss", f"{start:.6f}"]
        cmd += ["-i", str(self.path), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **_own_group())

    def _first_frame(self) -> np.ndarray:
        frame = self._next()
        if frame is None:
            self.close()
            raise EdgecolorError(f"{self.name}: no video frames could be decoded")
        self.size = (frame.shape[1], frame.shape[0])
        return frame

    def _next(self) -> np.ndarray | None:
        if self._cap is not None:
            ok, frame = self._cap.read()
            return frame if ok else None
        w, h = self.size
        data = self._proc.stdout.read(w * h * 3)
        if len(data) < w * h * 3:
            return None
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)

    @property
    def first_frame(self) -> np.ndarray | None:
        """The first frame, before it is read (to look at it: colour or not, size)."""
        return self._pending

    def read(self) -> np.ndarray | None:
        with self._io:
            if self._closed or (self.count is not None and self._read >= self.count):
                return None
            if self._pending is not None:
                frame, self._pending = self._pending, None
            else:
                frame = self._next()
            if frame is None:
                return None
            self._read += 1
            return frame

    def close(self) -> None:
        if self._proc is not None:  # unblocks a read waiting on the pipe
            self._proc.kill()
        if not self._io.acquire(timeout=10):
            return  # a read is stuck in a network stream; its thread is a daemon
        try:
            self._closed = True
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            if self._proc is not None:
                self._proc.wait()
        finally:
            self._io.release()


@functools.cache
def _image_suffixes() -> frozenset[str]:
    return frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".jp2", ".pgm", ".ppm", ".pbm"})


def _own_group() -> dict[str, Any]:
    """Child processes outside our process group: Ctrl-C reaches only us, and we finish them in order."""
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


# -- writing --------------------------------------------------------------------------------------


@dataclass
class AudioPlan:
    """Where the output's sound comes from: (input file, start s, duration s) and how it is encoded."""

    source: Path
    start: float | None
    duration: float | None
    codec: str  # "copy" or an ffmpeg encoder


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
    """rawvideo bgr24 on ffmpeg's stdin -> encoder, plus the input's audio muxed in the same process."""

    def __init__(self, ffmpeg: str, path: Path, size: tuple[int, int], fps: float, muxer: str,
                 encoder: str, audio: AudioPlan | None, label: Path | None = None) -> None:
        self.path, self.size, self.label = path, size, label or path
        w, h = size
        rate = fps_fraction(fps)
        cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", f"{rate.numerator}/{rate.denominator}",
               "-i", "pipe:0"]
        if audio:
            if audio.start:
                cmd += ["-ss", f"{audio.start:.6f}"]
            if audio.duration:
                cmd += ["-t", f"{audio.duration:.6f}"]
            cmd += ["-i", str(audio.source)]
        cmd += ["-map", "0:v:0", "-c:v", encoder, *ENCODER_OPTIONS.get(encoder, [])]
        if encoder in ("libx264", "libx265", "mpeg4", "libvpx-vp9") and w % 2 == 0 and h % 2 == 0:
            cmd += ["-pix_fmt", "yuv420p"]  # what every player decodes (odd sizes: ffmpeg picks a 4:4:4 format)
        elif encoder == "mjpeg":
            cmd += ["-pix_fmt", "yuvj420p" if w % 2 == 0 and h % 2 == 0 else "yuvj444p"]
        if encoder == "libx264" and muxer in ("mp4", "mov"):
            cmd += ["-tag:v", "avc1"]
        if audio:
            cmd += ["-map", "1:a?", "-c:a", audio.codec]
            if audio.codec != "copy":
                cmd += ["-b:a", "192k"]
            cmd += ["-shortest"]
            self.audio_note = "copied" if audio.codec == "copy" else f"re-encoded ({audio.codec})"
        if muxer in ("mp4", "mov"):
            cmd += ["-movflags", "+faststart"]
        cmd += ["-f", muxer, str(path)]
        self._log = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._log, **_own_group())
        except OSError as e:
            raise EdgecolorError(f"cannot run ffmpeg ({ffmpeg}): {e.strerror or e}") from None
        self._closed = False
        self._lock = threading.Lock()

    def write(self, frame: np.ndarray) -> None:
        frame = _fit(frame, self.size)
        try:
            self._proc.stdin.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
        except (BrokenPipeError, ValueError, OSError):
            self._proc.wait()
            raise EdgecolorError(f"{self.label}: ffmpeg stopped: {self._message()}") from None

    def close(self) -> None:
        """Close stdin and let ffmpeg finish the file (moov atom, index); a second Ctrl-C waits too."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        interrupted = False
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        while True:
            try:
                code = self._proc.wait()
                break
            except KeyboardInterrupt:
                interrupted = True
        if interrupted:
            raise KeyboardInterrupt
        if code != 0:
            raise EdgecolorError(f"{self.label}: ffmpeg failed: {self._message()}")

    def abort(self) -> None:
        with self._lock:
            self._closed = True
        self._proc.kill()
        self._proc.wait()

    def _message(self) -> str:
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else f"exit code {self._proc.returncode}"


class Cv2Writer(Writer):
    """OpenCV's VideoWriter: the fallback without ffmpeg (no sound)."""

    audio_note = "not copied (no ffmpeg)"

    def __init__(self, path: Path, size: tuple[int, int], fps: float, fourccs: list[str],
                 label: Path | None = None) -> None:
        import cv2

        self.path, self.size = path, size
        old = _quiet_cv2()
        try:
            for fourcc in fourccs:
                self._w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc[:4].ljust(4)), fps, size)
                if self._w.isOpened():
                    break
            else:
                raise EdgecolorError(f"{label or path}: OpenCV cannot write {'/'.join(fourccs)} video here "
                                     "(install imageio-ffmpeg for more codecs)")
        finally:
            if old is not None:
                cv2.utils.logging.setLogLevel(old)

    def write(self, frame: np.ndarray) -> None:
        self._w.write(_fit(frame, self.size))

    def close(self) -> None:
        self._w.release()


def _fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
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


def container_of(path: Path) -> tuple[str, str, str]:
    suffix = path.suffix.lower()
    if suffix not in CONTAINERS:
        raise EdgecolorError(f"{path}: unknown video type {suffix or '(no extension)'}; "
                             f"use one of {', '.join(sorted(CONTAINERS))}")
    return CONTAINERS[suffix]


def open_writer(path: Path, size: tuple[int, int], fps: float, codec: str | None = None,
                audio: AudioPlan | None = None, ffmpeg: str | None = None, target: Path | None = None) -> Writer:
    """An encoder for ``path`` chosen by ``target``'s extension (``path`` may be a temporary name)."""
    muxer, encoder, fourcc = container_of(target or path)
    if codec:
        key = codec.strip()
        encoder = FOURCC_ENCODERS.get(key.lower(), key)
        fourcc = key if len(key) == 4 else ENCODER_FOURCC.get(encoder, fourcc)
    if ffmpeg:
        encoders = ffmpeg_encoders(ffmpeg)
        if encoders and encoder not in encoders:
            if codec:
                raise EdgecolorError(f"--codec {codec}: this ffmpeg has no {encoder} encoder")
            encoder = "mpeg4"
        return FfmpegWriter(ffmpeg, path, size, fps, muxer, encoder, audio, label=target)
    if codec and len(codec.strip()) != 4 and codec.strip().lower() not in ENCODER_FOURCC:
        raise EdgecolorError(f"--codec {codec}: without ffmpeg only OpenCV fourcc codes work (e.g. mp4v, MJPG)")
    fourccs = [fourcc] + (["mp4v"] if fourcc != "mp4v" and muxer != "avi" else [])
    return Cv2Writer(path, size, fps, fourccs, label=target)


def plan_audio(ffmpeg: str, src: Path, muxer: str, start: float | None, end: float | None) -> AudioPlan | None:
    """Copy the input's sound when the output container takes its codec (and no part is cut), else re-encode it."""
    info = ffmpeg_probe(ffmpeg, src)
    if info is None or not info.audio:
        return None
    allowed = AUDIO_COPY.get(muxer)
    # A part (--start/--end) is re-encoded: copied packets cannot be cut exactly and would shift the video.
    if start is None and end is None and (allowed is None or all(codec in allowed for codec in info.audio)):
        codec = "copy"
    else:
        codec = AUDIO_FALLBACK[muxer]
        if codec not in ffmpeg_encoders(ffmpeg):
            codec = "aac" if muxer != "avi" else "pcm_s16le"
    duration = (end - (start or 0.0)) if end is not None else None
    return AudioPlan(src, start, duration, codec)


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AtomicFile:
    """A temporary file beside ``target``, renamed onto it by ``commit()`` and removed by ``discard()``."""

    def __init__(self, target: Path) -> None:
        self.target = target
        parent = target.parent
        # folders made for this file are removed again by discard(): a failed run leaves nothing
        self._made = [p for p in [parent, *parent.parents] if not p.exists()][::-1]
        try:
            parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=parent)
        except (NotADirectoryError, FileExistsError):
            raise EdgecolorError(f"{target}: cannot create folder {parent} (a file is in the way)") from None
        except OSError as e:
            raise EdgecolorError(f"{target}: cannot write here ({e.strerror or e})") from None
        os.close(fd)
        self.path = Path(name)
        try:  # mkstemp makes it private (0600); the result should get the usual permissions
            os.chmod(self.path, 0o666 & ~_umask())
        except OSError:
            pass

    def commit(self) -> None:
        try:
            os.replace(self.path, self.target)
        except OSError as e:
            self.discard()
            raise EdgecolorError(f"{self.target}: cannot write ({e.strerror or e})") from None

    def discard(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        for folder in reversed(self._made):
            try:
                folder.rmdir()
            except OSError:  # not empty (something else was written there) or already gone
                break


# -- file to file ---------------------------------------------------------------------------------


@dataclass
class VideoReport:
    """The outcome of one colorized video."""

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


def colorize_video(
    src: str | Path,
    dst: str | Path,
    colorizer: Any,
    *,
    start: float | None = None,
    end: float | None = None,
    codec: str | None = None,
    stabilize: bool = True,
    strength: float = DEFAULT_STRENGTH,
    workers: int = 1,
    ffmpeg: str | None | bool = True,
    progress: Callable[[int, int | None, RunStats], None] | None = None,
    warn: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> VideoReport:
    """Colorize the video ``src`` into ``dst`` (same size and frame rate, sound copied).

    ``colorizer``: a Colorizer, a factory returning one (one per worker), or None for the default.
    ``ffmpeg``: True to find one, a path, or False/None for OpenCV's writer (silent video).
    Ctrl-C (or ``stop``) keeps the frames done so far: the report says ``partial``.
    """
    name = str(src)
    src, dst = (name if "://" in name else Path(src)), Path(dst)
    warn = warn or (lambda m: print(f"edgecolor: warning: {m}", file=sys.stderr))
    exe = find_ffmpeg() if ffmpeg is True else (ffmpeg or None)
    source = FileSource(src, start, end, ffmpeg=exe)
    try:
        if isinstance(src, Path) and src.resolve() == dst.resolve():
            raise EdgecolorError(f"{dst}: output would overwrite the input")
        muxer = container_of(dst)[0]
        audio = plan_audio(exe, src, muxer, start, end) if exe else None
        if not exe:
            warn(f"{src}: no ffmpeg found (pip install imageio-ffmpeg): the output has no sound")
        if source.first_frame is not None and _is_colour(source.first_frame):
            warn(f"{src}: is a colour video; it is colorized from its lightness, its own colours are replaced")
        out = AtomicFile(dst)
        try:
            writer = open_writer(out.path, source.size, source.fps, codec, audio, exe, target=dst)
        except BaseException:
            out.discard()
            raise
        try:
            expected = source.count
            on_frame = (lambda s: progress(s.frames, expected, s)) if progress else None
            stats = run(source, writer, colorizer, stabilize=stabilize, strength=strength, live=False,
                        workers=workers, stop=stop, on_frame=on_frame)
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
        return VideoReport(src, dst, stats.frames, expected, stats, writer.audio_note, stats.interrupted)
    finally:
        source.close()


def _is_colour(frame: np.ndarray) -> bool:
    from edgecolor.pipeline import is_colour

    return is_colour(frame)


def default_output(src: Path, outdir: Path | None) -> Path:
    """Same name in ``outdir`` (default: a 'colorized' folder beside the input); unknown types become .mp4."""
    name = src.name if src.suffix.lower() in CONTAINERS else src.stem + ".mp4"
    return (outdir or src.parent / "colorized") / name
