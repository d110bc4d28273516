"""Recover a trainable PyTorch checkpoint of ColorNet from an exported, simplified ONNX file.

Why: the shipped model's training checkpoint was not kept, and onnxsim folded every BatchNorm into
the convolution before it. Fine-tuning the shipped model needs its weights back in ColorNet. Each
ONNX Conv is named after its module (``/net/encoder/blocks.3/_project_conv/conv/Conv``); its folded
weight goes back into that convolution and its folded bias into the BatchNorm that follows, set to
an identity (mean 0, var 1 - eps, scale 1). Training must then keep BatchNorm in eval mode.

    python -m tools.from_onnx models/edgecolor-lite0/edgecolor-lite0-fp32.onnx runs/shipped.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tools.net import ENCODER_TAPS, ColorNet


def _module_order(net: ColorNet) -> list[nn.Module]:
    """Modules in the order a forward pass runs them (to find the BatchNorm after each conv)."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, i, o: order.append(m)) for m in net.modules()
             if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, 64, 64))
    for h in hooks:
        h.remove()
    return order


def _module_path(node_name: str) -> str:
    """'/net/decoder/top/top.0/Conv' -> 'decoder.top.0' (the exporter repeats a Sequential's name)."""
    parts: list[str] = []
    for seg in node_name.removeprefix("/net/").removesuffix("/Conv").split("/"):
        if parts and seg.startswith(parts[-1] + "."):
            seg = seg[len(parts[-1]) + 1 :]
        parts.append(seg)
    return ".".join(parts)


def _variant(nodes) -> str:
    """The encoder, told by its deepest block (Lite0 ends at block 14, Lite1 at 19)."""
    last = max(int(n.name.split("/blocks.")[1].split("/")[0]) for n in nodes if "/encoder/blocks." in n.name)
    found = [v for v, taps in ENCODER_TAPS.items() if taps["s32"] == last]
    if not found:
        raise SystemExit(f"no known encoder ends at block {last}")
    return found[0]


def recover(onnx_path: str | Path) -> dict:
    """A checkpoint dict (model, centres, temperature) equal in output to the ONNX file."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    nodes = list(model.graph.node)
    decode = next(n for n in nodes if n.name == "/net/decode/Conv" or n.output[0] == "ab")
    ab_scale = float(dict((p.key, p.value) for p in model.metadata_props).get("edgecolor.ab_scale", 128.0))
    centres = consts[decode.input[1]].reshape(2, -1).T
    # onnxsim folds the exporter's 1/ab_scale into the decode conv when the mean has one consumer; with
    # the fallback the mean is used twice, so the scale stays a last Mul and the weights are in ab units.
    # The chroma gain, if any, is merged into that last Mul (gain / ab_scale). Without the fallback a gain
    # would be folded into the conv too, so it cannot be told from the centres: it is not used there.
    last = next(n for n in nodes if "ab" in n.output)
    scale = [consts[i] for i in last.input if i in consts and consts[i].size == 1] if last.op_type == "Mul" else []
    gain = round(float(scale[0]) * ab_scale, 6) if scale else 1.0
    if not scale:
        centres = centres * ab_scale
    div = next(n for n in nodes if n.op_type == "Div")
    temperature = float(consts[div.input[1]])
    # The uncertainty fallback (version 1.1 on): var + v0 in the decode; v0 is that Add's constant.
    add = next((n for n in nodes if n.op_type == "Add" and n.name.startswith("/net/decode/")), None)
    fallback = float(consts[add.input[1]]) if add is not None else 0.0

    variant = _variant(nodes)
    net = ColorNet(centres, pretrained=False, temperature=temperature, fallback=fallback, gain=gain, variant=variant)
    modules = dict(net.named_modules())
    order = _module_order(net)
    done = set()
    for n in nodes:
        if n.op_type != "Conv" or n.name.startswith("/net/decode/"):
            continue
        path = _module_path(n.name)
        conv = modules[path]
        w = torch.from_numpy(consts[n.input[1]].copy())
        b = torch.from_numpy(consts[n.input[2]].copy()) if len(n.input) > 2 else None
        conv.weight.data.copy_(w)
        nxt = order[order.index(conv) + 1] if order.index(conv) + 1 < len(order) else None
        if conv.bias is not None:
            conv.bias.data.copy_(b)
        elif isinstance(nxt, nn.BatchNorm2d):
            nxt.weight.data.fill_(1.0)
            nxt.bias.data.copy_(b)
            nxt.running_mean.zero_()
            nxt.running_var.fill_(1.0 - nxt.eps)
            done.add(nxt)
        else:
            raise SystemExit(f"{path}: folded bias but no BatchNorm after it")
        done.add(conv)
    missing = [name for name, m in modules.items() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) and m not in done]
    if missing:
        raise SystemExit(f"not in the ONNX file: {', '.join(missing[:5])}")
    return {"model": net.state_dict(), "centres": centres.astype(np.float32), "temperature": temperature,
            "fallback": fallback, "gain": gain, "variant": variant, "bn_folded": True}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("onnx", help="exported ColorNet ONNX (fp32)")
    ap.add_argument("out", help="checkpoint to write (.pt)")
    args = ap.parse_args(argv)
    ckpt = recover(args.onnx)
    net = ColorNet(ckpt["centres"], pretrained=False, temperature=ckpt["temperature"], fallback=ckpt["fallback"],
                   gain=ckpt["gain"], variant=ckpt["variant"])
    net.load_state_dict(ckpt["model"])
    net.eval()
    import openvino as ov

    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, 96, 128)).astype(np.float32)
    ref = ov.Core().compile_model(args.onnx, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
    with torch.no_grad():
        got = net(torch.from_numpy(x)).numpy() / 128.0
    err = float(np.abs(got - ref).max())
    if err > 1e-4:
        raise SystemExit(f"recovered network differs from the ONNX file: max |ab/128| error {err:.2e}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, args.out)
    print(f"{args.out}: max |ab/128| difference to the ONNX file {err:.1e}")


if __name__ == "__main__":
    main()
