"""Options that several commands share, declared once so their names, defaults and help agree.

(The leading underscore keeps cli/__init__.py from importing this as a command module.)
"""

from __future__ import annotations

from enum import Enum

import typer

from edgecolor.contract import PRECISIONS
from edgecolor.limits import DEFAULT_MAX_PIXELS, MAX_SIZE

# The CLI's choices, made from the one list in the contract (adding a precision touches only that list).
Precision = Enum("Precision", {p: p for p in PRECISIONS}, type=str)


MODEL = typer.Option("default", "--model", "-m", help="Bundled model name, or a .onnx / .xml file.")
BACKEND = typer.Option(
    "auto", "--backend", "-b", help="auto, or a backend listed by `edgecolor info` (auto prefers OpenVINO)."
)
PRECISION = typer.Option(Precision("fp32"), "--precision", "-p", help="Model variant to run.")
DEVICE = typer.Option("CPU", "--device", help="OpenVINO device: CPU, GPU, NPU, AUTO.")
THREADS = typer.Option(None, "--threads", min=1, help="Inference threads (default: the runtime's choice).")
SIZE = typer.Option(
    None, "--size", min=16, max=MAX_SIZE, help="Network input long side, px (default: the model's)."
)
MAX_PIXELS = typer.Option(
    DEFAULT_MAX_PIXELS, "--max-pixels", min=1,
    help="Refuse photos with more pixels than this, before decoding them (memory; default sized for 4 GB).",
)
SATURATION = typer.Option(1.0, "--saturation", min=0.0, help="Chroma gain; 0 gives grey, >1 more vivid.")
GUIDED = typer.Option(
    True, "--guided/--no-guided", help="Edge-aware colour upsampling (no bleeding across edges); off: bilinear."
)
STABILIZE = typer.Option(True, "--stabilize/--no-stabilize", help="Steady colour over time (less flicker).")
STRENGTH = typer.Option(0.75, "--strength", min=0.0, max=0.95, help="Stabilization: weight of history.")
WORKERS = typer.Option(1, "--workers", min=1, max=8, help="Inference threads, each with its own model copy.")
