"""`edgecolor colorize`: colorize files, folders and globs in one batch with one loaded model.

Each input gets a one-line verdict when it fails (the batch goes on), outputs keep the input's
name and format, and nothing is overwritten without --force. The work itself is the library's
Colorizer, files.read_image and files.write_image_atomic; this module only plans and reports.
"""

from __future__ import annotations

import glob
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import typer

from edgecolor.cli import _options as opt
from edgecolor.cli._options import Precision  # noqa: F401  (re-exported for other commands)
from edgecolor.cli.app import app, error, warning
from edgecolor.errors import EdgecolorError

DEFAULT_OUTDIR_NAME = "colorized"
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Job:
    """One input file and where its colorized copy goes."""

    src: Path
    dst: Path


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one-line messages for inputs that yield no job


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    work_seconds: float = 0.0
    written: list[Path] = field(default_factory=list)

    def line(self) -> str:
        rate = self.done / self.work_seconds if self.work_seconds > 0 else 0.0
        return (
            f"done {self.done}, skipped {self.skipped}, failed {self.failed} "
            f"in {self.seconds:.2f} s ({rate:.1f} images/s)"
        )


def image_suffixes() -> frozenset[str]:
    from edgecolor.files import IMAGE_SUFFIXES

    return frozenset(s.lower() for s in IMAGE_SUFFIXES)


def plan_jobs(inputs: Iterable[str], outdir: Path | None, recursive: bool) -> Plan:
    """Expand files, folders and globs (also for shells that don't) into jobs with output paths."""
    suffixes = image_suffixes()
    plan = Plan()
    seen_src: set[Path] = set()
    seen_dst: dict[Path, Path] = {}
    out_resolved = outdir.resolve() if outdir is not None else None

    def add(src: Path, rel: Path) -> None:
        key = src.resolve()
        if key in seen_src:
            return
        seen_src.add(key)
        dst = (outdir / rel) if outdir is not None else src.parent / DEFAULT_OUTDIR_NAME / src.name
        dkey = dst.resolve()
        if dkey == key:
            plan.problems.append(f"{src}: output would overwrite the input itself; choose another -o folder")
        elif dkey in seen_dst:
            plan.problems.append(f"{src}: same output {dst} as {seen_dst[dkey]}; colorize them into separate folders")
        else:
            seen_dst[dkey] = src
            plan.jobs.append(Job(src, dst))

    def add_folder(folder: Path) -> None:
        found = 0
        for path in _walk(folder, recursive, out_resolved):
            if path.suffix.lower() in suffixes:
                add(path, path.relative_to(folder))
                found += 1
        if not found:
            hint = "" if recursive else " (use --recursive to look in subfolders)"
            plan.problems.append(f"{folder}: folder has no images{hint}")

    def add_one(path: Path) -> None:
        if path.is_dir():
            add_folder(path)
        elif not path.exists():
            plan.problems.append(f"{path}: no such file or folder")
        elif path.suffix.lower() not in suffixes:
            plan.problems.append(f"{path}: not an image type edgecolor writes ({', '.join(sorted(suffixes))})")
        else:
            add(path, Path(path.name))

    for item in inputs:
        path = Path(item)
        if not path.exists() and _GLOB_CHARS & set(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                plan.problems.append(f"{item}: no files match this pattern")
            for m in matches:
                p = Path(m)
                if p.is_dir() and (p.name == DEFAULT_OUTDIR_NAME or p.resolve() == out_resolved):
                    continue  # "photos/*" must not pick up edgecolor's own outputs
                if p.is_dir() or p.suffix.lower() in suffixes:
                    add_one(p)
            continue
        add_one(path)
    return plan


def _walk(folder: Path, recursive: bool, outdir: Path | None) -> list[Path]:
    """Image candidates in a folder, sorted; skips hidden folders, OUTDIR and every 'colorized' folder (outputs)."""
    if not recursive:
        return sorted(p for p in folder.iterdir() if p.is_file())
    found = []
    for root, dirs, files in os.walk(folder):
        rootp = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d != DEFAULT_OUTDIR_NAME
            and (outdir is None or (rootp / d).resolve() != outdir)
        )
        found.extend(rootp / f for f in sorted(files))
    return found


