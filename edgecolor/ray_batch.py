"""A planned photo batch run on Ray (`edgecolor colorize ... --ray ADDRESS`): for archives that outgrow one machine.

Ray does the distribution; edgecolor keeps its batch: ``batch.plan_batch`` plans on the driver, one actor
per worker loads the model once and runs ``batch.run_job`` for each job it is given (atomic writes, the
input never overwritten, per-file failures as results), and results stream back to the driver, which prints
them as a local run does. Outputs that exist are skipped without being sent (resumable: rerun the same
command). Workers read inputs and write outputs at the planned paths, so on a cluster every node must see
the same files (a shared file system). ``ray`` is imported here only, lazily: ``pip install 'edgecolor[ray]'``.

A worker that is lost (killed, out of memory, its node gone) does not end the batch: its photos go to the
workers left, each at most ``MAX_TRIES`` times in all, then count as failed; the summary comes as always.
Ray's own messages (a dead worker's report) go to stderr, never between edgecolor's lines on stdout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from edgecolor import atomic
from edgecolor.batch import Job, Result, Summary, colorizer_factory
from edgecolor.errors import BackendError, EdgecolorError, UsageError
from edgecolor.options import ColorizerOptions

IN_FLIGHT_PER_WORKER = 2  # jobs queued per actor: keeps each busy without holding the whole archive in flight
MAX_TRIES = 3  # times a photo is sent to a worker when workers are lost under it


@dataclass
class WorkerStats:
    """What one worker did: photos done and the seconds its jobs took."""

    done: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RaySummary:
    summary: Summary
    workers: dict[str, WorkerStats] = field(default_factory=dict)
    lost: int = 0  # workers lost during the run


class _DriverStdout:
    """sys.stdout while Ray runs: the main thread's lines (edgecolor's) go to stdout, Ray's background
    threads' (a dead worker's report, log lines) to stderr, and so does all of it once ``ray_only`` (while
    Ray shuts down and flushes the reports it held back)."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.ray_only = False

    def write(self, text: str) -> int:
        if not self.ray_only and threading.current_thread() is threading.main_thread():
            return self._stream.write(text)
        return sys.stderr.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class _StopSignals:
    """The SIGTERM and SIGHUP handlers in place now (the command line's: act as Ctrl-C), to put back after
    ray.init, which installs its own (exit 15 at once: no summary, a half-done batch)."""

    def __init__(self) -> None:
        names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
        main = threading.current_thread() is threading.main_thread()
        self._before = {getattr(signal, n): signal.getsignal(getattr(signal, n)) for n in names} if main else {}

    def restore(self) -> None:
        """Always set again: Ray's C++ core may have changed the disposition without Python knowing."""
        for sig, handler in self._before.items():
            if handler is not None:
                signal.signal(sig, handler)


@contextlib.contextmanager
def _ray_chatter_to_stderr() -> Iterator[_DriverStdout]:
    before = sys.stdout
    sys.stdout = proxy = _DriverStdout(before)
    try:
        yield proxy
    finally:
        sys.stdout = before


class _Worker:
    """One Ray actor: the Colorizer is made once, on the first job that needs it, and reused."""

    def __init__(self, options: ColorizerOptions) -> None:
        self.make = colorizer_factory(options)
        self.colorizer = None
        self.name = f"{os.uname().nodename}:{os.getpid()}"

    def run(self, job: Job, force: bool) -> tuple[str, Result]:
        from edgecolor.batch import run_job

        if self.colorizer is None:
            self.colorizer = self.make()
        return self.name, run_job(self.colorizer, job, force)


def run_on_ray(jobs: list[Job], options: ColorizerOptions, address: str, force: bool = False,
               workers: int | None = None, on_result: Callable[[Result], None] | None = None) -> RaySummary:
    """Run ``jobs`` on Ray: ``address`` "local" starts Ray on this machine, else joins that cluster.

    ``workers``: actors to start (default: one per CPU Ray offers). An error that means nothing can run
    (a bad model, a missing backend) is raised as on a local run; Ctrl-C returns the summary so far.
    """
    try:
        import ray
    except ImportError:
        raise BackendError("--ray needs Ray: pip install 'edgecolor[ray]'") from None
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    stop_signals = _StopSignals()
    with _ray_chatter_to_stderr() as stdout:
        started = not ray.is_initialized()
        try:
            if started:
                try:
                    if address == "local":
                        ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                                 configure_logging=False)
                    else:
                        ray.init(address=address, log_to_driver=False, configure_logging=False)
                except KeyboardInterrupt:  # Ctrl-C or SIGTERM while Ray starts: nothing ran, the summary says so
                    return RaySummary(Summary(interrupted=True))
                except SystemExit as e:  # SIGTERM met Ray's own handler, in place while it starts
                    if e.code != getattr(signal, "SIGTERM", None):
                        raise
                    return RaySummary(Summary(interrupted=True))
                except Exception as e:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ...
                    raise BackendError(f"cannot start or join Ray at {address!r}: "
                                       f"{str(e).splitlines()[0][:200]}") from None
                finally:
                    stop_signals.restore()
            ran = _run(ray, jobs, options, force, workers, on_result)
            stop_signals.restore()
            return ran
        finally:
            if started:
                stdout.ray_only = True
                try:
                    ray.shutdown()
                except KeyboardInterrupt:  # a stop while Ray shuts down: the batch's summary is printed all the same
                    with contextlib.suppress(Exception):
                        ray.shutdown()
                stop_signals.restore()


