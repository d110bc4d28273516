"""Read a PyTorch ``.pth`` state dict without torch, and map richzhang's ``colorizers`` key names.

torch is a 700 MB install and the import needs only the tensors, so the two file layouts are read
here with the standard library: the zip archive (torch >= 1.6: ``<root>/data.pkl`` + one file per
storage) and the legacy stream (pickles, then raw storages). The pickle is read with an
allow-list unpickler, like ``torch.load(weights_only=True)``: only OrderedDict, tensor rebuilding
and storage types resolve, so a hostile file cannot run code. Tests compare it with torch.load.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from edgecolor.errors import ModelError
from edgecolor.importers import guard

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": None, "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_TORCH_DTYPES = {"float32": "FloatStorage", "float": "FloatStorage", "float64": "DoubleStorage",
                 "double": "DoubleStorage", "float16": "HalfStorage", "half": "HalfStorage", "int64": "LongStorage",
                 "long": "LongStorage", "int32": "IntStorage", "int": "IntStorage", "uint8": "ByteStorage",
                 "int8": "CharStorage", "int16": "ShortStorage", "bool": "BoolStorage"}


class _Frozen:
    """Objects the unpickler hands out refuse BUILD: a hostile pickle cannot swap their fields."""

    def __setstate__(self, _state):
        raise pickle.UnpicklingError("unexpected BUILD on a tensor or storage")


class _StorageType(_Frozen):
    def __init__(self, name: str):
        self.name = name


class _Storage(_Frozen):
    """One storage of the file: its key, its element type and how to get its values."""

    def __init__(self, key: str, dtype: np.dtype, load):
        self.key, self.dtype, self._load = key, dtype, load

    def data(self) -> np.ndarray:
        return self._load()


class _Tensor(_Frozen):
    """What ``torch._utils._rebuild_tensor_v2`` would build, kept as (storage, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError("a tensor without a storage")
        if not isinstance(size, tuple | list) or not isinstance(stride, tuple | list):
            raise pickle.UnpicklingError("a tensor whose size or stride is not a tuple")
        if len(size) != len(stride) or len(size) > guard.MAX_NDIM:
            raise pickle.UnpicklingError(f"a tensor of {len(size)} dimensions with {len(stride)} strides")
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)
        guard.count((offset, *self.stride), "offset or stride")  # negative strides are refused
        self.numel = guard.count(self.size, "size")

    def check(self) -> None:
        """ValueError unless every index of the tensor lies inside its storage, and it holds no more
        values than the storage (a stride-0 expansion of a few bytes into gigabytes is refused)."""
        size = self.storage.data().size
        if self.numel > size:
            raise ValueError(f"claims {self.numel} values over a storage of {size}")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.numel and last >= size:
            raise ValueError(f"reaches value {last} of a storage of {size}")

    def array(self) -> np.ndarray:
        """The tensor's values, copied out of its storage (``check`` first)."""
        self.check()
        data = self.storage.data()
        if self.numel == 0:
            return np.zeros(self.size, data.dtype)
        view = np.lib.stride_tricks.as_strided(data[self.offset:], self.size,
                                               tuple(s * data.itemsize for s in self.stride), writeable=False)
        return view.copy()


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, *_rest):
    if not isinstance(data, _Tensor):
        raise pickle.UnpicklingError("a parameter that is not a tensor")
    return data


class _Unpickler(pickle.Unpickler):
    """Resolves only what a state dict needs; anything else is refused, never imported.

    ``load_storage(key, dtype, numel)`` is None for the pickles before the state dict (the legacy
    header): they may hold plain values only."""

    def __init__(self, f, load_storage=None):
        super().__init__(f)
        self._load_storage = load_storage

    def find_class(self, module: str, name: str):
        if self._load_storage is None:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the file header")
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "torch" and name in _TORCH_DTYPES:  # torch.float32 etc. in newer typed storages
            return _StorageType(_TORCH_DTYPES[name])
        raise pickle.UnpicklingError(f"unsupported object {module}.{name} in the state dict")

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, numel) [+ view metadata in the legacy format]
        if self._load_storage is None or not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise pickle.UnpicklingError("unexpected persistent id")
        kind = pid[1].name if isinstance(pid[1], _StorageType) else str(pid[1])
        dtype = _DTYPES.get(kind)
        if dtype is None:
            raise pickle.UnpicklingError(f"unsupported storage type {kind}")
        return _Storage(str(pid[2]), np.dtype(dtype), self._load_storage(str(pid[2]), np.dtype(dtype)))


MAX_MEMO = 1 << 20  # memo slots of one pickle (a state dict's uses one or two per tensor)
_BUFFER_OPS = {"BYTEARRAY8", "NEXT_BUFFER", "READONLY_BUFFER"}  # protocol 5: never in a state dict


