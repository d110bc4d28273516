"""`edgecolor import eccv16|siggraph17 WEIGHTS`: bring the published colorizers into edgecolor's runtime."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from edgecolor.cli.app import EXIT_INTERRUPTED, app, error


class Network(str, Enum):
    eccv16 = "eccv16"
    siggraph17 = "siggraph17"


@app.command("import")
def import_command(
    network: Network = typer.Argument(..., help="eccv16 (Zhang et al. 2016) or siggraph17 (Zhang et al. 2017)."),
    weights: Path = typer.Argument(..., help="colorization_release_v2.caffemodel, a colorizers .pth, or "
                                             "colorizer.onnx (told apart by content)."),
    name: str = typer.Option(None, "--name", help="Model name to use with -m (default: the network's name)."),
    prototxt: Path = typer.Option(None, "--prototxt", help="Caffe deploy prototxt to check the layers and the "
                                                           "annealing scale against (default: the known one)."),
    hull: Path = typer.Option(None, "--hull", help="pts_in_hull.npy: the 313 ab bin centres (Caffe only)."),
    int8: bool = typer.Option(False, "--int8", help="Also write an INT8 IR, kept only if it passes the "
                                                    "quality gate."),
    calib: Path = typer.Option(None, "--calib", help="Folder of photos to calibrate INT8 on."),
    eval_dir: Path = typer.Option(None, "--eval", help="Colour photos for the INT8 gate (default: --calib)."),
    calib_size: int = typer.Option(300, "--calib-size", min=1, help="Photos used for calibration (at most)."),
    eval_limit: int = typer.Option(0, "--eval-limit", min=0, help="Photos scored by the gate (0: all)."),
    max_drop: float = typer.Option(None, "--max-drop", help="Largest INT8 PSNR loss in dB (default 0.3)."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an earlier import of the same name."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Import the ECCV16 or SIGGRAPH17 colorization network into the user model folder.

    Writes <name>-fp32.onnx (contract in its metadata), <name>-fp16.xml/.bin and, with --int8, the
    INT8 IR when the quality gate passes. Then: edgecolor colorize -m <name> photo.jpg
    """
    from edgecolor.importers.importer import import_model

    def say(msg: str) -> None:
        if not as_json:
            print(f"  {msg}", flush=True)

    try:
        r = import_model(network.value, weights, name=name, prototxt=prototxt, hull=hull, int8=int8, calib=calib,
                         eval_dir=eval_dir, calib_size=calib_size, eval_limit=eval_limit, max_drop=max_drop,
                         force=force, progress=say)
    except KeyboardInterrupt:  # the staging folder is gone already; an earlier import of the name is untouched
        error(f"{weights}: interrupted; nothing was imported")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        print(json.dumps({"name": r.name, "folder": str(r.folder), "format": r.source_format,
                          "files": [str(p) for p in r.files], "contract": r.contract.to_metadata(),
                          "int8_gate": r.gate, "notes": r.notes}, indent=1))
    else:
        for note in r.notes:
            print(f"  {note}")
        if r.gate is not None:
            from edgecolor.importers.int8 import describe

            print(f"  {describe(r.gate)}")
        print(f"imported {network.value} from {weights} ({r.source_format}) as '{r.name}' in {r.folder}:")
        for p in r.files:
            print(f"  {p.name}")
        print(f"use it with: edgecolor colorize -m {r.name} PHOTO")
    if r.gate is not None and not r.gate["passed"]:
        error(f"{weights}: INT8 not written: it loses {r.gate['psnr_drop_db']:.3f} dB PSNR against FP32 "
              f"(gate {r.gate['max_drop_db']} dB); FP32 and FP16 were imported")
        raise typer.Exit(3)
