"""Hostile weight files, a few hundred bytes each, written by the tests (never downloaded).

A ``.pth`` is written opcode by opcode (the pickle module cannot emit ``torch._utils`` globals
without torch), so any size, stride, offset or storage length can be claimed; ONNX files are
written with the onnx helper API. Used by tests/test_import_trust.py and the fuzz tests.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b  # BINUNICODE


def _int(n: int) -> bytes:
    return pickle.dumps(n, 2)[2:-1]  # BININT / LONG1, whatever fits


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


def tensor_ops(key: str, offset: int, size: tuple, stride: tuple, numel: int, storage: str = "FloatStorage",
               legacy: bool = False) -> bytes:
    """``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""
    pid = [_str("storage"), b"ctorch\n" + storage.encode() + b"\n", _str(key), _str("cpu"), _int(numel)]
    if legacy:
        pid.append(b"N")  # view metadata
    persistent = _tuple(pid) + b"Q"  # BINPERSID
    args = _tuple([persistent, _int(offset), _tuple([_int(s) for s in size]), _tuple([_int(s) for s in stride]),
                   b"\x89", b"ccollections\nOrderedDict\n)R"])
    return b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"R"


def state_dict_pickle(entries: dict[str, bytes], extra: bytes = b"") -> bytes:
    """An OrderedDict of name -> the objects ``entries`` hold (pickle opcodes), protocol 2; ``extra`` runs
    on the dict before it is returned (e.g. a BUILD)."""
    body = b"".join(_str(k) + v for k, v in entries.items())
    return b"\x80\x02ccollections\nOrderedDict\n)R(" + body + b"u" + extra + b"."


def zip_pth(path: Path, data_pkl: bytes, storages: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> Path:
    """torch's zip layout: ``archive/data.pkl`` and ``archive/data/<key>``."""
    with zipfile.ZipFile(path, "w", compress) as z:
        z.writestr("archive/data.pkl", data_pkl)
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)
    return path


def tensor_pth(path: Path, size: tuple, stride: tuple, offset: int = 0, storage_bytes: bytes = b"\0" * 4,
               numel: int | None = None) -> Path:
    """A zip .pth with one float tensor of the given geometry over ``storage_bytes``."""
    numel = len(storage_bytes) // 4 if numel is None else numel
    pkl = state_dict_pickle({"w": tensor_ops("0", offset, size, stride, numel)})
    return zip_pth(path, pkl, {"0": storage_bytes})


def legacy_pth(path: Path, obj_pickle: bytes, keys: list[str], storages: list[tuple[int, bytes]]) -> Path:
    """The legacy stream: magic, protocol, sys info, the object, the storage keys, then (count, bytes) each."""
    out = io.BytesIO()
    out.write(pickle.dumps(LEGACY_MAGIC, 2))
    out.write(pickle.dumps(1001, 2))
    out.write(pickle.dumps({"protocol_version": 1001, "little_endian": True,
                            "type_sizes": {"short": 2, "int": 4, "long": 4}}, 2))
    out.write(obj_pickle)
    out.write(pickle.dumps(keys, 2))
    for count, raw in storages:
        out.write(struct.pack("<q", count) + raw)
    path.write_bytes(out.getvalue())
    return path


class RunsCode:
    """Unpickling this runs ``os.system(command)``: what a malicious weights file does."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        import os

        return os.system, (self.command,)


def code_running_pickle(command: str) -> bytes:
    return pickle.dumps(RunsCode(command), 2)


# -- ONNX ------------------------------------------------------------------------------------------


def onnx_model(nodes, inits=(), in_dims=(1, 1, 32, 32), out_dims=(1, 2, 32, 32), opset: int = 13):
    from onnx import TensorProto, helper

    graph = helper.make_graph(list(nodes), "g", [helper.make_tensor_value_info("L", TensorProto.FLOAT, list(in_dims))],
                              [helper.make_tensor_value_info("ab", TensorProto.FLOAT, list(out_dims))], list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def eccv_like_onnx(path: Path, size: int = 32) -> Path:
    """A tiny stand-in of the third-party export: a stride-4 conv to 2 channels, then a x4 Resize."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.full((2, 1, 4, 4), 0.05, np.float32), "w")
    scales = numpy_helper.from_array(np.array([1, 1, 4, 4], np.float32), "scales")
    nodes = [helper.make_node("Conv", ["L", "w"], ["x"], kernel_shape=[4, 4], strides=[4, 4]),
             helper.make_node("Resize", ["x", "", "scales"], ["ab"], mode="nearest")]
    onnx.save(onnx_model(nodes, [w, scales], (1, 1, size, size), (1, 2, size, size)), str(path))
    return path


def loop_onnx(path: Path, trips: int = 10**15) -> Path:
    """A graph whose output goes through a Loop of ``trips`` iterations (the body adds 1 each time)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["x_in", "one"], ["x_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_out", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(1, np.float32), "one")])
    inits = [numpy_helper.from_array(np.array(trips, np.int64), "trips"),
             numpy_helper.from_array(np.array(True), "cond"),
             numpy_helper.from_array(np.zeros((2, 1, 1, 1), np.float32), "w")]
    nodes = [helper.make_node("Conv", ["L", "w"], ["x"], kernel_shape=[1, 1]),
             helper.make_node("Loop", ["trips", "cond", "x"], ["ab"], body=body)]
    onnx.save(onnx_model(nodes, inits), str(path))
    return path
