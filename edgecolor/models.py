"""Bundled models, their precision variants, and the contract stored in a model file.

Layout: ``<models dir>/<name>/<name>-<precision>.onnx`` or ``.xml`` + ``.bin`` (OpenVINO IR).
The models folder is, in order: ``$EDGECOLOR_MODELS_DIR``; the installed package data folder
``edgecolor/_models`` (the wheel maps the repo's ``models/`` there); the repo checkout's ``models/``.
Models the user imported (``edgecolor import``) live in the user model folder, same layout:
``$EDGECOLOR_MODELS``, else ``$XDG_DATA_HOME/edgecolor/models`` (``~/.local/share/...``; on Windows
``%LOCALAPPDATA%\\edgecolor\\models``). Both are listed and resolved by name; a bundled name wins.

The contract is read without OpenVINO (``modelfile``: a few protobuf fields of the ONNX file, or the
``<rt_info>`` of the IR .xml), so listing models is cheap and the OpenCV backend works on machines
without OpenVINO; ``contract.read_metadata`` (OpenVINO) is the fallback and the reference in tests.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from edgecolor.contract import PRECISIONS, PREFIX, ModelContract
from edgecolor.errors import EdgecolorError, ModelError
from edgecolor.modelfile import check_regular, read_model_metadata
from edgecolor.options import check_precision

DEFAULT_MODEL = "edgecolor-lite0"
ALIASES = {"default": DEFAULT_MODEL}
ENV_MODELS_DIR = "EDGECOLOR_MODELS_DIR"
ENV_USER_MODELS = "EDGECOLOR_MODELS"
FORMATS = {".onnx": "onnx", ".xml": "ir"}


class ModelFolderWarning(UserWarning):
    """A models folder (or one model's folder in it) could not be read: it is skipped, the others still serve."""


@dataclass(frozen=True)
class Variant:
    """One file of a model: its precision, format ("onnx" or "ir"), path and size (with the .bin)."""

    precision: str
    format: str
    path: Path
    size_bytes: int

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


@dataclass(frozen=True)
class ModelEntry:
    name: str
    folder: Path
    variants: tuple[Variant, ...]
    imported: bool = False  # from the user model folder (edgecolor import), not bundled

    def describe_variants(self) -> str:
        return ", ".join(f"{v.precision} ({v.path.suffix})" for v in self.variants) or "no model files"


def models_dir() -> Path | None:
    """The folder holding bundled models, or None when there is none."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        folder = Path(env).expanduser()
        try:
            if not folder.is_dir():
                raise ModelError(f"{ENV_MODELS_DIR}={env}: not a folder")
        except OSError as e:  # a folder on its way that may not be searched
            raise ModelError(f"{ENV_MODELS_DIR}={env}: cannot read this folder ({e.strerror or e})") from None
        return folder
    package_data = Path(__file__).resolve().parent / "_models"
    if package_data.is_dir():
        return package_data
    root = Path(__file__).resolve().parents[1]  # a repo checkout (not site-packages/models)
    if (root / "models").is_dir() and ((root / ".git").exists() or (root / "pyproject.toml").is_file()):
        return root / "models"
    return None


def user_models_dir() -> Path:
    """Where ``edgecolor import`` writes models (it may not exist yet)."""
    env = os.environ.get(ENV_USER_MODELS)
    if env:
        return Path(env).expanduser()
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "edgecolor" / "models"


def list_models() -> list[ModelEntry]:
    """Every bundled model folder with at least one .onnx or .xml file, sorted by name, then the imported ones."""
    entries = _scan(models_dir(), imported=False)
    bundled = {e.name for e in entries}
    return entries + [e for e in _scan(user_models_dir(), imported=True) if e.name not in bundled]


def _scan(folder: Path | None, imported: bool) -> list[ModelEntry]:
    """The models in ``folder``; a folder that cannot be read (permissions, a file in its path) is skipped with
    a ``ModelFolderWarning``, so one unreadable imported model never stops the bundled ones."""
    if folder is None:
        return []
    try:
        if not folder.is_dir():
            return []
        subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    except OSError as e:
        _skipped(folder, e)
        return []
    entries = []
    for sub in subs:
        try:
            variants = [v for f in sorted(sub.iterdir()) if (v := _variant(f)) is not None]
        except OSError as e:
            _skipped(sub, e)
            continue
        if variants:
            entries.append(ModelEntry(sub.name, sub, tuple(variants), imported))
    return entries


def _skipped(folder: Path, e: OSError) -> None:
    warnings.warn(ModelFolderWarning(f"{folder}: cannot read this models folder ({e.strerror or e}); skipped"),
                  stacklevel=3)


def resolve(model: str | os.PathLike = "default", precision: str = "fp32", backend: str = "auto") -> Path:
    """The model file to load.

    ``model`` is a bundled model name, "default", or a path to an .onnx/.xml file (used as is:
    its own metadata then says its precision). For a name, pick the ``precision`` variant that
    ``backend`` can run, in that backend's order of preference (see ``Backend.formats``).
    """
    check_precision(precision)  # direct callers; a Colorizer's was checked in ColorizerOptions
    if is_model_path(model):
        return check_model_file(Path(model).expanduser())
    from edgecolor.backends import get_backend

    backend_cls = get_backend(backend, check=False)
    name = ALIASES.get(str(model), str(model))
    entries = {e.name: e for e in list_models()}
    if name not in entries:
        where = models_dir()
        if not entries:
            raise ModelError(
                f"model {name!r}: no bundled models found (looked in {where or 'the package and the repo'}); "
                f"pass a model file or set {ENV_MODELS_DIR}"
            )
        bundled = sorted(n for n, e in entries.items() if not e.imported)
        imported = sorted(n for n, e in entries.items() if e.imported)
        raise ModelError(f"unknown model {name!r}; bundled models: {', '.join(bundled) or 'none'}; imported: "
                         f"{', '.join(imported) or 'none'} (see `edgecolor import --help`)")
    entry = entries[name]
    for fmt in backend_cls.formats(precision):
        for v in entry.variants:
            if v.precision == precision and v.format == fmt:
                return check_model_file(v.path)  # its .bin too: a FIFO there would hang the runtime
    readable = ", ".join(f".{f}" if f == "onnx" else ".xml" for f in backend_cls.formats(precision))
    raise ModelError(
        f"model {name} has no {precision} variant the {backend_cls.name} backend can run ({readable}); "
        f"it has: {entry.describe_variants()}"
    )


def check_model_file(path: Path) -> Path:
    """A model file about to be loaded: .onnx or .xml, a regular file of sane size, and an .xml has its .bin
    (likewise checked), all from ``stat`` (``modelfile.check_regular``) before anything opens them."""
    try:
        if path.is_dir():
            raise ModelError(f"{path}: is a folder; give an .onnx or .xml model file or a model name")
    except OSError as e:
        raise ModelError(f"{path}: cannot read model file ({e.strerror or e})") from None
    check_regular(path)
    if path.suffix.lower() not in FORMATS:
        raise ModelError(f"{path}: not a model file (expected .onnx or OpenVINO .xml)")
    if path.suffix.lower() == ".xml":
        weights = path.with_suffix(".bin")
        if not os.path.lexists(weights):
            raise ModelError(f"{path}: its weights file {weights.name} is missing")
        check_regular(weights)
    return path


def read_contract(path: str | os.PathLike) -> ModelContract:
    """The contract stored in a model file; a model without one is refused with a clear message."""
    path = Path(path)
    return ModelContract.from_metadata(read_model_metadata(path), source=str(path))


def is_model_path(model: str | os.PathLike) -> bool:
    """Whether ``model`` names a file (a path, or a name ending in .onnx/.xml) rather than a bundled model."""
    if isinstance(model, os.PathLike):
        return True
    return model.lower().endswith(tuple(FORMATS)) or "/" in model or os.sep in model


def _variant(path: Path) -> Variant | None:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None or not path.is_file():  # a FIFO is not listed (resolve checks the chosen file again)
        return None
    try:
        precision = read_model_metadata(path).get(PREFIX + "precision")
    except EdgecolorError:
        precision = None
    if precision not in PRECISIONS:
        tail = path.stem.rsplit("-", 1)[-1].lower()
        precision = tail if tail in PRECISIONS else None
    if precision is None:
        return None
    size = path.stat().st_size
    if fmt == "ir" and path.with_suffix(".bin").is_file():
        size += path.with_suffix(".bin").stat().st_size
    return Variant(precision, fmt, path, size)