def _load(f, load_storage=None):
    """One pickle from ``f`` through the allow-list unpickler, its opcodes walked first (pickletools,
    pure Python: it allocates only what the file holds): the C unpickler sizes some things by the
    number an opcode claims before reading (a bytearray's length, the memo index), so a few bytes
    could ask for gigabytes."""
    import pickletools

    start = f.tell()
    end = len(f.getbuffer())
    for op, arg, pos in pickletools.genops(f):
        if op.name in _BUFFER_OPS:
            raise pickle.UnpicklingError(f"unexpected {op.name} in a state dict")
        if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and not 0 <= arg < MAX_MEMO:
            raise pickle.UnpicklingError(f"memo index {arg} beyond {MAX_MEMO}")
        if op.name == "FRAME" and arg > end - pos:
            raise pickle.UnpicklingError(f"a frame of {arg} bytes; {end - pos} remain")
    f.seek(start)
    return _Unpickler(f, load_storage).load()


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Name -> array of every tensor in a .pth state dict (zip or legacy layout).

    Nothing in the file runs: every pickle (the legacy header too) goes through the allow-list
    unpickler, and every tensor's size, stride and offset is checked against its storage, and every
    storage against the file and ``guard``'s limits, before anything of that size is allocated."""
    with guard.open_regular(path, "weights file") as f:
        is_zip = f.read(4) == b"PK\x03\x04"
    if is_zip and not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: truncated or not a PyTorch state dict (the zip archive has no directory)")
    try:
        raw = _read_zip(path) if is_zip else _read_legacy(path)
        if isinstance(raw, dict) and "state_dict" in raw and isinstance(raw["state_dict"], dict):
            raw = raw["state_dict"]
        if not isinstance(raw, dict) or not raw:
            raise ModelError(f"{path}: not a PyTorch state dict (no named tensors)")
        if len(raw) > guard.MAX_TENSORS:
            raise ModelError(f"{path}: {len(raw)} entries; more than a state dict holds ({guard.MAX_TENSORS})")
        total = 0
        for k, v in raw.items():
            if not isinstance(v, _Tensor):
                raise ModelError(f"{path}: entry {str(k)[:60]!r} is not a tensor; not a state dict")
            try:
                v.check()
            except (ValueError, KeyError) as e:
                raise ModelError(f"{path}: tensor {str(k)[:60]!r} is truncated or malformed ({e})") from None
            total += v.numel * v.storage.dtype.itemsize
        if total > guard.MAX_WEIGHTS_BYTES:
            raise ModelError(f"{path}: its tensors claim {total / 1e9:.1f} GB; more than an importable network "
                                 f"({guard.MAX_WEIGHTS_BYTES >> 20} MB)")
        out = {}
        for k, v in raw.items():
            try:
                out[str(k)] = v.array()
            except (ValueError, KeyError) as e:
                raise ModelError(f"{path}: tensor {str(k)[:60]!r} is truncated or malformed ({e})") from None
        return out
    except ModelError:
        raise
    except MemoryError:
        raise ModelError(f"{path}: not a PyTorch state dict (it asks for more memory than there is)") from None
    except Exception as e:  # noqa: BLE001 - a hostile pickle can raise anything the allowed types raise
        reason = (str(e).splitlines() or [type(e).__name__])[0][:160] or type(e).__name__
        raise ModelError(f"{path}: truncated or not a PyTorch state dict ({reason})") from None


def _read_zip(path: Path):
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        pkl = [i for i in infos if i.filename.endswith("/data.pkl") or i.filename == "data.pkl"]
        if not pkl:
            raise ValueError("no data.pkl in the archive")
        root = pkl[0].filename[: -len("data.pkl")]
        entries = {i.filename: i for i in infos}
        declared, archive = 0, os.path.getsize(path)
        for i in infos:  # the central directory's sizes, checked before any entry is inflated
            declared += i.file_size
            if i.header_offset + i.compress_size > archive:
                raise ValueError(f"entry {i.filename[:60]} claims {i.compress_size} bytes; the file is {archive}")
            if i.file_size > guard.MAX_ZIP_RATIO * max(i.compress_size, 1 << 10) or declared > guard.MAX_WEIGHTS_BYTES:
                raise ValueError(f"entry {i.filename[:60]} inflates to {i.file_size} bytes (a zip bomb?)")
        if pkl[0].file_size > guard.MAX_PICKLE_BYTES:
            raise ValueError(f"data.pkl of {pkl[0].file_size} bytes; a state dict's is a few KB")
        cache: dict[str, np.ndarray] = {}

        def load(key: str, dtype: np.dtype):  # read now (sizes checked above): the archive closes after
            if key not in cache:
                info = entries.get(f"{root}data/{key}")
                if info is None:
                    raise ValueError(f"no storage {key[:40]} in the archive")
                cache[key] = np.frombuffer(_read_entry(z, info), dtype=dtype)
            return lambda: cache[key]

        return _load(io.BytesIO(_read_entry(z, pkl[0])), load)


