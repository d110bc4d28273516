"""`edgecolor models`: the bundled models, their variants, size, cost and quality.

Cost and quality come from an optional ``models/<name>/card.json`` written with the model; '-' where it
says nothing. ``gflops_256`` is the network's, the same for every variant (one graph). Quality differs by
variant, so it is read per precision from ``variants``::

    {"gflops_256": 1.06,
     "variants": {"fp32": {"psnr_gain_db": 1.38, "colorfulness_ratio": 0.73}, "int8": {...}}}

Top-level ``psnr_gain_db`` / ``colorfulness_ratio`` (older cards) are the fp32 variant's, never shown on another.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from edgecolor.cli.app import app, warning
from edgecolor.errors import printable

QUALITY_KEYS = ("psnr_gain_db", "colorfulness_ratio")
CARD_KEYS = ("gflops_256", *QUALITY_KEYS)


def _numbers(data: object, keys: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(data, dict):
        return {}
    return {k: float(data[k]) for k in keys if isinstance(data.get(k), int | float) and not isinstance(data[k], bool)}


def variant_numbers(data: object, precision: str) -> dict[str, float]:
    """A card's numbers for one variant: the model's cost, and this variant's own quality (see the module
    docstring); a key the card does not give for this variant is absent."""
    if not isinstance(data, dict):
        return {}
    out = _numbers(data, ("gflops_256",))
    if precision == "fp32":
        out.update(_numbers(data, QUALITY_KEYS))
    variants = data.get("variants")
    if isinstance(variants, dict):
        out.update(_numbers(variants.get(precision), QUALITY_KEYS))
    return out


def read_card(folder: Path) -> dict:
    """The model's card.json as it is (a dict; ``variant_numbers`` picks what is shown); missing or broken: {}."""
    from edgecolor.errors import ModelError
    from edgecolor.modelfile import check_regular, open_model_file

    path = folder / "card.json"
    if not os.path.lexists(path):
        return {}
    try:
        check_regular(path)  # a FIFO would hang the listing, /dev/zero fill the memory
        with open_model_file(path) as f:
            data = json.loads(f.read().decode("utf-8"))
    except ModelError as e:
        warning(f"{e}; model card skipped")
        return {}
    except (OSError, ValueError) as e:
        warning(f"{path}: unreadable model card ({e})")
        return {}
    return data if isinstance(data, dict) else {}


def rows() -> list[dict[str, object]]:
    """One row per model file, with its model's card numbers."""
    from edgecolor.models import DEFAULT_MODEL, list_models, read_contract

    out = []
    for entry in list_models():
        card = read_card(entry.folder)
        for v in entry.variants:
            numbers = variant_numbers(card, v.precision)
            try:
                working = read_contract(v.path).working_size
            except Exception:  # noqa: BLE001 - a broken file is still listed; colorize reports why
                working = None
            out.append(
                {
                    "model": entry.name,
                    "default": entry.name == DEFAULT_MODEL,
                    "imported": entry.imported,
                    "precision": v.precision,
                    "format": "ONNX" if v.format == "onnx" else "OpenVINO IR",
                    "size_mb": v.size_mb,
                    "working_size": working,
                    "path": str(v.path),
                    **{k: numbers.get(k) for k in CARD_KEYS},
                }
            )
    return out


def _cell(value: object, fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


@app.command()
def models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List bundled and imported models and variants: precision, format, file size, GFLOPs at 256x256, quality."""
    from edgecolor.models import models_dir, user_models_dir

    data = rows()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    if not data:
        print(f"no bundled models found (models folder: {models_dir() or 'none'})")
        return
    from rich.console import Console
    from rich.table import Table

    title = printable(f"models in {models_dir()} (imported: {user_models_dir()})")
    table = Table(title=title, title_justify="left")
    for name in ("model", "precision", "format", "size MB", "working px", "GFLOPs@256²", "PSNR gain dB", "colourful"):
        table.add_column(name, justify="left" if name in ("model", "precision", "format") else "right")
    for r in data:
        table.add_row(
            printable(f"{r['model']}{' (default)' if r['default'] else ''}{' (imported)' if r['imported'] else ''}"),
            str(r["precision"]),
            str(r["format"]),
            f"{r['size_mb']:.2f}",
            _cell(r["working_size"]),
            _cell(r["gflops_256"], "{:.2f}"),
            _cell(r["psnr_gain_db"], "{:+.2f}"),
            _cell(r["colorfulness_ratio"], "{:.2f}"),
        )
    Console(width=max(120, Console().width)).print(table)
