"""The third-party ONNX export of ECCV16 that OpenCV 5's colorization sample points to (``colorizer.onnx``).

It is richzhang's PyTorch ECCV16 exported at opset 10 with a fixed 1x1x256x256 input: L in 0..100
(the (L-50)/100 normalisation inside), ab in CIELAB units out, already upsampled x4 inside. The
graph is kept; edgecolor adds its contract and frees the fixed height and width when the graph
allows it (checked by running both at the fixed size and the freed one at other sizes). One change:
the final x4 upsampling is bypassed (output stride 4), because edgecolor upsamples ab to the full
photo anyway, and because cv2.dnn and OpenVINO disagree on opset 10's Resize (cv2.dnn is off by up to
50 ab units here) while they agree on the rest of the graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecolor.errors import EdgecolorError

CHECK_SIZES = ((96, 160), (256, 256))


def _dims(value_info) -> list:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]


def load(path: Path):
    """The ONNX model, checked to look like ECCV16's export: one 1x1xHxW input, one 1x2xH'xW' output."""
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as e:  # noqa: BLE001 - onnx raises DecodeError, ValueError, OSError...
        raise EdgecolorError(f"{path}: truncated or not an ONNX model ({str(e).splitlines()[0][:120]})") from None
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    outputs = list(model.graph.output)
    if len(inputs) != 1 or len(outputs) != 1:
        raise EdgecolorError(f"{path}: {len(inputs)} inputs and {len(outputs)} outputs; the ECCV16 export has one "
                             "L input and one ab output")
    din, dout = _dims(inputs[0]), _dims(outputs[0])
    if len(din) != 4 or din[1] != 1 or len(dout) != 4 or dout[1] != 2:
        raise EdgecolorError(f"{path}: input {din} / output {dout}; the ECCV16 export takes 1x1xHxW L and gives "
                             "1x2xHxW ab")
    return model


def _constant(model, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            for a in node.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
    return None


def bypass_final_resize(model) -> tuple[object, int]:
    """(copy without the output's trailing x s Resize, s); (the model, 1) when it ends otherwise.

    Only scalar Mul/Div/Add may sit between the Resize and the output (they commute with resizing)."""
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    producers = {o: n for n in m.graph.node for o in n.output}
    name = m.graph.output[0].name
    while name in producers:
        node = producers[name]
        if node.op_type == "Resize":
            scales = next((v for v in (_constant(m, i) for i in node.input[1:] if i) if v is not None and v.size == 4
                           and v.dtype.kind == "f"), None)
            if scales is None or list(scales[:2]) != [1, 1] or scales[2] != scales[3] or scales[2] != int(scales[2]) \
                    or scales[2] < 2:
                return model, 1
            idx = list(m.graph.node).index(node)
            m.graph.node.remove(node)
            m.graph.node.insert(idx, helper.make_node("Identity", [node.input[0]], [node.output[0]],
                                                      name=f"{node.name or 'resize'}_bypassed"))
            return m, int(scales[2])
        if node.op_type not in ("Mul", "Div", "Add") or not any(
                (c := _constant(m, i)) is not None and c.size == 1 for i in node.input):
            return model, 1
        name = next(i for i in node.input if _constant(m, i) is None)
    return model, 1


def free_size(model):
    """A copy with symbolic H and W on the input and output, and the stale inner shapes dropped."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name for i in m.graph.initializer}
    for vi, (h, w) in ((next(i for i in m.graph.input if i.name not in inits), ("H", "W")),
                       (m.graph.output[0], ("out_h", "out_w"))):
        dims = vi.type.tensor_type.shape.dim
        dims[0].ClearField("dim_value")
        dims[0].dim_value = 1
        for d, name in ((dims[2], h), (dims[3], w)):
            d.ClearField("dim_value")
            d.dim_param = name
    del m.graph.value_info[:]
    return m


def _run(model, x: np.ndarray) -> np.ndarray:
    import tempfile

    import onnx
    import openvino as ov

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        onnx.save(model, str(path))
        compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        return compiled(x)[0]


def make_dynamic(model, source: str, fixed: tuple[int, int]) -> tuple[object, int]:
    """(model with free H and W, output stride) when the graph computes the same at its fixed size and
    runs at another size with the same stride; otherwise an EdgecolorError (the runtime needs free sizes)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, (1, 1, *fixed)).astype(np.float32)
    try:
        ref = _run(model, x)
    except Exception as e:  # noqa: BLE001 - OpenVINO's errors are RuntimeError with long text
        raise EdgecolorError(f"{source}: OpenVINO cannot run this graph ({str(e).splitlines()[0][:160]})") from None
    stride = fixed[0] // ref.shape[2] if ref.shape[2] else 0
    if stride < 1 or ref.shape[2] * stride != fixed[0] or ref.shape[3] * stride != fixed[1]:
        raise EdgecolorError(f"{source}: output {ref.shape} is not the input {fixed} divided by a whole stride")
    freed = free_size(model)
    try:
        same = _run(freed, x)
        other = [_run(freed, rng.uniform(0, 100, (1, 1, h, w)).astype(np.float32)) for h, w in CHECK_SIZES]
    except Exception as e:  # noqa: BLE001
        raise EdgecolorError(f"{source}: the graph's size is fixed at {fixed[0]}x{fixed[1]} and cannot be freed "
                             f"({str(e).splitlines()[0][:120]}); edgecolor needs a free input size") from None
    if np.abs(same - ref).max() > 1e-4 * max(1.0, float(np.abs(ref).max())):  # float32 rounding, relative
        raise EdgecolorError(f"{source}: freeing the input size changes the output; edgecolor needs a free size")
    for (h, w), y in zip(CHECK_SIZES, other):
        if y.shape != (1, 2, h // stride, w // stride):
            raise EdgecolorError(f"{source}: at {h}x{w} the graph gives {y.shape}; its size cannot be freed")
    return freed, stride
