"""A shipped ONNX model rewritten so OpenCV 4.x's DNN module runs it (Debian 12's 4.6, a board's system OpenCV).

OpenCV 4.x reads ReLU6 only in the old ``Clip`` form (min and max as attributes, one input); opset 11+
exports give min and max as inputs, and 4.6 stops at the first one ("node_proto.input_size() == 1").
Every ``Clip(x, 0, 6)`` becomes ``Relu(x) - Relu(x - 6)`` and ``Clip(x, 0)`` a ``Relu``, the same functions
up to float rounding; the uncertainty fallback's ``ReduceSum`` over channels (axes as an input since opset
13, which 4.6 also refuses) becomes a 1x1 ``Conv`` of ones. So the colours do not change (checked here: the
rewritten graph against the original through the installed cv2.dnn). Everything else (Conv, Add, Sub, Mul,
Reciprocal, Concat, Resize linear half_pixel, Softmax over channels, Div) 4.6 reads as is.
The contract travels in metadata_props and in a JSON file beside the output, for C++ (OpenCV cannot read
ONNX metadata). Works on the ONNX alone: no PyTorch checkpoint needed.

    python -m tools.cv4 models/edgecolor-lite0/edgecolor-lite0-fp32.onnx out/edgecolor-lite0-fp32-cv4.onnx
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

try:
    import onnx
    from onnx import helper, numpy_helper
except ImportError:
    if __name__ != "__main__":
        raise
    # Run as a command without the convert extra: one line and the usage exit code, not a traceback.
    print('tools.cv4: error: needs the onnx package: pip install ".[convert]"', file=sys.stderr)
    raise SystemExit(2) from None

from tools.sidecar import write_contract_json


def _constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Values of initializers and Constant nodes, by output name."""
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def rewrite(model: onnx.ModelProto) -> tuple[onnx.ModelProto, Counter]:
    """A copy with each input-form ``Clip(x, 0, hi)`` replaced by ops OpenCV 4.x reads; counts of what changed.

    ``Clip(x, 0, hi)`` = ``Relu(x) - Relu(x - hi)``: 4.6 has no element-wise ``Min``/``Max`` with a constant
    (its Eltwise layer wants two tensors), but it has ``Relu``, ``Add`` of a constant and ``Sub`` of two
    tensors. The result equals the clip up to float rounding of ``x - hi`` (below 1e-5 for |x| < 100).
    ``Clip(x, 0, inf)`` is a plain ``Relu``. Other Clips are left alone (4.x cannot run them; say so).
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    consts = _constants(model)
    _CHANNELS.clear()
    for info in onnx.shape_inference.infer_shapes(model).graph.value_info:
        dims = info.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField("dim_value"):
            _CHANNELS[info.name] = dims[1].dim_value
    nodes, changed, extra = [], Counter(), []
    for node in model.graph.node:
        bounds = list(node.input[1:]) + [""] * (3 - len(node.input))
        if node.op_type == "ReduceSum" and len(node.input) == 2 and node.input[1] in consts:
            nodes.append(_channel_sum(node, consts, extra, changed))
            continue
        if node.op_type != "Clip" or len(node.input) == 1 or any(b and b not in consts for b in bounds):
            nodes.append(node)
            continue
        lo, hi = (float(consts[b]) if b else None for b in bounds)
        if lo != 0.0:
            nodes.append(node)
            changed[f"Clip({lo}, {hi}) kept"] += 1
            continue
        x, out, base = node.input[0], node.output[0], node.name or node.output[0]
        if hi is None or not np.isfinite(hi):
            nodes.append(helper.make_node("Relu", [x], [out], name=f"{base}/cv4_Relu"))
            changed["Clip(0, inf) -> Relu"] += 1
            continue
        bound = f"{base}/cv4_minus_hi"
        extra.append(numpy_helper.from_array(np.array(-hi, np.float32), bound))
        nodes += [
            helper.make_node("Relu", [x], [f"{base}/cv4_relu"], name=f"{base}/cv4_Relu"),
            helper.make_node("Add", [x, bound], [f"{base}/cv4_shifted"], name=f"{base}/cv4_Add"),
            helper.make_node("Relu", [f"{base}/cv4_shifted"], [f"{base}/cv4_over"], name=f"{base}/cv4_Relu_over"),
            helper.make_node("Sub", [f"{base}/cv4_relu", f"{base}/cv4_over"], [out], name=f"{base}/cv4_Sub"),
        ]
        changed[f"Clip(0, {hi:g}) -> Relu(x) - Relu(x - {hi:g})"] += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(extra)
    _drop_unused_constants(model)
    onnx.checker.check_model(model)
    return model, changed


def _channel_sum(node, consts: dict, extra: list, changed: Counter):
    """``ReduceSum(x, axes=[1], keepdims=1)`` (opset-13 form, axes as an input, which 4.x refuses) as a 1x1
    ``Conv`` with all-one weights: the same sum over channels. Needs the channel count, read from the graph
    by the caller through ``_CHANNELS``; other reductions are left alone."""
    axes = [int(a) for a in np.atleast_1d(consts[node.input[1]])]
    keep = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
    channels = _CHANNELS.get(node.input[0])
    if axes != [1] or keep != 1 or not channels:
        changed["ReduceSum kept"] += 1
        return node
    name = f"{node.name or node.output[0]}/cv4_ones"
    extra.append(numpy_helper.from_array(np.ones((1, channels, 1, 1), np.float32), name))
    changed[f"ReduceSum(axes=[1]) over {channels} channels -> Conv 1x1 of ones"] += 1
    return helper.make_node("Conv", [node.input[0], name], list(node.output), name=f"{node.name}/cv4_Conv",
                            kernel_shape=[1, 1])


_CHANNELS: dict[str, int] = {}


def _drop_unused_constants(model: onnx.ModelProto) -> None:
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    keep = [n for n in model.graph.node if n.op_type != "Constant" or n.output[0] in used]
    del model.graph.node[:]
    model.graph.node.extend(keep)
    inits = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)


def max_ab_difference(original: Path, rewritten: Path, sizes=((256, 192), (192, 256), (96, 128))) -> float:
    """max |ab| difference between two ONNX files on random L inputs, through this machine's cv2.dnn."""
    import cv2

    a, b = cv2.dnn.readNetFromONNX(str(original)), cv2.dnn.readNetFromONNX(str(rewritten))
    rng = np.random.default_rng(0)
    worst = 0.0
    for h, w in sizes:
        x = rng.uniform(-1, 1, (1, 1, h, w)).astype(np.float32)
        a.setInput(x)
        b.setInput(x)
        worst = max(worst, float(np.abs(a.forward() - b.forward()).max()))
    return worst


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="an edgecolor ONNX model (opset 11+)")
    ap.add_argument("out", type=Path, help="the OpenCV 4.x variant; its contract goes to OUT with .json")
    args = ap.parse_args(argv)
    model, changed = rewrite(onnx.load(str(args.model)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, args.out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    meta = {p.key: p.value for p in model.metadata_props}
    json_path = write_contract_json(meta, args.out)
    for what, n in sorted(changed.items()):
        print(f"{n:3d} x {what}")
    ab_scale = float(meta.get("edgecolor.ab_scale", 1.0))
    err = max_ab_difference(args.model, args.out) * ab_scale
    print(f"wrote {args.out} and {json_path.name}; max |ab| difference from {args.model.name}: {err:.2e} "
          "(CIELAB units, this machine's cv2.dnn)")


if __name__ == "__main__":
    main()
