"""Peak resident memory while colorizing a 12-megapixel photo, each variant in its own process.

It runs ``Colorizer.colorize_file`` (what ``edgecolor colorize`` runs) on a grey JPEG and on a
sepia one stored as 3-channel BGR. Resident memory includes the pages of the shared libraries
(OpenCV, OpenVINO) that the process has mapped in, and how many the kernel maps varies with its page
cache from day to day (the same code measured 284 and 213 MB on one day); so the child also reports
those pages (RssFile at exit), and the rest is what edgecolor's own allocations decide.

Large photos are where colorizers run out of memory (issue trackers report gigabytes). The peak
is the kernel's own high-water mark of the child (VmHWM), so nothing is sampled or missed; a
child that only loads the model gives the floor that the photo's pixels add to.

    python benchmarks/memory.py --megapixels 12
    python benchmarks/memory.py --huge        # a 20000x15000 scan: 8-bit JPEG and 16-bit TIFF (minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 300.0

# The child reports its own peak: VmHWM belongs to the process's address space since exec, whereas
# ru_maxrss also counts the parent's pages at fork (Linux keeps the larger of the two across exec).
_PEAK = r"""
def _file_mb():
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 / 1e6 for l in f if l.startswith("RssFile:"))
    except (OSError, StopIteration):
        return float("nan")

def _peak_mb():
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 / 1e6 for l in f if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource, sys
        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return r / 1e6 if sys.platform == "darwin" else r * 1024 / 1e6
"""

_COLORIZE = _PEAK + r"""
import sys
from edgecolor import Colorizer
c = Colorizer(model=sys.argv[1], backend=sys.argv[2], precision=sys.argv[3])
c.colorize_file(sys.argv[4], sys.argv[5])
print("PEAK_MB", _peak_mb())
print("FILE_MB", _file_mb())
"""

_COLORIZE_HUGE = _PEAK + r"""
import sys, time
from edgecolor import Colorizer
c = Colorizer(model=sys.argv[1], backend=sys.argv[2], precision=sys.argv[3], max_pixels=None)
t = time.perf_counter()
c.colorize_file(sys.argv[4], sys.argv[5])
print("SECONDS_MB", time.perf_counter() - t)
print("PEAK_MB", _peak_mb())
"""

_IMPORTS_ONLY = _PEAK + r"""
import sys
from edgecolor import Colorizer
c = Colorizer(model=sys.argv[1], backend=sys.argv[2], precision=sys.argv[3])
print("PEAK_MB", _peak_mb())
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


PHOTO_KINDS = ("grey", "sepia")  # a 1-channel JPEG, and a 3-channel one (how most scanners store prints)


