"""INT8 post-training quantization of the IR with NNCF, calibrated on real photos, with a quality gate.

Calibration inputs are made exactly as the runtime makes them (edgecolor.pipeline.prepare at the
model's working size), so the activation ranges match what users feed. The INT8 model is scored
against the FP32 one with `edgecolor eval`'s code; a loss above --max-drop dB PSNR refuses to write
unless --force.

    python -m tools.quantize models/edgecolor-lite0/edgecolor-lite0-fp32.onnx \
        --calib ../shared/data/train --eval ../shared/data/val
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgecolor.contract import ModelContract, metadata_of
from tools.convert import save_ir, set_precision, variant_path

MAX_DROP_DB = 0.3


def calibration_inputs(folder: str | Path, contract: ModelContract, n: int, seed: int = 0) -> list[np.ndarray]:
    """n network inputs from photos sampled across the whole folder tree."""
    from edgecolor import pipeline
    from edgecolor.files import image_paths, read_image
    from edgecolor.metrics import to_grey_bgr

    paths = image_paths(folder)
    if len(paths) < n:
        raise SystemExit(f"{folder}: {len(paths)} photos, fewer than the {n} asked for calibration")
    random.Random(seed).shuffle(paths)
    out = []
    for p in paths[:n]:
        img = read_image(p)
        if img.ndim == 3:
            img = to_grey_bgr(img[..., :3])
        out.append(pipeline.prepare(img, contract).tensor)
    return out


def quantize_model(model, calib: list[np.ndarray]):
    """An INT8 copy of an ``openvino.Model``, calibrated on the given network inputs."""
    import nncf

    q = nncf.quantize(model, nncf.Dataset(calib), subset_size=len(calib), preset=nncf.QuantizationPreset.MIXED)
    set_precision(q, "int8")
    return q


def eval_model(model_path: Path, folder: str | Path, limit: int) -> dict:
    from edgecolor.colorizer import Colorizer
    from edgecolor.evaluate import evaluate

    return evaluate(folder, Colorizer(model=str(model_path), backend="openvino"), limit=limit).as_dict()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="FP32 model (.onnx or .xml) with an edgecolor contract")
    ap.add_argument("--calib", required=True, help="folder tree of photos for calibration")
    ap.add_argument("--calib-size", type=int, default=300)
    ap.add_argument("--eval", required=True, help="folder of colour photos to compare INT8 with FP32")
    ap.add_argument("--eval-limit", type=int, default=0)
    ap.add_argument("--max-drop", type=float, default=MAX_DROP_DB, help="largest PSNR loss in dB allowed")
    ap.add_argument("--out", default=None)
    ap.add_argument("--force", action="store_true", help="write even if the quality gate fails")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import openvino as ov

    src = Path(args.model)
    model = ov.Core().read_model(str(src))
    contract = ModelContract.from_metadata(metadata_of(model), str(src))
    calib = calibration_inputs(args.calib, contract, args.calib_size, args.seed)
    q = quantize_model(model, calib)
    out = Path(args.out) if args.out else variant_path(src, "int8")
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / out.name
        save_ir(q, staged, compress_to_fp16=False)
        fp = eval_model(src, args.eval, args.eval_limit)
        i8 = eval_model(staged, args.eval, args.eval_limit)
        drop = fp["psnr"] - i8["psnr"]
        report = {"fp32": fp, "int8": i8, "psnr_drop_db": drop, "max_drop_db": args.max_drop}
        print(json.dumps(report, indent=1))
        print(f"INT8 vs FP32: PSNR {i8['psnr']:.3f} vs {fp['psnr']:.3f} dB (drop {drop:+.3f}), "
              f"colourfulness ratio {i8['colorfulness_ratio']:.3f} vs {fp['colorfulness_ratio']:.3f}")
        if drop > args.max_drop and not args.force:
            print(f"refused: INT8 loses {drop:.3f} dB PSNR (> {args.max_drop}); use --force to write anyway",
                  file=sys.stderr)
            return 3
        save_ir(q, out, compress_to_fp16=False)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
