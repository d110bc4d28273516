"""The colorizer's settings (``ColorizerOptions``) and a stream's (``StreamOptions``) as frozen, validated objects.

Every value is checked once, when the object is made (one-line ``UsageError``s), before anything
loads; the Colorizer, the batch runners and Ray workers then pass the object around as it is (it
pickles). The checks are plain functions here so that the parts a value feeds (backends, models,
pipeline, files) can keep a guard for their own direct callers without a second copy of the rule.
In the floor layer: imports only errors, limits and contract.

Adding an option: a field here (with its check in ``_CHECKS`` / ``_STREAM_CHECKS``), one ``typer.Option`` in
cli/_options.py's ``COLORIZER`` / ``STREAM`` table, and where the Colorizer or the stream loop hands it on.
The bounds and defaults the command line shows (``MIN_SIZE``, ``DEFAULT_STRENGTH``, ``MAX_WORKERS``...)
are read from here, so the library and the CLI accept the same values.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from edgecolor.contract import PRECISIONS
from edgecolor.errors import UsageError
from edgecolor.limits import DEFAULT_MAX_PIXELS, MAX_SIZE

HINTS = ("LATENCY", "THROUGHPUT")  # OpenVINO performance hints
QUALITIES = ("fast", "photo")  # photo: the prediction averaged over a horizontal flip (two passes), for stills
MIN_SIZE = 16  # the smallest working size a user may ask for (long side, px); below it the colour is noise
DEFAULT_STRENGTH = 0.75  # history's weight on a still pixel: flicker at about a fifth, real changes in a few frames
MAX_STRENGTH = 0.95  # above this a stabilized colour hardly follows the picture any more
MAX_WORKERS = 8  # inference threads of a stream, each holding its own model copy


def _is_int(value: object) -> bool:
    """An integer (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_size(value: object) -> bool:
    """Whether ``value`` is a working size (long side in pixels) the pipeline accepts."""
    return _is_int(value) and 1 <= value <= MAX_SIZE


def check_model(model: object) -> str | os.PathLike:
    if not isinstance(model, (str, os.PathLike)):
        raise UsageError(f"model must be a model name or a model file path, got {model!r}")
    return model


def check_precision(precision: object) -> str:
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    return precision


def check_threads(threads: object) -> int | None:
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise UsageError(f"threads must be a positive integer, got {threads!r}")
    return threads


def check_size(size: object) -> int | None:
    """A user's working size: MIN_SIZE..MAX_SIZE (the pipeline itself works down to 1, for a model's own)."""
    if size is not None and not (is_size(size) and size >= MIN_SIZE):
        raise UsageError(f"size must be an integer {MIN_SIZE}..{MAX_SIZE} (pixels), got {size!r}")
    return size


def check_saturation(saturation: object) -> float:
    s = saturation
    if isinstance(s, bool) or not isinstance(s, numbers.Real) or not s >= 0 or not math.isfinite(s):
        raise UsageError(f"saturation must be a number >= 0, got {saturation!r}")
    return saturation


def check_hint(hint: object) -> str:
    """The hint in upper case (runtimes take LATENCY / THROUGHPUT)."""
    upper = str(hint).upper()
    if upper not in HINTS:
        raise UsageError(f"unknown performance hint {hint!r} (choose from {', '.join(HINTS)})")
    return upper


def check_guided(guided: object) -> bool:
    if not isinstance(guided, bool):
        raise UsageError(f"guided must be True or False, got {guided!r}")
    return guided


def check_quality(quality: object) -> str:
    if quality not in QUALITIES:
        raise UsageError(f"unknown quality {quality!r} (choose from {', '.join(QUALITIES)})")
    return quality


def check_max_pixels(max_pixels: object) -> int | None:
    """A pixel limit as given (None: none); anything but a positive integer is a UsageError."""
    if max_pixels is None:
        return None
    if not _is_int(max_pixels) or max_pixels < 1:
        raise UsageError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    return int(max_pixels)


def check_stabilize(stabilize: object) -> bool:
    if not isinstance(stabilize, bool):
        raise UsageError(f"stabilize must be True or False, got {stabilize!r}")
    return stabilize


def check_strength(strength: object) -> float:
    s = strength
    if isinstance(s, bool) or not isinstance(s, numbers.Real) or not (math.isfinite(s) and 0.0 <= s <= MAX_STRENGTH):
        raise UsageError(f"stabilization strength must be between 0 and {MAX_STRENGTH}, got {strength!r}")
    return float(strength)


def check_workers(workers: object) -> int:
    if not _is_int(workers) or not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"workers must be an integer 1..{MAX_WORKERS}, got {workers!r}")
    return int(workers)


def _check_fields(options: object, checks: dict[str, Callable[[Any], Any]]) -> None:
    """Each field of a frozen options object through its check (the checked value is kept: "int8", 0.75)."""
    for f in fields(options):
        check = checks.get(f.name)
        if check is not None:
            object.__setattr__(options, f.name, check(getattr(options, f.name)))


@dataclass(frozen=True)
class ColorizerOptions:
    """What a Colorizer is made from (see ``Colorizer`` for what each does), checked once when made.

    ``backend`` and ``device`` are looked up when the model loads (the backend registry and the
    runtime's devices decide what exists). ``dataclasses.replace`` gives a changed copy, checked again.
    """

    model: str | os.PathLike = "default"
    backend: str = "auto"
    precision: str = "fp32"
    device: str = "CPU"
    threads: int | None = None
    size: int | None = None
    saturation: float = 1.0
    hint: str = "LATENCY"
    guided: bool = True
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    quality: str = "fast"

    def __post_init__(self) -> None:
        _check_fields(self, _CHECKS)


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "model": check_model,
    "precision": check_precision,
    "threads": check_threads,
    "size": check_size,
    "saturation": check_saturation,
    "hint": check_hint,
    "guided": check_guided,
    "max_pixels": check_max_pixels,
    "quality": check_quality,
}


@dataclass(frozen=True)
class StreamOptions:
    """How a frame stream is colorized beyond the colorizer itself, checked once when made.

    ``stabilize``: steady colour over time (see ``stabilizer.Stabilizer``); ``strength``: the weight of
    history on a still pixel, 0..MAX_STRENGTH; ``workers``: inference threads, each with its own
    Colorizer (more than one needs a Colorizer factory). Taken by ``stream.run``, ``video.colorize_video``,
    ``live.live`` and ``video_batch.run_videos``; the CLI's --stabilize/--strength/--workers make one.
    """

    stabilize: bool = True
    strength: float = DEFAULT_STRENGTH
    workers: int = 1

    def __post_init__(self) -> None:
        _check_fields(self, _STREAM_CHECKS)


_STREAM_CHECKS: dict[str, Callable[[Any], Any]] = {
    "stabilize": check_stabilize,
    "strength": check_strength,
    "workers": check_workers,
}
