"""The two published networks as layer tables, and their ONNX graphs built from a weight dict.

ECCV16 (Zhang, Isola, Efros, "Colorful Image Colorization", 2016) and SIGGRAPH17 (Zhang et al.,
"Real-Time User-Guided Image Colorization with Learned Deep Priors", 2017). Weights arrive in one
canonical naming (``conv1_1.weight``, ``bn1.mean``, ...) whatever file they came from; the readers
(caffe.py, pth.py) map their own names onto it. The graph is written with the onnx helper API
(imported lazily: this module is importable without the ``convert`` extra).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BINS = 313  # quantised ab bins on a grid of 10 (ECCV16)
N_CLASSES_SIGGRAPH = 529  # SIGGRAPH17's classification head (unused by its regression output)
ANNEAL = 2.606  # 1 / T with T = 0.38: the "annealed mean" of the Caffe deploy net
BN_EPS = 1e-5  # Caffe's BatchNorm default and PyTorch's BatchNorm2d default
L_CENT, L_NORM, AB_NORM = 50.0, 100.0, 110.0  # the colorizers package's input / output scaling
OPSET = 17


@dataclass(frozen=True)
class Conv:
    """One convolution of a layer table. ``transposed``: kernel 4, stride 2, padding 1 (x2 upsampling)."""

    name: str
    cin: int
    cout: int
    k: int = 3
    stride: int = 1
    dil: int = 1
    transposed: bool = False
    bias: bool = True

    @property
    def pad(self) -> int:
        return 1 if self.transposed else self.dil * (self.k // 2)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        # PyTorch and Caffe agree: Conv (out, in, k, k); transposed conv (in, out, k, k)
        return (self.cin, self.cout, self.k, self.k) if self.transposed else (self.cout, self.cin, self.k, self.k)


# (channels, convolutions, stride of the last one, dilation) of blocks 1..7; BN after each block.
ECCV16_BLOCKS: list[tuple[int, int, int, int]] = [
    (64, 2, 2, 1), (128, 2, 2, 1), (256, 3, 2, 1), (512, 3, 1, 1), (512, 3, 1, 2), (512, 3, 1, 2), (512, 3, 1, 1),
]
# SIGGRAPH17's encoder is the same table without strides: it subsamples with [::2] before blocks 2-4.
SIGGRAPH17_BLOCKS: list[tuple[int, int, int, int]] = [(c, n, 1, d) for c, n, _s, d in ECCV16_BLOCKS]


def _encoder(blocks: list[tuple[int, int, int, int]], cin: int, div: int) -> tuple[list[Conv], list[tuple[str, int]]]:
    convs, bns = [], []
    for i, (cout, n, stride, dil) in enumerate(blocks, 1):
        cout //= div
        for j in range(1, n + 1):
            convs.append(Conv(f"conv{i}_{j}", cin, cout, 3, stride if j == n else 1, dil))
            cin = cout
        bns.append((f"bn{i}", cout))
    return convs, bns


def eccv16_table(div: int = 1) -> tuple[list[Conv], list[tuple[str, int]]]:
    """Every convolution (in order) and every batch norm (name, channels) of ECCV16.

    ``div`` divides every width except the 313 bins (the tests' small networks); the published one is 1."""
    convs, bns = _encoder(ECCV16_BLOCKS, 1, div)
    c512, c256 = 512 // div, 256 // div
    convs += [
        Conv("conv8_1", c512, c256, 4, transposed=True),
        Conv("conv8_2", c256, c256),
        Conv("conv8_3", c256, c256),
        Conv("conv8_313", c256, N_BINS, 1),
        Conv("decode", N_BINS, 2, 1, bias=False),  # softmax -> ab: weights are the bin centres
    ]
    return convs, bns


def siggraph17_table(div: int = 1) -> tuple[list[Conv], list[tuple[str, int]]]:
    """SIGGRAPH17: conv1_1 sees L, ab hint (2) and mask (1); a U-Net decoder with shortcuts."""
    convs, bns = _encoder(SIGGRAPH17_BLOCKS, 4, div)
    c64, c128, c256, c512 = 64 // div, 128 // div, 256 // div, 512 // div
    convs += [
        Conv("conv8_up", c512, c256, 4, transposed=True), Conv("conv3_short8", c256, c256),
        Conv("conv8_2", c256, c256), Conv("conv8_3", c256, c256),
        Conv("conv9_up", c256, c128, 4, transposed=True), Conv("conv2_short9", c128, c128),
        Conv("conv9_2", c128, c128),
        Conv("conv10_up", c128, c128, 4, transposed=True), Conv("conv1_short10", c64, c128),
        Conv("conv10_2", c128, c128),
        Conv("out", c128, 2, 1),
    ]
    bns += [("bn8", c256), ("bn9", c128)]
    return convs, bns


TABLES = {"eccv16": eccv16_table, "siggraph17": siggraph17_table}
OPTIONAL = {"siggraph17": ("class.weight", "class.bias")}  # the unused classification head


def width_divisor(weights: dict[str, np.ndarray]) -> int:
    """1 for the published widths; 2..16 for a narrower test network of the same table (conv1_1 has 64 / div)."""
    w = weights.get("conv1_1.weight")
    if w is None or w.ndim == 0:
        return 1
    out = int(w.shape[0]) if w.ndim == 4 else int(w.size // 9)
    return 64 // out if out in (4, 8, 16, 32, 64) else 1


def expected_shapes(arch: str, div: int = 1) -> dict[str, tuple[int, ...]]:
    """Canonical weight name -> shape. BN gamma/beta are optional (Caffe's BN has no learned scale)."""
    convs, bns = TABLES[arch](div)
    out: dict[str, tuple[int, ...]] = {}
    for c in convs:
        out[f"{c.name}.weight"] = c.weight_shape
        if c.bias:
            out[f"{c.name}.bias"] = (c.cout,)
    for name, ch in bns:
        out[f"{name}.mean"] = (ch,)
        out[f"{name}.var"] = (ch,)
    return out


def check_weights(arch: str, weights: dict[str, np.ndarray], source: str, names: dict[str, str] | None = None) -> None:
    """Every expected weight present with its shape; ``names`` maps canonical names back to the file's own
    for the message. Raises ModelError naming the first missing or misshapen one."""
    from edgecolor.errors import ModelError

    names = names or {}
    want = expected_shapes(arch, width_divisor(weights))
    missing = [k for k in want if k not in weights]
    if missing:
        shown = ", ".join(names.get(k, k) for k in missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4
                                                                   else "")
        raise ModelError(f"{source}: not the {arch} network: missing {shown}")
    for k, shape in want.items():
        got = tuple(weights[k].shape)
        if got != shape and tuple(d for d in got if d != 1) != tuple(d for d in shape if d != 1):
            raise ModelError(f"{source}: {names.get(k, k)} has shape {got}, {arch} needs {shape}")
    for k in list(weights):
        weights[k] = np.ascontiguousarray(weights[k], dtype=np.float32).reshape(want.get(k, weights[k].shape))
        if not np.isfinite(weights[k]).all():
            raise ModelError(f"{source}: {names.get(k, k)} holds NaN or infinite values")


# -- graph building ---------------------------------------------------------------------------


class _Graph:
    """A tiny onnx-helper graph writer: nodes and initializers, named after the layer table."""

    def __init__(self, weights: dict[str, np.ndarray]):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.w = weights
        self.nodes: list = []
        self.inits: list = []

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv(self, x: str, c: Conv, relu: bool = True, weight: np.ndarray | None = None) -> str:
        ins = [x, self.const(f"{c.name}.weight", self.w[f"{c.name}.weight"] if weight is None else weight)]
        if c.bias:
            ins.append(self.const(f"{c.name}.bias", self.w[f"{c.name}.bias"]))
        if c.transposed:
            y = self.node("ConvTranspose", ins, c.name, kernel_shape=[c.k] * 2, strides=[2, 2], pads=[1] * 4)
        else:
            y = self.node("Conv", ins, c.name, kernel_shape=[c.k] * 2, strides=[c.stride] * 2, pads=[c.pad] * 4,
                          dilations=[c.dil] * 2)
        return self.node("Relu", [y], f"{c.name}.relu") if relu else y

    def bn(self, x: str, name: str, channels: int) -> str:
        gamma = self.w.get(f"{name}.gamma", np.ones(channels, np.float32))
        beta = self.w.get(f"{name}.beta", np.zeros(channels, np.float32))
        stats = (("gamma", gamma), ("beta", beta), ("mean", self.w[f"{name}.mean"]), ("var", self.w[f"{name}.var"]))
        ins = [x] + [self.const(f"{name}.{k}", v) for k, v in stats]
        return self.node("BatchNormalization", ins, name, epsilon=BN_EPS)

    def model(self, name: str, inputs: list, output: str):
        import onnx
        from onnx import TensorProto

        h = self.helper
        graph = h.make_graph(self.nodes, name, inputs,
                             [h.make_tensor_value_info(output, TensorProto.FLOAT, [1, 2, "out_h", "out_w"])],
                             self.inits)
        m = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)], producer_name="edgecolor-import")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def _input(name: str, channels: int = 1):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, channels, "H", "W"])


