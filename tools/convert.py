"""ONNX → OpenVINO IR, FP32 or FP16 (weights compressed), with the model contract carried over.

OpenVINO keeps ONNX metadata_props as rt_info['framework']; the precision key is rewritten so
the runtime can tell the variants apart.

    python -m tools.convert models/edgecolor-lite0/edgecolor-lite0-fp32.onnx --precision fp16
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from edgecolor.contract import PRECISIONS, PREFIX, RT_INFO_SECTION, ModelContract, metadata_of


def variant_path(onnx_path: Path, precision: str, suffix: str = ".xml") -> Path:
    """models/x/x-fp32.onnx → models/x/x-<precision>.xml."""
    stem = onnx_path.stem
    head, dash, tail = stem.rpartition("-")
    base = head if dash and tail in PRECISIONS else stem
    return onnx_path.with_name(f"{base}-{precision}{suffix}")


def set_precision(model, precision: str) -> None:
    model.set_rt_info(precision, [RT_INFO_SECTION, PREFIX + "precision"])


def save_ir(model, out: Path, compress_to_fp16: bool) -> None:
    """Save .xml + .bin through temporary names, then rename both (bin first: xml names it)."""
    import openvino as ov

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / out.name
        ov.save_model(model, str(staged), compress_to_fp16=compress_to_fp16)
        os.replace(staged.with_suffix(".bin"), out.with_suffix(".bin"))
        os.replace(staged, out)


def convert(onnx_path: str | Path, precision: str = "fp16", out: str | Path | None = None) -> Path:
    import openvino as ov

    onnx_path = Path(onnx_path)
    model = ov.convert_model(str(onnx_path))
    meta = metadata_of(model)
    ModelContract.from_metadata(meta, str(onnx_path))  # refuse to convert a model without a contract
    if not meta:
        raise SystemExit(f"{onnx_path}: metadata was not carried into the IR")
    set_precision(model, precision)
    out = Path(out) if out else variant_path(onnx_path, precision)
    save_ir(model, out, compress_to_fp16=(precision == "fp16"))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("onnx")
    ap.add_argument("--precision", choices=[p for p in PRECISIONS if p != "int8"], default="fp16")  # int8: quantize
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    out = convert(args.onnx, args.precision, args.out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
