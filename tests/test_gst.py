"""The `edgecolor` GStreamer element in real pipelines: gst-inspect-1.0 and gst-launch-1.0 with GStreamer's
Python plugin loader, frames compared with Colorizer.colorize(), a file through decodebin/x264enc/mp4mux,
bad properties, timestamps and latency, and pipelines stopped mid-stream (EOS, SIGINT).

Needs Debian's gstreamer1.0-tools, -plugins-base/-good/-ugly/-libav, gstreamer1.0-python3-plugin-loader
and python3-gi / python3-gst-1.0 (scripts/test.sh installs them); skipped, saying which is missing, without.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import default_sigint
from gst_support import missing
from video_fixtures import mean_chroma

from edgecolor.colorizer import Colorizer
from edgecolor.gst import plugin_path

W, H = 161, 120  # an odd width: rows of GRAY8 (164 bytes) and BGR (484 bytes) are padded to 4 bytes


MISSING = missing(
    ("gst-launch-1.0", "gst-inspect-1.0", "ffprobe"), "gstreamer1.0-tools, ffmpeg", ("Gst", "GstVideo"),
    "GStreamer's Python bindings are missing (python3-gi; scripts/link_system_gi.sh)",
    (("x264enc", "gstreamer1.0-plugins-ugly"), ("mp4mux", "gstreamer1.0-plugins-good"),
     ("avdec_h264", "gstreamer1.0-libav")), python_loader=True)
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)


@pytest.fixture(scope="module")
def gst_env(tmp_path_factory) -> dict[str, str]:
    """The environment a user sets: GST_PLUGIN_PATH from `edgecolor gstreamer --plugin-path`, the virtual
    environment; plus a private registry (no stale one from another checkout) and this checkout importable."""
    printed = subprocess.run([sys.executable, "-m", "edgecolor", "gstreamer", "--plugin-path"], capture_output=True,
                             text=True, check=True, env=_with_checkout(dict(os.environ))).stdout.strip()
    assert Path(printed) == plugin_path() and (Path(printed) / "python" / "edgecolor_gst.py").is_file()
    env = dict(os.environ, GST_PLUGIN_PATH=printed, VIRTUAL_ENV=sys.prefix,
               GST_REGISTRY=str(tmp_path_factory.mktemp("gst") / "registry.bin"))
    env.pop("GST_DEBUG", None)
    return _with_checkout(env)


def _with_checkout(env: dict[str, str]) -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def launch(env: dict[str, str], pipeline: str, *, timeout: float = 120, quiet: bool = True
           ) -> subprocess.CompletedProcess:
    """gst-launch-1.0; quiet (-q) prints errors but not warnings."""
    return subprocess.run(["gst-launch-1.0", *(["-q"] if quiet else []), *pipeline.split()], capture_output=True,
                          text=True, env=env, timeout=timeout)


def raw_frames(path: Path, channels: int, count_hint: int | None = None) -> list[np.ndarray]:
    """Frames of a filesink'ed raw video: GStreamer's default layout, rows padded to 4 bytes."""
    stride = (W * channels + 3) & ~3
    size = stride * H
    data = path.read_bytes()
    assert len(data) % size == 0, f"{path.name}: {len(data)} bytes is not a whole number of {size}-byte frames"
    frames = []
    for i in range(len(data) // size):
        rows = np.frombuffer(data, np.uint8, size, i * size).reshape(H, stride)[:, :W * channels]
        frames.append(rows.reshape(H, W, channels) if channels == 3 else rows.copy())
    return frames


def test_gst_inspect_shows_the_element(gst_env):
    r = subprocess.run(["gst-inspect-1.0", "edgecolor"], capture_output=True, text=True, env=gst_env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for prop in ("model", "backend", "precision", "saturation", "stabilize", "strength", "qos"):
        assert f"\n  {prop} " in r.stdout
    assert "GRAY8" in r.stdout and "CRITICAL" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("fmt", ["GRAY8", "BGR", "RGB"])
def test_every_frame_is_colorize_of_its_grey_frame(tmp_path, gst_env, model_files, fmt):
    """Frame count in == out, and each frame is Colorizer.colorize() of the same input (stabilization off)."""
    frames_in, frames_out = tmp_path / "in.raw", tmp_path / "out.raw"
    out_fmt = "RGB" if fmt == "RGB" else "BGR"
    r = launch(gst_env, f"videotestsrc num-buffers=12 pattern=smpte horizontal-speed=5 "
                        f"! video/x-raw,format=GRAY8,width={W},height={H},framerate=25/1 ! videoconvert "
                        f"! video/x-raw,format={fmt} ! tee name=t "
                        f"t. ! queue ! filesink location={frames_in} "
                        f"t. ! queue ! edgecolor model={model_files['onnx']} stabilize=false "
                        f"! video/x-raw,format={out_fmt} ! filesink location={frames_out}")
    assert r.returncode == 0, r.stdout + r.stderr
    inputs = raw_frames(frames_in, 1 if fmt == "GRAY8" else 3)
    outputs = raw_frames(frames_out, 3)
    assert len(inputs) == len(outputs) == 12
    colorizer = Colorizer(model=model_files["onnx"])
    for src, out in zip(inputs, outputs):
        grey = src[:, :, ::-1] if fmt == "RGB" else src  # the element colorizes BGR; RGB comes back as RGB
        expected = colorizer.colorize(grey)
        got = out[:, :, ::-1] if fmt == "RGB" else out
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 2
    assert np.mean([mean_chroma(o) for o in outputs]) > 5.0  # colour, not grey passed through


@pytest.mark.slow
def test_a_file_through_decodebin_and_mp4mux(tmp_path, gst_env, model_files):
    """The README's file pipeline: every frame of the input is in the output, colorized."""
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    r = launch(gst_env, f"videotestsrc num-buffers=40 pattern=ball ! video/x-raw,format=GRAY8,width=320,height=240,"
                        f"framerate=25/1 ! videoconvert ! x264enc ! mp4mux ! filesink location={src}")
    assert r.returncode == 0, r.stderr
    r = launch(gst_env, f"filesrc location={src} ! decodebin ! videoconvert ! edgecolor model={model_files['onnx']} "
                        f"! videoconvert ! x264enc ! mp4mux ! filesink location={dst}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert _frame_count(dst) == _frame_count(src) == 40
    assert _mean_chroma_of(dst) > 5.0


@pytest.mark.parametrize("prop, message", [
    ("saturation=-1", "saturation must be a number >= 0, got -1.0"),
    ("precision=fp64", "unknown precision 'fp64'"),
    ("strength=2", "stabilization strength must be between 0 and 0.95, got 2.0"),
    ("model=/no/such/model.onnx", "/no/such/model.onnx"),
    ("backend=nope", "nope"),
])
def test_a_bad_property_is_a_gstreamer_error(gst_env, model_files, prop, message):
    model = "" if prop.startswith("model=") else f"model={model_files['onnx']}"
    r = launch(gst_env, f"videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=64,height=48 "
                        f"! edgecolor {model} {prop} ! fakesink", timeout=60)
    assert r.returncode != 0
    errors = [line for line in (r.stdout + r.stderr).splitlines() if line.startswith("ERROR: from element")]
    assert errors and "GstEdgecolor" in errors[0] and message in errors[0], r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr


@pytest.mark.parametrize("live", [True, False])
def test_a_slow_frame_on_a_live_source_is_said_once(gst_env, model_files, live):
    """Frames at 2000 fps cannot be colorized in their 0.5 ms: a live source hears about it once, a file
    pipeline (which simply waits) not at all; every frame still comes out."""
    r = launch(gst_env, f"videotestsrc is-live={str(live).lower()} num-buffers=20 "
                        f"! video/x-raw,format=GRAY8,width=320,height=240,framerate=2000/1 "
                        f"! edgecolor model={model_files['onnx']} ! fakesink", timeout=60, quiet=False)
    assert r.returncode == 0, r.stdout + r.stderr
    warnings = [line for line in r.stdout.splitlines() if "WARNING: from element" in line]
    if live:
        assert len(warnings) == 1 and "GstEdgecolor" in warnings[0] and "longer than its 0.5 ms period" in warnings[0]
        assert "qos=true" in r.stdout and "leaky=downstream" in r.stdout
    else:
        assert warnings == []


# A pipeline run from Python: timestamps out, latency, and an EOS sent mid-stream (what an application does).
_EOS_SCRIPT = r"""
import json, sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
model, out, stop_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
pipe = Gst.parse_launch(
    "videotestsrc is-live=true pattern=smpte ! video/x-raw,format=GRAY8,width=160,height=120,framerate=25/1 "
    "! identity name=before ! edgecolor name=ec model=" + model + " ! videoconvert ! x264enc ! mp4mux "
    "! filesink location=" + out)
pts_in, pts_out = [], []
def probe(store):
    def on_buffer(pad, info):
        store.append(info.get_buffer().pts)
        return Gst.PadProbeReturn.OK
    return on_buffer
pipe.get_by_name("before").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe(pts_in))
pipe.get_by_name("ec").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe(pts_out))
pipe.set_state(Gst.State.PLAYING)
bus = pipe.get_bus()
latency = None
while len(pts_out) < stop_after:
    msg = bus.timed_pop_filtered(100 * Gst.MSECOND, Gst.MessageType.ERROR)
    assert msg is None, msg.parse_error()
    if latency is None and pts_out:  # what the element adds to upstream's minimum latency
        before, after = Gst.Query.new_latency(), Gst.Query.new_latency()
        if pipe.get_by_name("before").get_static_pad("src").query(before) and \
                pipe.get_by_name("ec").get_static_pad("src").query(after):
            latency = after.parse_latency()[1] - before.parse_latency()[1]
pipe.send_event(Gst.Event.new_eos())
msg = bus.timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
pipe.set_state(Gst.State.NULL)
print(json.dumps({"eos": msg is not None and msg.type == Gst.MessageType.EOS, "in": pts_in, "out": pts_out,
                  "latency": latency}))
"""


@pytest.mark.slow
def test_eos_mid_stream_keeps_every_frame_and_its_timestamp(tmp_path, gst_env, model_files):
    out = tmp_path / "eos.mp4"
    r = subprocess.run([sys.executable, "-c", _EOS_SCRIPT, str(model_files["onnx"]), str(out), "15"],
                       capture_output=True, text=True, env=gst_env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["eos"]
    assert len(result["out"]) >= 15
    assert result["out"] == result["in"][:len(result["out"])]  # timestamps pass through, nothing dropped
    assert len(result["in"]) - len(result["out"]) <= 1  # at most the frame in flight when EOS came
    assert result["latency"] == 40_000_000  # one frame at 25 fps on top of upstream's
    assert _frame_count(out) == len(result["out"])  # every frame that left the element is in the finished file


@pytest.mark.slow
def test_sigint_mid_stream_leaves_a_playable_file(tmp_path, gst_env, model_files):
    """gst-launch-1.0 -e: Ctrl-C becomes EOS, the element lets it through, mp4mux finishes the file."""
    out = tmp_path / "live.mp4"
    pipeline = (f"videotestsrc is-live=true pattern=ball ! video/x-raw,format=GRAY8,width=160,height=120,"
                f"framerate=25/1 ! edgecolor model={model_files['onnx']} ! videoconvert ! x264enc "
                f"! mp4mux ! filesink location={out}")
    proc = subprocess.Popen(["gst-launch-1.0", "-e", *pipeline.split()], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=gst_env, preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and (not out.exists() or out.stat().st_size < 2000):
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert _frame_count(out) >= 10


def _frame_count(path: Path) -> int:
    r = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                        "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, f"{path.name} is not playable: {r.stderr}"
    return int(r.stdout.strip())


def _mean_chroma_of(path: Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    values = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        values.append(mean_chroma(frame))
    cap.release()
    return float(np.mean(values))


@pytest.mark.slow
def test_an_installed_wheel_registers_the_element_without_an_activated_environment(tmp_path, model_files):
    """pip-installed (not this checkout), no VIRTUAL_ENV: the plugin file finds its own site. The dependencies
    come from this environment's site-packages on PYTHONPATH (offline: the wheel is installed without them)."""
    import site

    root = Path(__file__).resolve().parents[1]
    wheels, target = tmp_path / "wheel", tmp_path / "site"
    for args in (["wheel", "--no-build-isolation", "--no-deps", "--no-index", "-q", "-w", str(wheels), str(root)],
                 ["install", "-q", "--no-deps", "--no-index", "--target", str(target)]):
        if args[0] == "install":
            args.append(str(next(wheels.glob("edgecolor-*.whl"))))
        r = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "GST_DEBUG")}
    env.update(GST_PLUGIN_PATH=str(target / "edgecolor" / "gst"), GST_REGISTRY=str(tmp_path / "registry.bin"),
               PYTHONPATH=os.pathsep.join(site.getsitepackages()))
    r = launch(env, f"videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=64,height=48 "
                    f"! edgecolor model={model_files['onnx']} saturation=-2 ! fakesink", timeout=120)
    # the error's debug line names the file that ran: the installed copy's element.py
    assert f"{target / 'edgecolor' / 'gst' / 'element.py'}" in r.stdout + r.stderr, r.stdout + r.stderr
    r = launch(env, f"videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=64,height=48 "
                    f"! edgecolor model={model_files['onnx']} ! fakesink", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
