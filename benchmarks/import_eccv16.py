"""The imported ECCV16 through edgecolor against OpenCV's own colorization sample, on the same frames.

Builds a full-shaped ECCV16 with random weights in the colorizers .pth layout (tests/import_support.py;
speed does not depend on weight values), imports it with `edgecolor import` into a temporary user
model folder, adds an INT8 IR calibrated on the bundled samples (without the quality gate: random
weights have no quality to keep), and times:

- edgecolor: `edgecolor bench -m eccv16` for OpenVINO FP32 / FP16 / INT8 and cv2.dnn FP32;
- OpenCV's sample (samples/dnn/colorization.py of OpenCV 5, the third-party colorizer.onnx shape:
  opset 10, fixed 256x256, ab upsampled inside), through cv2.dnn, frame by frame as the sample does:
  Lab conversion of the whole frame, resize to 256x256, network, ab resized to the frame, Lab -> BGR.

Prints a markdown table and, with --write, puts it into BENCHMARKS.md between its markers.

    python benchmarks/import_eccv16.py --frames 8 --write
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

BEGIN, END = "<!-- begin import_eccv16.py -->", "<!-- end import_eccv16.py -->"


def opencv_sample(net, frame: np.ndarray) -> np.ndarray:
    """One frame through OpenCV 5's colorization.py steps (BGR uint8 in, BGR float out)."""
    import cv2

    lab = cv2.cvtColor(frame.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    small = cv2.resize(frame, (256, 256), interpolation=cv2.INTER_CUBIC)
    small_l = cv2.cvtColor(small, cv2.COLOR_BGR2Lab)[:, :, 0].astype(np.float32) * (100.0 / 255.0)
    net.setInput(cv2.dnn.blobFromImage(small_l))
    ab = net.forward()[0].transpose(1, 2, 0)
    ab = cv2.resize(ab, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(np.concatenate([lab[:, :, :1], ab], axis=2), cv2.COLOR_Lab2BGR)


def time_sample(onnx_path: Path, frames: list[np.ndarray], n: int) -> dict:
    import cv2

    t0 = time.perf_counter()
    net = cv2.dnn.readNetFromONNX(str(onnx_path))
    opencv_sample(net, frames[0])
    load_first = (time.perf_counter() - t0) * 1000
    times = []
    for i in range(n):
        t = time.perf_counter()
        opencv_sample(net, frames[i % len(frames)])
        times.append((time.perf_counter() - t) * 1000)
    med = statistics.median(times)
    return {"e2e_ms": med, "fps": 1000 / med, "load_first_ms": load_first}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    args = ap.parse_args(argv)

    import import_support as S
    import openvino as ov

    from edgecolor import bench
    from edgecolor.importers import int8
    from edgecolor.importers.importer import import_model, save_ir

    width, height = bench.parse_size(args.size)
    frames = bench.grey_frames(width, height)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["EDGECOLOR_MODELS"] = str(tmp / "user")
        sd = S.eccv16_state(1)
        t = time.perf_counter()
        r = import_model("eccv16", S.write_pth(sd, tmp / "colorization_release_v2-9b330a0b.pth"))
        print(f"import: {time.perf_counter() - t:.1f} s -> {r.folder}", flush=True)
        fp32 = r.folder / "eccv16-fp32.onnx"
        t = time.perf_counter()
        calib = int8.calibration_inputs(ROOT / "samples", r.contract, 5)
        save_ir(fp32, r.folder / "eccv16-int8.xml", "int8", model=int8.quantize_model(ov.Core().read_model(str(fp32)),
                                                                                        calib))
        print(f"int8 (no gate): {time.perf_counter() - t:.1f} s", flush=True)
        rows = []
        for backend, precision in (("openvino", "fp32"), ("openvino", "fp16"), ("openvino", "int8"),
                                   ("opencv", "fp32")):
            rec = bench.run(model="eccv16", backend=backend, precision=precision, size=args.size,
                            frames=args.frames, warmup=1)[0]
            print(f"{backend} {precision}: {rec.status} net {rec.net_median_ms} e2e {rec.e2e_median_ms}", flush=True)
            rows.append((f"edgecolor import eccv16, {backend} {precision}", rec.input_size, rec.net_median_ms,
                         rec.e2e_median_ms, rec.e2e_fps, rec.runtime_precision))
        sample = time_sample(S.write_third_party_onnx(sd, tmp / "colorizer.onnx"), frames, args.frames)
        rows.append(("OpenCV 5 sample (colorizer.onnx, fixed 256x256), cv2.dnn", "256x256", None, sample["e2e_ms"],
                     sample["fps"], "f32"))
    base = sample["e2e_ms"]
    load = os.getloadavg()[0]
    busy = "; above 2 means other work shared the 2 cores: the times are upper bounds, the ratios rougher" \
        if load > 2 else ""
    lines = [
        BEGIN,
        "## The imported ECCV16 against OpenCV's colorization sample",
        "",
        f"`python benchmarks/import_eccv16.py --frames {args.frames}` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"load average {load:.2f}{busy}): a full-shaped ECCV16 with **random weights** in the colorizers "
        "`.pth` layout, imported with `edgecolor import eccv16` (random weights time the same as the real ones; "
        "INT8 calibrated on the 5 bundled samples without the quality gate, which random weights cannot pass "
        f"meaningfully), on {args.size} grey frames (the bundled samples). The sample row runs OpenCV 5's "
        "`samples/dnn/colorization.py` steps on a fixed-256 opset-10 export of the same weights "
        "(the third-party `colorizer.onnx` shape) through cv2.dnn. Median ms per frame.",
        "",
        "| pipeline | net input | net ms | end to end ms | fps | runs in | vs sample |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, inp, net_ms, e2e, fps, runs in rows:
        lines.append(f"| {name} | {inp} | {'-' if net_ms is None else f'{net_ms:.0f}'} | {e2e:.0f} | {fps:.2f} | "
                     f"{runs} | {base / e2e:.1f}x |")
    lines.append(END)
    table = "\n".join(lines)
    print(table)
    if args.write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + table + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n" + table + "\n"
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
