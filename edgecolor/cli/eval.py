"""`edgecolor eval FOLDER...`: quality of a model on colour photos, against the greyscale baseline."""

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
    folders: list[Path] = typer.Argument(
        ..., help="Folders of colour photos (searched recursively); several: one row per folder (source kind)."
    ),
    options: ColorizerOptions = opt.colorizer("model", "backend", "precision", "size", "quality"),
    limit: int = typer.Option(0, "--limit", help="Score only the first N photos of each folder (0: all)."),
    at_ratio: float | None = typer.Option(
        None, "--at-ratio", min=0.05, max=2.0,
        help="Also the PSNR gain at this colourfulness ratio (chroma scaled to reach it): compares models fairly.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Turn each colour photo grey, colorize it, and report PSNR, SSIM, colourfulness and AuC means."""
    from edgecolor.cli._progress import progress_bar
    from edgecolor.colorizer import Colorizer
    from edgecolor.evaluate import evaluate_folders

    colorizer = Colorizer.from_options(options)
    bar = progress_bar()  # None when stderr is no terminal: pipes and logs get only the result
    task = bar.add_task("eval", total=None) if bar else None

    def on_photo(name: str, done: int, total: int) -> None:
        if bar:
            bar.update(task, description=f"eval {name}", completed=done, total=total)

    try:
        reports = evaluate_folders(folders, colorizer, limit=limit, at_ratio=at_ratio, on_photo=on_photo)
    finally:
        if bar:
            bar.stop()
    if as_json:
        if len(reports) == 1:
            print(json.dumps(reports[0].as_dict(), indent=1))
        else:
            print(json.dumps({"kinds": [r.as_dict() for r in reports[:-1]], "all": reports[-1].as_dict()}, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    r = reports[-1]
    title = f"{r.photos} photos · {Path(r.model).name} · {r.backend} {r.precision} · size {r.working_size}"
    if len(reports) > 1:
        _print_kinds(reports, title, at_ratio)
        return
    table = Table(title=title)
    for col in ("", "PSNR dB", "SSIM", "colourfulness", "AuC"):
        table.add_column(col, justify="right")
    table.add_row("greyscale input", f"{r.grey_psnr:.2f}", f"{r.grey_ssim:.4f}", "0 (grey)", f"{r.grey_auc:.4f}")
    table.add_row("colorized", f"{r.psnr:.2f}", f"{r.ssim:.4f}", f"{r.colorfulness:.2f}", f"{r.auc:.4f}")
    table.add_row("originals", "", "", f"{r.colorfulness_original:.2f}", "")
    Console().print(table)
    print(f"PSNR gain over greyscale: {r.psnr_gain:+.2f} dB · colourfulness ratio: {r.colorfulness_ratio:.2f}")
    if at_ratio is not None:
        print(f"PSNR gain at colourfulness ratio {at_ratio:.2f}: {_at(r)}")


def _at(r) -> str:
    if r.psnr_gain_at_ratio is None:
        return "out of reach (too little colour to scale up)"
    return f"{r.psnr_gain_at_ratio:+.2f} dB (chroma ×{r.chroma_scale_at_ratio:.2f})"


def _print_kinds(reports: list, title: str, at_ratio: float | None) -> None:
    """One row per folder, then all photos pooled."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    cols = ["folder", "photos", "PSNR gain dB", "colourfulness ratio", "AuC"]
    if at_ratio is not None:
        cols.append(f"gain at ratio {at_ratio:.2f}")
    for col in cols:
        table.add_column(col, justify="right")
    for r in reports:
        row = [r.name, str(r.photos), f"{r.psnr_gain:+.2f}", f"{r.colorfulness_ratio:.2f}", f"{r.auc:.4f}"]
        table.add_row(*row, *([_at(r)] if at_ratio is not None else []))
    Console().print(table)
