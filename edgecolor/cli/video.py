"""`edgecolor video`: colorize video files (one, or several into a folder), keeping size, frame rate and sound.

The work is edgecolor.video_batch (planning, skip-if-exists, the per-file policy, Ctrl-C) on top of
edgecolor.video.colorize_video; this module parses, shows progress and prints. Ctrl-C (any number of
times) finishes the current file cleanly (a playable, shorter video), stops the batch and still prints
the summary. Exit codes as for every command: 0 done, 1 an input failed (missing, not a video,
unwritable output), 2 nothing could run (bad option, model), 130 Ctrl-C.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from edgecolor.cli import _options as opt
from edgecolor.cli._progress import progress_bar
from edgecolor.cli.app import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, app, error, warning
from edgecolor.errors import printable
from edgecolor.options import ColorizerOptions, StreamOptions
from edgecolor.video_batch import VideoEvents


class _Printer(VideoEvents):
    """Prints a video batch: a progress bar per file (from its first frame), one line per file."""

    def __init__(self) -> None:
        self._bar = None
        self._task = None
        self._started = False

    def skipped(self, message: str) -> None:
        print(f"edgecolor: skipped {printable(message)}", file=sys.stderr)

    def failed(self, message: str) -> None:
        error(message)

    def wrote(self, report) -> None:
        print(printable(report.line()), flush=True)

    def warn(self, message: str) -> None:
        warning(message)

    def progress(self, name: str, done: int, total: int | None, stats) -> None:
        if not self._started and done == 1:
            self._started = True
            self._bar = progress_bar(fps=True)
            if self._bar is not None:
                self._task = self._bar.add_task(name, total=total, fps=0.0)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total, fps=stats.fps)

    def file_ended(self) -> None:
        if self._bar is not None:
            self._bar.stop()  # before any line is printed
        self._bar, self._started = None, False


@app.command()
@opt.takes_colorizer_options
def video(
    inputs: list[str] = typer.Argument(..., metavar="INPUT...", help="Video files (or stream URLs)."),
    output: Path | None = typer.Option(
        None, "-o", "--output",
        help="Output file for one input, or a folder for several (default: a 'colorized' folder beside each input).",
    ),
    options: ColorizerOptions = opt.colorizer(photos=True),  # with --max-pixels: the limit holds for frames too
    stream: StreamOptions = opt.stream(),  # --stabilize, --strength, --workers
    start: float | None = typer.Option(None, "--start", min=0.0, help="Start at this many seconds."),
    end: float | None = typer.Option(None, "--end", min=0.0, help="Stop at this many seconds."),
    codec: str | None = typer.Option(
        None, "--codec", help="Video codec: a fourcc (avc1, mp4v, MJPG, VP90) or an ffmpeg encoder name."
    ),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
) -> None:
    """Colorize videos: same size and frame rate, every frame, sound kept; Ctrl-C keeps a playable partial file."""
    from edgecolor.video_batch import plan_videos, run_videos

    plan = plan_videos(inputs, output, start, end, codec)
    summary = run_videos(plan, options, force=force, events=_Printer(), exiting=True, start=start, end=end,
                         codec=codec, stream_options=stream)
    if summary.files > 1 or summary.interrupted:
        print(summary.line(), flush=True)
    if summary.interrupted:
        print("edgecolor: interrupted", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_SOME_FAILED if summary.failed else EXIT_OK)
