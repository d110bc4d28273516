"""Decode a folder tree of colour photos once into memory (Lab, uint8) for fast training.

Seeing many crops matters more than anything else on a CPU, so photos are decoded, resized
and converted to Lab a single time, cached as one .npz, and augmented later with array ops.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgecolor.files import image_paths


@dataclass
class PhotoSet:
    """Square Lab crops packed as uint8: L·2.55, a+128, b+128 (OpenCV's 8-bit Lab layout)."""

    lab: np.ndarray  # (N, S, S, 3) uint8
    source: np.ndarray  # (N,) int index into sources
    sources: list[str]
    names: list[str]

    def __len__(self) -> int:
        return len(self.lab)

    def lab_float(self, idx) -> np.ndarray:
        """(n, 3, S, S) float32 with L in 0..100 and a, b in about -128..127."""
        x = self.lab[idx].astype(np.float32).transpose(0, 3, 1, 2)
        x[:, 0] *= 100.0 / 255.0
        x[:, 1:] -= 128.0
        return x


def list_photos(root: Path) -> list[tuple[Path, str]]:
    """Every image below root with its source: the first folder under root ('.' for files at top)."""
    out = []
    for p in image_paths(root):
        rel = p.relative_to(root)
        out.append((p, rel.parts[0] if len(rel.parts) > 1 else "."))
    return out


def _load_one(path: Path, size: int, min_side: int) -> np.ndarray | None:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return None
    h, w = img.shape[:2]
    if min(h, w) < min_side:
        return None
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    img = cv2.resize(img, (nw, nh), interpolation=interp)
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    img = img[y0 : y0 + size, x0 : x0 + size]
    # 8-bit Lab from OpenCV: L*255/100, a+128, b+128 — same maths as the runtime.
    return cv2.cvtColor(img, cv2.COLOR_BGR2Lab)


def load_photos(
    root: str | Path,
    size: int = 160,
    min_side: int = 64,
    drop_grey: bool = True,
    cache_dir: str | Path | None = ".cache",
    workers: int = 4,
    only: list[str] | None = None,
) -> PhotoSet:
    """Decode every photo under root into a PhotoSet, skipping tiny, unreadable and near-grey ones.

    ``only``: just these sources (e.g. the large photos, decoded again at a larger size for larger crops).
    """
    root = Path(root)
    files = [f for f in list_photos(root) if only is None or f[1] in only]
    picked = "" if only is None else "|" + ",".join(sorted(only))
    key = hashlib.sha1(f"{root.resolve()}|{len(files)}|{size}|{min_side}|{drop_grey}{picked}".encode()).hexdigest()[:12]
    cache = Path(cache_dir) / f"photos-{key}.npz" if cache_dir else None
    if cache and cache.exists():
        z = np.load(cache, allow_pickle=False)
        return PhotoSet(z["lab"], z["source"], list(z["sources"]), list(z["names"]))
    sources = sorted({s for _, s in files})
    with ThreadPoolExecutor(workers) as pool:
        labs = list(pool.map(lambda f: _load_one(f[0], size, min_side), files))
    keep_lab, keep_src, keep_names = [], [], []
    for (path, src), lab in zip(files, labs):
        if lab is None:
            continue
        if drop_grey:
            ab = lab[..., 1:].astype(np.int16) - 128
            if np.abs(ab).mean() < 2.0:
                continue
        keep_lab.append(lab)
        keep_src.append(sources.index(src))
        keep_names.append(str(path.relative_to(root)))
    ps = PhotoSet(np.stack(keep_lab), np.array(keep_src, np.int16), sources, keep_names)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, lab=ps.lab, source=ps.source, sources=np.array(sources), names=np.array(keep_names))
        tmp.replace(cache)
    return ps


def balanced_weights(source: np.ndarray, power: float = 0.5) -> np.ndarray:
    """Per-photo sampling weights giving each source a share ∝ n_source**power.

    power=0 balances sources fully (tiny sources repeat many times); 1 is plain uniform over
    photos. 0.5 is the compromise: pets and flowers no longer dominate, yet the 77 Sun-Hays
    scenes are not shown forty times an epoch.
    """
    counts = np.bincount(source.astype(np.int64))
    share = counts.astype(np.float64) ** power
    share /= share.sum()
    w = share[source] / counts[source]
    return w / w.sum()


def parse_source_weights(spec: str) -> dict[str, float]:
    """'name=w,name2=w2' -> {name: w}: how many times its balanced share a source is sampled."""
    out = {}
    for item in filter(None, spec.split(",")):
        name, sep, w = item.partition("=")
        if not sep or float(w) < 0:
            raise ValueError(f"source weight {item!r}: expected name=weight (weight >= 0)")
        out[name.strip()] = float(w)
    return out


def unit_hash(name: str) -> float:
    """A fixed number in [0, 1) from a photo's name: the same photos are held out on every machine and run."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) / 2**32


def holdout_mask(photos: PhotoSet, spec: str) -> np.ndarray:
    """True for held-out photos. 'name' holds out a whole source; 'name:0.2' about a fifth of it, chosen
    by name (unit_hash), so two sets decoded at different sizes hold out the same photos."""
    mask = np.zeros(len(photos), bool)
    for item in filter(None, spec.split(",")):
        name, _, frac = item.partition(":")
        if name not in photos.sources:
            continue
        sel = photos.source == photos.sources.index(name)
        if frac:
            sel &= np.array([unit_hash(n) < float(frac) for n in photos.names])
        mask |= sel
    return mask


def sampling_weights(photos: PhotoSet, power: float, boosts: dict[str, float], held: np.ndarray) -> np.ndarray:
    """balanced_weights, each source's share times its boost, held-out photos never drawn."""
    w = balanced_weights(photos.source, power)
    for name, b in boosts.items():
        if name in photos.sources:
            w[photos.source == photos.sources.index(name)] *= b
    w[held] = 0.0
    return w / w.sum()