def build_eccv16(weights: dict[str, np.ndarray], anneal: np.ndarray | float | None = ANNEAL):
    """ECCV16 as ONNX: input 'L' (contract-scaled), output 'ab' at 1/4 size = decode(softmax(anneal * logits)).

    ``anneal``: the Caffe net's Scale layer (a scalar or one value per bin); None for the PyTorch port,
    which applies a plain softmax. Returns an onnx.ModelProto (checked)."""
    g = _Graph(weights)
    convs, bns = eccv16_table(width_divisor(weights))
    bn_after = {f"conv{i}_{n}": bns[i - 1] for i, (_c, n, _s, _d) in enumerate(ECCV16_BLOCKS, 1)}
    x = "L"
    for c in convs[:-2]:  # up to conv8_3, every conv with ReLU
        x = g.conv(x, c)
        if c.name in bn_after:
            x = g.bn(x, *bn_after[c.name])
    x = g.conv(x, convs[-2], relu=False)  # conv8_313: the logits
    if anneal is not None:
        a = np.asarray(anneal, np.float32).reshape(-1)
        x = g.node("Mul", [x, g.const("anneal", a.reshape(1, -1, 1, 1) if a.size > 1 else a.reshape(()))],
                   "logits_annealed")
    x = g.node("Softmax", [x], "prob", axis=1)
    g.conv(x, convs[-1], relu=False)
    g.nodes[-1].output[0] = "ab"
    return g.model("eccv16", [_input("L")], "ab")


