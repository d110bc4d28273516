"""The ffmpeg binary: finding it, asking it about files and encoders, and the codec tables.

Kept apart from reading and writing frames (sources.py, video.py) so that both use one probe and
one set of tables. imageio-ffmpeg ships ffmpeg without ffprobe, so files are probed by parsing
``ffmpeg -i``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from edgecolor.errors import UsageError

# container -> (ffmpeg muxer, default encoder, OpenCV fourcc for the fallback writer)
CONTAINERS = {
    ".mp4": ("mp4", "libx264", "mp4v"),
    ".m4v": ("mp4", "libx264", "mp4v"),
    ".mov": ("mov", "libx264", "mp4v"),
    ".mkv": ("matroska", "libx264", "mp4v"),
    ".avi": ("avi", "mjpeg", "MJPG"),
    ".webm": ("webm", "libvpx-vp9", "VP90"),
}
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
AUDIO_FALLBACK = {"mp4": "aac", "mov": "aac", "matroska": "aac", "avi": "libmp3lame", "webm": "libopus"}


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


@functools.cache
def ffmpeg_has_option(ffmpeg: str, option: str) -> bool:
    """Whether this ffmpeg knows ``-option`` (e.g. ``fps_mode``: ffmpeg 5.1 and later)."""
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-h", "full"], capture_output=True, text=True,
                             errors="replace", timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return re.search(rf"^-{re.escape(option)}\b", out, re.M) is not None


@dataclass
class StreamInfo:
    """What `ffmpeg -i` says about a file: its first video stream (size as displayed) and its audio codecs."""

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
    video = False
    for line in text.splitlines():
        if "Stream #" in line:
            video = False
            if ": Audio: " in line:
                info.audio.append(line.split(": Audio: ", 1)[1].split()[0].rstrip(","))
            elif ": Video: " in line and not info.width:
                size = re.search(r"[ ,](\d{2,5})x(\d{2,5})[ ,\[]", line)
                rate = re.search(r"([\d.]+)(k?) (?:fps|tbr)", line)
                if size:
                    info.width, info.height = int(size.group(1)), int(size.group(2))
                    video = True
                if rate:
                    info.fps = float(rate.group(1)) * (1000 if rate.group(2) else 1)
        elif video and re.search(r"rotation of -?(90|270)\.", line):  # ffmpeg turns such frames upright
            info.width, info.height = info.height, info.width
    return info


def fps_fraction(fps: float) -> Fraction:
    """29.97002997 -> 30000/1001: the rational rate containers store."""
    return Fraction(fps).limit_denominator(1001)


def own_process_group() -> dict[str, Any]:
    """Child processes outside our process group: Ctrl-C reaches only us, and we finish them in order."""
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def container_of(path: Path) -> tuple[str, str, str]:
    """(ffmpeg muxer, default encoder, OpenCV fourcc) for an output file's extension."""
    suffix = path.suffix.lower()
    if suffix not in CONTAINERS:
        raise UsageError(f"{path}: unknown video type {suffix or '(no extension)'}; "
                             f"use one of {', '.join(sorted(CONTAINERS))}")
    return CONTAINERS[suffix]


def choose_encoder(target: Path, codec: str | None, ffmpeg: str | None) -> tuple[str, str, str]:
    """(muxer, ffmpeg encoder, OpenCV fourcc) for ``target`` and ``--codec``; a codec this setup lacks is an error.

    Called before any work starts, so a bad ``--codec`` is an option error, not a failed file.
    """
    muxer, encoder, fourcc = container_of(target)
    if codec:
        key = codec.strip()
        encoder = FOURCC_ENCODERS.get(key.lower(), key)
        fourcc = key if len(key) == 4 else ENCODER_FOURCC.get(encoder, fourcc)
    if ffmpeg:
        encoders = ffmpeg_encoders(ffmpeg)
        if encoders and encoder not in encoders:
            if codec:
                raise UsageError(f"--codec {codec}: this ffmpeg has no {encoder} encoder")
            encoder = "mpeg4"
    elif codec and len(codec.strip()) != 4 and codec.strip().lower() not in ENCODER_FOURCC:
        raise UsageError(f"--codec {codec}: without ffmpeg only OpenCV fourcc codes work (e.g. mp4v, MJPG)")
    return muxer, encoder, fourcc


@dataclass
class AudioPlan:
    """Where the output's sound comes from: (input file, start s, duration s) and how it is encoded."""

    source: Path
    start: float | None
    duration: float | None
    codec: str  # "copy" or an ffmpeg encoder


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


