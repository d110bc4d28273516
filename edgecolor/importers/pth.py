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
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from edgecolor.errors import EdgecolorError

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


class _StorageType:
    def __init__(self, name: str):
        self.name = name


class _Tensor:
    """What ``torch._utils._rebuild_tensor_v2`` would build, kept as (storage, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        data = self.storage()
        if not self.size:
            return data[self.offset:self.offset + 1].reshape(())
        item = data.itemsize
        return np.lib.stride_tricks.as_strided(data[self.offset:], self.size,
                                               tuple(s * item for s in self.stride)).copy()


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, *_rest):
    return data


class _Unpickler(pickle.Unpickler):
    """Resolves only what a state dict needs; anything else is refused, never imported."""

    def __init__(self, f, load_storage):
        super().__init__(f)
        self._load_storage = load_storage

    def find_class(self, module: str, name: str):
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
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise pickle.UnpicklingError("unexpected persistent id")
        kind = pid[1].name if isinstance(pid[1], _StorageType) else str(pid[1])
        dtype = _DTYPES.get(kind)
        if dtype is None:
            raise pickle.UnpicklingError(f"unsupported storage type {kind}")
        return self._load_storage(str(pid[2]), np.dtype(dtype))


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Name -> float32 array of every tensor in a .pth state dict (zip or legacy layout)."""
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"
    if is_zip and not zipfile.is_zipfile(path):
        raise EdgecolorError(f"{path}: truncated or not a PyTorch state dict (the zip archive has no directory)")
    try:
        raw = _read_zip(path) if is_zip else _read_legacy(path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, struct.error, zipfile.BadZipFile,
            AttributeError, TypeError, IndexError) as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise EdgecolorError(f"{path}: truncated or not a PyTorch state dict ({reason})") from None
    if isinstance(raw, dict) and "state_dict" in raw and isinstance(raw["state_dict"], dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict) or not raw:
        raise EdgecolorError(f"{path}: not a PyTorch state dict (no named tensors)")
    out = {}
    for k, v in raw.items():
        if not isinstance(v, _Tensor):
            raise EdgecolorError(f"{path}: entry {k!r} is not a tensor; not a state dict")
        try:
            out[str(k)] = v.array()
        except (ValueError, TypeError, KeyError) as e:
            raise EdgecolorError(f"{path}: tensor {k!r} is truncated ({e})") from None
    return out


def _read_zip(path: Path):
    with zipfile.ZipFile(path) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkl:
            raise ValueError("no data.pkl in the archive")
        root = pkl[0][: -len("data.pkl")]
        cache: dict[str, np.ndarray] = {}

        def load(key: str, dtype: np.dtype):
            if key not in cache:
                cache[key] = np.frombuffer(z.read(f"{root}data/{key}"), dtype=dtype)
            return lambda: cache[key]

        return _Unpickler(io.BytesIO(z.read(pkl[0])), load).load()


def _read_legacy(path: Path):
    data = path.read_bytes()
    f = io.BytesIO(data)
    if pickle.load(f) != LEGACY_MAGIC:  # a plain int: loads with the standard unpickler safely
        raise ValueError("no PyTorch magic number")
    pickle.load(f)  # protocol version
    pickle.load(f)  # sys info (a dict of ints and bools)
    dtypes: dict[str, np.dtype] = {}
    blobs: dict[str, np.ndarray] = {}

    def load(key: str, dtype: np.dtype):  # the bytes come after the pickle: looked up on use
        dtypes[key] = dtype
        return lambda: blobs[key]

    obj = _Unpickler(f, load).load()
    keys = _Unpickler(f, load).load()
    for key in keys:
        (count,) = struct.unpack("<q", f.read(8))
        dtype = dtypes.get(str(key), np.dtype(np.float32))
        raw = f.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise ValueError("file ends inside a tensor")
        blobs[str(key)] = np.frombuffer(raw, dtype=dtype)
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
            raise EdgecolorError(f"{source}: this is the colorizers {other} state dict, not {arch}: "
                                 f"use `edgecolor import {other}`")
        shown = ", ".join(extra[:4]) + (f" and {len(extra) - 4} more" if len(extra) > 4 else "")
        raise EdgecolorError(f"{source}: not the colorizers {arch} state dict: unexpected keys {shown}")
    return out, names
