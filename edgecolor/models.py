"""Bundled models, their precision variants, and the contract stored in a model file.

Layout: ``<models dir>/<name>/<name>-<precision>.onnx`` or ``.xml`` + ``.bin`` (OpenVINO IR).
The models folder is, in order: ``$EDGECOLOR_MODELS_DIR``; the installed package data folder
``edgecolor/_models`` (the wheel maps the repo's ``models/`` there); the repo checkout's ``models/``.

The contract is read here without OpenVINO (a few protobuf fields of the ONNX file, or the
``<rt_info>`` of the IR .xml), so listing models is cheap and the OpenCV backend works on machines
without OpenVINO; ``contract.read_metadata`` (OpenVINO) is the fallback and the reference in tests.
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from edgecolor.contract import PRECISIONS, PREFIX, RT_INFO_SECTION, ModelContract
from edgecolor.errors import EdgecolorError, ModelError, UsageError

DEFAULT_MODEL = "edgecolor-lite0"
ALIASES = {"default": DEFAULT_MODEL}
ENV_MODELS_DIR = "EDGECOLOR_MODELS_DIR"
FORMATS = {".onnx": "onnx", ".xml": "ir"}


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

    def describe_variants(self) -> str:
        return ", ".join(f"{v.precision} ({v.path.suffix})" for v in self.variants) or "no model files"


def models_dir() -> Path | None:
    """The folder holding bundled models, or None when there is none."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        folder = Path(env).expanduser()
        if not folder.is_dir():
            raise ModelError(f"{ENV_MODELS_DIR}={env}: not a folder")
        return folder
    package_data = Path(__file__).resolve().parent / "_models"
    if package_data.is_dir():
        return package_data
    root = Path(__file__).resolve().parents[1]  # a repo checkout (not site-packages/models)
    if (root / "models").is_dir() and ((root / ".git").exists() or (root / "pyproject.toml").is_file()):
        return root / "models"
    return None


def list_models() -> list[ModelEntry]:
    """Every model folder with at least one .onnx or .xml file, sorted by name."""
    folder = models_dir()
    if folder is None:
        return []
    entries = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        variants = [v for f in sorted(sub.iterdir()) if (v := _variant(f)) is not None]
        if variants:
            entries.append(ModelEntry(sub.name, sub, tuple(variants)))
    return entries


def resolve(model: str | os.PathLike = "default", precision: str = "fp32", backend: str = "auto") -> Path:
    """The model file to load.

    ``model`` is a bundled model name, "default", or a path to an .onnx/.xml file (used as is:
    its own metadata then says its precision). For a name, pick the ``precision`` variant that
    ``backend`` can run, in that backend's order of preference (see ``Backend.formats``).
    """
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
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
        raise ModelError(f"unknown model {name!r}; bundled models: {', '.join(sorted(entries))}")
    entry = entries[name]
    for fmt in backend_cls.formats(precision):
        for v in entry.variants:
            if v.precision == precision and v.format == fmt:
                return v.path
    readable = ", ".join(f".{f}" if f == "onnx" else ".xml" for f in backend_cls.formats(precision))
    raise ModelError(
        f"model {name} has no {precision} variant the {backend_cls.name} backend can run ({readable}); "
        f"it has: {entry.describe_variants()}"
    )


def check_model_file(path: Path) -> Path:
    """A user-given model file: exists, is .onnx or .xml, and an .xml has its .bin."""
    if path.is_dir():
        raise ModelError(f"{path}: is a folder; give an .onnx or .xml model file or a model name")
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    if path.suffix.lower() not in FORMATS:
        raise ModelError(f"{path}: not a model file (expected .onnx or OpenVINO .xml)")
    if path.suffix.lower() == ".xml" and not path.with_suffix(".bin").is_file():
        raise ModelError(f"{path}: its weights file {path.with_suffix('.bin').name} is missing")
    return path


def read_contract(path: str | os.PathLike) -> ModelContract:
    """The contract stored in a model file; a model without one is refused with a clear message."""
    path = Path(path)
    return ModelContract.from_metadata(read_model_metadata(path), source=str(path))


