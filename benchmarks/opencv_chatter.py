"""What OpenCV and the libraries under it print on stderr, and which switch hides it (issue 24: one way to quiet it).

Each case runs in a fresh child process (the log level and the ffmpeg environment variable are process-wide,
and a child's fd 2 is all it printed), once per switch:

- bare: nothing done;
- level: OpenCV's own log level silent (``cv2.utils.logging``, what ``cvlog.quiet_opencv`` sets);
- level+env: that and ``OPENCV_FFMPEG_LOGLEVEL=-8`` (the ffmpeg library's own av_log, read when cv2 loads it);
- quiet_opencv(): edgecolor's one switch (cvlog) as the backends and frame sources use it;
- capture: ``quiet_opencv(capture=True)``, as photo decoding and encoding and the OpenCV video writer use it.

The table shows how many lines reached stderr, and the first line printed without any switch.
Run: python benchmarks/opencv_chatter.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SETUP = r"""
import os, sys, zlib, struct
import numpy as np
import cv2
mode = sys.argv[1]
if mode in ("level", "level+env"):
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
tmp = sys.argv[2]

def jpeg_damaged():
    img = (np.indices((64, 96)).sum(0) % 256).astype(np.uint8)
    data = bytearray(cv2.imencode(".jpg", img)[1].tobytes())
    sos = data.index(b"\xff\xda")
    for i in range(sos + 40, len(data) - 10, 7):
        data[i] = 0xFF if data[i] != 0xFF else 0x00  # markers inside the scan
    return bytes(data)

def png_bad_crc():
    data = cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()
    chunk = b"tEXt" + b"Comment\x00hello"
    bad = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk) ^ 1)
    return data[:33] + bad + data[33:]

def png_cut_idat():
    data = cv2.imencode(".png", (np.indices((64, 64)).sum(0) % 256).astype(np.uint8))[1].tobytes()
    idat = data.index(b"IDAT")
    return data[:idat + 20] + data[-12:]  # the IEND stays, the image data is cut

def tiff_odd_tag():
    data = bytearray(cv2.imencode(".tif", np.zeros((8, 8), np.uint8))[1].tobytes())
    order = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", data[4:8])[0]
    n = struct.unpack(order + "H", data[ifd:ifd + 2])[0]
    entry = ifd + 2 + 12 * (n - 1)
    data[entry:entry + 2] = struct.pack(order + "H", 65000)  # an unknown private tag
    return bytes(data)
"""

CASES = {
    "imdecode damaged JPEG": "cv2.imdecode(np.frombuffer(jpeg_damaged(), np.uint8), cv2.IMREAD_UNCHANGED)",
    "imdecode PNG, bad ancillary CRC": "cv2.imdecode(np.frombuffer(png_bad_crc(), np.uint8), cv2.IMREAD_UNCHANGED)",
    "imdecode PNG, image data cut": "cv2.imdecode(np.frombuffer(png_cut_idat(), np.uint8), cv2.IMREAD_UNCHANGED)",
    "imdecode TIFF, unknown tag": "cv2.imdecode(np.frombuffer(tiff_odd_tag(), np.uint8), cv2.IMREAD_UNCHANGED)",
    "imwrite into a missing folder": "cv2.imwrite(os.path.join(tmp, 'no', 'x.png'), np.zeros((4, 4), np.uint8))",
    "VideoWriter fourcc the container refuses": (
        "w = cv2.VideoWriter(os.path.join(tmp, 'x.webm'), cv2.VideoWriter_fourcc(*'mp4v'), 10, (64, 48)); "
        "w.release()"),
    "VideoCapture of a cut MP4": (
        "p = os.path.join(tmp, 'cut.mp4'); open(p, 'wb').write(b'\\x00\\x00\\x00\\x18ftypmp42' + bytes(4000)); "
        "cv2.VideoCapture(p, cv2.CAP_FFMPEG).release()"),
    "dnn: CPU target on the new engine": (
        "net = cv2.dnn.readNetFromONNX(np.fromfile(sys.argv[3], np.uint8), cv2.dnn.ENGINE_AUTO); "
        "net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV); net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)"),
}

EDGECOLOR = "from edgecolor.cvlog import quiet_opencv\nwith quiet_opencv({arg}):\n    {case}\n"


def run(case: str, mode: str, tmp: str, model: str) -> list[str]:
    body = case + "\n"
    if mode in ("quiet_opencv()", "capture"):
        body = EDGECOLOR.format(case=case, arg="capture=True" if mode == "capture" else "")
    env = dict(os.environ)
    env.pop("OPENCV_FFMPEG_LOGLEVEL", None)
    if mode == "level+env":
        env["OPENCV_FFMPEG_LOGLEVEL"] = "-8"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    res = subprocess.run([sys.executable, "-c", SETUP + body, mode, tmp, model], capture_output=True, text=True,
                         env=env, timeout=120)
    lines = [ln.strip() for ln in res.stderr.splitlines() if ln.strip()]
    if res.returncode:
        lines.append(f"(exit {res.returncode})")
    return lines


def main() -> None:
    model = next((REPO / "models").glob("*/*-fp32.onnx"))
    modes = ("bare", "level", "level+env", "quiet_opencv()", "capture")
    print("| case | " + " | ".join(modes) + " | first line (bare) |")
    print("|---|" + "---|" * (len(modes) + 1))
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in CASES.items():
            said = {m: run(case, m, tmp, str(model)) for m in modes}
            first = (said["bare"] or [""])[0][:110].replace("|", "/")
            print(f"| {name} | " + " | ".join(str(len(said[m])) for m in modes) + f" | {first} |")


if __name__ == "__main__":
    main()
