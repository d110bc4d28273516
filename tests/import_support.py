"""Random-weight ECCV16 / SIGGRAPH17 files in the published layouts, and a reference forward pass.

The reference is written here from the papers' layer tables, on richzhang's ``colorizers``
state-dict names, in torch float64: it shares no code with edgecolor/importers, so a wrong key
mapping, stride, dilation, padding, BN or decode in the importer shows up as a mismatch.
Files: a .pth (torch.save, zip or legacy layout), a .caffemodel (protobuf, Caffe layer names,
BatchNorm stored as (mean*f, var*f, f)), and a fixed-256 opset-10 ONNX shaped like the
third-party ``colorizer.onnx`` (L in 0..100, ab upsampled x4 inside).
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# (channels, convs, stride of the last conv, dilation) -- Zhang et al. 2016, Table / Fig. 2
ECCV = [(64, 2, 2, 1), (128, 2, 2, 1), (256, 3, 2, 1), (512, 3, 1, 1), (512, 3, 1, 2), (512, 3, 1, 2), (512, 3, 1, 1)]
ANNEAL = 2.606


def _conv(sd, rng, key, cin, cout, k, bias=True, transposed=False):
    fan_in = cin * k * k / (4 if transposed else 1)
    shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
    sd[f"{key}.weight"] = torch.from_numpy(rng.normal(0, (2.0 / fan_in) ** 0.5, shape).astype(np.float32))
    if bias:
        sd[f"{key}.bias"] = torch.from_numpy(rng.normal(0, 0.1, cout).astype(np.float32))


def _bn(sd, rng, key, ch, affine=True):
    if affine:
        sd[f"{key}.weight"] = torch.from_numpy(rng.uniform(0.5, 1.5, ch).astype(np.float32))
        sd[f"{key}.bias"] = torch.from_numpy(rng.normal(0, 0.1, ch).astype(np.float32))
    sd[f"{key}.running_mean"] = torch.from_numpy(rng.normal(0, 0.5, ch).astype(np.float32))
    sd[f"{key}.running_var"] = torch.from_numpy(rng.uniform(0.5, 2.0, ch).astype(np.float32))
    sd[f"{key}.num_batches_tracked"] = torch.tensor(0, dtype=torch.int64)


def bin_centres(rng) -> np.ndarray:
    """313 ab points on the grid of 10 (a stand-in for pts_in_hull.npy: the values only need to be fixed)."""
    axis = np.arange(-110, 111, 10)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    keep = np.argsort(np.hypot(grid[:, 0], grid[:, 1]), kind="stable")[:313]
    return grid[np.sort(keep)].astype(np.float32)


def eccv16_state(div: int = 1, seed: int = 0, affine_bn: bool = True) -> collections.OrderedDict:
    """A colorizers ECCVGenerator state dict with random weights (``div`` narrows every width but the bins)."""
    rng = np.random.default_rng(seed)
    sd: collections.OrderedDict = collections.OrderedDict()
    cin = 1
    for i, (c, n, _s, _d) in enumerate(ECCV, 1):
        c //= div
        for j in range(n):
            _conv(sd, rng, f"model{i}.{2 * j}", cin, c, 3)
            cin = c
        _bn(sd, rng, f"model{i}.{2 * n}", c, affine_bn)
    _conv(sd, rng, "model8.0", 512 // div, 256 // div, 4, transposed=True)
    _conv(sd, rng, "model8.2", 256 // div, 256 // div, 3)
    _conv(sd, rng, "model8.4", 256 // div, 256 // div, 3)
    _conv(sd, rng, "model8.6", 256 // div, 313, 1)
    sd["model_out.weight"] = torch.from_numpy(bin_centres(rng).T.reshape(2, 313, 1, 1) / 110.0)
    return sd


def siggraph17_state(div: int = 1, seed: int = 0) -> collections.OrderedDict:
    """A colorizers SIGGRAPHGenerator state dict with random weights."""
    rng = np.random.default_rng(seed)
    sd: collections.OrderedDict = collections.OrderedDict()
    cin = 4
    for i, (c, n, _s, _d) in enumerate(ECCV, 1):
        c //= div
        for j in range(n):
            _conv(sd, rng, f"model{i}.{2 * j}", cin, c, 3)
            cin = c
        _bn(sd, rng, f"model{i}.{2 * n}", c)
    c64, c128, c256, c512 = 64 // div, 128 // div, 256 // div, 512 // div
    _conv(sd, rng, "model8up.0", c512, c256, 4, transposed=True)
    _conv(sd, rng, "model3short8.0", c256, c256, 3)
    _conv(sd, rng, "model8.1", c256, c256, 3)
    _conv(sd, rng, "model8.3", c256, c256, 3)
    _bn(sd, rng, "model8.5", c256)
    _conv(sd, rng, "model9up.0", c256, c128, 4, transposed=True)
    _conv(sd, rng, "model2short9.0", c128, c128, 3)
    _conv(sd, rng, "model9.1", c128, c128, 3)
    _bn(sd, rng, "model9.3", c128)
    _conv(sd, rng, "model10up.0", c128, c128, 4, transposed=True)
    _conv(sd, rng, "model1short10.0", c64, c128, 3)
    _conv(sd, rng, "model10.1", c128, c128, 3)
    _conv(sd, rng, "model_class.0", c256, 529, 1)
    _conv(sd, rng, "model_out.0", c128, 2, 1)
    return sd


# -- reference forward passes (float64) ----------------------------------------------------------


def _t(sd, key):
    return sd[key].double()


def _block_bn(sd, x, key):
    w = sd.get(f"{key}.weight")
    b = sd.get(f"{key}.bias")
    return F.batch_norm(x, _t(sd, f"{key}.running_mean"), _t(sd, f"{key}.running_var"),
                        None if w is None else w.double(), None if b is None else b.double(), False, 0.0, 1e-5)


def eccv16_logits(sd, x: torch.Tensor) -> torch.Tensor:
    """conv1..conv8 of ECCV16 on an already normalised input; returns the 313 logits at 1/4 size."""
    for i, (_c, n, stride, dil) in enumerate(ECCV, 1):
        for j in range(n):
            k = f"model{i}.{2 * j}"
            x = F.relu(F.conv2d(x, _t(sd, f"{k}.weight"), _t(sd, f"{k}.bias"), stride if j == n - 1 else 1, dil, dil))
        x = _block_bn(sd, x, f"model{i}.{2 * n}")
    x = F.relu(F.conv_transpose2d(x, _t(sd, "model8.0.weight"), _t(sd, "model8.0.bias"), 2, 1))
    x = F.relu(F.conv2d(x, _t(sd, "model8.2.weight"), _t(sd, "model8.2.bias"), 1, 1))
    x = F.relu(F.conv2d(x, _t(sd, "model8.4.weight"), _t(sd, "model8.4.bias"), 1, 1))
    return F.conv2d(x, _t(sd, "model8.6.weight"), _t(sd, "model8.6.bias"))


def eccv16_ab(sd, L: np.ndarray, caffe: bool = False) -> np.ndarray:
    """ab (CIELAB units) at 1/4 size for L (1x1xHxW, 0..100). colorizers: (L-50)/100 in, softmax, x110 out.
    Caffe deploy net: L-50 in, softmax(2.606 * logits), class8_ab (the bin centres) out."""
    x = torch.from_numpy(L).double()
    with torch.no_grad():
        if caffe:
            p = F.softmax(ANNEAL * eccv16_logits(sd, x - 50.0), dim=1)
            return F.conv2d(p, _t(sd, "model_out.weight") * 110.0).numpy()
        p = F.softmax(eccv16_logits(sd, (x - 50.0) / 100.0), dim=1)
        return (F.conv2d(p, _t(sd, "model_out.weight")) * 110.0).numpy()


def siggraph17_ab(sd, L: np.ndarray, hint_ab: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
    """SIGGRAPH17's forward (colorizers): cat((L-50)/100, ab/110, mask), [::2] subsampling, shortcuts, tanh x110."""
    x = torch.from_numpy(L).double()
    ab = torch.zeros_like(x).repeat(1, 2, 1, 1) if hint_ab is None else torch.from_numpy(hint_ab).double()
    m = torch.zeros_like(x) if mask is None else torch.from_numpy(mask).double()

    def conv(x, key, stride=1, dil=1, k=3):
        return F.conv2d(x, _t(sd, f"{key}.weight"), _t(sd, f"{key}.bias"), stride, dil * (k // 2), dil)

    def up(x, key):
        return F.conv_transpose2d(x, _t(sd, f"{key}.weight"), _t(sd, f"{key}.bias"), 2, 1)

    with torch.no_grad():
        x = torch.cat(((x - 50.0) / 100.0, ab / 110.0, m), 1)
        feats = []
        for i, (_c, n, _s, dil) in enumerate(ECCV, 1):
            if i in (2, 3, 4):
                x = x[:, :, ::2, ::2]
            for j in range(n):
                x = F.relu(conv(x, f"model{i}.{2 * j}", dil=dil))
            x = _block_bn(sd, x, f"model{i}.{2 * n}")
            feats.append(x)
        x = F.relu(up(feats[6], "model8up.0") + conv(feats[2], "model3short8.0"))
        x = F.relu(conv(F.relu(conv(x, "model8.1")), "model8.3"))
        x = _block_bn(sd, x, "model8.5")
        x = F.relu(up(x, "model9up.0") + conv(feats[1], "model2short9.0"))
        x = _block_bn(sd, F.relu(conv(x, "model9.1")), "model9.3")
        x = F.relu(up(x, "model10up.0") + conv(feats[0], "model1short10.0"))
        x = F.leaky_relu(conv(x, "model10.1"), 0.2)
        return (torch.tanh(conv(x, "model_out.0", k=1)) * 110.0).numpy()


# -- writers --------------------------------------------------------------------------------------


def write_pth(sd, path: Path, legacy: bool = False) -> Path:
    torch.save(sd, str(path), _use_new_zipfile_serialization=not legacy)
    return path


def write_caffemodel(sd, path: Path, hull_in_model: bool = True, v1: bool = False, factor: float = 3.0) -> Path:
    """The ECCV16 state dict as colorization_release_v2.caffemodel would hold it (affine-free BN)."""
    from edgecolor.importers.caffe import messages

    m = messages()
    net = m["NetParameter"](name="LtoAB")
    add = (lambda: net.layers.add()) if v1 else (lambda: net.layer.add())

    def layer(name, blobs, kind):
        item = add()
        item.name = name
        if v1:
            item.type = {"Convolution": 4, "Deconvolution": 39, "BatchNorm": 0, "Scale": 0}.get(kind, 0)
        else:
            item.type = kind
        for arr in blobs:
            blob = item.blobs.add()
            arr = np.asarray(arr, np.float32)
            if v1:  # the legacy num/channels/height/width form
                dims = [1] * (4 - arr.ndim) + list(arr.shape)
                blob.num, blob.channels, blob.height, blob.width = dims
            else:
                blob.shape.dim.extend(arr.shape)
            blob.data.extend(arr.ravel().tolist())

    def np_(key):
        return sd[key].numpy()

    layer("data_l", [], "Input")
    for i, (_c, n, _s, _d) in enumerate(ECCV, 1):
        for j in range(n):
            k = f"model{i}.{2 * j}"
            layer(f"conv{i}_{j + 1}", [np_(f"{k}.weight"), np_(f"{k}.bias")], "Convolution")
            layer(f"relu{i}_{j + 1}", [], "ReLU")
        k = f"model{i}.{2 * n}"
        layer(f"conv{i}_{n}norm", [np_(f"{k}.running_mean") * factor, np_(f"{k}.running_var") * factor, [factor]],
              "BatchNorm")
    layer("conv8_1", [np_("model8.0.weight"), np_("model8.0.bias")], "Deconvolution")
    layer("conv8_2", [np_("model8.2.weight"), np_("model8.2.bias")], "Convolution")
    layer("conv8_3", [np_("model8.4.weight"), np_("model8.4.bias")], "Convolution")
    layer("conv8_313", [np_("model8.6.weight"), np_("model8.6.bias")], "Convolution")
    layer("conv8_313_rh", [np.full(313, ANNEAL, np.float32)] if hull_in_model else [], "Scale")
    layer("class8_313_rh", [], "Softmax")
    centres = np_("model_out.weight") * 110.0
    layer("class8_ab", [centres if hull_in_model else np.zeros_like(centres)], "Convolution")
    layer("Silence", [], "Silence")
    path.write_bytes(net.SerializeToString())
    return path


class _ColorizersECCV(torch.nn.Module):
    """The colorizers ECCV16 forward as a module (for torch.onnx.export), on the reference functions."""

    def __init__(self, sd):
        super().__init__()
        self.sd = {k: v.float() for k, v in sd.items()}

    def forward(self, L):
        sd = {k: v for k, v in self.sd.items()}
        x = (L - 50.0) / 100.0
        for i, (_c, n, stride, dil) in enumerate(ECCV, 1):
            for j in range(n):
                k = f"model{i}.{2 * j}"
                x = F.relu(F.conv2d(x, sd[f"{k}.weight"], sd[f"{k}.bias"], stride if j == n - 1 else 1, dil, dil))
            k = f"model{i}.{2 * n}"
            x = F.batch_norm(x, sd[f"{k}.running_mean"], sd[f"{k}.running_var"], sd[f"{k}.weight"], sd[f"{k}.bias"],
                             False, 0.0, 1e-5)
        x = F.relu(F.conv_transpose2d(x, sd["model8.0.weight"], sd["model8.0.bias"], 2, 1))
        x = F.relu(F.conv2d(x, sd["model8.2.weight"], sd["model8.2.bias"], 1, 1))
        x = F.relu(F.conv2d(x, sd["model8.4.weight"], sd["model8.4.bias"], 1, 1))
        x = F.conv2d(x, sd["model8.6.weight"], sd["model8.6.bias"])
        x = F.conv2d(F.softmax(x, dim=1), sd["model_out.weight"])
        return F.interpolate(x, scale_factor=4, mode="bilinear") * 110.0


def write_third_party_onnx(sd, path: Path, size: int = 256) -> Path:
    """An opset-10, fixed size x size export of the colorizers ECCV16, like the third-party colorizer.onnx."""
    torch.onnx.export(_ColorizersECCV(sd).eval(), torch.zeros(1, 1, size, size), str(path), opset_version=10,
                      input_names=["input"], output_names=["output"], dynamo=False)
    return path
