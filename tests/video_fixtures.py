"""Synthetic black-and-white clips with known motion, and the flicker / lag / smear measures.

Shared by tests/test_stream.py, tests/test_video.py and benchmarks/flicker.py. A clip has three
shots of the bundled sample photos, like old film: grain that changes every frame and a slight
exposure flicker (what makes per-frame colorization flicker), then

  shot A: a still photo with a bright disc moving across it (moving object on a static scene)
  shot B: a camera pan across a second photo (everything moves)
  shot C: a still third photo after a hard cut (settling after a scene cut)

so every measure knows exactly which pixels moved.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
PHOTOS = ("detroit_1915.jpg", "saratoga_springs_broadway_1900s.jpg", "buffalo_bank_1908.jpg")


@dataclass
class Clip:
    frames: list[np.ndarray]  # BGR uint8 (grey content)
    shots: list[tuple[int, int]]  # [start, end) of each shot
    moving: list[np.ndarray]  # per frame: bool mask of pixels whose content changed since the previous frame
    disc: list[np.ndarray | None] = field(default_factory=list)  # per frame: the moving object's mask (shot A)
    fps: float = 25.0

    @property
    def cuts(self) -> list[int]:
        return [s for s, _ in self.shots[1:]]

    @property
    def size(self) -> tuple[int, int]:
        return self.frames[0].shape[1], self.frames[0].shape[0]


def _photo(name: str, width: int, height: int) -> np.ndarray:
    """A sample photo as grey float32, cropped to the aspect and resized to at least (width, height)."""
    grey = cv2.imread(str(SAMPLES / name), cv2.IMREAD_GRAYSCALE)
    if grey is None:  # samples missing: a textured stand-in keeps the clip usable
        rng = np.random.default_rng(len(name))
        grey = cv2.GaussianBlur((rng.random((400, 600)) * 255).astype(np.uint8), (0, 0), 6)
        grey = cv2.normalize(grey, None, 30, 220, cv2.NORM_MINMAX)
    h, w = grey.shape
    scale = max(width / w, height / h)
    return cv2.resize(grey, (max(width, round(w * scale)), max(height, round(h * scale))),
                      interpolation=cv2.INTER_AREA).astype(np.float32)


def synthetic_clip(width: int = 320, height: int = 240, shot: int = 24, *, grain: float = 5.0,
                   exposure: float = 0.03, seed: int = 0, fps: float = 25.0) -> Clip:
    """3 shots of ``shot`` frames each (see the module doc)."""
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    moving: list[np.ndarray] = []
    discs: list[np.ndarray | None] = []
    a = _photo(PHOTOS[0], width, height)[:height, :width]
    radius = max(4, height // 8)
    yy, xx = np.mgrid[0:height, 0:width]
    step = (width - 2 * radius) / max(1, shot - 1)
    prev_disc = None
    for i in range(shot):  # shot A: moving disc on a still photo
        cx, cy = radius + i * step, height * 0.55
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius ** 2
        img = a.copy()
        img[disc] = 235.0 - 0.25 * (img[disc] - img[disc].mean())  # bright, keeps some texture
        frames.append(img)
        discs.append(disc)
        moving.append(disc | (prev_disc if prev_disc is not None else np.ones_like(disc)))
        prev_disc = disc
    b = _photo(PHOTOS[1], width + shot * 4 + 8, height)
    for i in range(shot):  # shot B: pan, 4 px a frame
        x0 = 4 * i
        frames.append(b[:height, x0:x0 + width].copy())
        discs.append(None)
        moving.append(np.ones((height, width), bool))
    c = _photo(PHOTOS[2], width, height)[:height, :width]
    for i in range(shot):  # shot C: still, after a cut
        frames.append(c.copy())
        discs.append(None)
        moving.append(np.ones((height, width), bool) if i == 0 else np.zeros((height, width), bool))
    out = []
    for img in frames:  # old film: grain, exposure flicker
        gain = 1.0 + rng.uniform(-exposure, exposure)
        noisy = img * gain + rng.normal(0.0, grain, img.shape)
        grey = np.clip(noisy, 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    shots = [(0, shot), (shot, 2 * shot), (2 * shot, 3 * shot)]
    return Clip(out, shots, moving, discs, fps)


def write_clip(path: Path, frames: list[np.ndarray], fps: float, ffmpeg: str, audio: bool = True) -> Path:
    """Encode frames (H.264 mp4 / MJPEG avi / ...) with a 440 Hz tone as the sound track when ``audio``."""
    h, w = frames[0].shape[:2]
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "pipe:0"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=22050:duration={len(frames) / fps:.3f}"]
    codec = {".avi": ["-c:v", "mjpeg", "-q:v", "3"], ".mkv": ["-c:v", "libx264", "-pix_fmt", "yuv420p"]}
    cmd += codec.get(path.suffix, ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "10", "-pix_fmt", "yuv420p"])
    if audio:
        cmd += ["-c:a", "aac" if path.suffix != ".avi" else "pcm_s16le", "-shortest"]
    cmd.append(str(path))
    subprocess.run(cmd, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames), check=True)
    return path


# -- a camera stand-in ---------------------------------------------------------------------------


def moving_frame(i: int, width: int = 160, height: int = 120) -> np.ndarray:
    """Frame ``i`` of an endless grey scene: a gradient with a bright disc and a dark square moving."""
    x = np.linspace(60, 200, width, dtype=np.float32)
    grey = np.repeat(x[None, :], height, 0)
    cv2.circle(grey, (int(10 + (i * 6) % (width - 20)), height // 3), height // 6, 240.0, -1)
    s = height // 5
    y0 = int(10 + (i * 4) % (height - s - 20))
    cv2.rectangle(grey, (width // 2, y0), (width // 2 + s, y0 + s), 20.0, -1)
    return cv2.cvtColor(grey.astype(np.uint8), cv2.COLOR_GRAY2BGR)


class MjpegSource:
    """An IP camera on 127.0.0.1: ``/stream.mjpg`` sends ``moving_frame``s at ``fps``; after ``frames``
    frames in all the connection closes and the server goes away (a camera unplugged); with
    ``per_connection`` each connection drops after that many frames (a flaky network)."""

    def __init__(self, frames: int | None = None, fps: float = 25.0, per_connection: int | None = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if not self.path.startswith("/stream.mjpg"):
                    self.send_error(404)
                    return
                source.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=camframe")
                self.end_headers()
                mine = 0
                try:
                    while source.frames is None or source.sent < source.frames:
                        if per_connection is not None and mine >= per_connection:
                            return  # dropped: the client has to reconnect
                        mine += 1
                        ok, jpeg = cv2.imencode(".jpg", moving_frame(source.sent))
                        data = jpeg.tobytes()
                        self.wfile.write(b"--camframe\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
                        source.sent += 1
                        if source.closed.wait(1.0 / fps):
                            return
                except OSError:
                    return
                threading.Thread(target=source.close, daemon=True).start()  # unplugged

            def log_message(self, *args):
                pass

        self.frames, self.sent, self.connections = frames, 0, 0
        self.closed = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stream.mjpg"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> MjpegSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- running the CLI -------------------------------------------------------------------------------

ERROR = "edgecolor: error: "


def invoke(*args: object):
    """The real CLI in-process (typer's CliRunner); stdout and stderr together in result.output."""
    from typer.testing import CliRunner

    from edgecolor.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def cli_env() -> dict[str, str]:
    """Environment for `python -m edgecolor` subprocesses that import this checkout."""
    import os

    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path)


def errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(ERROR)]


def mean_chroma(bgr: np.ndarray) -> float:
    lab = cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def frames_of(path: Path) -> list[np.ndarray]:
    """Every frame OpenCV decodes from a video file."""
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            cap.release()
            return out
        out.append(frame)


# -- measures -------------------------------------------------------------------------------------


BLOCK = 8  # colour is compared on 8x8 block means: per-pixel 8-bit rounding noise is not colour flicker


def ab_of(frame: np.ndarray) -> np.ndarray:
    """CIELAB a, b (float32, true units) of a BGR uint8 frame, averaged over BLOCK x BLOCK blocks."""
    lab = cv2.cvtColor(frame.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    h, w = frame.shape[:2]
    return cv2.resize(lab[:, :, 1:], (max(1, w // BLOCK), max(1, h // BLOCK)), interpolation=cv2.INTER_AREA)


def _blocks(mask: np.ndarray) -> np.ndarray:
    """A block counts as moving when any of its pixels moved."""
    h, w = mask.shape
    small = cv2.resize(mask.astype(np.float32), (max(1, w // BLOCK), max(1, h // BLOCK)), interpolation=cv2.INTER_AREA)
    return small > 0


def colorize_clip(colorizer, clip: Clip, stabilize: bool, strength: float | None = None,
                  cut_threshold: float | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(output frames, the ab maps the colorizer merged into them) through a StreamColorizer."""
    from edgecolor.options import DEFAULT_STRENGTH
    from edgecolor.stream import StreamColorizer

    strength = DEFAULT_STRENGTH if strength is None else strength
    stream = StreamColorizer(colorizer, stabilize=stabilize, strength=strength)
    if cut_threshold is not None and stream.stabilizer is not None:
        stream.stabilizer.cut_threshold = cut_threshold
    outputs, abs_ = [], []
    for frame in clip.frames:
        prepared, ab, luma = stream.analyze(frame)
        if stream.stabilizer is not None:
            ab = stream.stabilizer.update(ab, luma)
        abs_.append(ab)
        outputs.append(colorizer.merge(prepared, ab))
    return outputs, abs_


def _still(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Cells of a (h, w) grid whose pixels, and their neighbours', did not move."""
    h, w = shape
    moved = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0
    return ~cv2.dilate(moved.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def flicker_ab(abs_: list[np.ndarray], clip: Clip) -> float:
    """Colour flicker the colorizer makes: mean |ab(t) - ab(t-1)| of its ab maps where nothing moved."""
    total, count = 0.0, 0
    for t in range(1, len(abs_)):
        still = _still(clip.moving[t], abs_[t].shape[:2])
        if still.any():
            total += float(np.abs(abs_[t] - abs_[t - 1])[still].sum()) / 2.0
            count += int(still.sum())
    return total / max(1, count)


def flicker(outputs: list[np.ndarray], clip: Clip) -> float:
    """Colour flicker in the output frames: mean |ab(t) - ab(t-1)| of 8x8 block means where nothing moved.

    Includes what the colorizer does not choose: pixels pushed out of the displayable range
    change chroma with every exposure flicker of the source (see ``flicker_floor``).
    """
    total, count = 0.0, 0
    prev_ab = ab_of(outputs[0])
    for t in range(1, len(outputs)):
        ab = ab_of(outputs[t])
        still = _still(clip.moving[t], ab.shape[:2])
        n = int(still.sum())
        if n:
            total += float(np.abs(ab - prev_ab)[still].sum()) / 2.0
            count += n
        prev_ab = ab
    return total / max(1, count)


PAN_STEP = 4  # px per frame of the pan shot (synthetic_clip)


def flicker_pan(outputs: list[np.ndarray], clip: Clip) -> float:
    """Colour flicker along a pan (shot B): mean |ab(t) - ab(t-1)| of 8x8 block means, frame t-1 shifted
    by the pan so each block compares the same scene content."""
    start, end = clip.shots[1]
    total, count = 0.0, 0
    for t in range(start + 1, end):
        now = ab_of(np.ascontiguousarray(outputs[t][:, :-PAN_STEP * 2]))
        before = ab_of(np.ascontiguousarray(outputs[t - 1][:, PAN_STEP:-PAN_STEP]))
        total += float(np.abs(now - before).sum()) / 2.0
        count += now.shape[0] * now.shape[1]
    return total / max(1, count)


def flicker_floor(colorizer, clip: Clip) -> float:
    """Output flicker with the colour held fixed per shot: the part no stabilizer can remove."""
    outputs = []
    for start, end in clip.shots:
        ab = colorizer.predict_ab(colorizer.prepare(clip.frames[start]))
        outputs += [colorizer.merge(colorizer.prepare(f), ab) for f in clip.frames[start:end]]
    return flicker(outputs, clip)


def lag(outputs: list[np.ndarray], reference: list[np.ndarray], clip: Clip, cut: int) -> int:
    """Frames after ``cut`` until the colours are within their steady-state distance of the reference
    (the unstabilized output of the same frames, which has no history to forget)."""
    end = next(e for s, e in clip.shots if s == cut)
    errors = [float(np.abs(ab_of(outputs[t]) - ab_of(reference[t])).mean()) for t in range(cut, end)]
    steady = float(np.median(errors[len(errors) // 2:]))
    for k, err in enumerate(errors):
        if err <= steady * 1.25 + 0.5:
            return k
    return len(errors)


def smear(outputs: list[np.ndarray], reference: list[np.ndarray], clip: Clip) -> float:
    """Mean |ab - unstabilized ab| on the trail a moving object just left (where smearing would show)."""
    total, count = 0.0, 0
    for t in range(1, len(outputs)):
        disc, before = clip.disc[t], clip.disc[t - 1]
        if disc is None or before is None:
            continue
        trail = _blocks(before) & ~_blocks(disc)
        n = int(trail.sum())
        if n:
            total += float(np.abs(ab_of(outputs[t]) - ab_of(reference[t]))[trail].sum()) / 2.0
            count += n
    return total / max(1, count)
