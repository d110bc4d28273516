"""Video writers: colorized BGR frames into a playable file, through ffmpeg (real codecs, sound) or OpenCV.

``open_writer`` picks the encoder by the target's extension: an ffmpeg process fed raw BGR on its stdin
when an ffmpeg binary is found (H.264 rather than OpenCV's MPEG-4 Part 2; the sound is added in a second
pass that copies the video stream), else OpenCV's VideoWriter (silent; one warning names its codec).
Used by video.colorize_video and live's recording; beside sources.py, below the stream loop.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgecolor.cvlog import quiet_opencv
from edgecolor.errors import InputError, OutputError
from edgecolor.ffmpeg import (
    ENCODER_OPTIONS,
    AudioPlan,
    Timeline,
    choose_encoder,
    fps_fraction,
    mux_audio,
    own_process_group,
)
from edgecolor.sinks import Sink

FFMPEG_SIGNALLED = 255  # ffmpeg's exit code after SIGTERM or SIGINT (the file is finished all the same)


class Writer(Sink):
    """Write BGR frames of one size (a Sink of stream.run); ``close()`` finishes a playable file, ``abort()`` gives
    up."""

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
            raise OutputError(f"cannot run ffmpeg ({ffmpeg}): {e.strerror or e}") from None
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
            raise OutputError(f"{self.label}: ffmpeg stopped reading frames: {self._message()}") from None
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
            raise OutputError(f"{self.label}: ffmpeg failed: {self._message()}")
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

        from edgecolor.files import opencv_can_name

        self.path, self.size = path, size
        if not opencv_can_name(path):  # OpenCV's writer crashes the process on such a name; ffmpeg's does not
            raise InputError(f"{label or path}: OpenCV cannot write a file whose name is not valid UTF-8: "
                             "choose another name, or install ffmpeg (pip install 'edgecolor[video]')")
        # capture: OpenCV's ffmpeg backend prints its own lines ("OpenCV: FFMPEG: tag ... is not supported")
        # straight to fd 2 when a fourcc does not fit the container; the warning below says what was written.
        with quiet_opencv(capture=True):
            for fourcc in fourccs:
                self._w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc[:4].ljust(4)), fps, size)
                if self._w.isOpened():
                    self.fourcc = fourcc
                    break
            else:
                raise OutputError(f"{label or path}: OpenCV cannot write {'/'.join(fourccs)} video here "
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
