"""A planned photo batch run on Ray (`edgecolor colorize ... --ray ADDRESS`): for archives that outgrow one machine.

Ray does the distribution; edgecolor keeps its batch: ``batch.plan_batch`` plans on the driver, one actor
per worker loads the model once and runs ``batch.run_job`` for each job it is given (atomic writes, the
input never overwritten, per-file failures as results), and results stream back to the driver, which prints
them as a local run does. Outputs that exist are skipped without being sent (resumable: rerun the same
command). Workers read inputs and write outputs at the planned paths, so on a cluster every node must see
the same files (a shared file system). ``ray`` is imported here only, lazily: ``pip install 'edgecolor[ray]'``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edgecolor.batch import Job, Result, Summary, colorizer_factory
from edgecolor.errors import BackendError, EdgecolorError, UsageError
from edgecolor.options import ColorizerOptions

IN_FLIGHT_PER_WORKER = 2  # jobs queued per actor: keeps each busy without holding the whole archive in flight


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
    started = not ray.is_initialized()
    if started:
        try:
            if address == "local":
                ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        except Exception as e:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ...
            raise BackendError(f"cannot start or join Ray at {address!r}: {str(e).splitlines()[0][:200]}") from None
    try:
        return _run(ray, jobs, options, force, workers, on_result)
    finally:
        if started:
            ray.shutdown()


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
    pool = [actor.remote(options) for _ in range(min(n, len(todo)))]
    pending: dict = {}
    queue = iter(todo)
    try:
        for a in pool:
            for _ in range(IN_FLIGHT_PER_WORKER):
                job = next(queue, None)
                if job is not None:
                    pending[a.run.remote(job, force)] = a
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            a = pending.pop(ref)
            try:
                name, result = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # raised inside the actor: a bad model, a missing backend
                cause = getattr(e, "cause", None)
                if isinstance(cause, EdgecolorError):
                    raise cause from None
                raise BackendError(f"a Ray worker failed: {str(cause or e).splitlines()[0][:200]}") from None
            except ray.exceptions.RayError as e:  # a worker or node lost (out of memory, killed)
                raise BackendError(f"Ray: {str(e).strip().splitlines()[0][:200]}") from None
            stats = out.workers.setdefault(name, WorkerStats())
            if result.status == "done":
                stats.done += 1
                stats.seconds += result.seconds
            record(result)
            job = next(queue, None)
            if job is not None:
                pending[a.run.remote(job, force)] = a
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        summary.seconds = time.perf_counter() - start
    return out
