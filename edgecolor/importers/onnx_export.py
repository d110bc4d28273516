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

from edgecolor.errors import ModelError
from edgecolor.importers import guard

CHECK_SIZES = ((96, 160), (256, 256))


def _dims(value_info) -> list:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]


def load(path: Path):
    """The ONNX model, checked to look like ECCV16's export: one 1x1xHxW input, one 1x2xH'xW' output,
    and safe to run (see ``check_graph``). Read from memory: external data files are never opened."""
    import onnx

    data = guard.read_capped(path, guard.MAX_WEIGHTS_BYTES, "weights file")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # noqa: BLE001 - onnx raises DecodeError, ValueError, OSError...
        raise ModelError(f"{path}: truncated or not an ONNX model ({str(e).splitlines()[0][:120]})") from None
    del data
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    outputs = list(model.graph.output)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path}: {len(inputs)} inputs and {len(outputs)} outputs; the ECCV16 export has one "
                             "L input and one ab output")
    din, dout = _dims(inputs[0]), _dims(outputs[0])
    if len(din) != 4 or din[1] != 1 or len(dout) != 4 or dout[1] != 2:
        raise ModelError(f"{path}: input {din} / output {dout}; the ECCV16 export takes 1x1xHxW L and gives "
                             "1x2xHxW ab")
    for d in din + dout:
        if isinstance(d, int) and not 0 <= d <= guard.MAX_CHECK_SIDE:
            raise ModelError(f"{path}: input {din} / output {dout}: a dimension of {d}; the import runs the "
                                 f"graph at its own size, at most {guard.MAX_CHECK_SIDE} (the export's is 256)")
    if din[0] not in (0, 1, None) and not isinstance(din[0], str):
        raise ModelError(f"{path}: a batch of {din[0]}; the ECCV16 export takes one image")
    check_graph(model, str(path))
    return model


CONTROL_FLOW = ("Loop", "Scan", "If", "SequenceMap")
_DEFAULT_DOMAINS = ("", "ai.onnx")


def check_graph(model, source: str) -> None:
    """Refuse what an imported colorization graph cannot need and what could hang or exhaust the import
    when it is run: control flow (a Loop of 10^15 trips never ends, and OpenVINO's run ignores Ctrl-C),
    subgraphs, custom operator domains, external or inconsistent tensor data, an invalid graph."""
    import onnx
    from onnx import AttributeProto, TensorProto

    graph = model.graph
    if len(graph.node) > 100_000:
        raise ModelError(f"{source}: {len(graph.node)} nodes; not a colorization network")
    for node in graph.node:
        if node.op_type in CONTROL_FLOW or node.domain not in _DEFAULT_DOMAINS:
            kind = "control flow" if node.op_type in CONTROL_FLOW else f"an operator of domain {node.domain[:40]!r}"
            raise ModelError(f"{source}: a {node.op_type[:40]} node ({kind}); "
                                 "a colorization network has none, and edgecolor does not run it")
        for a in node.attribute:
            if a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) or a.HasField("g") or len(a.graphs):
                raise ModelError(f"{source}: node {node.name[:40] or node.op_type} holds a subgraph; "
                                     "a colorization network has none")
    if len(model.functions):
        raise ModelError(f"{source}: the model defines functions; a colorization network has none")
    tensors = list(graph.initializer) + [a.t for n in graph.node for a in n.attribute if a.HasField("t")]
    for t in tensors:
        if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
            raise ModelError(f"{source}: tensor {t.name[:40]} is in an external data file; import takes a "
                                 "self-contained ONNX file")
        _check_tensor(t, source)
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 - ValidationError, and anything a crafted graph makes it raise
        raise ModelError(f"{source}: not a valid ONNX graph ({str(e).splitlines()[0][:160]})") from None


def _check_tensor(t, source: str) -> None:
    """A constant tensor holds exactly what its dims claim (no runtime allocates from the claim alone)."""
    from onnx import helper

    try:
        n = guard.count(list(t.dims), "dimension")
    except ValueError as e:
        raise ModelError(f"{source}: tensor {t.name[:40]}: {e}") from None
    if n > guard.MAX_ELEMENTS:
        raise ModelError(f"{source}: tensor {t.name[:40]} claims {n} values; more than a network holds")
    try:
        itemsize = helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except Exception:  # noqa: BLE001 - an unknown or string type: no size to compare
        return
    held = len(t.raw_data) // itemsize if t.HasField("raw_data") else max(
        len(t.float_data), len(t.int32_data), len(t.int64_data), len(t.double_data), len(t.uint64_data))
    if t.HasField("raw_data") and len(t.raw_data) != n * itemsize or not t.HasField("raw_data") and held not in (0, n):
        raise ModelError(f"{source}: tensor {t.name[:40]} claims {n} values and holds {held}")