def build_siggraph17(weights: dict[str, np.ndarray], hints: bool = False):
    """SIGGRAPH17 as ONNX: input 'L' ((L-50)/100), output 'ab' / 110 at full size (tanh regression head).

    Automatic mode (``hints`` False): the ab hint and mask inputs are empty, so their channels of
    conv1_1 multiply zeros; the graph keeps only conv1_1's L slice, which computes the same numbers.
    With ``hints``: two more inputs, 'hint_ab' (ab / 110) and 'hint_mask' (1 where a hint is given)."""
    g = _Graph(weights)
    convs, bns = siggraph17_table(width_divisor(weights))
    by_name = {c.name: c for c in convs}
    x = "L"
    inputs = [_input("L")]
    if hints:
        inputs += [_input("hint_ab", 2), _input("hint_mask", 1)]
        x = g.node("Concat", ["L", "hint_ab", "hint_mask"], "conv1_in", axis=1)
    feats: dict[int, str] = {}
    k = 0
    for i, (_cout, n, _s, _d) in enumerate(SIGGRAPH17_BLOCKS, 1):
        if i in (2, 3, 4):  # x[:, :, ::2, ::2]: a 1x1 max pool with stride 2 picks the same pixels
            x = g.node("MaxPool", [x], f"sub{i}", kernel_shape=[1, 1], strides=[2, 2])
        for j in range(n):
            c = convs[k]
            k += 1
            w = None
            if c.name == "conv1_1" and not hints:
                w = g.w["conv1_1.weight"][:, :1]
            x = g.conv(x, c, weight=w)
        x = g.bn(x, *bns[i - 1])
        feats[i] = x

    def up(x: str, upname: str, shortname: str, skip: str, out: str) -> str:
        a = g.conv(x, by_name[upname], relu=False)
        b = g.conv(skip, by_name[shortname], relu=False)
        return g.node("Relu", [g.node("Add", [a, b], out)], f"{out}.relu")

    x = up(feats[7], "conv8_up", "conv3_short8", feats[3], "conv8_1")
    x = g.conv(g.conv(x, by_name["conv8_2"]), by_name["conv8_3"])
    x = g.bn(x, *bns[7])
    x = up(x, "conv9_up", "conv2_short9", feats[2], "conv9_1")
    x = g.bn(g.conv(x, by_name["conv9_2"]), *bns[8])
    x = up(x, "conv10_up", "conv1_short10", feats[1], "conv10_1")
    x = g.conv(x, by_name["conv10_2"], relu=False)
    x = g.node("LeakyRelu", [x], "conv10_2.lrelu", alpha=0.2)
    x = g.conv(x, by_name["out"], relu=False)
    g.node("Tanh", [x], "ab")
    return g.model("siggraph17", inputs, "ab")
