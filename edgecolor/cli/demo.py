"""`edgecolor demo`: colorize the bundled sample photos and write a before/after sheet.

This is the project's "main job": it proves an install works end to end with nothing but the
package itself (bundled model + bundled public-domain photos).
"""

from __future__ import annotations

from pathlib import Path

import typer

from edgecolor.batch import colorizer_factory, plan_batch
from edgecolor.cli import _options as opt
from edgecolor.cli._batch import report, run_printing
from edgecolor.cli._options import Precision
from edgecolor.cli.app import app, error
from edgecolor.errors import EdgecolorError

SHEET_NAME = "before_after.jpg"


def samples_dir() -> Path:
    """The bundled photos: package data in an installed wheel, else the repo's samples/ (editable/dev)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_samples", here.parent / "samples"):
        if candidate.is_dir() and any(candidate.glob("*.jpg")):
            return candidate
    looked = f"{here / '_samples'} and {here.parent / 'samples'}"
    raise EdgecolorError(f"bundled sample photos not found (looked in {looked})")


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


@app.command()
def demo(
    outdir: Path = typer.Option(Path("colorized"), "-o", "--outdir", help="Where the colorized samples go."),
    model: str = typer.Option("default", "--model", "-m", help="Bundled model name, or a .onnx / .xml file."),
    backend: str = opt.BACKEND,
    precision: Precision = opt.PRECISION,
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
) -> None:
    """Colorize the bundled sample photos into OUTDIR and write OUTDIR/before_after.jpg."""
    from edgecolor.files import read_image, write_image_atomic

    samples = sorted(samples_dir().glob("*.jpg"))
    plan = plan_batch(samples, outdir)
    make = colorizer_factory(model=model, backend=backend, precision=precision.value)
    summary = run_printing(plan, make, force)
    if summary.interrupted:
        raise typer.Exit(report(plan, summary))
    sheet = outdir / SHEET_NAME
    if summary.done or force or not sheet.exists():
        pairs = []
        for job in plan.jobs:
            if job.dst.exists():
                try:
                    pairs.append((grey_of(read_image(job.src)), read_image(job.dst)))
                except EdgecolorError as e:
                    error(str(e))
        if pairs:
            write_image_atomic(sheet, before_after_sheet(pairs))
            print(f"wrote {sheet}")
    raise typer.Exit(report(plan, summary))
