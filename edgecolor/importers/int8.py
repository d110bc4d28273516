"""INT8 post-training quantization with NNCF, and the quality gate that decides whether it is kept.

One gate for every model: ``tools.quantize`` (the bundled model) and ``edgecolor import --int8``
both use these functions. Calibration inputs are made exactly as the runtime makes them
(``pipeline.prepare`` at the model's working size); the INT8 model is scored against the FP32 one
with ``edgecolor eval``'s code, and a PSNR loss above ``max_drop`` dB refuses it.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from edgecolor.contract import ModelContract
from edgecolor.errors import UsageError

MAX_DROP_DB = 0.3
MAX_RATIO_DROP = 0.05  # INT8 may not lose more colourfulness ratio than this either (muted colour)


def calibration_inputs(folder: str | Path, contract: ModelContract, n: int, seed: int = 0) -> list[np.ndarray]:
    """n network inputs from photos sampled across the whole folder tree."""
    from edgecolor import pipeline
    from edgecolor.files import image_paths, read_image
    from edgecolor.metrics import to_grey_bgr

    paths = image_paths(folder)
    if len(paths) < n:
        raise UsageError(f"{folder}: {len(paths)} photos, fewer than the {n} asked for calibration")
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

    from edgecolor.contract import PREFIX, RT_INFO_SECTION

    # The colour decode (softmax over the ab bins at a temperature, the annealed mean, the uncertainty
    # fallback) and the logits feeding it stay in float: quantized, they mute colour (measured: the
    # colourfulness ratio fell from 0.73 to 0.65 at equal PSNR), and they cost little.
    ignored = nncf.IgnoredScope(patterns=[r".*/decode/.*", r".*/decoder/head/.*"], validate=False)
    q = nncf.quantize(model, nncf.Dataset(calib), subset_size=len(calib), preset=nncf.QuantizationPreset.MIXED,
                      ignored_scope=ignored)
    q.set_rt_info("int8", [RT_INFO_SECTION, PREFIX + "precision"])
    return q


def eval_model(model_path: Path, folder: str | Path, limit: int) -> dict:
    from edgecolor.colorizer import Colorizer
    from edgecolor.evaluate import evaluate

    return evaluate(folder, Colorizer(model=str(model_path), backend="openvino"), limit=limit).as_dict()


def gate(fp32_path: Path, int8_path: Path, folder: str | Path, limit: int = 0,
         max_drop: float = MAX_DROP_DB) -> dict:
    """What the gate saw: both models' eval numbers, the PSNR drop, and whether INT8 passes."""
    fp = eval_model(fp32_path, folder, limit)
    i8 = eval_model(int8_path, folder, limit)
    drop = fp["psnr"] - i8["psnr"]
    ratio_drop = fp["colorfulness_ratio"] - i8["colorfulness_ratio"]
    return {"fp32": fp, "int8": i8, "psnr_drop_db": drop, "max_drop_db": max_drop,
            "colorfulness_ratio_drop": ratio_drop, "max_ratio_drop": MAX_RATIO_DROP,
            "passed": drop <= max_drop and ratio_drop <= MAX_RATIO_DROP}


def describe(report: dict) -> str:
    """One line for people: INT8 vs FP32 PSNR and colourfulness, and the verdict."""
    fp, i8 = report["fp32"], report["int8"]
    verdict = "kept" if report["passed"] else (
        f"refused (> {report['max_drop_db']} dB or colourfulness ratio {report.get('max_ratio_drop', 0)} lower)")
    return (f"INT8 vs FP32 on {i8['photos']} photos: PSNR {i8['psnr']:.3f} vs {fp['psnr']:.3f} dB "
            f"(drop {report['psnr_drop_db']:+.3f}), colourfulness ratio {i8['colorfulness_ratio']:.3f} vs "
            f"{fp['colorfulness_ratio']:.3f}: {verdict}")