def read_model_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``edgecolor.*`` metadata of an ONNX or IR file, without loading the network."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".xml":
            return ir_metadata(path)
        return onnx_metadata(path)
    except OSError as e:
        raise ModelError(f"{path}: cannot read model file ({e.strerror or e})") from None
    except (ValueError, ET.ParseError) as e:
        raise ModelError(f"{path}: corrupt or not a model file ({e})") from None


# -- metadata readers --------------------------------------------------------------------------

_ONNX_GRAPH = 7  # ModelProto.graph
_ONNX_METADATA = 14  # ModelProto.metadata_props
_GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT = 5, 11, 12

Dims = tuple[int | str | None, ...]


def onnx_metadata(path: Path) -> dict[str, str]:
    """``edgecolor.*`` entries of an ONNX file's metadata_props. Only top-level protobuf fields are
    read; the graph is skipped with a seek, so this is fast for any model size."""
    meta: dict[str, str] = {}
    with open(path, "rb") as f:
        graph = None
        for field, wire, value in _fields(f, os.fstat(f.fileno()).st_size):
            if wire == 2 and field == _ONNX_METADATA:
                key, val = _string_pair(_read_at(f, value))
                if key.startswith(PREFIX):
                    meta[key] = val
            elif wire == 2 and field == _ONNX_GRAPH:
                graph = value
    if graph is None:
        raise ValueError("no graph in the ONNX file")
    return meta


def onnx_io(path: Path) -> tuple[list[tuple[str, Dims | None]], list[tuple[str, Dims | None]]]:
    """(name, dims) of the graph inputs (initializers excluded) and outputs of an ONNX file; a dim
    is an int, a symbolic name, or None; dims is None when the file does not say. cv2.dnn cannot
    report these, so the OpenCV backend checks the model with this."""
    inputs, outputs, initializers = [], [], set()
    with open(path, "rb") as f:
        graph = None
        for field, wire, value in _fields(f, os.fstat(f.fileno()).st_size):
            if wire == 2 and field == _ONNX_GRAPH:
                graph = value
        if graph is None:
            raise ValueError("no graph in the ONNX file")
        f.seek(graph[0])
        for field, wire, value in _fields(f, graph[0] + graph[1]):
            if wire != 2:
                continue
            if field in (_GRAPH_INPUT, _GRAPH_OUTPUT):
                (inputs if field == _GRAPH_INPUT else outputs).append(_value_info(_read_at(f, value)))
            elif field == _GRAPH_INITIALIZER:
                f.seek(value[0])
                for tfield, twire, tvalue in _fields(f, value[0] + value[1]):
                    if tfield == 8 and twire == 2:  # TensorProto.name
                        initializers.add(_read_at(f, tvalue).decode("utf-8", "replace"))
    return [i for i in inputs if i[0] not in initializers], outputs


def _fields(f, end: int):
    """(field, wire type, value) of each protobuf field from the file position up to ``end``.
    A varint's value is its number; a length-delimited field's is (offset, length), not read."""
    while f.tell() < end:
        tag = _read_varint(f)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise ValueError("not an ONNX protobuf")
        if wire == 0:
            yield field, wire, _read_varint(f)
        elif wire in (1, 5):
            f.seek(8 if wire == 1 else 4, os.SEEK_CUR)
            yield field, wire, None
        elif wire == 2:
            length = _read_varint(f)
            start = f.tell()
            if start + length > end:
                raise ValueError("truncated ONNX file")
            yield field, wire, (start, length)
            f.seek(start + length)
        else:
            raise ValueError("not an ONNX protobuf")
    if f.tell() != end:
        raise ValueError("truncated ONNX file")


def _read_at(f, span: tuple[int, int]) -> bytes:
    f.seek(span[0])
    return f.read(span[1])


def _read_varint(f) -> int:
    value = shift = 0
    while True:
        b = f.read(1)
        if not b:
            raise ValueError("truncated ONNX file")
        value |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return value
        shift += 7
        if shift > 63:
            raise ValueError("not an ONNX protobuf")


