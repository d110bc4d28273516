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
from edgecolor.cli.app import app, error
from edgecolor.errors import EdgecolorError
from edgecolor.options import ColorizerOptions
from edgecolor.sheets import before_after_sheet, grey_of, samples_dir

SHEET_NAME = "before_after.jpg"


@app.command()
@opt.takes_colorizer_options
def demo(
    outdir: Path = typer.Option(Path("colorized"), "-o", "--outdir", help="Where the colorized samples go."),
    options: ColorizerOptions = opt.colorizer("model", "backend", "precision"),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
) -> None:
    """Colorize the bundled sample photos into OUTDIR and write OUTDIR/before_after.jpg."""
    from edgecolor.files import read_image, write_image_atomic

    samples = sorted(samples_dir().glob("*.jpg"))
    plan = plan_batch(samples, outdir)
    summary = run_printing(plan, colorizer_factory(options), force)
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
