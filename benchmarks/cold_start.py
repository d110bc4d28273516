"""Cold start: from a new process to the first colorized photo on disk, with OpenVINO and the bundled model.

What a user waits for when they run `edgecolor colorize photo.jpg` once. Each run is a fresh
interpreter (imports, model read and compile, one photo, atomic write); the median of N runs is
reported, the very first run (empty compiled-model cache) and runs with caching off beside it
(OpenVINO's CACHE_DIR effect), then where the time goes (stages timed inside fresh children).

    python benchmarks/cold_start.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))

from edgecolor.contract import PRECISIONS  # noqa: E402  (the one list of model variants)

TARGET_S = 1.0

# Timed stages inside one fresh process; prints a JSON line of cumulative seconds.
_STAGES = r"""
import json, sys, time
t0 = time.perf_counter()
from edgecolor import Colorizer
from edgecolor.files import read_image, write_image_atomic
t_import = time.perf_counter()
c = Colorizer(model=sys.argv[1], backend="openvino", precision=sys.argv[2])
t_load = time.perf_counter()
image = read_image(sys.argv[3])
t_read = time.perf_counter()
out = c.colorize(image)
t_colorize = time.perf_counter()
write_image_atomic(sys.argv[4], out)
t_write = time.perf_counter()
print(json.dumps({"import": t_import - t0, "load": t_load - t_import, "read": t_read - t_load,
                  "colorize": t_colorize - t_read, "write": t_write - t_colorize}))
"""

def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def sample_photo() -> Path:
    from edgecolor.sheets import sample_dirs

    for folder in sample_dirs():
        photos = sorted(folder.glob("*.jpg"))
        if photos:
            return photos[0]
    raise SystemExit("no sample photo found in samples/")


def cli_runs(photo: Path, model: str, precision: str, runs: int,
             extra_env: dict[str, str] | None = None) -> list[float]:
    """Wall seconds of `python -m edgecolor colorize` from spawn to exit, the output checked each time."""
    env = _env() | (extra_env or {})
    times = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(runs):
            cmd = [sys.executable, "-m", "edgecolor", "colorize", str(photo), "-o", out, "--force",
                   "--backend", "openvino", "--model", model, "--precision", precision]
            t0 = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if done.returncode != 0 or not (Path(out) / photo.name).exists():
                raise SystemExit(f"cold start run failed: {done.stderr.strip() or done.stdout.strip()}")
    return times


def python_floor(runs: int) -> float:
    """Median seconds of a bare `python -c pass`: the part no library can remove."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def stages(photo: Path, model: str, precision: str, runs: int,
           extra_env: dict[str, str] | None = None) -> dict[str, float]:
    """Median seconds per stage (import, load, read, colorize, write) over fresh processes."""
    per_stage: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-c", _STAGES, model, precision, str(photo),
                                   str(Path(out) / photo.name)], env=_env() | (extra_env or {}),
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"stage run failed: {done.stderr.strip()[-400:]}")
            for key, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                per_stage.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in per_stage.items()}


def measure(model: str = "default", precision: str = "fp32", runs: int = 5) -> dict[str, object]:
    """Everything cold_start knows, as one dict (benchmarks/compare.py puts it in BENCHMARKS.md).

    Each series gets its own empty compiled-model cache (EDGECOLOR_CACHE_DIR), so the first run is
    a first run after installing, the next ones are what a user sees every day after, and a series
    with caching off shows what CACHE_DIR saves.
    """
    from edgecolor.models import resolve

    photo = sample_photo()
    model_path = Path(resolve(model, precision, "openvino"))
    with tempfile.TemporaryDirectory() as cache:
        env = {"EDGECOLOR_CACHE_DIR": cache}
        first = cli_runs(photo, model, precision, 1, env)[0]
        warm = cli_runs(photo, model, precision, runs, env)
        stage_times = stages(photo, model, precision, runs, env)
    no_cache = cli_runs(photo, model, precision, runs, {"EDGECOLOR_CACHE_DIR": ""})
    return {
        "model": model_path.name,
        "precision": precision,
        "photo": photo.name,
        "runs": runs,
        "cli_median_s": statistics.median(warm),
        "cli_min_s": min(warm),
        "cli_max_s": max(warm),
        "first_run_s": first,
        "no_cache_median_s": statistics.median(no_cache),
        "target_s": TARGET_S,
        "python_floor_s": python_floor(runs),
        "stages_s": stage_times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="model variant [default: fp32, what `edgecolor colorize` runs]")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.model, args.precision, args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    verdict = "meets" if result["cli_median_s"] <= TARGET_S else "MISSES"
    print(f"cold start, {result['model']} on OpenVINO, {result['runs']} fresh processes with a warm model cache: "
          f"median {result['cli_median_s']:.3f} s (min {result['cli_min_s']:.3f}, max {result['cli_max_s']:.3f}); "
          f"{verdict} the {TARGET_S:.1f} s target")
    print(f"  first run after install (empty cache): {result['first_run_s']:.3f} s; "
          f"caching off: median {result['no_cache_median_s']:.3f} s; "
          f"bare python start {result['python_floor_s']:.3f} s")
    print("  stages (warm cache): " + ", ".join(f"{k} {v:.3f} s" for k, v in result["stages_s"].items()))


if __name__ == "__main__":
    main()
