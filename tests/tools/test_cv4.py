"""tools.cv4: the ONNX rewrite for OpenCV 4.x keeps the function and the contract, and leaves no input-form Clip."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from edgecolor.contract import ModelContract, read_metadata  # noqa: E402
from tools import cv4  # noqa: E402


def _clip_model(lo: float | None, hi: float | None) -> onnx.ModelProto:
    """y = Clip(x, lo, hi) with its bounds as Constant nodes / an initializer, opset 17."""
    nodes, inits, inputs = [], [], ["x"]
    if lo is not None:
        nodes.append(helper.make_node("Constant", [], ["lo"], value=numpy_helper.from_array(np.array(lo, np.float32))))
        inputs.append("lo")
    else:
        inputs.append("")
    if hi is not None:
        inits.append(numpy_helper.from_array(np.array(hi, np.float32), "hi"))
        inputs.append("hi")
    nodes.append(helper.make_node("Clip", inputs, ["y"], name="clip"))
    graph = helper.make_graph(nodes, "clip", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(("lo", "hi", "ops"), [(0.0, 6.0, ["Relu", "Add", "Relu", "Sub"]), (0.0, None, ["Relu"])])
def test_rewrite_keeps_the_function(lo, hi, ops):
    model = _clip_model(lo, hi)
    new, changed = cv4.rewrite(model)
    assert [n.op_type for n in new.graph.node] == ops
    assert sum(changed.values()) == 1
    x = np.linspace(-20, 20, 32, dtype=np.float32).reshape(1, 1, 4, 8)
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    got = ReferenceEvaluator(new).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got.min() == 0.0 and (hi is None or got.max() == hi)


def test_channel_sum_becomes_a_conv():
    """ReduceSum over channels with its axes as an input (opset 13+) -> a 1x1 Conv of ones, same values."""
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "x"], ["sq"]), helper.make_node("ReduceSum", ["sq", "axes"], ["y"], keepdims=1)],
        "sum", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 8])], [axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    new, changed = cv4.rewrite(model)
    assert [n.op_type for n in new.graph.node] == ["Mul", "Conv"]
    assert changed == {"ReduceSum(axes=[1]) over 3 channels -> Conv 1x1 of ones": 1}
    x = np.random.default_rng(0).normal(size=(1, 3, 4, 8)).astype(np.float32)
    np.testing.assert_allclose(ReferenceEvaluator(new).run(None, {"x": x})[0],
                               ReferenceEvaluator(model).run(None, {"x": x})[0], rtol=1e-6)


def test_rewrite_leaves_other_clips():
    new, changed = cv4.rewrite(_clip_model(-1.0, 1.0))
    assert [n.op_type for n in new.graph.node] == ["Constant", "Clip"]
    assert changed == {"Clip(-1.0, 1.0) kept": 1}


def test_shipped_model_variant_same_colours_and_contract(bundled, tmp_path):
    """The tool on the real model: every Clip goes, cv2.dnn gives the same ab, the contract is in both places."""
    out = tmp_path / "edgecolor-lite0-fp32-cv4.onnx"
    cv4.main([str(bundled), str(out)])
    model = onnx.load(str(out))
    assert not [n for n in model.graph.node if n.op_type in ("Clip", "ReduceSum")]
    contract = ModelContract.from_metadata(read_metadata(out))
    assert contract == ModelContract.from_metadata(read_metadata(bundled))
    assert ModelContract(**json.loads(out.with_suffix(".json").read_text())) == contract
    assert cv4.max_ab_difference(bundled, out) * contract.ab_scale < 1e-3  # CIELAB units

    # The JSON committed beside the shipped model is the one the tools write from its metadata.
    assert ModelContract(**json.loads(bundled.with_suffix(".json").read_text())) == contract
    assert cv2.dnn.readNetFromONNX(str(out)).getLayerNames()