def _run(ray, jobs, options, force, workers, on_result) -> RaySummary:
    out = RaySummary(Summary())
    summary = out.summary
    start = time.perf_counter()

    def record(result: Result) -> None:
        summary.add(result)
        if on_result:
            on_result(result)

    todo = []
    for job in jobs:  # resumable: an existing output is not sent to a worker at all
        if job.dst.exists() and not force:
            record(Result(job, "skipped", f"{job.dst}: exists (use --force to overwrite)"))
        else:
            todo.append(job)
    if not todo:
        summary.seconds = time.perf_counter() - start
        return out
    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    actor = ray.remote(num_cpus=1)(_Worker)
    alive = [actor.remote(options) for _ in range(min(n, len(todo)))]
    pending: dict = {}  # ref -> (actor, job, tries so far)
    queue: deque = deque((job, 0, "") for job in todo)  # (job, tries, why the last try was lost)

    def send(a) -> None:
        if queue:
            job, tries, why = queue.popleft()
            pending[a.run.remote(job, force)] = (a, job, tries + 1, why)

    lost_in: set = set()  # folders where a lost worker may have left a temporary

    def least_busy():
        return min(alive, key=lambda a: sum(1 for v in pending.values() if v[0] is a))

    try:
        for a in alive:
            for _ in range(IN_FLIGHT_PER_WORKER):
                send(a)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            a, job, tries, why = pending.pop(ref)
            try:
                name, result = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # raised inside the actor: a bad model, a missing backend
                cause = getattr(e, "cause", None)
                if isinstance(cause, EdgecolorError):
                    raise cause from None
                raise BackendError(f"a Ray worker failed: {str(cause or e).splitlines()[0][:200]}") from None
            except ray.exceptions.RayError as e:  # the worker or its node was lost (killed, out of memory)
                reason = _first_line(e)
                lost_in.add(job.dst.parent)
                if a in alive:
                    alive.remove(a)
                    out.lost += 1
                    with contextlib.suppress(Exception):
                        ray.kill(a)
                if job.dst.exists() and not force:  # written before the worker went (existing ones were not sent)
                    record(Result(job, "done"))
                elif tries < MAX_TRIES and alive:
                    queue.appendleft((job, tries, reason))
                    send(least_busy())
                else:
                    left = "no Ray worker left" if not alive else f"its Ray worker was lost {tries} times"
                    record(Result(job, "failed", f"{job.src}: {left} ({reason})"))
                continue
            stats = out.workers.setdefault(name, WorkerStats())
            if result.status == "done":
                stats.done += 1
                stats.seconds += result.seconds
            if why:
                result = dataclasses.replace(result, warnings=(
                    *result.warnings, f"{job.src}: its first Ray worker was lost ({why}); done by another"))
            record(result)
            send(a)
        for job, _tries, why in queue:  # every worker was lost
            record(Result(job, "failed", f"{job.src}: no Ray worker left{f' ({why})' if why else ''}"))
        queue.clear()
    except KeyboardInterrupt:
        summary.interrupted = True
        _collect(ray, pending, record)
    finally:
        summary.seconds = time.perf_counter() - start
        for folder in sorted(lost_in):  # a worker killed mid-write: its temporary goes now, not on the next run
            with contextlib.suppress(OSError):
                atomic.remove_stale(folder)
    return out


def _collect(ray, pending: dict, record: Callable[[Result], None], timeout: float = 10.0) -> None:
    """After a stop: the photos already being made are finished by their workers (one photo each, seconds)
    and counted, so the summary says what was written. Another stop, or the timeout, gives up on them."""
    try:
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=timeout)
        for ref in ready:
            with contextlib.suppress(Exception):
                record(ray.get(ref)[1])
    except (KeyboardInterrupt, Exception):  # noqa: BLE001 - a second stop, or Ray going away
        pass


def _first_line(e: BaseException) -> str:
    """Ray's message in one short line (its reports run to pages)."""
    text = " ".join(str(e).split())
    if ". " in text:
        text = text.split(". ", 1)[0] + "."
    return text[:160] + ("..." if len(text) > 160 else "") if text else type(e).__name__
