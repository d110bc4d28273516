"""Options that several commands share, declared once so their names, defaults and help agree.

The colorizer's own options (``COLORIZER``) reach a command as one checked ``ColorizerOptions``:
the command declares a parameter ``options: ColorizerOptions = colorizer(...)`` and is decorated
with ``takes_colorizer_options``, which puts the Typer options in that place of the signature
(so --help lists them where they always were) and builds the object with ``colorizer_options``.
Adding a colorizer option: a field in edgecolor/options.py and one entry in ``COLORIZER``.
A stream's options (``STREAM``: --stabilize, --strength, --workers) reach video and live the same way,
as one ``StreamOptions`` (``stream: StreamOptions = opt.stream()``). Bounds and defaults are the library's.

(The leading underscore keeps cli/__init__.py from importing this as a command module.)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum
from typing import Any

import typer

from edgecolor.contract import PRECISIONS
from edgecolor.limits import DEFAULT_MAX_PIXELS, MAX_SIZE
from edgecolor.options import DEFAULT_STRENGTH, MAX_STRENGTH, MAX_WORKERS, MIN_SIZE, ColorizerOptions, StreamOptions

# The CLI's choices, made from the one list in the contract (adding a precision touches only that list).
Precision = Enum("Precision", {p: p for p in PRECISIONS}, type=str)


MODEL = typer.Option("default", "--model", "-m", help="Bundled model name, or a .onnx / .xml file.")
BACKEND = typer.Option(
    "auto", "--backend", "-b", help="auto, or a backend listed by `edgecolor info` (auto prefers OpenVINO)."
)
PRECISION = typer.Option(Precision("fp32"), "--precision", "-p", help="Model variant to run.")
DEVICE = typer.Option("CPU", "--device", help="OpenVINO device: CPU, GPU, NPU, AUTO.")
THREADS = typer.Option(
    None, "--threads", min=1,
    help="Inference threads (default: OpenVINO's choice; in video and live one core fewer; cv2.dnn: OpenCV's).",
)
SIZE = typer.Option(
    None, "--size", min=MIN_SIZE, max=MAX_SIZE, help="Network input long side, px (default: the model's)."
)
MAX_PIXELS = typer.Option(
    DEFAULT_MAX_PIXELS, "--max-pixels", min=1,
    help="Refuse photos (and video frames) with more pixels than this, before decoding them (memory; default "
         "sized for 4 GB).",
)
SATURATION = typer.Option(1.0, "--saturation", min=0.0, help="Chroma gain; 0 gives grey, >1 more vivid.")
GUIDED = typer.Option(
    True, "--guided/--no-guided", help="Edge-aware colour upsampling (no bleeding across edges); off: bilinear."
)
STABILIZE = typer.Option(True, "--stabilize/--no-stabilize", help="Steady colour over time (less flicker).")
STRENGTH = typer.Option(
    DEFAULT_STRENGTH, "--strength", min=0.0, max=MAX_STRENGTH, help="Stabilization: weight of history."
)
QUALITY = typer.Option(
    "fast", "--quality", help="photo: average the colour over a mirrored second pass (stills; twice the network time)."
)
WORKERS = typer.Option(
    1, "--workers", min=1, max=MAX_WORKERS, help="Inference threads, each with its own model copy."
)

# The colorizer options of the command line, in --help order: name (a ColorizerOptions field) ->
# (the Typer option, the type Typer parses). colorize, video and live offer all but the photo-file ones.
COLORIZER: dict[str, tuple[Any, Any]] = {
    "model": (MODEL, str),
    "backend": (BACKEND, str),
    "precision": (PRECISION, Precision),
    "device": (DEVICE, str),
    "threads": (THREADS, int | None),
    "size": (SIZE, int | None),
    "saturation": (SATURATION, float),
    "guided": (GUIDED, bool),
    "max_pixels": (MAX_PIXELS, int),
    "quality": (QUALITY, str),
}
PHOTO_FILES_ONLY = ("max_pixels",)  # the pixel limit: colorize, video, live and serve take it (photos=True)
STILLS_ONLY = ("quality",)  # a second network pass: photos only (stills=True); video and live stay one pass a frame


# A stream's options (video, live), in --help order: name (a StreamOptions field) -> (the Typer option, its type).
STREAM: dict[str, tuple[Any, Any]] = {
    "stabilize": (STABILIZE, bool),
    "strength": (STRENGTH, float),
    "workers": (WORKERS, int),
}


def colorizer_options(**values: Any) -> ColorizerOptions:
    """Parsed command-line values -> the checked options object (a choice Enum gives its value)."""
    return ColorizerOptions(**{k: v.value if isinstance(v, Enum) else v for k, v in values.items()})


def stream_options(**values: Any) -> StreamOptions:
    """Parsed --stabilize/--strength/--workers -> the checked StreamOptions."""
    return StreamOptions(**values)


class _Slot:
    """The default of a command's options parameter: which shared options stand in its place, and what
    builds the one object the command gets from them."""

    def __init__(self, table: dict[str, tuple[Any, Any]], build: Callable[..., Any], kind: str,
                 names: tuple[str, ...]) -> None:
        unknown = set(names) - set(table)
        if unknown:
            raise ValueError(f"not {kind} options: {sorted(unknown)}")
        self.table, self.build, self.names = table, build, names


def colorizer(*names: str, photos: bool = False, stills: bool = False) -> Any:
    """Placeholder default: the named colorizer options (default: every one; the pixel limit only with ``photos``,
    the photo-quality preset only with ``stills``)."""
    return _Slot(COLORIZER, colorizer_options, "colorizer",
                 names or tuple(n for n in COLORIZER if (photos or n not in PHOTO_FILES_ONLY)
                                and (stills or n not in STILLS_ONLY)))


def stream(*names: str) -> Any:
    """Placeholder default: the named stream options (default: every one), handed over as one StreamOptions."""
    return _Slot(STREAM, stream_options, "stream", names or tuple(STREAM))


def takes_colorizer_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Typer sees the shared options in place of each placeholder parameter (``opt.colorizer()``,
    ``opt.stream()``); the command gets one checked ColorizerOptions / StreamOptions there.

    Typer reads ``__signature__`` and the annotations, so --help is what it would be with the options
    spelt out in the signature, in the same place.
    """
    signature = inspect.signature(command)
    slots = {p.name: p.default for p in signature.parameters.values() if isinstance(p.default, _Slot)}
    if not slots:
        raise ValueError(f"{command.__name__} has no opt.colorizer() or opt.stream() parameter")
    params = []
    annotations = {k: v for k, v in command.__annotations__.items() if k not in slots}
    for p in signature.parameters.values():
        slot = slots.get(p.name)
        if slot is None:
            params.append(p)
            continue
        params += [inspect.Parameter(n, p.kind, default=slot.table[n][0], annotation=slot.table[n][1])
                   for n in slot.names]
        annotations |= {n: slot.table[n][1] for n in slot.names}

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        for name, slot in slots.items():
            kwargs[name] = slot.build(**{n: kwargs.pop(n) for n in slot.names})
        return command(**kwargs)

    wrapper.__signature__ = signature.replace(parameters=params)
    wrapper.__annotations__ = annotations
    return wrapper
