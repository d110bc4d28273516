"""`edgecolor eval FOLDER`: quality of a model on colour photos, against the greyscale baseline."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from edgecolor.cli import _options as opt
from edgecolor.cli.app import app
from edgecolor.options import ColorizerOptions


@app.command("eval")
@opt.takes_colorizer_options
def eval_command(
    folder: Path = typer.Argument(..., help="Folder of colour photos (searched recursively)."),
    options: ColorizerOptions = opt.colorizer("model", "backend", "precision", "size"),
    limit: int = typer.Option(0, "--limit", help="Score only the first N photos (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Turn each colour photo grey, colorize it, and report PSNR, SSIM, colourfulness and AuC means."""
    from edgecolor.colorizer import Colorizer
    from edgecolor.evaluate import evaluate

    colorizer = Colorizer.from_options(options)
    report = evaluate(folder, colorizer, limit=limit)
    if as_json:
        print(json.dumps(report.as_dict(), indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    r = report
    table = Table(title=f"{r.photos} photos · {Path(r.model).name} · {r.backend} {r.precision} · size {r.working_size}")
    for col in ("", "PSNR dB", "SSIM", "colourfulness", "AuC"):
        table.add_column(col, justify="right")
    table.add_row("greyscale input", f"{r.grey_psnr:.2f}", f"{r.grey_ssim:.4f}", "0 (grey)", f"{r.grey_auc:.4f}")
    table.add_row("colorized", f"{r.psnr:.2f}", f"{r.ssim:.4f}", f"{r.colorfulness:.2f}", f"{r.auc:.4f}")
    table.add_row("originals", "", "", f"{r.colorfulness_original:.2f}", "")
    Console().print(table)
    print(f"PSNR gain over greyscale: {r.psnr_gain:+.2f} dB · colourfulness ratio: {r.colorfulness_ratio:.2f}")
