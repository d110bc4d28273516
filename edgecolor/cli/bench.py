"""`edgecolor bench`: time every backend x precision variant on this machine (logic in edgecolor.bench)."""

from __future__ import annotations

import json
import sys

import typer

from edgecolor.cli import _options as opt
from edgecolor.cli.app import app, warning
from edgecolor.contract import PRECISIONS
from edgecolor.options import ColorizerOptions


def _cell(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def runs_in(record) -> str:
    """The *runs in* cell: what the runtime computes in. An int8 model's convolutions run in int8 (weights and
    activations); the runtime reports the precision of the layers kept in float (the colour decode), so
    "f32" alone would read as if nothing were quantized."""
    if not record.runtime_precision:
        return "-"
    if record.precision == "int8":
        return f"int8 ({record.runtime_precision} where kept)"
    return record.runtime_precision


def print_table(records: list, machine: dict) -> None:
    """One row per variant (median / p90 where two numbers); skipped variants are listed below with the reason."""
    from rich.console import Console
    from rich.table import Table

    ok = [r for r in records if r.status == "ok"]
    frame = ok[0].frame_size if ok else ""
    title = f"edgecolor bench: {machine['cpu']}, {machine['usable_cores']} cores, {frame} frames"
    table = Table(title=title, title_justify="left")
    for name in ("backend", "precision", "runs in", "net input", "load ms", "1st ms", "net ms", "net fps", "e2e ms",
                 "e2e fps", "peak MB"):
        table.add_column(name, justify="left" if name in ("backend", "precision", "runs in") else "right",
                         no_wrap=name == "runs in")
    for r in ok:
        table.add_row(r.backend, r.precision, runs_in(r), r.input_size, _cell(r.load_ms, 0),
                      _cell(r.first_frame_ms, 0), f"{_cell(r.net_median_ms, 2)} / {_cell(r.net_p90_ms, 2)}",
                      _cell(r.net_fps), f"{_cell(r.e2e_median_ms, 2)} / {_cell(r.e2e_p90_ms, 2)}", _cell(r.e2e_fps),
                      _cell(r.peak_rss_mb, 0))
    console = Console(width=None if sys.stdout.isatty() else 150)  # a log's row fits "int8 (f32 where kept)"
    if ok:
        console.print(table)
        console.print("ms: median / p90. net: the network alone; e2e: colorize() on a full frame.", highlight=False)
    for r in records:
        if r.status != "ok":
            console.print(f"{r.status}: {r.backend} {r.precision}: {r.note}", highlight=False, markup=False)


@app.command()
@opt.takes_colorizer_options
def bench(
    backend: str = typer.Option("all", "--backend", "-b", help="all, or one backend listed by `edgecolor info`."),
    precision: str = typer.Option("all", "--precision", "-p", help=f"all | {' | '.join(PRECISIONS)}."),
    size: str = typer.Option("640x480", "--size", help="Frame size WxH fed to colorize()."),
    frames: int = typer.Option(50, "--frames", "-n", min=1, help="Timed frames per measurement."),
    warmup: int = typer.Option(
        5, "--warmup", min=0, help="Untimed frames after the first (OpenVINO specialises to a frame size after 3)."
    ),
    options: ColorizerOptions = opt.colorizer("model", "threads", "device"),  # backend, precision: each or all
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of records instead of a table."),
) -> None:
    """Measure load time, first frame, network and end-to-end speed and peak memory of each variant."""
    from edgecolor import bench as logic
    from edgecolor.cli._progress import progress_bar

    bar = progress_bar()  # None when stderr is no terminal: pipes, logs and --json > file get only the result
    task = bar.add_task("bench", total=None) if bar else None

    def started(done: int, total: int, backend: str, precision: str) -> None:
        if bar:
            bar.update(task, description=f"bench {backend} {precision}", completed=done, total=total)

    def finished(record) -> None:
        if bar:
            bar.advance(task)
            bar.console.print(f"  {record.backend} {record.precision}: {record.status}", highlight=False, markup=False)

    try:
        records = logic.run(model=options.model, backend=backend, precision=precision, size=size, frames=frames,
                            warmup=warmup, threads=options.threads, device=options.device, on_record=finished,
                            on_start=started)
    finally:
        if bar:
            bar.stop()
    if as_json:
        print(json.dumps(logic.as_dicts(records), indent=2))
    else:
        print_table(records, logic.machine())
    if not any(r.status == "ok" for r in records):
        warning("no variant could be run")
        raise typer.Exit(1)
    if any(r.status == "failed" for r in records):
        raise typer.Exit(1)
