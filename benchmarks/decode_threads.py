"""Photos decoded per second on several threads (`edgecolor serve`'s workers, API users' threads), by how fd 2 is
captured around each decode (issue 24: the global lock around every decode is gone).

- one at a time: ``files.decode_image`` inside ``quiet_opencv(capture=True, alone=True)``, one decode at a time
  as files.quiet_stderr's global lock made them before issue 24;
- shared (now): ``files.decode_image`` as it is, its captures on several threads open at once;
- none: ``cv2.imdecode`` bare (no checks, no capture), the ceiling.

Run: python benchmarks/decode_threads.py [--threads 1 2 4] [--rounds 5]; medians of interleaved rounds, one run.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from edgecolor.cvlog import quiet_opencv
from edgecolor.files import decode_image

REPO = Path(__file__).resolve().parents[1]


def photo_bytes(megapixels: float) -> bytes:
    src = cv2.imread(str(REPO / "samples" / "detroit_1915.jpg"))
    scale = (megapixels * 1e6 / (src.shape[0] * src.shape[1])) ** 0.5
    big = cv2.resize(src, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def one_at_a_time(data: bytes) -> None:
    with quiet_opencv(capture=True, alone=True):  # decode_image's own capture nests inside: one decode at a time
        decode_image(data, "bench.jpg", None)


def shared(data: bytes) -> None:
    decode_image(data, "bench.jpg", None)


def bare(data: bytes) -> None:
    cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def rate(fn, data: bytes, threads: int, per_thread: int) -> float:
    start = threading.Barrier(threads + 1)

    def work():
        start.wait()
        for _ in range(per_thread):
            fn(data)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return threads * per_thread / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 12.0])
    args = ap.parse_args()
    cv2.setNumThreads(1)  # one decode per thread, as the serve workers run them
    print("| photo | threads | one at a time (before) | shared (now) | none | now / before |")
    print("|---|---|---|---|---|---|")
    for mp in args.megapixels:
        data = photo_bytes(mp)
        per_thread = max(2, int(24 / mp))
        for n in args.threads:
            ways = {"alone": one_at_a_time, "shared": shared, "bare": bare}
            rates: dict[str, list[float]] = {name: [] for name in ways}
            for fn in ways.values():
                rate(fn, data, n, 1)  # warm-up
            for _ in range(args.rounds):  # interleaved, so a busy moment of the machine hits all three alike
                for name, fn in ways.items():
                    rates[name].append(rate(fn, data, n, per_thread))
            got = {name: statistics.median(r) for name, r in rates.items()}
            print(f"| {mp:g} MP JPEG | {n} | {got['alone']:.1f}/s | {got['shared']:.1f}/s | {got['bare']:.1f}/s "
                  f"| {got['shared'] / got['alone']:.2f} |")


if __name__ == "__main__":
    main()