def run_batch(jobs: list[Job], make_colorizer: Callable[[], object], force: bool) -> Summary:
    """Colorize every job with one colorizer, made on first need; per-file failures are reported and skipped.

    A failure to make the colorizer (bad model, missing backend) is fatal: it raises EdgecolorError.
    """
    summary = Summary()
    start = time.perf_counter()
    colorizer = None
    progress = _progress(len(jobs))
    task = progress.add_task("colorizing", total=len(jobs)) if progress else None
    try:
        for job in jobs:
            try:
                if job.dst.exists() and not force:
                    summary.skipped += 1
                    print(f"edgecolor: skipped {job.dst}: exists (use --force to overwrite)", file=sys.stderr)
                    continue
                if colorizer is None:
                    colorizer = make_colorizer()
                t0 = time.perf_counter()
                if colorizer.colorize_file(job.src, job.dst, make_folder=True):
                    warning(f"{job.src}: is a colour photo; colorized from its lightness only")
                summary.work_seconds += time.perf_counter() - t0
                summary.done += 1
                summary.written.append(job.dst)
            except EdgecolorError as e:
                if colorizer is None or str(e).startswith(f"{colorizer.model_path}:"):
                    raise  # the model is unusable (e.g. wrong output shape, seen at first inference): stop
                summary.failed += 1
                error(str(e))
            except OSError as e:
                summary.failed += 1
                error(f"{e.filename or job.dst}: {e.strerror or e}")
            except Exception as e:  # one odd file must not end a batch of thousands
                if os.environ.get("EDGECOLOR_DEBUG"):
                    raise
                summary.failed += 1
                error(f"{job.src}: unexpected {type(e).__name__}: {e} (set EDGECOLOR_DEBUG=1 for a traceback)")
            finally:
                if progress:
                    progress.advance(task)
    finally:
        if progress:
            progress.stop()
        summary.seconds = time.perf_counter() - start
    return summary


def _progress(total: int):
    """A rich progress bar on stderr for batches on a terminal; None for a single file or no terminal."""
    if total <= 1:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:  # logs and pipes get the summary line, not bar frames
        return None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    progress.start()
    return progress


def colorizer_factory(**options) -> Callable[[], object]:
    """Deferred Colorizer construction, so nothing heavy loads when every input is skipped or missing."""

    def make():
        from edgecolor.colorizer import Colorizer

        return Colorizer(**options)

    return make


def report(plan: Plan, summary: Summary) -> int:
    """Print the summary line and return the exit code: 0 all good, 1 if any input failed."""
    summary.failed += len(plan.problems)
    if len(summary.written) == 1 and summary.failed == 0:
        print(f"wrote {summary.written[0]}")
    print(summary.line())
    return 1 if summary.failed else 0


@app.command()
def colorize(
    inputs: list[str] = typer.Argument(..., metavar="INPUT", help="Image files, folders or glob patterns."),
    outdir: Path | None = typer.Option(
        None, "-o", "--outdir", help="Output folder (default: a 'colorized' folder next to each input)."
    ),
    model: str = opt.MODEL,
    backend: str = opt.BACKEND,
    precision: Precision = opt.PRECISION,
    device: str = opt.DEVICE,
    threads: int | None = opt.THREADS,
    size: int | None = opt.SIZE,
    saturation: float = opt.SATURATION,
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Also subfolders (not hidden/'colorized' ones)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
) -> None:
    """Colorize black-and-white photos; outputs keep each input's name and format."""
    plan = plan_jobs(inputs, outdir, recursive)
    for problem in plan.problems:
        error(problem)
    make = colorizer_factory(
        model=model,
        backend=backend,
        precision=precision.value,
        device=device,
        threads=threads,
        size=size,
        saturation=saturation,
    )
    summary = run_batch(plan.jobs, make, force)
    raise typer.Exit(report(plan, summary))
