"""`edgecolor video`: colorize video files (one, or several into a folder), keeping size, frame rate and sound.

The work is edgecolor.video.colorize_video; this module plans output names, shows progress and
reports. Ctrl-C (any number of times) finishes the current file cleanly (a playable, shorter video),
stops the batch and still prints the summary. Exit codes as for every command: 0 done, 1 an input
failed (missing, not a video, unwritable output), 2 nothing could run (bad option, model), 130 Ctrl-C.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from pathlib import Path

import typer

from edgecolor.cli import _options as opt
from edgecolor.cli._options import Precision
from edgecolor.cli.app import app, error, warning
from edgecolor.errors import EdgecolorError


def plan_outputs(inputs: list[str], output: Path | None) -> list[tuple[str, Path]]:
    """(input, output file) pairs: -o is a file for one input, a folder for several (or when it is one)."""
    from edgecolor.ffmpeg import CONTAINERS
    from edgecolor.video import default_output

    if output is not None and output.suffix and not output.is_dir() and output.suffix.lower() not in CONTAINERS:
        raise EdgecolorError(f"-o {output}: unknown video type {output.suffix}; use one of {', '.join(CONTAINERS)}")
    as_folder = output is not None and (len(inputs) > 1 or output.is_dir() or not output.suffix)
    if output is not None and len(inputs) > 1 and output.suffix.lower() in CONTAINERS and not output.is_dir():
        raise EdgecolorError(f"-o {output}: several inputs need an output folder, not a file name")
    pairs = []
    for item in inputs:
        src = Path(_url_name(item)) if "://" in item else Path(item)
        if output is None:
            dst = default_output(src, None) if "://" not in item else default_output(src, Path("colorized"))
        elif as_folder:
            dst = default_output(src, output)
        else:
            dst = output
        pairs.append((item, dst))
    return pairs


def _url_name(url: str) -> str:
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name if "." in name else (name or "stream") + ".mp4"


class _Progress:
    """A rich bar per video on stderr: frames, fps, elapsed and ETA (nothing when stderr is not a terminal)."""

    def __init__(self) -> None:
        self._bar = None
        self._task = None

    def start(self, name: str, total: int | None) -> None:
        if not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[fps]:.1f} fps"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(name, total=total, fps=0.0)

    def update(self, done: int, total: int | None, stats) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total, fps=stats.fps)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class _Pool:
    """Hands run() the same Colorizers for every video of a batch (one per worker), made on first need."""

    def __init__(self, workers: int, **options) -> None:
        self.workers, self.options = workers, options
        self._made: list = []
        self._calls = 0
        self.error: EdgecolorError | None = None  # the model could not load: fatal for the whole batch

    def __call__(self):
        i = self._calls % self.workers
        self._calls += 1
        if i == len(self._made):
            from edgecolor.colorizer import Colorizer

            try:
                self._made.append(Colorizer(**self.options))
            except EdgecolorError as e:
                self.error = e
                raise
        return self._made[i]


@app.command()
def video(
    inputs: list[str] = typer.Argument(..., metavar="INPUT...", help="Video files (or stream URLs)."),
    output: Path | None = typer.Option(
        None, "-o", "--output",
        help="Output file for one input, or a folder for several (default: a 'colorized' folder beside each input).",
    ),
    model: str = opt.MODEL,
    backend: str = opt.BACKEND,
    precision: Precision = opt.PRECISION,
    device: str = opt.DEVICE,
    threads: int | None = opt.THREADS,
    size: int | None = opt.SIZE,
    saturation: float = opt.SATURATION,
    guided: bool = opt.GUIDED,
    stabilize: bool = opt.STABILIZE,
    strength: float = opt.STRENGTH,
    start: float | None = typer.Option(None, "--start", min=0.0, help="Start at this many seconds."),
    end: float | None = typer.Option(None, "--end", min=0.0, help="Stop at this many seconds."),
    codec: str | None = typer.Option(
        None, "--codec", help="Video codec: a fourcc (avc1, mp4v, MJPG, VP90) or an ffmpeg encoder name."
    ),
    workers: int = opt.WORKERS,
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
) -> None:
    """Colorize videos: same size and frame rate, every frame, sound kept; Ctrl-C keeps a playable partial file."""
    from edgecolor.ffmpeg import choose_encoder, find_ffmpeg
    from edgecolor.video import ctrl_c_sets

    pairs = plan_outputs(inputs, output)
    ffmpeg = find_ffmpeg() or False
    if end is not None and end <= (start or 0.0):
        raise EdgecolorError(f"--end ({end}) must be after --start ({start or 0.0})")
    for _, dst in pairs:  # a bad --codec is an option error (exit 2), found before any work
        choose_encoder(dst, codec, ffmpeg or None)
    pool = _Pool(workers, model=model, backend=backend, precision=precision.value, device=device, threads=threads,
                 size=size, saturation=saturation, guided=guided)
    options = dict(start=start, end=end, codec=codec, stabilize=stabilize, strength=strength, workers=workers,
                   ffmpeg=ffmpeg)
    counts = Counter()
    with ctrl_c_sets(note=warning, exiting=True) as ctrl:  # Ctrl-C: the current file is finished, the batch stops
        for src, dst in pairs:
            if ctrl.presses:
                break
            if dst.exists() and not force:
                counts["skipped"] += 1
                print(f"edgecolor: skipped {dst}: exists (use --force to overwrite)", file=sys.stderr)
                continue
            counts[_one(src, dst, pool, ctrl, options)] += 1
    interrupted = ctrl.presses > 0
    if len(pairs) > 1 or interrupted:
        parts = [f"done {counts['done']}"] + ([f"partial {counts['partial']}"] if counts["partial"] else [])
        parts += [f"skipped {counts['skipped']}", f"failed {counts['failed']}"]
        print(", ".join(parts) + (" (interrupted)" if interrupted else ""), flush=True)
    if interrupted:
        print("edgecolor: interrupted", file=sys.stderr)
        raise typer.Exit(130)
    raise typer.Exit(1 if counts["failed"] else 0)


def _one(src: str, dst: Path, pool: _Pool, ctrl, options: dict) -> str:
    """Colorize one video of the batch and print its line: 'done', 'partial', 'failed' or 'stopped'.

    A per-file problem is an error line and 'failed' (the batch goes on); a model that cannot load
    raises (exit 2 for the command).
    """
    from edgecolor.video import colorize_video

    ctrl.stop = threading.Event()  # Ctrl-C sets this one: the file is finished as a partial one
    bar = _Progress()
    try:
        try:
            report = colorize_video(
                src, dst, pool, warn=warning, stop=ctrl.stop, **options,
                progress=lambda n, total, stats: _tick(bar, Path(src).name, n, total, stats),
            )
        finally:
            bar.stop()  # before any line is printed
    except EdgecolorError as e:
        if pool.error is not None:
            raise
        if ctrl.presses:  # Ctrl-C before the first frame: nothing written, not a failure
            return "stopped"
        error(str(e))
        return "failed"
    except KeyboardInterrupt:  # only when someone else's SIGINT handler was in place
        ctrl.presses += 1
        return "stopped"
    except OSError as e:
        error(f"{e.filename or src}: {e.strerror or e}")
        return "failed"
    except Exception as e:  # one odd file must not end a batch
        if os.environ.get("EDGECOLOR_DEBUG"):
            raise
        error(f"{src}: unexpected {type(e).__name__}: {e} (set EDGECOLOR_DEBUG=1 for a traceback)")
        return "failed"
    print(report.line(), flush=True)
    return "partial" if report.partial else "done"


def _tick(bar: _Progress, name: str, done: int, total: int | None, stats) -> None:
    if total is not None and done > total:  # the container's count was an estimate
        total = None
    if bar._bar is None and done == 1:
        bar.start(name, total)
    bar.update(done, total, stats)
