"""The three camera paths of docs/camera.md, measured end to end at 640x480 and 1280x720.

* browser: `edgecolor live --source CLIP --serve 0` with a viewer pulling /stream.mjpg
* rtsp:    `edgecolor live --source CLIP --rtsp 0` with ffmpeg reading rtsp://127.0.0.1:PORT/edgecolor
* file:    gst-launch-1.0 filesrc ! decodebin ! videoconvert ! edgecolor ! videoconvert ! x264enc ! mp4mux

There is no camera on the reference machine: the live paths read a grey 25 fps H.264 clip (a pan across
a bundled sample photo, benchmarks/video_speed.py's) as a live source, which edgecolor paces like a
camera; their fps and latency (capture -> sink, median and p95) are edgecolor's own summary line. The
file path runs as fast as it can; its fps counts from PLAYING to EOS (model loading excluded).

    python benchmarks/camera_paths.py                  # 150 frames per run, both sizes, default model
    python benchmarks/camera_paths.py --frames 60 --precision int8
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

SUMMARY = re.compile(r"(\d+) frames in ([\d.]+) s, ([\d.]+) fps, latency (\d+) ms median, (\d+) ms p95")


def live(clip: Path, frames: int, precision: str, out: str) -> dict:
    """`edgecolor live` with one output and a real client on it; its summary line, parsed."""
    args = [sys.executable, "-m", "edgecolor", "live", "--source", str(clip), "--loop", "--frames", str(frames),
            "--precision", precision, f"--{out}", "0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline().strip()  # "preview: http://..." or "rtsp: rtsp://..."
    url = line.split(" ", 1)[1]
    client = threading.Thread(target=_watch, args=(url, out), daemon=True)
    client.start()
    _, stderr = proc.communicate(timeout=600)
    match = SUMMARY.search(stderr)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"live --{out} failed ({proc.returncode}): {stderr[-500:]}")
    return {"fps": float(match[3]), "median": int(match[4]), "p95": int(match[5])}


def _watch(url: str, out: str) -> None:
    if out == "serve":
        try:
            with urllib.request.urlopen(url + "stream.mjpg", timeout=30) as stream:
                while stream.read(65536):
                    pass
        except OSError:
            pass  # the server went away at the end of the run
    else:
        subprocess.run(["ffmpeg", "-v", "quiet", "-rtsp_transport", "tcp", "-i", url, "-f", "null", "-"],
                       timeout=600, check=False)


def gst_file(clip: Path, precision: str, folder: Path) -> dict:
    from edgecolor.gst import plugin_path

    env = dict(os.environ, GST_PLUGIN_PATH=str(plugin_path()), VIRTUAL_ENV=sys.prefix,
               GST_REGISTRY=str(folder / "registry.bin"))
    pipeline = (f"filesrc location={clip} ! decodebin ! videoconvert ! edgecolor precision={precision} "
                f"! videoconvert ! x264enc ! mp4mux ! filesink location={folder / 'out.mp4'}")
    r = subprocess.run(["gst-launch-1.0", *pipeline.split()], capture_output=True, text=True, env=env, timeout=900)
    ran = re.search(r"Execution ended after (\d+):(\d+):([\d.]+)", r.stdout)
    if r.returncode != 0 or not ran:
        raise RuntimeError(f"gst-launch failed: {r.stdout[-300:]} {r.stderr[-500:]}")
    seconds = int(ran[1]) * 3600 + int(ran[2]) * 60 + float(ran[3])
    count = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=nb_read_frames", "-of", "csv=p=0", str(folder / "out.mp4")],
                           capture_output=True, text=True, check=True).stdout.strip()
    return {"fps": int(count) / seconds, "frames": int(count)}


def bare_colorize(clip: Path, precision: str) -> float:
    """fps of Colorizer.colorize alone on the clip's frames, in this process: the reference each path is a
    fraction of (the machine's load changes both alike)."""
    import cv2

    from edgecolor.colorizer import Colorizer

    cap = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    colorizer = Colorizer(precision=precision)
    colorizer.colorize(frames[0])  # warm-up
    started = time.perf_counter()
    for frame in frames:
        colorizer.colorize(frame)
    return len(frames) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--sizes", nargs="+", default=["640x480", "1280x720"])
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()

    from video_speed import make_clip

    from edgecolor.ffmpeg import find_ffmpeg

    print(f"camera paths, model default {args.precision}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, {args.frames} frames per run (live paths: a 25 fps clip played as a camera)")
    print(f"{'size':<10} {'path':<34} {'fps':>6} {'latency median':>15} {'p95':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            clip = make_clip(Path(tmp), width, height, args.frames, find_ffmpeg())
            bare = bare_colorize(clip, args.precision)
            print(f"{size:<10} {'colorize() alone (reference)':<34} {bare:>6.1f}", flush=True)
            for out, name in (("serve", "camera -> browser (live --serve)"), ("rtsp", "camera -> RTSP (live --rtsp)")):
                m = live(clip, args.frames, args.precision, out)
                print(f"{size:<10} {name:<34} {m['fps']:>6.1f} {m['median']:>12} ms {m['p95']:>3} ms"
                      f"  ({m['fps'] / bare:.2f} x colorize)", flush=True)
            folder = Path(tmp) / f"gst_{size}"
            folder.mkdir()
            started = time.perf_counter()
            m = gst_file(clip, args.precision, folder)
            per_frame = 1000.0 / m["fps"]
            print(f"{size:<10} {'file -> file (gst-launch, element)':<34} {m['fps']:>6.1f} "
                  f"{per_frame:>9.0f} ms/f {'':>6}  ({m['fps'] / bare:.2f} x colorize; {m['frames']} frames, "
                  f"{time.perf_counter() - started:.0f} s with model load)", flush=True)


if __name__ == "__main__":
    main()
