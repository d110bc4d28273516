"""Outputs of every backend/precision on the bundled samples, and their comparison between two machines.

`check_arm64.sh` runs `write` on x86-64 and inside the arm64 root, then `compare`: lossless PNGs (what a
user gets, 8-bit BGR) and the network's ab (float32 .npy, CIELAB units), so a difference is measured
before JPEG coding could hide or add any.

    python scripts/arm64_outputs.py write OUT [--variants opencv:fp32,openvino:fp32]
    python scripts/arm64_outputs.py compare X86_OUT ARM_OUT      # a Markdown table
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

VARIANTS = "opencv:fp32,openvino:fp32,openvino:fp16,openvino:int8"


def write(out: Path, variants: str) -> None:
    """Colorize every bundled sample with each backend:precision into OUT/<backend>-<precision>/."""
    from edgecolor import Colorizer
    from edgecolor.bench import runtime_facts
    from edgecolor.files import read_image
    from edgecolor.sheets import samples_dir

    samples = sorted(samples_dir().glob("*.jpg"))
    facts = {"arch": platform.machine(), "opencv": cv2.__version__, "variants": {}}
    for variant in variants.split(","):
        backend, precision = variant.split(":")
        folder = out / f"{backend}-{precision}"
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        c = Colorizer(backend=backend, precision=precision)
        load_s = time.perf_counter() - t0
        ran_in, _ = runtime_facts(c)
        t0 = time.perf_counter()
        for path in samples:
            p = c.prepare(read_image(path))
            ab = c.predict_ab(p)
            np.save(folder / f"{path.stem}.ab.npy", ab)
            cv2.imwrite(str(folder / f"{path.stem}.png"), c.merge(p, ab))
        facts["variants"][variant] = {"runtime_precision": ran_in, "load_s": round(load_s, 2),
                                      "colorize_s": round(time.perf_counter() - t0, 2)}
        print(f"{variant}: runs in {ran_in}, load {load_s:.1f} s, {len(samples)} samples "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    (out / "facts.json").write_text(json.dumps(facts, indent=2))


def compare(ref: Path, other: Path) -> int:
    """Markdown table: per sample and variant, max/mean |BGR difference| and max |ab difference|."""
    facts = [json.loads((d / "facts.json").read_text()) for d in (ref, other)]
    print(f"| variant | sample | runs in ({facts[0]['arch']} / {facts[1]['arch']}) | max abs BGR | mean abs BGR "
          "| max abs ab | mean abs ab |")
    print("|---|---|---|---|---|---|---|")
    missing = 0
    for folder in sorted(d for d in ref.iterdir() if d.is_dir()):
        variant = folder.name.replace("-", ":", 1)
        ran = "/".join(f["variants"].get(variant, {}).get("runtime_precision", "?") for f in facts)
        for png in sorted(folder.glob("*.png")):
            twin = other / folder.name / png.name
            if not twin.is_file():
                print(f"| {variant} | {png.stem} | {ran} | missing | | | |")
                missing += 1
                continue
            a, b = cv2.imread(str(png)).astype(np.int16), cv2.imread(str(twin)).astype(np.int16)
            d = np.abs(a - b)
            ab = np.abs(np.load(folder / f"{png.stem}.ab.npy") - np.load(other / folder.name / f"{png.stem}.ab.npy"))
            print(f"| {variant} | {png.stem} | {ran} | {d.max()} | {d.mean():.4f} | {ab.max():.4f} | {ab.mean():.5f} |")
    return 1 if missing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("out", type=Path)
    w.add_argument("--variants", default=VARIANTS)
    c = sub.add_parser("compare")
    c.add_argument("ref", type=Path)
    c.add_argument("other", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "write":
        write(args.out, args.variants)
        return 0
    return compare(args.ref, args.other)


if __name__ == "__main__":
    sys.exit(main())
