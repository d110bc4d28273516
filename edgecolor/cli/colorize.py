"""`edgecolor colorize`: parse the options, run the library's batch (edgecolor.batch), print what happened.

Each input gets a one-line verdict when it fails (the batch goes on), outputs keep the input's
name and format, and nothing is overwritten without --force. Planning, the per-file policy and the
summary are edgecolor.batch's; printing is cli/_batch.py's; this module only parses.
"""

from __future__ import annotations

from pathlib import Path

import typer

from edgecolor.batch import colorizer_factory, plan_batch
from edgecolor.cli import _options as opt
from edgecolor.cli._batch import run_and_report, run_on_ray_and_report
from edgecolor.cli.app import app
from edgecolor.errors import UsageError
from edgecolor.options import ColorizerOptions


def check_runnable(options: ColorizerOptions, local: bool = True) -> None:
    """Refuse options that cannot run before planning, so a bad model is one line and exit 2 even when every
    output exists (the model itself loads only when a photo needs it). From ``stat`` and imports only.

    ``local``: the backend must be installed here; a Ray cluster's workers may have one this machine lacks.
    """
    from edgecolor import models
    from edgecolor.backends import get_backend

    backend = get_backend(options.backend, check=local)
    models.resolve(options.model, options.precision, backend.name)


@app.command()
@opt.takes_colorizer_options
def colorize(
    inputs: list[str] = typer.Argument(..., metavar="INPUT", help="Image files, folders or glob patterns."),
    outdir: Path | None = typer.Option(
        None, "-o", "--outdir", help="Output folder (default: a 'colorized' folder next to each input)."
    ),
    options: ColorizerOptions = opt.colorizer(photos=True, stills=True),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Also subfolders (not hidden/'colorized' ones)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
    ray: str | None = typer.Option(
        None, "--ray", metavar="ADDRESS",
        help="Run on Ray: 'local' starts Ray here, an address (e.g. ray://head:10001) joins a cluster.",
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="With --ray: workers (default: one per CPU)."),
) -> None:
    """Colorize black-and-white photos; outputs keep each input's name and format."""
    if workers is not None and ray is None:
        raise UsageError("--workers needs --ray")
    check_runnable(options, local=ray is None)
    plan = plan_batch(inputs, outdir, recursive)
    if ray is not None:
        raise typer.Exit(run_on_ray_and_report(plan, options, ray, force, workers))
    raise typer.Exit(run_and_report(plan, colorizer_factory(options), force))
