"""Caffe without Caffe: read a ``.caffemodel`` (and a deploy ``.prototxt``) with protobuf alone.

The message classes are built at run time from the public caffe.proto layout, written here from its
field numbers (only the messages and fields edgecolor reads; protobuf skips the rest): NetParameter,
LayerParameter (the current format), V1LayerParameter (the older ``layers`` format), BlobProto and
BlobShape, and the parameters of the layers the colorization nets use. Needs ``protobuf`` (it comes
with the ``convert`` extra's onnx).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from edgecolor.errors import BackendError, ModelError
from edgecolor.importers import guard

# (message, [(field name, number, type, label, message type name)]); label 1 optional, 3 repeated.
_F, _I32, _I64, _U32, _BOOL, _STR, _MSG = 2, 5, 3, 13, 8, 9, 11  # FieldDescriptorProto.Type values
_DBL = 1
_MESSAGES: list[tuple[str, list[tuple[str, int, int, int, str | None]]]] = [
    ("BlobShape", [("dim", 1, _I64, 3, None)]),
    ("BlobProto", [
        ("num", 1, _I32, 1, None), ("channels", 2, _I32, 1, None), ("height", 3, _I32, 1, None),
        ("width", 4, _I32, 1, None), ("data", 5, _F, 3, None), ("diff", 6, _F, 3, None),
        ("shape", 7, _MSG, 1, "BlobShape"), ("double_data", 8, _DBL, 3, None), ("double_diff", 9, _DBL, 3, None),
    ]),
    ("FillerParameter", [("type", 1, _STR, 1, None), ("value", 2, _F, 1, None)]),
    ("ConvolutionParameter", [
        ("num_output", 1, _U32, 1, None), ("bias_term", 2, _BOOL, 1, None), ("pad", 3, _U32, 3, None),
        ("kernel_size", 4, _U32, 3, None), ("group", 5, _U32, 1, None), ("stride", 6, _U32, 3, None),
        ("pad_h", 9, _U32, 1, None), ("pad_w", 10, _U32, 1, None), ("kernel_h", 11, _U32, 1, None),
        ("kernel_w", 12, _U32, 1, None), ("stride_h", 13, _U32, 1, None), ("stride_w", 14, _U32, 1, None),
        ("dilation", 18, _U32, 3, None),
    ]),
    ("BatchNormParameter", [("use_global_stats", 1, _BOOL, 1, None), ("moving_average_fraction", 2, _F, 1, None),
                            ("eps", 3, _F, 1, None)]),
    ("ScaleParameter", [("axis", 1, _I32, 1, None), ("num_axes", 2, _I32, 1, None),
                        ("filler", 3, _MSG, 1, "FillerParameter"), ("bias_term", 4, _BOOL, 1, None)]),
    ("SoftmaxParameter", [("axis", 2, _I32, 1, None)]),
    ("LayerParameter", [
        ("name", 1, _STR, 1, None), ("type", 2, _STR, 1, None), ("bottom", 3, _STR, 3, None),
        ("top", 4, _STR, 3, None), ("blobs", 7, _MSG, 3, "BlobProto"),
        ("convolution_param", 106, _MSG, 1, "ConvolutionParameter"),
        ("softmax_param", 125, _MSG, 1, "SoftmaxParameter"),
        ("batch_norm_param", 139, _MSG, 1, "BatchNormParameter"),
        ("scale_param", 142, _MSG, 1, "ScaleParameter"),
    ]),
    ("V1LayerParameter", [
        ("bottom", 2, _STR, 3, None), ("top", 3, _STR, 3, None), ("name", 4, _STR, 1, None),
        ("type", 5, _I32, 1, None), ("blobs", 6, _MSG, 3, "BlobProto"),
        ("convolution_param", 10, _MSG, 1, "ConvolutionParameter"),
    ]),
    ("NetParameter", [
        ("name", 1, _STR, 1, None), ("layers", 2, _MSG, 3, "V1LayerParameter"), ("input", 3, _STR, 3, None),
        ("input_dim", 4, _I32, 3, None), ("input_shape", 8, _MSG, 3, "BlobShape"),
        ("layer", 100, _MSG, 3, "LayerParameter"),
    ]),
]
_PACKED = {("BlobShape", "dim"), ("BlobProto", "data"), ("BlobProto", "diff"), ("BlobProto", "double_data"),
           ("BlobProto", "double_diff")}


@functools.cache
def messages() -> dict[str, type]:
    """The caffe message classes, keyed by name (built once)."""
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError:
        raise BackendError("reading a .caffemodel needs protobuf: pip install 'edgecolor[convert]'") from None

    fdp = descriptor_pb2.FileDescriptorProto(name="edgecolor_caffe.proto", package="edgecolor_caffe", syntax="proto2")
    for msg_name, fields in _MESSAGES:
        msg = fdp.message_type.add(name=msg_name)
        for name, number, ftype, label, type_name in fields:
            f = msg.field.add(name=name, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".edgecolor_caffe.{type_name}"
            if (msg_name, name) in _PACKED:
                f.options.packed = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"edgecolor_caffe.{name}"))
            for name, _ in _MESSAGES}


def blob_array(blob) -> np.ndarray:
    """A BlobProto as a float32 array in its own shape (the ``shape`` field, or the legacy 4 dims)."""
    data = np.asarray(blob.double_data if len(blob.double_data) else blob.data, dtype=np.float32)
    if blob.HasField("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    else:
        shape = tuple(int(d) for d in (blob.num, blob.channels, blob.height, blob.width))
    if len(shape) > guard.MAX_NDIM:
        raise ValueError(f"blob of {len(shape)} dimensions")
    if guard.count(shape, "blob dimension") != data.size:  # Python ints: no overflow, no negative dims
        raise ValueError(f"blob holds {data.size} values for shape {shape}")
    return data.reshape(shape)


def read_caffemodel(path: Path) -> dict[str, list[np.ndarray]]:
    """Layer name -> its blobs, from a binary NetParameter (the current or the V1 layer format)."""
    from google.protobuf.message import DecodeError

    net = messages()["NetParameter"]()
    data = guard.read_capped(path, guard.MAX_WEIGHTS_BYTES, "weights file")
    try:
        net.ParseFromString(data)
    except (DecodeError, RecursionError, ValueError):
        raise ModelError(f"{path}: truncated or not a Caffe model (protobuf cannot parse it)") from None
    del data
    layers: dict[str, list[np.ndarray]] = {}
    for layer in list(net.layer) + list(net.layers):
        try:
            layers[layer.name] = [blob_array(b) for b in layer.blobs]
        except ValueError as e:
            raise ModelError(f"{path}: layer {layer.name}: {e}") from None
    if not layers:
        raise ModelError(f"{path}: no layers in this file; not a Caffe model")
    return layers


def read_prototxt(path: Path):
    """A text-format NetParameter (a deploy .prototxt); fields edgecolor does not read are skipped."""
    from google.protobuf import text_format

    net = messages()["NetParameter"]()
    data = guard.read_capped(path, guard.MAX_TEXT_BYTES, "prototxt")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not a Caffe prototxt (not UTF-8 text)") from None
    depth = deepest = 0
    for ch in text:  # protobuf's text parser recurses per brace: bound it before parsing
        if ch in "{<":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "}>":
            depth -= 1
    if deepest > guard.MAX_NESTING:
        raise ModelError(f"{path}: not a Caffe prototxt (nested {deepest} deep; a deploy prototxt is 3)")
    try:
        text_format.Parse(text, net, allow_unknown_field=True)
    except (text_format.ParseError, RecursionError, ValueError) as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise ModelError(f"{path}: not a Caffe prototxt ({reason})") from None
    return net


# -- ECCV16 (colorization_deploy_v2.prototxt / colorization_release_v2.caffemodel) ----------------


def eccv16_weights(layers: dict[str, list[np.ndarray]], source: str,
                   hull: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Canonical ECCV16 weights from the Caffe layers, and canonical -> Caffe names for messages.

    Caffe's BatchNorm stores (mean * f, variance * f, f); the bin centres of ``class8_ab`` are not
    always in the .caffemodel (OpenCV's sample sets them from pts_in_hull.npy): ``hull`` fills or
    overrides them."""
    from edgecolor.importers.nets import ECCV16_BLOCKS, eccv16_table

    convs, _bns = eccv16_table()
    out: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    for c in convs:
        caffe = "class8_ab" if c.name == "decode" else c.name
        names[f"{c.name}.weight"] = f"layer {caffe} (weights)"
        names[f"{c.name}.bias"] = f"layer {caffe} (bias)"
        blobs = layers.get(caffe, [])
        if c.name == "decode":
            if hull is not None:
                out["decode.weight"] = np.asarray(hull, np.float32).T.reshape(2, -1, 1, 1)
            elif blobs and np.any(blobs[0]):
                out["decode.weight"] = blobs[0]
            continue
        if blobs:
            out[f"{c.name}.weight"] = blobs[0]
        if len(blobs) > 1:
            out[f"{c.name}.bias"] = blobs[1]
    for i, (_ch, n, _s, _d) in enumerate(ECCV16_BLOCKS, 1):
        caffe = f"conv{i}_{n}norm"
        names[f"bn{i}.mean"] = names[f"bn{i}.var"] = f"layer {caffe} (batch norm statistics)"
        blobs = layers.get(caffe, [])
        if len(blobs) >= 3:
            if blobs[2].size != 1:
                raise ModelError(f"{source}: layer {caffe} holds {blobs[2].size} scale factors; Caffe's "
                                     "BatchNorm holds one")
            f = float(blobs[2].reshape(-1)[0])
            f = 0.0 if f == 0 else 1.0 / f
            out[f"bn{i}.mean"] = blobs[0] * f
            out[f"bn{i}.var"] = blobs[1] * f
    if "decode.weight" not in out:
        raise ModelError(f"{source}: layer class8_ab has no bin centres in this file; "
                             f"pass --hull pts_in_hull.npy (from the colorization release)")
    return out, names