def make_photo(path: Path, megapixels: float = 12.0, kind: str = "grey") -> tuple[int, int]:
    """A JPEG of about `megapixels` (4:3), upscaled from a bundled sample so it has real texture:
    one grey channel, or (``sepia``) a toned print stored as 3-channel BGR."""
    import cv2
    import numpy as np

    from edgecolor.bench import grey_frames

    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = width * 3 // 4
    grey = cv2.cvtColor(grey_frames(width, height, count=1)[0], cv2.COLOR_BGR2GRAY)
    if kind == "sepia":
        tone = np.array([0.78, 0.92, 1.0], np.float32)  # B, G, R gains of a warm print
        grey = cv2.merge([cv2.convertScaleAbs(grey, alpha=float(g)) for g in tone])
    cv2.imwrite(str(path), grey, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return width, height


def child_mb(code: str, *args: str) -> dict[str, float]:
    """Run `python -c code args` in a fresh process; what it printed as ``NAME_MB value`` (MB = 10^6 bytes)."""
    done = subprocess.run([sys.executable, "-c", code, *args], env=_env(), capture_output=True, text=True)
    values = {}
    for name, _, value in (ln.partition(" ") for ln in done.stdout.splitlines()):
        if name.endswith("_MB"):
            values[name[:-3].lower()] = float(value)
    if done.returncode != 0 or "peak" not in values:
        raise SystemExit(f"memory run failed ({' '.join(args[:3])}): {done.stderr.strip()[-400:]}")
    return values


def measure(model: str = "default", megapixels: float = 12.0,
            variants: tuple[tuple[str, str], ...] = (("openvino", "int8"), ("openvino", "fp32"), ("opencv", "fp32")),
            ) -> dict[str, object]:
    """Peak RSS per variant and photo kind, plus the floor (runtime and model loaded, no photo)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photos = {}
        for kind in PHOTO_KINDS:
            photos[kind] = Path(tmp) / f"photo-12mp-{kind}.jpg"
            width, height = make_photo(photos[kind], megapixels, kind)
        for backend, precision in variants:
            try:
                floor = child_mb(_IMPORTS_ONLY, model, backend, precision)["peak"]
            except SystemExit as e:
                rows += [{"backend": backend, "precision": precision, "kind": kind, "peak_mb": None,
                          "floor_mb": None, "note": str(e)} for kind in PHOTO_KINDS]
                continue
            for kind, photo in photos.items():
                try:
                    got = child_mb(_COLORIZE, model, backend, precision, str(photo), str(Path(tmp) / "out.jpg"))
                except SystemExit as e:
                    rows.append({"backend": backend, "precision": precision, "kind": kind, "peak_mb": None,
                                 "floor_mb": floor, "note": str(e)})
                    continue
                rows.append({"backend": backend, "precision": precision, "kind": kind, "peak_mb": got["peak"],
                             "floor_mb": floor, "photo_mb": got["peak"] - floor, "library_mb": got.get("file"),
                             "note": ""})
    return {"photo": f"{width}x{height}", "megapixels": width * height / 1e6, "target_mb": TARGET_MB, "rows": rows}


HUGE_KINDS = ("8-bit grey JPEG", "16-bit grey TIFF")


def make_huge(folder: Path, width: int, height: int) -> dict[str, Path]:
    """A grey scan of width x height with real texture (a bundled sample, upscaled, plus grain), as
    a JPEG and as a 16-bit TIFF (uncompressed, as scanners write them)."""
    import cv2
    import numpy as np

    from edgecolor.bench import grey_frames

    small = cv2.cvtColor(grey_frames(2000, 1500, count=1)[0], cv2.COLOR_BGR2GRAY)
    grey = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    cv2.add(grey, np.random.default_rng(0).integers(0, 8, size=grey.shape, dtype=np.uint8), dst=grey)
    paths = {HUGE_KINDS[0]: folder / "scan.jpg", HUGE_KINDS[1]: folder / "scan16.tif"}
    cv2.imwrite(str(paths[HUGE_KINDS[0]]), grey, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(paths[HUGE_KINDS[1]]), grey.astype(np.uint16) * 257)
    return paths


def measure_huge(model: str = "default", width: int = 20000, height: int = 15000,
                 backend: str = "openvino", precision: str = "fp32") -> dict[str, object]:
    """Peak RSS colorizing a huge scan file to file (pixel limit lifted), each format in a fresh process."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, photo in make_huge(Path(tmp), width, height).items():
            got = child_mb(_COLORIZE_HUGE, model, backend, precision, str(photo), str(Path(tmp) / f"out{photo.suffix}"))
            rows.append({"kind": kind, "peak_mb": got["peak"], "seconds": got["seconds"],
                         "bytes_per_pixel": got["peak"] * 1e6 / (width * height)})
    return {"photo": f"{width}x{height}", "megapixels": width * height / 1e6, "backend": backend,
            "precision": precision, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--huge", action="store_true", help="a 20000x15000 scan (JPEG and 16-bit TIFF) instead")
    args = parser.parse_args()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if args.huge:
        result = measure_huge(args.model)
        if args.json:
            print(json.dumps(result, indent=2))
            return
        print(f"peak resident memory colorizing a {result['photo']} scan ({result['megapixels']:.0f} MP), "
              f"{result['backend']} {result['precision']}, --max-pixels lifted")
        print("| photo | peak | per pixel | time |\n|---|---|---|---|")
        for row in result["rows"]:
            print(f"| {row['kind']} | {row['peak_mb'] / 1000:.2f} GB | {row['bytes_per_pixel']:.1f} B "
                  f"| {row['seconds']:.0f} s |")
        return
    result = measure(args.model, args.megapixels)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"peak resident memory colorizing a {result['photo']} photo ({result['megapixels']:.1f} MP), "
          f"target <= {TARGET_MB:.0f} MB")
    for row in result["rows"]:
        label = f"{row['backend']:8s} {row['precision']} {row['kind']:5s}"
        if row["peak_mb"] is None:
            print(f"  {label}: {row['note']}")
            continue
        verdict = "ok" if row["peak_mb"] <= TARGET_MB else "OVER"
        print(f"  {label}: {row['peak_mb']:.0f} MB "
              f"(runtime + model {row['floor_mb']:.0f} MB, photo adds {row['photo_mb']:.0f} MB; "
              f"shared-library pages at exit {row['library_mb']:.0f} MB) {verdict}")


if __name__ == "__main__":
    main()
