"""Colorizing a batch of photo files: plan every output first, then run one job at a time.

Two public steps, so another runner (a process pool, Ray) can reuse them: ``plan_batch`` expands
files, folders and globs into jobs and refuses, for the whole batch and before anything is written,
any output that is an input of the run (with or without ``force``); ``run_job`` colorizes one job
with a given Colorizer and turns a per-file failure into a result instead of an exception.
``run_batch`` is the serial loop the command line uses: one model, loaded on first need.
"""

from __future__ import annotations

import glob
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from edgecolor import atomic
from edgecolor.errors import EdgecolorError, InputError, UsageError
from edgecolor.options import ColorizerOptions
from edgecolor.regular import NotRegular, stat_regular

DEFAULT_OUTDIR_NAME = "colorized"
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Job:
    """One input file and where its colorized copy goes."""

    src: Path
    dst: Path


@dataclass
class Plan:
    """The jobs of a batch, and one line for each input that yields no job (counted as failed)."""

    jobs: list[Job] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    """What became of one job: ``status`` is "done", "skipped" or "failed"; ``message`` says why."""

    job: Job
    status: str
    message: str = ""
    colour: bool = False  # the input was already a colour photo (colorized from its lightness)
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()  # one line each, e.g. a damaged file that still decoded


@dataclass
class Summary:
    """Counts and times of a batch. ``seconds`` is the whole run's wall time; ``load_seconds`` the part of it spent
    loading the model, which the summary line leaves out of both its seconds and its rate (``run_seconds``)."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    work_seconds: float = 0.0
    load_seconds: float = 0.0
    interrupted: bool = False
    written: list[Path] = field(default_factory=list)
    colour_photos: list[Path] = field(default_factory=list)  # inputs already in colour (colorized from their L)
    excluded: str = "model loading"  # what ``load_seconds`` was, as the line names it (Ray: its start-up)

    def add(self, result: Result) -> None:
        if result.status == "done":
            self.done += 1
            self.written.append(result.job.dst)
            if result.colour:
                self.colour_photos.append(result.job.src)
        elif result.status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
        self.work_seconds += result.seconds

    @property
    def run_seconds(self) -> float:
        """Wall time without the excluded part: the seconds the line shows, and what its rate divides by."""
        return max(0.0, self.seconds - self.load_seconds)

    def line(self) -> str:
        """One meaning for both numbers: the seconds and the rate both leave out ``excluded`` (model loading)."""
        seconds = self.run_seconds
        rate = self.done / seconds if seconds > 0 else 0.0
        head = "interrupted: " if self.interrupted else ""
        return (
            f"{head}done {self.done}, skipped {self.skipped}, failed {self.failed} "
            f"in {seconds:.2f} s ({rate:.1f} images/s, {self.excluded} excluded)"
        )


def image_suffixes() -> frozenset[str]:
    from edgecolor.files import IMAGE_SUFFIXES

    return frozenset(s.lower() for s in IMAGE_SUFFIXES)


def plan_batch(inputs: Iterable[str | os.PathLike], outdir: str | os.PathLike | None = None,
               recursive: bool = False) -> Plan:
    """Jobs for files, folders and glob patterns (expanded here too, for shells that don't).

    Outputs keep the input's name, in ``outdir`` (folders mirrored below it) or in a ``colorized``
    folder next to each input. An output that is any input of the run (the same path or the same
    file), or the output of another input, is a problem for that input and gets no job.
    """
    outdir = Path(outdir) if outdir is not None else None
    pairs, problems = expand_inputs(inputs, outdir, recursive)
    plan = Plan(problems=problems)
    inputs_seen = _FileKeys()
    for src, _dst in pairs:
        inputs_seen.add(src)
    outputs: dict[Path, Path] = {}
    for src, dst in pairs:
        dkey = _resolve(dst)
        if inputs_seen.contains(dst):
            what = "the input itself" if _same(src, dst) else f"another input of this run ({dst})"
            plan.problems.append(f"{src}: output would overwrite {what}; choose another -o folder")
        elif dkey in outputs:
            plan.problems.append(f"{src}: same output {dst} as {outputs[dkey]}; colorize them into separate folders")
        else:
            outputs[dkey] = src
            plan.jobs.append(Job(src, dst))
    return plan


def expand_inputs(inputs: Iterable[str | os.PathLike], outdir: Path | None,
                  recursive: bool) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(input, output) pairs, each input once, and one problem line per input that is not a usable photo."""
    suffixes = image_suffixes()
    pairs: list[tuple[Path, Path]] = []
    problems: list[str] = []
    seen: set[Path] = set()
    out_resolved = _resolve(outdir) if outdir is not None else None

    def add(src: Path, rel: Path) -> None:
        key = _resolve(src)
        if key not in seen:
            seen.add(key)
            pairs.append((src, (outdir / rel) if outdir is not None else src.parent / DEFAULT_OUTDIR_NAME / src.name))

    def add_folder(folder: Path) -> None:
        found = 0
        for path in _walk(folder, recursive, out_resolved):
            if path.suffix.lower() in suffixes:
                reason = not_regular(path)
                if reason:
                    problems.append(f"{path}: {reason}")
                else:
                    add(path, path.relative_to(folder))
                found += 1
        if not found:
            hint = "" if recursive else " (use --recursive to look in subfolders)"
            problems.append(f"{folder}: folder has no images{hint}")

    def add_one(path: Path) -> None:
        if path.is_dir():
            add_folder(path)
        elif not os.path.lexists(path):
            problems.append(f"{path}: no such file or folder")
        elif path.suffix.lower() not in suffixes:
            problems.append(f"{path}: not an image type edgecolor writes ({', '.join(sorted(suffixes))})")
        elif not_regular(path):
            problems.append(f"{path}: {not_regular(path)}")
        else:
            add(path, Path(path.name))

    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if not os.path.lexists(path) and _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                problems.append(f"{text}: no files match this pattern")
            for m in matches:
                p = Path(m)
                if p.is_dir() and (p.name == DEFAULT_OUTDIR_NAME or _resolve(p) == out_resolved):
                    continue  # "photos/*" must not pick up edgecolor's own outputs
                if p.is_dir() or p.suffix.lower() in suffixes:
                    add_one(p)
            continue
        add_one(path)
    return pairs, problems


def not_regular(path: Path) -> str | None:
    """Why ``path`` is no photo file to open (a FIFO would block, a device never ends), or None.

    Decided from ``stat`` without opening it (``regular.stat_regular``); ``files.read_image`` checks again on the
    open file (``regular.open_regular``).
    """
    try:
        stat_regular(path)
    except FileNotFoundError:
        return "no such file (a broken link?)"
    except NotRegular as e:
        return f"{e}; refused without opening it"
    except OSError as e:
        return f"cannot read ({e.strerror or e})"
    return None


def remove_stale_temps(plan: Plan) -> list[Path]:
    """Remove temporaries that killed edgecolor runs left in this batch's output folders (``atomic.is_stale``)."""
    removed: list[Path] = []
    for folder in sorted({job.dst.parent for job in plan.jobs}):
        if folder.is_dir():
            removed.extend(atomic.remove_stale(folder))
    return removed


def run_job(colorizer, job: Job, force: bool = False) -> Result:
    """Colorize one job with ``colorizer`` (an ``edgecolor.Colorizer``).

    An existing output is skipped unless ``force``. A failure of this file (``InputError``, an OS
    error, anything unexpected) is returned as a "failed" result; an error that means nothing can
    run (``ModelError``, ``BackendError``, ``UsageError``) and Ctrl-C are raised.
    """
    if job.dst.exists() and not force:
        return Result(job, "skipped", f"{job.dst}: exists (use --force to overwrite)")
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:  # returned as lines, not printed by Python
            warnings.simplefilter("always")
            colour = colorizer.colorize_file(job.src, job.dst, make_folder=True)
    except Exception as e:  # one odd file must not end a batch of thousands; what stops every file is raised
        failure = file_failure(e, job.src, "image", target=job.dst)
        return Result(job, "failed", failure, seconds=time.perf_counter() - t0)
    said = tuple(_warning_line(job.src, w) for w in caught)
    return Result(job, "done", colour=colour, seconds=time.perf_counter() - t0, warnings=said)


def run_batch(jobs: list[Job], make_colorizer: Callable[[], object], force: bool = False,
              on_result: Callable[[Result], None] | None = None) -> Summary:
    """Run every job in order with one colorizer, made on first need (nothing loads when all are skipped).

    ``on_result`` sees each result as it comes (to print it or advance a progress bar). Ctrl-C ends
    the batch early: the summary so far is returned with ``interrupted`` set.
    """
    summary = Summary()
    start = time.perf_counter()
    colorizer = None
    job, before, unknown = None, None, object()
    try:
        for job in jobs:
            before = unknown
            before = _stamp(job.dst)
            if colorizer is None and (force or before is None):
                t0 = time.perf_counter()
                try:
                    colorizer = make_colorizer()
                finally:  # a stop while loading: that time is loading too, not the batch's
                    summary.load_seconds = time.perf_counter() - t0
            result = run_job(colorizer, job, force)
            job = None  # counted below even if Ctrl-C comes next
            summary.add(result)
            if on_result:
                on_result(result)
    except KeyboardInterrupt:
        summary.interrupted = True
        if job is not None and before is not unknown and _stamp(job.dst) not in (None, before):  # just renamed
            summary.add(Result(job, "done"))
    finally:
        summary.seconds = time.perf_counter() - start
    return summary


def colorizer_factory(options: ColorizerOptions) -> Callable[[], object]:
    """Deferred Colorizer construction, so nothing heavy loads when every input is skipped or missing.

    The one factory of the jobs: photo batches, the video pool, live feeds and Ray workers.
    """
    if not isinstance(options, ColorizerOptions):
        raise UsageError(f"colorizer_factory needs a ColorizerOptions, got {type(options).__name__}")

    def make():
        from edgecolor.colorizer import Colorizer

        return Colorizer.from_options(options)

    return make


# -- internals ---------------------------------------------------------------------------------


def _warning_line(src: Path, w: warnings.WarningMessage) -> str:
    """One line for a warning raised while colorizing ``src``; numpy's ("overflow encountered in ...") names no
    file, so the file and the warning's category are added."""
    text = " ".join(str(w.message).split())
    if text.startswith(str(src)):
        return text
    return f"{src}: {text} ({w.category.__name__})"


class _FileKeys:
    """A set of files by resolved path and, for existing ones, by (device, inode): hard links match too."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.inodes: set[tuple[int, int]] = set()

    def add(self, path: Path) -> None:
        self.paths.add(_resolve(path))
        inode = _inode(path)
        if inode:
            self.inodes.add(inode)

    def contains(self, path: Path) -> bool:
        if _resolve(path) in self.paths:
            return True
        inode = _inode(path)
        return inode is not None and inode in self.inodes


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime in ns) of a file, None when missing: tells whether a job replaced its output."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if st.st_ino else None  # some file systems report no inode numbers


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _same(a: Path, b: Path) -> bool:
    from edgecolor.files import same_file

    return same_file(a, b)


def _walk(folder: Path, recursive: bool, outdir: Path | None) -> list[Path]:
    """Candidates in a folder, sorted (every non-folder entry: FIFOs too, so they are reported, not opened);
    skips hidden files (edgecolor's own temporaries among them), hidden folders, OUTDIR and every
    'colorized' folder (outputs)."""
    if not recursive:
        return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and not p.is_dir())
    found = []
    for root, dirs, files in os.walk(folder):
        rootp = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d != DEFAULT_OUTDIR_NAME
            and (outdir is None or _resolve(rootp / d) != outdir)
        )
        found.extend(rootp / f for f in sorted(files) if not f.startswith("."))
    return found


def file_failure(e: Exception, name: str | os.PathLike, thing: str = "file",
                 target: str | os.PathLike | None = None) -> str:
    """The per-file failure policy of photo and video batches, decided by type: the one line to report when
    ``e`` means only this file failed (an ``InputError``, an OS error, anything unexpected: the batch goes on);
    ``e`` itself is raised when nothing can run (``ModelError``, ``BackendError``, ``UsageError``), or with
    EDGECOLOR_DEBUG set for an unexpected one. ``name``: the input; ``target``: the file an OS error without a
    file name is about (default ``name``; a photo batch's output, whose folder or write failed)."""
    if isinstance(e, InputError):
        return str(e)
    if isinstance(e, EdgecolorError):
        raise e
    if isinstance(e, OSError):
        return f"{e.filename or target or name}: {e.strerror or e}"
    if os.environ.get("EDGECOLOR_DEBUG"):
        raise e
    if type(e).__name__ == "error" and type(e).__module__.startswith("cv2"):  # e.g. a size OpenCV refuses
        from edgecolor.cvlog import opencv_reason

        return f"{name}: OpenCV cannot process this {thing} ({opencv_reason(e)})"
    return " ".join(f"{name}: unexpected {type(e).__name__}: {e} (set EDGECOLOR_DEBUG=1 for a traceback)".split())
