"""The third-party ONNX export of ECCV16 that OpenCV 5's colorization sample points to (``colorizer.onnx``).

It is richzhang's PyTorch ECCV16 exported at opset 10 with a fixed 1x1x256x256 input: L in 0..100
(the (L-50)/100 normalisation inside), ab in CIELAB units out, already upsampled x4 inside. The
graph is kept as it is; edgecolor adds its contract and frees the fixed height and width when the
graph allows it (checked by running both at the fixed size and the freed one at another size).
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
