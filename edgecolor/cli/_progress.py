"""The one rich progress bar of the command line (photo batches and videos): on stderr, gone when done.

Not a command (the underscore keeps cli/__init__ from registering it). rich is imported only when a
bar is drawn, so `edgecolor --help` does not pay for it.
"""

from __future__ import annotations


def progress_bar(fps: bool = False):
    """A started, transient rich ``Progress`` on stderr; None when stderr is no terminal (logs and pipes get
    the summary line, not bar frames). ``fps``: a frames-per-second column (tasks carry an ``fps`` field)
    and an "ETA" label, for videos."""
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
    if not console.is_terminal:
        return None
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if fps:
        columns.append(TextColumn("{task.fields[fps]:.1f} fps"))
    columns.append(TimeElapsedColumn())
    if fps:
        columns.append(TextColumn("ETA"))
    columns.append(TimeRemainingColumn())
    progress = Progress(*columns, console=console, transient=True)
    progress.start()
    return progress
