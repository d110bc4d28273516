"""The bundled sample photos and before/after preview sheets: library code for `edgecolor demo`,
the bench and scripts/ (so none of them imports a CLI command module)."""

from __future__ import annotations

from pathlib import Path

from edgecolor.errors import InputError


def sample_dirs() -> list[Path]:
    """Where the bundled photos may be: package data in an installed wheel, else the repo's samples/ (dev)."""
    here = Path(__file__).resolve().parent
    return [here / "_samples", here.parent / "samples"]


def samples_dir() -> Path:
    """The first of sample_dirs() that holds photos; a clear error when none does."""
    for candidate in sample_dirs():
        if candidate.is_dir() and any(candidate.glob("*.jpg")):
            return candidate
    raise InputError(f"bundled sample photos not found (looked in {' and '.join(map(str, sample_dirs()))})")


def to_bgr8(image):
    """Any image read_image returns (grey/BGR/BGRA, 8/16-bit) as 8-bit BGR for a preview sheet."""
    import cv2
    import numpy as np

    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def grey_of(image):
    """What the network actually sees: the lightness only, shown as a grey BGR image."""
    import cv2

    return cv2.cvtColor(cv2.cvtColor(to_bgr8(image), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def before_after_sheet(pairs, width: int = 1600, gap: int = 8, labels: tuple[str, str] = ("before", "edgecolor")):
    """Rows of `before | after`, each pair scaled to fill `width`; returns one 8-bit BGR image."""
    import cv2
    import numpy as np

    half = (width - 3 * gap) // 2
    header = np.full((40, width, 3), 255, np.uint8)
    for i, text in enumerate(labels):
        x = gap + i * (half + gap) + 10
        cv2.putText(header, text, (x, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (40, 40, 40), 2, cv2.LINE_AA)
    rows = [header]
    for before, after in pairs:
        before, after = to_bgr8(before), to_bgr8(after)
        h = max(1, round(before.shape[0] * half / before.shape[1]))
        row = np.full((h + gap, width, 3), 255, np.uint8)
        for i, img in enumerate((before, after)):
            scaled = cv2.resize(img, (half, h), interpolation=cv2.INTER_AREA)
            x = gap + i * (half + gap)
            row[:h, x : x + half] = scaled
        rows.append(row)
    return np.vstack(rows)
