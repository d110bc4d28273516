"""Printing a photo batch for the commands that run one (`colorize`, `demo`): progress, one line per
failure, the summary line and the exit code. Not a command (the underscore keeps cli/__init__ from
registering it), so commands share it without importing one another.
"""

from __future__ import annotations

import sys
import time

from edgecolor.batch import Plan, Result, Summary, remove_stale_temps, run_batch
from edgecolor.cli._progress import progress_bar
from edgecolor.cli.app import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, error, note, warning
from edgecolor.errors import printable
from edgecolor.options import ColorizerOptions


def run_and_report(plan: Plan, make, force: bool) -> int:
    """Run a planned batch, print the summary line; the exit code (Ctrl-C: the summary, then 130)."""
    return report(plan, run_printing(plan, make, force))


def run_on_ray_and_report(plan: Plan, options: ColorizerOptions, address: str, force: bool, workers: int | None) -> int:
    """`colorize --ray`: the same lines, summary and exit code as a local run, plus photos/s per worker."""
    from edgecolor.ray_batch import run_on_ray

    for problem in plan.problems:
        error(problem)
    for path in remove_stale_temps(plan):
        note(f"removed {path}: a temporary file left by an interrupted earlier run")
    t0 = time.perf_counter()
    ran = run_on_ray(plan.jobs, options, address, force, workers, _print_result)
    # the batch's own seconds start once Ray is up (workers load their models while others already work);
    # the start-up is said on its own, as a local run's model loading is
    ran.summary.load_seconds = max(0.0, time.perf_counter() - t0 - ran.summary.seconds)
    ran.summary.seconds += ran.summary.load_seconds
    ran.summary.excluded = "Ray start-up"
    for name, stats in sorted(ran.workers.items()):
        print(f"worker {name}: {stats.done} photos, {stats.rate:.1f} photos/s")
    return report(plan, ran.summary)


def _print_result(result: Result, progress=None, task=None) -> None:
    for line in result.warnings:
        warning(line)
    if result.status == "skipped":
        print(f"edgecolor: skipped {printable(result.message)}", file=sys.stderr)
    elif result.status == "failed":
        error(result.message)
    if progress:
        progress.advance(task)


def run_printing(plan: Plan, make, force: bool) -> Summary:
    """Run a planned batch with a progress bar and one line per problem, skip, failure and tidied temporary."""
    for problem in plan.problems:
        error(problem)
    for path in remove_stale_temps(plan):
        note(f"removed {path}: a temporary file left by an interrupted earlier run")
    progress = _progress(len(plan.jobs))
    task = progress.add_task("colorizing", total=len(plan.jobs)) if progress else None

    def on_result(result: Result) -> None:
        _print_result(result, progress, task)

    try:
        return run_batch(plan.jobs, make, force, on_result)
    finally:
        if progress:
            progress.stop()


def report(plan: Plan, summary: Summary) -> int:
    """Print the summary line and return the exit code: 0 all good, 1 if any input failed, 130 on Ctrl-C."""
    summary.failed += len(plan.problems)
    _warn_colour(summary.colour_photos)
    if len(summary.written) == 1 and summary.failed == 0 and not summary.interrupted:
        print(f"wrote {printable(str(summary.written[0]))}")
    if summary.load_seconds > 0:
        print(f"{summary.excluded}: {summary.load_seconds:.2f} s (not in the seconds and rate below)")
    print(summary.line(), flush=True)
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK


def _warn_colour(photos: list) -> None:
    """One warning for the whole batch (a folder of 200 colour photos is one line, not 200); one photo is named."""
    if len(photos) == 1:
        warning(f"{photos[0]}: is a colour photo; colorized from its lightness only")
    elif photos:
        warning(f"{len(photos)} photos were in colour and were colorized from their lightness only "
                f"(the first: {photos[0]})")


def _progress(total: int):
    """The progress bar for batches on a terminal; None for a single file or no terminal."""
    return progress_bar() if total > 1 else None
