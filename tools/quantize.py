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
import sys
import tempfile
from pathlib import Path

from edgecolor.contract import ModelContract, metadata_of
from edgecolor.importers.int8 import MAX_DROP_DB, calibration_inputs, describe, gate, quantize_model
from tools.convert import save_ir, variant_path

__all__ = ["MAX_DROP_DB", "calibration_inputs", "quantize_model", "main"]  # the gate lives in edgecolor.importers.int8


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
        report = gate(src, staged, args.eval, args.eval_limit, args.max_drop)
        drop = report["psnr_drop_db"]
        print(json.dumps(report, indent=1))
        print(describe(report))
        if not report["passed"] and not args.force:
            print(f"refused: INT8 loses {drop:.3f} dB PSNR (> {args.max_drop}); use --force to write anyway",
                  file=sys.stderr)
            return 3
        save_ir(q, out, compress_to_fp16=False)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