def mux_audio(ffmpeg: str, video: Path, audio: AudioPlan, seconds: float, muxer: str, out: Path,
              timeout: float = 3600.0) -> str | None:
    """Write ``out``: the video stream of ``video`` (copied) with the sound of ``audio``, cut at ``seconds``.

    The picture decides the length: sound longer than the picture (a partial file, a shorter part)
    is cut to it; shorter sound stays as long as it was. Returns None, or ffmpeg's last error line.
    """
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(video)]
    if audio.start:
        cmd += ["-ss", f"{audio.start:.6f}"]
    if audio.duration:
        cmd += ["-t", f"{audio.duration:.6f}"]
    cmd += ["-i", str(audio.source), "-map", "0:v:0", "-map", "1:a?", "-c:v", "copy", "-c:a", audio.codec]
    if audio.codec != "copy":
        cmd += ["-b:a", "192k"]
    cmd += ["-t", f"{seconds:.6f}"]
    if muxer in ("mp4", "mov"):
        cmd += ["-movflags", "+faststart"]
    cmd += ["-f", muxer, str(out)]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=timeout, **own_process_group())
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        return lines[-1] if lines else f"exit code {proc.returncode}"
    return None


# -- variable frame rate ---------------------------------------------------------------------------

TIMELINE_TOLERANCE = 0.002  # seconds: how far a frame may be shown from its own time (well under a frame)
MAX_PIECES = 200  # straight pieces of a timeline; more (a jittery phone clip) widens the tolerance instead


@dataclass
class Timeline:
    """When each frame of a variable-frame-rate video is shown, as straight pieces: (first frame, its time
    in seconds, seconds per frame) each; frames past the last piece go on at its rate."""

    pieces: list[tuple[int, float, float]]
    frames: int  # frames the container lists
    tolerance: float

    def time(self, n: int) -> float:
        first, t, step = next(p for p in reversed(self.pieces) if p[0] <= n)
        return t + (n - first) * step

    def seconds(self, frames: int) -> float:
        """How long ``frames`` frames play: the last one's time plus its interval."""
        if frames <= 0:
            return 0.0
        return self.time(frames - 1) + self.pieces[-1][2] if frames >= self.frames else self.time(frames)

    @property
    def fastest(self) -> float:
        """The fastest rate of its pieces (frames per second, at most 120)."""
        steps = [step for _, _, step in self.pieces if step > 1 / 120]
        return 1.0 / min(steps) if steps else 120.0

    def setpts(self) -> str:
        """An ffmpeg setpts filter that gives frame N its time (pieces summed, so nothing nests)."""
        terms = []
        for i, (first, t, step) in enumerate(self.pieces):
            when = f"gte(N,{first})" if i == len(self.pieces) - 1 else f"between(N,{first},{self.pieces[i + 1][0] - 1})"
            terms.append(f"{when}*({t:.6f}+(N-{first})*{step:.9f})")
        return "setpts='(" + "+".join(terms) + ")/TB'"


def frame_times(ffmpeg: str, path: str | Path, timeout: float = 600.0) -> list[float] | None:
    """Presentation time (seconds from the first) of every frame of the first video stream, sorted, from the
    demuxer (packets copied, nothing decoded: fast). None when ffmpeg cannot list them."""
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy",
           "-f", "framecrc", "-"]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=timeout, **own_process_group())
    except (OSError, subprocess.SubprocessError):
        return None
    tb = None
    pts = []
    for line in proc.stdout.splitlines():
        if line.startswith("#tb 0:"):
            tb = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            parts = line.split(",")
            if len(parts) > 2 and parts[0].strip() == "0":
                value = int(parts[2])
                if value != -(2**63):  # no timestamp
                    pts.append(value)
    if tb is None or len(pts) < 2:
        return None
    pts.sort()
    return [float((p - pts[0]) * tb) for p in pts]


def fit_timeline(times: list[float], tolerance: float = TIMELINE_TOLERANCE, max_pieces: int = MAX_PIECES) -> Timeline:
    """Straight pieces through ``times``, each frame within ``tolerance`` s of its own time (a cone of the
    slopes that still fit, narrowed point by point: one pass). Too many pieces: twice the tolerance."""
    while True:
        pieces = []
        start = 0
        while start < len(times) - 1:
            lo, hi = -float("inf"), float("inf")
            end = start + 1
            while end < len(times):
                k = end - start
                new_lo = max(lo, (times[end] - tolerance - times[start]) / k)
                new_hi = min(hi, (times[end] + tolerance - times[start]) / k)
                if new_lo > new_hi:
                    break
                lo, hi, end = new_lo, new_hi, end + 1
            pieces.append((start, times[start], (lo + hi) / 2))
            start = end - 1 if end - 1 > start and end < len(times) else end
        if not pieces:
            pieces = [(0, 0.0, 0.04)]
        if len(pieces) <= max_pieces:
            return Timeline(pieces, len(times), tolerance)
        tolerance *= 2


def variable_timeline(ffmpeg: str, path: str | Path) -> Timeline | None:
    """The timeline of a variable-frame-rate video; None for a constant rate (one piece) or when unknown."""
    times = frame_times(ffmpeg, path)
    if times is None:
        return None
    timeline = fit_timeline(times)
    return timeline if len(timeline.pieces) > 1 else None
