"""Pick the annealed-mean temperature, the uncertainty fallback and the chroma gain on training photos
(never on the validation set).

A lower temperature gives more vivid colour, a higher one safer, browner averages (higher PSNR);
the fallback (v0) mutes only where the predicted distribution is spread; the gain scales what is
left (the annealed mean is duller than the photos). Rule: the best PSNR gain among the settings
that keep the colourfulness ratio at or above --min-ratio. A gain is tried as the runtime's
saturation, which is the same multiply of ab that ``tools.export --gain`` puts in the graph.

``--at-ratio R`` chooses by the one measure instead (edgecolor eval --at-ratio): the best PSNR gain at
colourfulness ratio R, each setting's chroma scaled to reach R; the chosen gain is that scale, so the
exported model runs at ratio R on these photos.

    python -m tools.tune runs/lite0/final.pt --photos ../shared/data/train/bsds500_train ...
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import cv2

from edgecolor.evaluate import evaluate_arrays
from edgecolor.files import image_paths
from tools.export import contract_for, export, load_checkpoint


def sample_photos(folders: list[str], n: int, seed: int) -> list:
    paths = [p for f in folders for p in image_paths(f)]
    random.Random(seed).shuffle(paths)
    return [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths[:n]]


def main(argv: list[str] | None = None) -> None:
    from edgecolor.colorizer import Colorizer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--photos", nargs="+", required=True, help="folders of colour photos (training data)")
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--temperatures", default="0.3,0.38,0.46,0.55,0.65")
    ap.add_argument("--fallbacks", default="0", help="comma-separated fallback v0 values (0 = off)")
    ap.add_argument("--gains", default="1", help="comma-separated chroma gains")
    ap.add_argument("--min-ratio", type=float, default=0.85)
    ap.add_argument("--at-ratio", type=float, default=None,
                    help="choose by the PSNR gain at this colourfulness ratio (--gains ignored)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    photos = sample_photos(args.photos, args.n, args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in (float(x) for x in args.temperatures.split(",")):
            for v0 in (float(x) for x in args.fallbacks.split(",")):
                path = Path(tmp) / f"t{t}-f{v0}.onnx"
                export(load_checkpoint(args.checkpoint, t, v0), path, contract_for("fp32"), simplify=False)
                gains = ["1"] if args.at_ratio else args.gains.split(",")
                for g in (float(x) for x in gains):
                    res = evaluate_arrays(Colorizer(model=str(path), backend="openvino", saturation=g).colorize,
                                          photos, at_ratio=args.at_ratio)
                    keys = ("psnr_gain", "colorfulness_ratio", "auc", "psnr_gain_at_ratio", "chroma_scale_at_ratio")
                    rows.append({"temperature": t, "fallback": v0, "gain": g, **{k: res.get(k) for k in keys}})
                    print(json.dumps(rows[-1]), flush=True)
    if args.at_ratio:
        reach = [r for r in rows if r["psnr_gain_at_ratio"] is not None]
        pick = dict(max(reach, key=lambda r: r["psnr_gain_at_ratio"]))
        pick["gain"] = round(pick["chroma_scale_at_ratio"], 3)  # the operating point: ratio at_ratio here
        print(json.dumps({"chosen": pick, "rule": f"best PSNR gain at colourfulness ratio {args.at_ratio}"}))
        return
    ok = [r for r in rows if r["colorfulness_ratio"] >= args.min_ratio]
    pick = max(ok, key=lambda r: r["psnr_gain"]) if ok else max(rows, key=lambda r: r["colorfulness_ratio"])
    print(json.dumps({"chosen": pick}))


if __name__ == "__main__":
    main()
