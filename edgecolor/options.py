"""The colorizer's settings as one frozen, validated object: ``ColorizerOptions``.

Every value is checked once, when the object is made (one-line ``UsageError``s), before anything
loads; the Colorizer, the batch runners and Ray workers then pass the object around as it is (it
pickles). The checks are plain functions here so that the parts a value feeds (backends, models,
pipeline, files) can keep a guard for their own direct callers without a second copy of the rule.
In the floor layer: imports only errors, limits and contract.

Adding an option: a field here (with its check in ``_CHECKS``), one ``typer.Option`` in
cli/_options.py's ``COLORIZER`` table, and where the Colorizer hands it on.
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
    if size is not None and not is_size(size):
        raise UsageError(f"size must be an integer 1..{MAX_SIZE} (pixels), got {size!r}")
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
        for f in fields(self):
            check = _CHECKS.get(f.name)
            if check is not None:
                object.__setattr__(self, f.name, check(getattr(self, f.name)))


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
