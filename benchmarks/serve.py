"""Photos per second through `edgecolor serve`: the real server (uvicorn on 127.0.0.1) and httpx clients.

A 640x480 and a 12 MP (4000x3000) grey JPEG are posted by 1 and by 4 clients at once, in rounds;
each cell is the median of the rounds' photos/s, and the last column the in-process baseline
(``Colorizer.colorize_file`` on the same file, one at a time), so the HTTP cost shows as a ratio.
Clients and server share this machine's cores (on a shared 2-core box the numbers are noisy).

    python benchmarks/serve.py [--rounds 3] [--workers 2] [--backend openvino] [--precision fp32]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))

from edgecolor.colorizer import Colorizer  # noqa: E402
from edgecolor.options import ColorizerOptions  # noqa: E402
from edgecolor.serve import PhotoServer  # noqa: E402

SIZES = {"640x480": (480, 640), "12 MP": (3000, 4000)}


def grey_photo(height: int, width: int) -> np.ndarray:
    """A photo-like grey image from the bundled sample (real edges and textures), resized."""
    sample = cv2.imread(str(ROOT / "samples" / "detroit_1915.jpg"), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(sample, (width, height), interpolation=cv2.INTER_CUBIC)


def photos_per_second(url: str, data: bytes, clients: int, per_client: int) -> float:
    import httpx

    failures: list[int] = []

    def run() -> None:
        with httpx.Client(base_url=url, timeout=600) as c:
            for _ in range(per_client):
                r = c.post("/colorize", files={"file": ("photo.jpg", data)})
                if r.status_code != 200:
                    failures.append(r.status_code)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"benchmark: {len(failures)} requests failed ({sorted(set(failures))})")
    return clients * per_client / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backend", default="openvino")
    ap.add_argument("--precision", default="fp32")
    args = ap.parse_args()
    options = ColorizerOptions(backend=args.backend, precision=args.precision)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, \
            PhotoServer(options, "127.0.0.1", 0, workers=args.workers, queue=16).start() as server:
        colorizer = Colorizer.from_options(options)
        for label, (h, w) in SIZES.items():
            src = Path(tmp) / f"{w}x{h}.jpg"
            cv2.imwrite(str(src), grey_photo(h, w), [cv2.IMWRITE_JPEG_QUALITY, 90])
            data = src.read_bytes()
            per = 20 if h * w < 1e6 else 3
            photos_per_second(server.url, data, 1, 1)  # warm-up: the model's shape for this size
            cells = []
            for clients in (1, 4):
                runs = [photos_per_second(server.url, data, clients, per) for _ in range(args.rounds)]
                cells.append(statistics.median(runs))
            base = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                for i in range(per):
                    colorizer.colorize_file(src, Path(tmp) / f"out{i}.jpg")
                base.append(per / (time.perf_counter() - t0))
            rows.append((label, len(data), *cells, statistics.median(base)))
    print(f"edgecolor serve: {args.backend} {args.precision}, {args.workers} workers, median of {args.rounds} rounds")
    print()
    print("| photo | JPEG bytes | 1 client, photos/s | 4 clients, photos/s | in-process colorize_file, photos/s "
          "| HTTP / in-process (4 clients) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, size, one, four, base in rows:
        print(f"| {label} | {size:,} | {one:.2f} | {four:.2f} | {base:.2f} | {four / base:.2f} |")


if __name__ == "__main__":
    main()