def _read_entry(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One entry, never more bytes than its (checked) declared size, whatever the compressed stream holds."""
    with z.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ValueError(f"entry {info.filename[:60]} holds other than its declared {info.file_size} bytes")
    return data


def _read_legacy(path: Path):
    data = guard.read_capped(path, guard.MAX_WEIGHTS_BYTES + guard.MAX_PICKLE_BYTES, "weights file")
    f = io.BytesIO(data)
    if _load(f) != LEGACY_MAGIC:  # plain values only: no class is resolved in the header
        raise ValueError("no PyTorch magic number")
    _load(f)  # protocol version
    _load(f)  # sys info (a dict of ints and bools)
    blobs: dict[str, np.ndarray] = {}
    dtypes: dict[str, np.dtype] = {}

    def load(key: str, dtype: np.dtype):  # the bytes come after the pickle: looked up on use
        dtypes[key] = dtype

        def data():
            if key not in blobs:
                raise ValueError(f"no storage {key[:40]} in the file")
            return blobs[key]
        return data

    obj = _load(f, load)
    keys = _load(f, load)
    if not isinstance(keys, list) or len(keys) > guard.MAX_TENSORS:
        raise ValueError("no storage list after the state dict")
    for key in keys:
        (n,) = struct.unpack("<q", f.read(8))
        dtype = dtypes.get(str(key), np.dtype(np.float32))
        if n < 0 or n * dtype.itemsize > len(data) - f.tell():
            raise ValueError("file ends inside a tensor")
        raw = np.frombuffer(data, np.uint8, n * dtype.itemsize, f.tell())
        f.seek(n * dtype.itemsize, io.SEEK_CUR)
        blobs[str(key)] = raw.view(dtype)
    return obj


# -- colorizers key names -----------------------------------------------------------------------


def _bn_keys(prefix: str, canonical: str) -> dict[str, str]:
    return {f"{prefix}.running_mean": f"{canonical}.mean", f"{prefix}.running_var": f"{canonical}.var",
            f"{prefix}.weight": f"{canonical}.gamma", f"{prefix}.bias": f"{canonical}.beta"}


def _conv_keys(prefix: str, canonical: str, bias: bool = True) -> dict[str, str]:
    keys = {f"{prefix}.weight": f"{canonical}.weight"}
    if bias:
        keys[f"{prefix}.bias"] = f"{canonical}.bias"
    return keys


def colorizers_keys(arch: str) -> dict[str, str]:
    """richzhang/colorization ``colorizers`` state-dict key -> canonical name (eccv16, siggraph17)."""
    from edgecolor.importers.nets import ECCV16_BLOCKS

    keys: dict[str, str] = {}
    for i, (_c, n, _s, _d) in enumerate(ECCV16_BLOCKS, 1):  # nn.Sequential: conv, ReLU, conv, ReLU, ..., BN
        for j in range(n):
            keys.update(_conv_keys(f"model{i}.{2 * j}", f"conv{i}_{j + 1}"))
        keys.update(_bn_keys(f"model{i}.{2 * n}", f"bn{i}"))
    if arch == "eccv16":
        for idx, name in ((0, "conv8_1"), (2, "conv8_2"), (4, "conv8_3"), (6, "conv8_313")):
            keys.update(_conv_keys(f"model8.{idx}", name))
        keys.update(_conv_keys("model_out", "decode", bias=False))
        return keys
    keys.update(_conv_keys("model8up.0", "conv8_up"))
    keys.update(_conv_keys("model3short8.0", "conv3_short8"))
    keys.update(_conv_keys("model8.1", "conv8_2"))
    keys.update(_conv_keys("model8.3", "conv8_3"))
    keys.update(_bn_keys("model8.5", "bn8"))
    keys.update(_conv_keys("model9up.0", "conv9_up"))
    keys.update(_conv_keys("model2short9.0", "conv2_short9"))
    keys.update(_conv_keys("model9.1", "conv9_2"))
    keys.update(_bn_keys("model9.3", "bn9"))
    keys.update(_conv_keys("model10up.0", "conv10_up"))
    keys.update(_conv_keys("model1short10.0", "conv1_short10"))
    keys.update(_conv_keys("model10.1", "conv10_2"))
    keys.update(_conv_keys("model_out.0", "out"))
    keys.update(_conv_keys("model_class.0", "class"))
    return keys


def canonical_weights(arch: str, state: dict[str, np.ndarray], source: str) -> tuple[dict, dict[str, str]]:
    """Canonical weights from a colorizers state dict; an unknown key is refused (the wrong network)."""
    keys = colorizers_keys(arch)
    prefix = next((p for p in ("module.", "model.") if all(k.startswith(p) for k in state)), "")
    out, names = {}, {v: k for k, v in keys.items()}
    extra = []
    for k, v in state.items():
        k = k[len(prefix):]
        if k.endswith("num_batches_tracked"):
            continue
        if k not in keys:
            extra.append(k)
            continue
        out[keys[k]] = v
    if extra:
        other = "siggraph17" if arch == "eccv16" else "eccv16"
        other_keys = colorizers_keys(other)
        if all(k[len(prefix):] in other_keys or k.endswith("num_batches_tracked") for k in state):
            raise ModelError(f"{source}: this is the colorizers {other} state dict, not {arch}: "
                                 f"use `edgecolor import {other}`")
        shown = ", ".join(extra[:4]) + (f" and {len(extra) - 4} more" if len(extra) > 4 else "")
        raise ModelError(f"{source}: not the colorizers {arch} state dict: unexpected keys {shown}")
    return out, names