def _submessages(buf: bytes, wanted: int) -> list[bytes]:
    """The raw bytes of every length-delimited field ``wanted`` in a small in-memory message."""
    f = io.BytesIO(buf)
    return [_read_at(f, v) for field, wire, v in list(_fields(f, len(buf))) if field == wanted and wire == 2]


def _string_pair(buf: bytes) -> tuple[str, str]:
    """key (field 1) and value (field 2) of a StringStringEntryProto."""
    key, value = _submessages(buf, 1), _submessages(buf, 2)
    return (key[0].decode("utf-8", "replace") if key else "", value[0].decode("utf-8", "replace") if value else "")


def _value_info(buf: bytes) -> tuple[str, Dims | None]:
    """ValueInfoProto -> (name, dims): name=1, type=2 -> tensor_type=1 -> shape=2 -> dim=1 ->
    dim_value=1 | dim_param=2."""
    name = _submessages(buf, 1)
    shapes = [s for t in _submessages(buf, 2) for tt in _submessages(t, 1) for s in _submessages(tt, 2)]
    dims = None
    if shapes:
        dims = []
        for d in _submessages(shapes[0], 1):
            f = io.BytesIO(d)
            fields = {field: v for field, wire, v in list(_fields(f, len(d)))}
            if 1 in fields:
                dims.append(fields[1])
            elif 2 in fields:
                dims.append(_read_at(f, fields[2]).decode("utf-8", "replace"))
            else:
                dims.append(None)
        dims = tuple(dims)
    return (name[0].decode("utf-8", "replace") if name else ""), dims


def ir_metadata(path: Path) -> dict[str, str]:
    """``edgecolor.*`` entries of an IR .xml's ``<net><rt_info><framework>`` section.

    OpenVINO writes ``<rt_info>`` last, so the file's tail is tried first: parsing a whole INT8 IR
    (hundreds of KB of layers) costs ~70 ms of every cold start; the tail costs well under 1 ms.
    """
    quick = _ir_tail_metadata(path)
    if quick:
        return quick
    meta: dict[str, str] = {}
    stack: list[str] = []
    want = ["net", "rt_info", RT_INFO_SECTION]
    root = None
    for event, elem in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            root = root or elem.tag
            if root != "net":
                raise ValueError("not an OpenVINO IR file")
            stack.append(elem.tag)
            if stack[:-1] == want and elem.tag.startswith(PREFIX):
                meta[elem.tag] = elem.get("value", "")
        else:
            stack.pop()
            if len(stack) == 2 and elem.tag == "layer":
                elem.clear()  # the layer list can be large; keep memory flat
    return meta


# -- internals ---------------------------------------------------------------------------------


def _ir_tail_metadata(path: Path, tail_bytes: int = 1 << 16) -> dict[str, str]:
    """The metadata from the last ``<rt_info>`` block of an IR file's tail; {} when it is not there."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - tail_bytes))
        tail = f.read()
    start, end = tail.rfind(b"<rt_info>"), tail.rfind(b"</rt_info>")
    # Only the net-level block counts: nothing but </net> may follow it (layers have rt_info too).
    if start < 0 or end < start or tail[end + len(b"</rt_info>") :].strip() != b"</net>":
        return {}
    try:
        block = ET.fromstring(tail[start : end + len(b"</rt_info>")])
    except ET.ParseError:
        return {}
    section = block.find(RT_INFO_SECTION)
    if section is None:
        return {}
    return {e.tag: e.get("value", "") for e in section if e.tag.startswith(PREFIX)}


def is_model_path(model: str | os.PathLike) -> bool:
    """Whether ``model`` names a file (a path, or a name ending in .onnx/.xml) rather than a bundled model."""
    if isinstance(model, os.PathLike):
        return True
    return model.lower().endswith(tuple(FORMATS)) or "/" in model or os.sep in model


def _variant(path: Path) -> Variant | None:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None or not path.is_file():
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
