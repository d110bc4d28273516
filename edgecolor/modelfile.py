"""What a model file says about itself, read without loading the network: the ``edgecolor.*``
contract metadata of an ONNX or OpenVINO IR file, and an ONNX file's inputs and outputs.

A small protobuf field walker and an XML reader, so cv2.dnn users need neither onnx nor OpenVINO.
Below both the model catalogue (models.py) and the backends (the cv2.dnn backend checks an ONNX
file's inputs with it), so neither has to import the other.
"""

from __future__ import annotations

import io
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

from edgecolor.contract import PREFIX, RT_INFO_SECTION
from edgecolor.errors import ModelError, file_kind
from edgecolor.regular import open_regular

# The largest model file of each kind edgecolor opens: ONNX stops at protobuf's 2 GiB, an IR's .xml is
# its layer list (a few MB), the .bin its weights; a model card is a few numbers.
MAX_BYTES = {".onnx": 2 << 30, ".xml": 256 << 20, ".bin": 4 << 30, ".json": 1 << 20}


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


def check_regular(path: Path) -> int:
    """The size of ``path``, a model file (.onnx, .xml, .bin, .json) that is a regular file within its
    ``MAX_BYTES``; a ModelError naming it otherwise. Decided by ``stat`` without opening it: a FIFO
    would block its reader (and OpenVINO's) for ever, a device would never end."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read model file ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelError(f"{path}: not a regular file ({file_kind(st.st_mode)}); refused without opening it")
    limit = MAX_BYTES.get(path.suffix.lower(), MAX_BYTES[".bin"])
    if st.st_size > limit:
        raise ModelError(f"{path}: {st.st_size / 2**20:.0f} MiB, larger than any {path.suffix or 'model'} file "
                         f"edgecolor reads ({limit / 2**20:.0f} MiB)")
    return st.st_size


def open_model_file(path: Path):
    """``path`` opened for reading if it is a regular file (``regular.open_regular``: a FIFO swapped in after
    ``check_regular`` is refused too). OSError otherwise."""
    return open_regular(path)


# -- metadata readers --------------------------------------------------------------------------

_ONNX_GRAPH = 7  # ModelProto.graph
_ONNX_METADATA = 14  # ModelProto.metadata_props
_GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT = 5, 11, 12

Dims = tuple[int | str | None, ...]


def onnx_metadata(path: Path) -> dict[str, str]:
    """``edgecolor.*`` entries of an ONNX file's metadata_props. Only top-level protobuf fields are
    read; the graph is skipped with a seek, so this is fast for any model size."""
    meta: dict[str, str] = {}
    with open_model_file(path) as f:
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
    with open_model_file(path) as f:
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
    with open_model_file(path) as f:
        for event, elem in ET.iterparse(f, events=("start", "end")):
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
    with open_model_file(path) as f:
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
