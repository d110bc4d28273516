"""Imports only go down the layers of docs/DEVELOPING.md, and every module has a layer (issues 11 and 24).

Function-level (lazy) imports count too: they close a circle just the same. A new module fails
``test_every_module_has_a_layer`` until it is placed in LAYERS (and in DEVELOPING.md's layout).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "edgecolor"

# Top to bottom, as docs/DEVELOPING.md draws them. A package (cli, backends, gst, importers) is one unit.
LAYERS: list[tuple[str, set[str]]] = [
    ("package", {"__init__", "__main__"}),
    ("cli", {"cli"}),
    ("jobs", {"batch", "ray_batch", "video", "video_batch", "live", "evaluate", "bench", "importers", "gst", "serve"}),
    ("stream", {"stream"}),
    ("colorizer", {"colorizer"}),
    ("parts", {"pipeline", "models", "backends", "sources", "writers", "stabilizer", "mjpeg", "rtsp", "ffmpeg",
               "sheets"}),
    ("floor", {"contract", "modelfile", "files", "atomic", "imageheader", "cvlog", "cpu", "metrics", "options",
               "limits", "regular", "errors", "gstlib", "ctrlc", "sinks"}),
]
# The imports allowed inside one layer (importer -> imported); every floor module may read errors and limits.
WITHIN = {
    "ray_batch": {"batch"}, "video_batch": {"video", "batch"}, "live": {"video"}, "importers": {"bench", "evaluate"},
    "models": {"backends"}, "sources": {"ffmpeg"}, "writers": {"ffmpeg"}, "stabilizer": {"pipeline"},
    "files": {"atomic", "options", "imageheader", "cvlog", "regular"}, "options": {"contract"},
    "modelfile": {"contract", "regular"},
}
FLOOR_BOTTOM = {"errors", "limits"}
# Names read from the package itself that are no module: a constant string is readable from anywhere.
CONSTANTS = {"__version__"}


def layer_of(module: str) -> int:
    for rank, (_, modules) in enumerate(LAYERS):
        if module in modules:
            return rank
    raise KeyError(module)


def all_modules() -> set[str]:
    """Every module and subpackage directly below edgecolor/ (what an import's first component names)."""
    found = {p.stem for p in PACKAGE.glob("*.py")}
    found |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return found


def edgecolor_imports(path: Path) -> set[str]:
    """First component below ``edgecolor`` of every import in the file, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "edgecolor"
                                     else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "edgecolor" and len(parts) > 1 and parts[1] not in CONSTANTS:
                found.add(parts[1])
    return found


def files_of(module: str) -> list[Path]:
    folder = PACKAGE / module
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{module}.py"]


def test_every_module_has_a_layer():
    placed = set().union(*(modules for _, modules in LAYERS))
    assert not all_modules() - placed, "modules without a layer: add them to LAYERS and to docs/DEVELOPING.md"
    assert not placed - all_modules(), "LAYERS names modules that do not exist"


def test_imports_only_go_down():
    wrong = []
    for module in sorted(all_modules()):
        rank = layer_of(module)
        for path in files_of(module):
            for imported in edgecolor_imports(path) - {module}:
                if imported not in all_modules():
                    # `from edgecolor import Colorizer` and the like: the package's lazy names
                    imported = "__init__"
                other = layer_of(imported)
                if other > rank or imported in WITHIN.get(module, ()):
                    continue
                if other == rank == layer_of("errors") and imported in FLOOR_BOTTOM:
                    continue
                wrong.append(f"{path.relative_to(PACKAGE)} ({LAYERS[rank][0]}) imports {imported} "
                             f"({LAYERS[other][0]})")
    assert not wrong, "imports that do not go down: " + "; ".join(wrong)


def test_the_stabilizer_reads_only_the_floor():
    """Issue 24: the stabilizer left stream.py; it needs the strength check (options) and nothing of the loop.
    (pipeline only for the type of ``low_res_luma``'s argument.)"""
    assert edgecolor_imports(PACKAGE / "stabilizer.py") <= {"options", "pipeline"}
    assert "stabilizer" in edgecolor_imports(PACKAGE / "stream.py")


def test_options_is_in_the_floor():
    """ColorizerOptions is checked before anything loads: it may read only the floor's choices and limits."""
    assert edgecolor_imports(PACKAGE / "options.py") <= {"errors", "limits", "contract"}


def test_a_layer_breach_is_caught(tmp_path):
    """The checker sees a lazy import inside a function (the kind that closed circles before)."""
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from edgecolor.stream import run\n    import edgecolor.cli.app\n")
    assert edgecolor_imports(path) == {"stream", "cli"}
    assert layer_of("stream") < layer_of("sources")