def eccv16_anneal(layers: dict[str, list[np.ndarray]], prototxt=None, source: str = "") -> np.ndarray | float:
    """The annealing scale of conv8_313_rh: its blob when the model holds a non-zero one, else the
    prototxt's constant filler, else the published 2.606 (T = 0.38)."""
    from edgecolor.importers.nets import ANNEAL, N_BINS

    blobs = layers.get("conv8_313_rh", [])
    if blobs and np.any(blobs[0]):
        anneal = blobs[0].reshape(-1)
        if anneal.size not in (1, N_BINS) or not np.isfinite(anneal).all():
            raise ModelError(f"{source}: layer conv8_313_rh holds {anneal.size} values"
                                 f"{'' if np.isfinite(anneal).all() else ' (not all finite)'}; the annealing "
                                 f"scale is one value or one per bin ({N_BINS})")
        return anneal
    if prototxt is not None:
        for layer in prototxt.layer:
            if layer.name == "conv8_313_rh" and layer.scale_param.HasField("filler"):
                value = float(layer.scale_param.filler.value)
                if not np.isfinite(value):
                    raise ModelError(f"{source}: the prototxt's conv8_313_rh scale is {value}; not a number")
                return value
    return ANNEAL


def check_eccv16_prototxt(net, source: str) -> None:
    """Refuse a deploy prototxt whose ECCV16 layers differ from the layer table edgecolor builds."""
    from edgecolor.importers.nets import eccv16_table

    convs, _ = eccv16_table()
    layers = {layer.name: layer for layer in net.layer}
    layers.update({layer.name: layer for layer in net.layers})
    for c in convs:
        name = "class8_ab" if c.name == "decode" else c.name
        if name not in layers:
            raise ModelError(f"{source}: no layer {name}; not the ECCV16 deploy prototxt")
        p = layers[name].convolution_param
        got = {
            "num_output": p.num_output or c.cout,
            "kernel": (list(p.kernel_size) or [p.kernel_h or c.k])[0],
            "stride": (list(p.stride) or [p.stride_h or 1])[0],
            "pad": (list(p.pad) or [p.pad_h])[0],
            "dilation": (list(p.dilation) or [1])[0],
        }
        want = {"num_output": c.cout, "kernel": c.k, "stride": 2 if c.transposed else c.stride, "pad": c.pad,
                "dilation": c.dil}
        for key, value in want.items():
            if got[key] != value:
                raise ModelError(f"{source}: layer {name} has {key} {got[key]}; the ECCV16 importer builds "
                                     f"{value} (a different network?)")