def check_sizes(model, source: str, fixed: tuple[int, int]) -> None:
    """Every tensor of the graph, with the input at ``fixed``, has a size shape inference can tell from
    the input's (a Range whose length is computed from the pixels is refused) and holds at most
    guard.MAX_ELEMENTS values (a Resize by 10^4 or a ConstantOfShape of 10^10 is refused unrun)."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name for i in m.graph.initializer}
    dims = next(i for i in m.graph.input if i.name not in inits).type.tensor_type.shape.dim
    for d, v in zip(dims, (1, 1, *fixed)):
        d.ClearField("dim_param")
        d.dim_value = v
    del m.graph.value_info[:]
    try:
        m = onnx.shape_inference.infer_shapes(m, check_type=False, strict_mode=False, data_prop=True)
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"{source}: the graph's shapes cannot be inferred ({str(e).splitlines()[0][:120]})") \
            from None
    shapes = {vi.name: vi.type.tensor_type for vi in list(m.graph.value_info) + list(m.graph.output)}
    for node in m.graph.node:  # every tensor's size known before it runs: none may depend on the input's values
        for name in node.output:
            t = shapes.get(name)
            if name and (t is None or not t.HasField("shape") or not all(d.HasField("dim_value") for d in t.shape.dim)):
                raise ModelError(f"{source}: the size of {node.op_type[:40]} output {name[:40]} depends on the "
                                     "values it computes; a colorization network's sizes follow from its input's")
    for vi in list(m.graph.value_info) + list(m.graph.output):
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            continue
        known = [d.dim_value for d in t.shape.dim if d.HasField("dim_value")]
        if any(v < 0 for v in known) or guard.count([max(v, 0) for v in known], "dimension") > guard.MAX_ELEMENTS:
            raise ModelError(f"{source}: tensor {vi.name[:40]} would be {'x'.join(map(str, known))} at a "
                                 f"{fixed[0]}x{fixed[1]} input; more than a colorization network makes")


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
    for _ in range(len(m.graph.node)):  # a walk up the graph; a crafted cycle cannot loop it
        if name not in producers:
            break
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
    runs at another size with the same stride; otherwise a ModelError (the runtime needs free sizes)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, (1, 1, *fixed)).astype(np.float32)
    check_sizes(model, source, fixed)
    freed = free_size(model)
    for size in CHECK_SIZES:
        check_sizes(freed, source, size)
    try:
        ref = _run(model, x)
    except Exception as e:  # noqa: BLE001 - OpenVINO's errors are RuntimeError with long text
        raise ModelError(f"{source}: OpenVINO cannot run this graph ({str(e).splitlines()[0][:160]})") from None
    stride = fixed[0] // ref.shape[2] if ref.shape[2] else 0
    if stride < 1 or ref.shape[2] * stride != fixed[0] or ref.shape[3] * stride != fixed[1]:
        raise ModelError(f"{source}: output {ref.shape} is not the input {fixed} divided by a whole stride")
    try:
        same = _run(freed, x)
        other = [_run(freed, rng.uniform(0, 100, (1, 1, h, w)).astype(np.float32)) for h, w in CHECK_SIZES]
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"{source}: the graph's size is fixed at {fixed[0]}x{fixed[1]} and cannot be freed "
                             f"({str(e).splitlines()[0][:120]}); edgecolor needs a free input size") from None
    if np.abs(same - ref).max() > 1e-4 * max(1.0, float(np.abs(ref).max())):  # float32 rounding, relative
        raise ModelError(f"{source}: freeing the input size changes the output; edgecolor needs a free size")
    for (h, w), y in zip(CHECK_SIZES, other):
        if y.shape != (1, 2, h // stride, w // stride):
            raise ModelError(f"{source}: at {h}x{w} the graph gives {y.shape}; its size cannot be freed")
    return freed, stride
