"""The speed anchor: Zhang et al.'s ECCV 2016 colorization network, rebuilt with random weights.

It is the network behind OpenCV's DNN colorization sample and OpenVINO's colorization-v2, so it is
what edgecolor is compared with. Speed does not depend on weight values, so random weights give a
fair anchor without downloading 129 MB of Caffe weights. Built with the onnx helper API (layer
table: shared/docs/anchors.md), converted to IR with OpenVINO, cached outside the repo.

    python benchmarks/anchor.py            # builds (once) and prints the paths and GMACs
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))

from edgecolor.importers.nets import ANNEAL, ECCV16_BLOCKS, N_BINS  # noqa: E402 - the one ECCV16 layer table

NAME = "eccv16-anchor"
INPUT_SIZE = 224
# (out channels, number of convs, stride of the last conv, dilation, batch norm after the block)
BLOCKS: list[tuple[int, int, int, int, bool]] = [(c, n, s, d, True) for c, n, s, d in ECCV16_BLOCKS]
BLOCK8 = 256  # transposed conv (k4 s2 p1) then two 3x3 convs, no BN


def cache_dir() -> Path:
    """~/.cache/edgecolor/anchor (or $EDGECOLOR_CACHE/anchor; a temp dir when home is read-only)."""
    root = Path(os.environ.get("EDGECOLOR_CACHE", Path.home() / ".cache" / "edgecolor"))
    try:
        (root / "anchor").mkdir(parents=True, exist_ok=True)
        return root / "anchor"
    except OSError:
        path = Path(tempfile.gettempdir()) / "edgecolor-anchor"
        path.mkdir(parents=True, exist_ok=True)
        return path


def bin_centres() -> np.ndarray:
    """313 ab bins on a grid of 10 (the in-gamut ones of the original; the exact set does not change speed)."""
    axis = np.arange(-110, 111, 10, dtype=np.float32)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    grid = np.stack([a.ravel(), b.ravel()], 1)
    order = np.argsort(np.hypot(grid[:, 0], grid[:, 1]), kind="stable")
    return grid[np.sort(order[:N_BINS])]


def build_onnx(path: Path, seed: int = 0) -> int:
    """Write the anchor as ONNX with the edgecolor contract in its metadata; return its MACs at 224x224."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgecolor.contract import ModelContract

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    macs = 0
    side = INPUT_SIZE
    x, cin = "L", 1

    def tensor(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv(name: str, x: str, cin: int, cout: int, k: int, stride: int = 1, dil: int = 1, relu: bool = True) -> str:
        nonlocal macs, side
        pad = dil * (k // 2)
        side = (side + 2 * pad - dil * (k - 1) - 1) // stride + 1
        macs += side * side * cout * cin * k * k
        w = tensor(f"{name}.w", rng.normal(0, (2.0 / (cin * k * k)) ** 0.5, (cout, cin, k, k)))
        b = tensor(f"{name}.b", np.zeros(cout))
        nodes.append(helper.make_node("Conv", [x, w, b], [name], kernel_shape=[k, k], strides=[stride] * 2,
                                      pads=[pad] * 4, dilations=[dil] * 2))
        if not relu:
            return name
        nodes.append(helper.make_node("Relu", [name], [f"{name}.relu"]))
        return f"{name}.relu"

    for i, (cout, n, stride, dil, bn) in enumerate(BLOCKS, 1):
        for j in range(1, n + 1):
            x = conv(f"conv{i}_{j}", x, cin, cout, 3, stride if j == n else 1, dil)
            cin = cout
        if bn:  # BN without learned scale: gamma 1, beta 0, random running statistics
            ins = [tensor(f"bn{i}.{k}", v) for k, v in (("g", np.ones(cout)), ("b", np.zeros(cout)),
                                                         ("m", rng.normal(0, 1, cout)),
                                                         ("v", rng.uniform(0.5, 2, cout)))]
            nodes.append(helper.make_node("BatchNormalization", [x, *ins], [f"bn{i}"], epsilon=1e-5))
            x = f"bn{i}"
    w = tensor("conv8_1.w", rng.normal(0, 0.02, (cin, BLOCK8, 4, 4)))
    nodes.append(helper.make_node("ConvTranspose", [x, w, tensor("conv8_1.b", np.zeros(BLOCK8))], ["conv8_1"],
                                  kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1]))
    side *= 2
    macs += side * side * BLOCK8 * cin * 16 // 4  # each output pixel sees a quarter of the 4x4 kernel
    nodes.append(helper.make_node("Relu", ["conv8_1"], ["conv8_1.relu"]))
    x, cin = "conv8_1.relu", BLOCK8
    x = conv("conv8_2", x, cin, BLOCK8, 3)
    x = conv("conv8_3", x, BLOCK8, BLOCK8, 3)
    x = conv("conv8_313", x, BLOCK8, N_BINS, 1, relu=False)
    nodes.append(helper.make_node("Mul", [x, tensor("anneal", np.array(ANNEAL))], ["logits_t"]))
    nodes.append(helper.make_node("Softmax", ["logits_t"], ["prob"], axis=1))
    centres = bin_centres().T.reshape(2, N_BINS, 1, 1)
    nodes.append(helper.make_node("Conv", ["prob", tensor("class8_ab.w", centres)], ["ab"], kernel_shape=[1, 1]))
    macs += side * side * 2 * N_BINS

    graph = helper.make_graph(
        nodes, NAME,
        [helper.make_tensor_value_info("L", TensorProto.FLOAT, [1, 1, "H", "W"])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, [1, 2, "h", "w"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgecolor-bench")
    model.ir_version = 8
    # L - 50 in, ab out at 1/4 resolution; sizes multiples of 8 (three stride-2 convs).
    contract = ModelContract(name=NAME, version="random", precision="fp32", input_name="L", output_name="ab",
                             l_scale=1.0, l_shift=-50.0, size_multiple=8, working_size=INPUT_SIZE, output_stride=4)
    helper.set_model_props(model, contract.to_metadata())
    onnx.checker.check_model(model)
    tmp = path.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)
    return macs


def gmacs(size: int = INPUT_SIZE) -> float:
    """Analytic GMACs of the anchor at size x size, from the layer table (no model needed)."""
    macs, side, cin = 0, size, 1
    for cout, n, stride, _dil, _bn in BLOCKS:
        for j in range(1, n + 1):
            side = (side - 1) // (stride if j == n else 1) + 1
            macs += side * side * cout * cin * 9
            cin = cout
    side *= 2
    macs += side * side * BLOCK8 * cin * 4 + 2 * side * side * BLOCK8 * BLOCK8 * 9
    macs += side * side * BLOCK8 * N_BINS + side * side * 2 * N_BINS
    return macs / 1e9


def ensure(folder: Path | None = None) -> dict[str, Path]:
    """Paths of the anchor's fp32 ONNX and fp32/fp16 IR, building what is missing."""
    folder = folder or cache_dir()
    paths = {
        "fp32": folder / f"{NAME}-fp32.onnx",
        "fp32-ir": folder / f"{NAME}-fp32.xml",
        "fp16": folder / f"{NAME}-fp16.xml",
    }
    if not paths["fp32"].exists():
        build_onnx(paths["fp32"])
    import openvino as ov

    for key, compress in (("fp32-ir", False), ("fp16", True)):
        if not paths[key].exists():
            model = ov.Core().read_model(str(paths["fp32"]))
            if compress:
                model.set_rt_info("fp16", ["framework", "edgecolor.precision"])
            ov.save_model(model, str(paths[key]), compress_to_fp16=compress)
    return paths


def main() -> None:
    paths = ensure()
    for key, path in paths.items():
        print(f"{key:8s} {path}")
    print(f"GMACs at {INPUT_SIZE}x{INPUT_SIZE}: {gmacs():.2f}")


if __name__ == "__main__":
    main()
