"""Fine-tune the late encoder stages and the decoder of a trained ColorNet on a CPU.

Why this shape: on a 2-core CPU the whole network is too slow to train, but the early encoder
blocks (stem to stride 8) are generic edge detectors; what decides colour is the late, semantic
part. So the early blocks' features are computed once and cached, and only the blocks after the
stride-8 tap plus the decoder learn. Before caching, L is re-compressed as JPEG at a random
quality (or left alone), so no compression trace in L can serve as a colour cue.

BatchNorm stays in eval mode throughout: a checkpoint recovered from ONNX (tools.from_onnx) has
its BatchNorm folded into identity layers, and small batches would give noisy statistics anyway.

    python -m tools.from_onnx models/edgecolor-lite0/edgecolor-lite0-fp32.onnx runs/shipped.pt
    python -m tools.finetune --init runs/shipped.pt --train ../shared/data/train \
        --val ../shared/data/val --out runs/lite0-ft --epochs 6 --seed 3

``--whole`` trains every layer instead (no cache): about 2 s per step of 32 crops of 128 px on
2 cores, so an epoch of 17k photos is about 20 minutes. L is then re-compressed per crop and per
step, so the network never sees the same compression twice.

Resumable: rerunning the same command continues from ``OUT/last.pt``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from edgecolor.contract import L_SCALE, L_SHIFT
from tools.data import PhotoSet, holdout_mask, load_photos, parse_source_weights, sampling_weights
from tools.net import ENCODER_TAPS, ColorNet, checkpoint_encoder
from tools.train import (
    ColorLoss,
    ab_targets,
    bins_and_weights,
    cosine_lr,
    feature_crop,
    lab_crop,
    load_sets,
    start_run,
    validate,
)


def head_last(net: ColorNet) -> int:
    """Blocks 0..head_last(net) (up to the stride-8 tap) are frozen and cached."""
    return net.encoder.taps["s8"]


def recompress_l(l8: np.ndarray, rng: np.random.Generator, prob: float, qmin: int, qmax: int) -> np.ndarray:
    """L (uint8, OpenCV's L·2.55) through a JPEG round trip at a random quality, with probability prob."""
    if rng.random() >= prob:
        return l8
    q = int(rng.integers(qmin, qmax + 1))
    ok, buf = cv2.imencode(".jpg", l8, [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else l8


def head_forward(net: ColorNet, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Stem and blocks up to the s8 tap: the s4 and s8 taps."""
    enc = net.encoder
    x = F.relu6(enc.bn0(enc.stem(x)))
    out = {}
    for i in range(head_last(net) + 1):
        x = enc.blocks[i](x)
        if i == enc.taps["s4"]:
            out["s4"] = x
    out["s8"] = x
    return out


def tail_forward(net: ColorNet, head: dict[str, torch.Tensor]) -> torch.Tensor:
    """Blocks after the s8 tap, then the decoder: logits."""
    x = head["s8"]
    feats = dict(head)
    for i in range(head_last(net) + 1, len(net.encoder.blocks)):
        x = net.encoder.blocks[i](x)
        if i == net.encoder.taps["s16"]:
            feats["s16"] = x
    feats["s32"] = x
    return net.decoder(feats)


@torch.no_grad()
def cache_head(path: Path, net: ColorNet, photos: PhotoSet, args) -> dict[str, np.ndarray]:
    """Head features of every photo from (re-compressed) L, float16, kept beside the run for resumes."""
    if path.exists():
        z = np.load(path)
        if len(z["s8"]) == len(photos):
            return {k: z[k] for k in z.files}
    net.eval()
    rng = np.random.default_rng(args.seed + 7)
    out: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(photos), 128):
        l8 = [recompress_l(p[..., 0], rng, args.jpeg_prob, args.jpeg_min, args.jpeg_max) for p in photos.lab[i:i + 128]]
        x = torch.from_numpy(np.stack(l8)[:, None].astype(np.float32) * (100.0 / 255.0) * L_SCALE + L_SHIFT)
        for k, v in head_forward(net, x).items():
            out.setdefault(k, []).append(v.half().numpy())
    feats = {k: np.concatenate(v) for k, v in out.items()}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **feats)
    tmp.replace(path)
    return feats


def whole_batch(photos: PhotoSet, idx: np.ndarray, oy: int, ox: int, crop: int, flip: bool,
                rng: np.random.Generator, args) -> tuple[torch.Tensor, torch.Tensor]:
    """Network input from each crop's (re-compressed) L, and the float Lab crops the targets come from."""
    l8 = photos.lab[idx, oy:oy + crop, ox:ox + crop, 0]
    if flip:
        l8 = l8[..., ::-1]
    l8 = np.stack([recompress_l(np.ascontiguousarray(x), rng, args.jpeg_prob, args.jpeg_min, args.jpeg_max)
                   for x in l8])
    x = torch.from_numpy(l8[:, None].astype(np.float32) * (100.0 / 255.0) * L_SCALE + L_SHIFT)
    return x, lab_crop(photos, idx, oy, ox, crop, flip)


def write_holdout(out: Path, root: Path, names: list[str]) -> None:
    """OUT/holdout.txt (one name a line) and OUT/heldout/<source>/ of links to the photos, for tools.tune and
    edgecolor eval per source kind; links, so no photo is copied."""
    (out / "holdout.txt").write_text("".join(n + "\n" for n in names))
    for n in names:
        link = out / "heldout" / n
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to((root / n).resolve())


def start_net(args, photos: PhotoSet) -> tuple[ColorNet, np.ndarray, np.ndarray, dict]:
    """The network to train, its ab bins and rebalancing weights, and the init checkpoint ({} if fresh)."""
    if not args.init:
        centres, weights = bins_and_weights(photos, lam=args.rebalance)
        torch.manual_seed(args.seed)
        net = ColorNet(centres, pretrained=True, temperature=args.temperature, variant=args.encoder)
        return net, centres, weights, {}
    init = torch.load(args.init, map_location="cpu", weights_only=False)
    centres, weights = bins_and_weights(photos, lam=args.rebalance, keep_centres=np.asarray(init["centres"]))
    net = ColorNet(centres, pretrained=False, temperature=args.temperature, variant=checkpoint_encoder(init))
    net.load_state_dict(init["model"])
    return net, centres, weights, init


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", default="", help="checkpoint to start from (tools.from_onnx or tools.train); "
                    "without it: the ImageNet encoder (--encoder) and a new decoder")
    ap.add_argument("--encoder", default="lite0", choices=sorted(ENCODER_TAPS),
                    help="the ImageNet encoder of a new network (an --init checkpoint brings its own)")
    ap.add_argument("--encoder-lr-scale", type=float, default=1 / 3, help="encoder tail lr / decoder lr")
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True, help="validation photos (reported only; choose on training photos)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=float, default=4.0)
    ap.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (decoder; encoder tail gets 1/3)")
    ap.add_argument("--rebalance", type=float, default=0.8)
    ap.add_argument("--reg-weight", type=float, default=1.0)
    ap.add_argument("--temperature", type=float, default=0.6, help="annealed-mean temperature in training")
    ap.add_argument("--jpeg-prob", type=float, default=0.75, help="share of photos whose L is re-compressed")
    ap.add_argument("--jpeg-min", type=int, default=30)
    ap.add_argument("--jpeg-max", type=int, default=95)
    ap.add_argument("--source-power", type=float, default=0.5)
    ap.add_argument("--whole", action="store_true",
                    help="train every layer on fresh crops (no cached head); slower, lets the early stages adapt")
    ap.add_argument("--source-weights", default="", help="name=w,...: a source drawn w times its balanced share")
    ap.add_argument("--holdout", default="", help="comma-separated sources left out of training, to tune on; "
                    "name:0.2 holds out about a fifth of that source (by file name); listed in OUT/holdout.txt "
                    "and linked by source under OUT/heldout/")
    ap.add_argument("--large-sources", default="", help="with --whole: sources also decoded at --large-size, "
                    "for crops at the scale of use (the runtime works at 256 px)")
    ap.add_argument("--large-size", type=int, default=256)
    ap.add_argument("--large-crop", type=int, default=224)
    ap.add_argument("--large-batch", type=int, default=12)
    ap.add_argument("--large-share", type=float, default=0.5, help="share of steps drawn from the large photos")
    ap.add_argument("--cache", default=".cache")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--val-every", type=int, default=300, help="steps between validations/checkpoints")
    ap.add_argument("--limit", type=int, default=0, help="first N photos only (smoke tests)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.large_sources and not args.whole:
        ap.error("--large-sources needs --whole (the cached head is at --size)")

    out, emit, _ = start_run(args)
    photos, val = load_sets(args)
    boosts = parse_source_weights(args.source_weights)
    held = holdout_mask(photos, args.holdout)  # never sampled: unseen photos to choose constants on
    write_holdout(out, Path(args.train), [photos.names[i] for i in np.flatnonzero(held)])
    large = None
    if args.large_sources:
        large = load_photos(args.train, size=args.large_size, cache_dir=args.cache,
                            only=args.large_sources.split(","))
        large_w = sampling_weights(large, args.source_power, boosts, holdout_mask(large, args.holdout))
    net, centres, weights, init = start_net(args, photos)
    emit({"event": "data", "train": len(photos), "held_out": int(held.sum()), "large": len(large) if large else 0,
          "val": len(val), "encoder": net.encoder.variant, "args": vars(args)})

    feats: dict[str, np.ndarray] = {}
    if args.whole:  # trained: every encoder layer and the decoder (the decode step has no weights)
        tail_params = list(net.encoder.parameters())
    else:  # trained: the encoder blocks after the cached head, and the decoder
        feats = cache_head(out / "head-train.npz", net, photos, args)
        emit({"event": "cached", "gb": round(sum(v.nbytes for v in feats.values()) / 1e9, 2)})
        tail_params = [p for m in net.encoder.blocks[head_last(net) + 1:] for p in m.parameters()]
    opt = torch.optim.AdamW([{"params": tail_params, "scale": args.encoder_lr_scale},
                             {"params": list(net.decoder.parameters()), "scale": 1.0}],
                            lr=args.lr, weight_decay=1e-4)
    loss_fn = ColorLoss(centres, weights, args.reg_weight)
    sample_w = sampling_weights(photos, args.source_power, boosts, held)
    total = int(args.epochs * len(photos) / args.batch)
    step = 0
    ckpt = out / "last.pt"
    if ckpt.exists():
        z = torch.load(ckpt, map_location="cpu", weights_only=False)
        net.load_state_dict(z["model"])
        opt.load_state_dict(z["opt"])
        step = z["step"]
        emit({"event": "resume", "step": step})
    rng = np.random.default_rng(args.seed * 100_003 + step)
    grid, cells = (args.size - args.crop) // 32, args.crop // 32
    if step == 0:
        emit({"event": "val", "step": 0, **{f"val_{k}": v for k, v in validate(net, val, None, "cpu").items()}})
    agg, te, n = {"ce": 0.0, "reg": 0.0}, time.time(), 0
    # what export and tune need to rebuild the network, in last.pt and final.pt alike
    meta = {"centres": centres, "temperature": args.temperature, "variant": net.encoder.variant}
    while step < total:
        net.eval()  # BatchNorm frozen (see module docstring); dropout-free network
        if not init:  # a new decoder learns its BatchNorm statistics (batch x 32 x 32 positions at s4)
            net.decoder.train()
        lr = cosine_lr(args.lr, step, total)
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        if large is not None and rng.random() < args.large_share:  # a step of large crops of the large photos
            idx = np.sort(rng.choice(len(large), args.large_batch, p=large_w))
            oy, ox = rng.integers(0, args.large_size - args.large_crop + 1, 2)
            flip = bool(rng.integers(0, 2))
            x, lab = whole_batch(large, idx, int(oy), int(ox), args.large_crop, flip, rng, args)
        elif args.whole:  # offsets: any pixel for --whole, else cells of the cached 1/32 grid
            idx = np.sort(rng.choice(len(photos), args.batch, p=sample_w))
            oy, ox = rng.integers(0, args.size - args.crop + 1, 2)
            flip = bool(rng.integers(0, 2))
            x, lab = whole_batch(photos, idx, int(oy), int(ox), args.crop, flip, rng, args)
        else:
            idx = np.sort(rng.choice(len(photos), args.batch, p=sample_w))
            oy, ox = rng.integers(0, grid + 1, 2)
            flip = bool(rng.integers(0, 2))
            f = feature_crop(feats, idx, oy, ox, cells, flip)
            lab = lab_crop(photos, idx, oy * 32, ox * 32, args.crop, flip)
        with torch.enable_grad():
            logits = net.logits(x) if args.whole else tail_forward(net, f)
            loss, parts = loss_fn(logits, net.decode(logits), ab_targets(lab))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        step, n = step + 1, n + 1
        for k in agg:
            agg[k] += parts[k]
        if step % args.val_every == 0 or step == total:
            rec = {"event": "step", "step": step, "of": total, "lr": lr, **{k: v / n for k, v in agg.items()},
                   "crops_per_s": round(n * args.batch / (time.time() - te), 1)}
            rec.update({f"val_{k}": v for k, v in validate(net, val, None, "cpu").items()})
            torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "step": step, **meta},
                       ckpt.with_suffix(".tmp"))
            ckpt.with_suffix(".tmp").replace(ckpt)
            emit(rec)
            agg, te, n = {"ce": 0.0, "reg": 0.0}, time.time(), 0
    torch.save({"model": net.state_dict(), **meta, "args": vars(args), "step": step,
                "bn_folded": bool(init.get("bn_folded"))}, out / "final.pt")
    emit({"event": "done", "final": str(out / "final.pt")})


if __name__ == "__main__":
    main()
